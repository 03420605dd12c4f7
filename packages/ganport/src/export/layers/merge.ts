/**
 * The merge layers. tfjs broadcasts inputs of different ranks by inserting axes
 * at position 1 (after the batch) until the ranks agree; ONNX broadcasts
 * right-aligned, so the lower-rank inputs are unsqueezed first.
 */
import { attr } from '../builder.js';
import { onnxAxis, type Value } from '../graph.js';
import { type LayerContext, type LayerHandler, sameLayout } from './context.js';

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
