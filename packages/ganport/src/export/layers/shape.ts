/** Layers that only move data: Reshape, Flatten, and the identity-at-inference ones. */
import { type LayerHandler, tfjsValue } from './context.js';

/** Keeps the batch dimension (0 = "copy from input") and reshapes the rest, in tfjs (row-major NHWC) order. */
export const reshape: LayerHandler = (ctx) => {
  const x = ctx.g.tfjsLayout(ctx.inputs[0]);
  // tfjs records an inferred dimension (-1) as null in the layer config.
  const target = (ctx.config.targetShape as (number | null)[]).map((d) => d ?? -1);
  return tfjsValue(
    ctx.g.op('Reshape', [x.name, ctx.g.constInt64(`${ctx.name}/shape`, [0, ...target])], {}, ctx.name),
    target.length + 1,
  );
};

/** Flattens all but the batch axis, in tfjs's channels-last order. */
export const flatten: LayerHandler = (ctx) =>
  tfjsValue(ctx.g.op('Flatten', [ctx.g.tfjsLayout(ctx.inputs[0]).name], {}, ctx.name), 2);

/** Dropout and noise layers do nothing at inference time. */
export const identity: LayerHandler = (ctx) => ctx.inputs[0];
