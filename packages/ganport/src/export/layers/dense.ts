/** Dense: Gemm on rank-2 input, MatMul + Add on higher ranks (tfjs applies the kernel to the last axis). */
import { applyActivation } from './activation.js';
import { type LayerHandler, tfjsValue, weight } from './context.js';

export const dense: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const x = g.tfjsLayout(ctx.inputs[0]);
  const kernel = weight(ctx, 'kernel');
  const kernelName = g.constFloat(`${name}/kernel`, kernel.shape, kernel.data);
  const bias = ctx.config.useBias !== false ? weight(ctx, 'bias') : undefined;
  const biasName = bias && g.constFloat(`${name}/bias`, bias.shape, bias.data);
  let y: string;
  if (x.rank === 2) {
    y = g.op('Gemm', biasName ? [x.name, kernelName, biasName] : [x.name, kernelName], {}, `${name}/linear`);
  } else {
    y = g.op('MatMul', [x.name, kernelName], {}, `${name}/matmul`);
    if (biasName) y = g.op('Add', [y, biasName], {}, `${name}/linear`);
  }
  return applyActivation(g, tfjsValue(y, x.rank), ctx.config.activation as string, name);
};
