/**
 * The merge layers. tfjs broadcasts inputs of different ranks by inserting axes
 * at position 1 (after the batch) until the ranks agree; ONNX broadcasts
 * right-aligned, so the lower-rank inputs are unsqueezed first.
 */
import { attr } from '../../onnx/builder.js';
import { onnxAxis, type Value } from '../graph.js';
import { type LayerContext, type LayerHandler, sameLayout, tfjsValue, unsupportedConfig } from './context.js';

/** The inputs at one rank and one layout (that of the first rank-4 input, to avoid transposes). */
function aligned(ctx: LayerContext): { names: string[]; like: Value } {
  const { g, inputs, name } = ctx;
  const rank = Math.max(...inputs.map((v) => v.rank));
  const layout = inputs.find((v) => v.rank === rank)!.layout;
  const names = inputs.map((v, i) => {
    if (v.rank === rank) return g.inLayout(v, layout).name;
    const x = g.tfjsLayout(v);
    const missing = Array.from({ length: rank - v.rank }, (_, k) => k + 1);
    const expanded: Value = {
      name: g.op('Unsqueeze', [x.name, g.constInt64(`${name}/axes_${i}`, missing)], {}, `${name}/expand_${i}`),
      rank,
      layout: 'NHWC',
    };
    return g.inLayout(expanded, layout).name;
  });
  return { names, like: { name: '', rank, layout } };
}

const variadic =
  (pairOp: string, manyOp: string): LayerHandler =>
  (ctx) => {
    const { names, like } = aligned(ctx);
    return sameLayout(like, ctx.g.op(names.length === 2 ? pairOp : manyOp, names, {}, ctx.name));
  };

export const add = variadic('Add', 'Sum');
export const average = variadic('Mean', 'Mean');
export const maximum = variadic('Max', 'Max');
export const minimum = variadic('Min', 'Min');

/** Subtract (src/tfjs/keras-layers.ts): the first input minus the second. */
export const subtract: LayerHandler = (ctx) => {
  if (ctx.inputs.length !== 2) unsupportedConfig(ctx, `${ctx.inputs.length} inputs (Subtract takes 2)`);
  const { names, like } = aligned(ctx);
  return sameLayout(like, ctx.g.op('Sub', names, {}, ctx.name));
};

export const multiply: LayerHandler = (ctx) => {
  const { names, like } = aligned(ctx);
  let product = names[0];
  for (let i = 1; i < names.length; i++)
    product = ctx.g.op('Mul', [product, names[i]], {}, i === names.length - 1 ? ctx.name : `${ctx.name}/mul_${i}`);
  return sameLayout(like, product);
};

export const concatenate: LayerHandler = (ctx) => {
  const { names, like } = aligned(ctx);
  const axis = onnxAxis(like, (ctx.config.axis as number | undefined) ?? -1);
  return sameLayout(like, ctx.g.op('Concat', names, { axis: attr.int(axis) }, ctx.name));
};

/** tfjs's l2Normalize: x / sqrt(max(sum(x²), epsilon)) along `axis`, epsilon 1e-7. */
function l2Normalize(ctx: LayerContext, x: string, axis: number, base: string): string {
  const { g } = ctx;
  const sum = g.reduce('ReduceSum', g.op('Mul', [x, x], {}, `${base}/square`), [axis], true, `${base}/sum`);
  const floor = g.op('Max', [sum, g.constFloat(`${base}/epsilon`, [], Float32Array.of(1e-7))], {}, `${base}/floor`);
  return g.op('Div', [x, g.op('Sqrt', [floor], {}, `${base}/norm`)], {}, base);
}

/**
 * Dot (tfjs's batchDot) of two rank-2 inputs (Mul + ReduceSum: [batch, 1]) or two rank-3 inputs
 * (MatMul, each input transposed so its contracted axis is where MatMul contracts); `normalize`
 * L2-normalizes each along its axis first, giving cosine similarity.
 */
export const dot: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const [a, b] = ctx.inputs.map((v) => g.tfjsLayout(v));
  const rank = a.rank;
  if (ctx.inputs.length !== 2 || b.rank !== rank || (rank !== 2 && rank !== 3))
    unsupportedConfig(ctx, `inputs of ranks ${ctx.inputs.map((v) => v.rank)} (two of rank 2 or two of rank 3)`);
  const raw = ctx.config.axes as number | number[];
  const axes = (Array.isArray(raw) ? raw : [raw, raw]).map((axis) => (axis < 0 ? axis + rank : axis));
  if (axes.some((axis) => axis === 0)) unsupportedConfig(ctx, 'a dot product over the batch axis');
  let [x, y] = [a.name, b.name];
  if (ctx.config.normalize) {
    x = l2Normalize(ctx, x, axes[0], `${name}/normalized_0`);
    y = l2Normalize(ctx, y, axes[1], `${name}/normalized_1`);
  }
  if (rank === 2)
    return tfjsValue(g.reduce('ReduceSum', g.op('Mul', [x, y], {}, `${name}/product`), [1], true, name), 2);
  const swap = { perm: attr.ints([0, 2, 1]) };
  if (axes[0] !== 2) x = g.op('Transpose', [x], swap, `${name}/transpose_0`);
  if (axes[1] === 2) y = g.op('Transpose', [y], swap, `${name}/transpose_1`);
  return tfjsValue(g.op('MatMul', [x, y], {}, name), 3);
};
