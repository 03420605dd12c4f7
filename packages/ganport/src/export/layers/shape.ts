/** Layers that only move data: Reshape, Flatten, and the identity-at-inference ones. */
import { attr } from '../../onnx/builder.js';
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

/** Flattens all but the batch axis, in tfjs's channels-last order (a channelsFirst input's channels moved last first, as tfjs does). */
export const flatten: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const x = g.tfjsLayout(ctx.inputs[0]);
  const channelsFirst = ctx.config.dataFormat === 'channelsFirst' && x.rank >= 3;
  const perm = [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2), 1];
  const source = channelsFirst
    ? g.op('Transpose', [x.name], { perm: attr.ints(perm) }, `${name}/channels-last`)
    : x.name;
  return tfjsValue(g.op('Flatten', [source], {}, name), 2);
};

/** Dropout and noise layers do nothing at inference time. */
export const identity: LayerHandler = (ctx) => ctx.inputs[0];

/** RepeatVector: [batch, features] → [batch, n, features], an Unsqueeze and a Tile. */
export const repeatVector: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const n = ctx.config.n as number;
  const expanded = g.op('Unsqueeze', [ctx.inputs[0].name, g.constInt64(`${name}/axes`, [1])], {}, `${name}/expand`);
  return tfjsValue(g.op('Tile', [expanded, g.constInt64(`${name}/repeats`, [1, n, 1])], {}, name), 3);
};

/** Permute: tfjs's dims are 1-based and leave the batch axis in place; one Transpose on the tfjs-layout value. */
export const permute: LayerHandler = (ctx) => {
  const x = ctx.g.tfjsLayout(ctx.inputs[0]);
  const perm = [0, ...(ctx.config.dims as number[])];
  return tfjsValue(ctx.g.op('Transpose', [x.name], { perm: attr.ints(perm) }, ctx.name), x.rank);
};
