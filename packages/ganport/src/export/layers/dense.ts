/**
 * Dense and Maxout, the layers that apply a kernel to the last axis: Gemm on rank-2 input,
 * MatMul + Add on higher ranks.
 */
import type { Value } from '../graph.js';
import { applyActivation } from './activation.js';
import { type LayerContext, type LayerHandler, tfjsValue, weight } from './context.js';

/** x · kernel (+ bias) over the last axis of the layer's input, in tfjs layout. */
function affine(ctx: LayerContext, useBias: boolean): Value {
  const { g, name } = ctx;
  const x = g.tfjsLayout(ctx.inputs[0]);
  const kernel = weight(ctx, 'kernel');
  const kernelName = g.constFloat(`${name}/kernel`, kernel.shape, kernel.data);
  const bias = useBias ? weight(ctx, 'bias') : undefined;
  const biasName = bias && g.constFloat(`${name}/bias`, bias.shape, bias.data);
  if (x.rank === 2)
    return tfjsValue(
      g.op('Gemm', biasName ? [x.name, kernelName, biasName] : [x.name, kernelName], {}, `${name}/linear`),
      2,
    );
  const product = g.op('MatMul', [x.name, kernelName], {}, `${name}/matmul`);
  return tfjsValue(biasName ? g.op('Add', [product, biasName], {}, `${name}/linear`) : product, x.rank);
}

export const dense: LayerHandler = (ctx) =>
  applyActivation(ctx.g, affine(ctx, ctx.config.useBias !== false), ctx.config.activation as string, ctx.name);

/**
 * Maxout (src/tfjs/maxout.ts): the affine map to units × pieces, Reshape to […, units, pieces] (unit-major,
 * and files saved without a layout) or […, pieces, units] (piece-major), ReduceMax over the pieces.
 */
export const maxout: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const y = affine(ctx, true);
  const units = ctx.config.units as number;
  const pieces = ctx.config.pieces as number;
  const pieceMajor = ctx.config.layout === 'piece-major';
  const leading = new Array<number>(y.rank - 1).fill(0); // Reshape's 0 keeps that input dimension
  const split = g.op(
    'Reshape',
    [y.name, g.constInt64(`${name}/pieces_shape`, [...leading, ...(pieceMajor ? [pieces, units] : [units, pieces])])],
    {},
    `${name}/pieces`,
  );
  return tfjsValue(g.reduce('ReduceMax', split, [pieceMajor ? y.rank - 1 : y.rank], false, name), y.rank);
};
