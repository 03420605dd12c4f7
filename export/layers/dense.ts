/** Dense: Gemm on rank-2 input, MatMul + Add on higher ranks (tfjs applies the kernel to the last axis). */
import { applyActivation } from './activation.js';
import { type LayerHandler, weight } from './context.js';

export const dense: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const kernel = weight(ctx, 'kernel');
  const kernelName = g.constFloat(`${name}/kernel`, kernel.shape, kernel.data);
  const hasBias = ctx.config.useBias !== false;
  const biasName = hasBias ? g.constFloat(`${name}/bias`, weight(ctx, 'bias').shape, weight(ctx, 'bias').data) : undefined;
  let y: string;
  if (ctx.inputShapes[0].length === 2) {
    y = g.op('Gemm', biasName ? [ctx.inputs[0], kernelName, biasName] : [ctx.inputs[0], kernelName], {}, `${name}/linear`);
  } else {
    y = g.op('MatMul', [ctx.inputs[0], kernelName], {}, `${name}/matmul`);
    if (biasName) y = g.op('Add', [y, biasName], {}, `${name}/linear`);
  }
  return applyActivation(g, y, ctx.config.activation as string, name);
};
