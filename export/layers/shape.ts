/** Layers that only move data: Reshape, Flatten, and the identity-at-inference ones. */
import type { LayerHandler } from './context.js';

/** Keeps the batch dimension (0 = "copy from input") and reshapes the rest, in tfjs (row-major NHWC) order. */
export const reshape: LayerHandler = (ctx) => {
  // tfjs records an inferred dimension (-1) as null in the layer config.
  const target = (ctx.config.targetShape as (number | null)[]).map((d) => d ?? -1);
  return ctx.g.op('Reshape', [ctx.inputs[0], ctx.g.constInt64(`${ctx.name}/shape`, [0, ...target])], {}, ctx.name);
};

/** Flattens all but the batch axis; the exported graph keeps tfjs's channels-last order, so this matches tfjs. */
export const flatten: LayerHandler = (ctx) => ctx.g.op('Flatten', ctx.inputs, {}, ctx.name);

/** Dropout and noise layers do nothing at inference time. */
export const identity: LayerHandler = (ctx) => ctx.inputs[0];
