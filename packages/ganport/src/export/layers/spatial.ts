/** UpSampling2D, ZeroPadding2D and Cropping2D, done in whichever layout the input is held. */
import { attr } from '../../onnx/builder.js';
import type { Value } from '../graph.js';
import { type LayerHandler, requireChannelsLast, sameLayout, unsupportedConfig } from './context.js';
import { pair } from './geometry.js';

/** Per-axis values for a rank-4 value: `batch` and `channel` entries, `h` and `w` for the spatial axes. */
const byAxis = <T>(x: Value, batch: T, channel: T, h: T, w: T): T[] =>
  x.layout === 'NCHW' ? [batch, channel, h, w] : [batch, h, w, channel];

/**
 * tfjs resizes with alignCorners and halfPixelCenters off: ONNX's 'asymmetric' transform, nearest rounding down;
 * HalfPixelUpSampling2D (Keras's bilinear from TensorFlow 2, tfjs/keras-layers.ts) is 'half_pixel' bilinear,
 * which ONNX Runtime clamps at the edges as TensorFlow does. Bilinear resizes channels-first: ONNX Runtime's layout optimizer (level 'extended' and up) can move a
 * Transpose through a channels-last linear Resize and leave its scales on axes its linear kernel refuses
 * (found by the fuzzer: Permute → UpSampling2D in an nchw export).
 */
export const upSampling2d: LayerHandler = (ctx) => {
  requireChannelsLast(ctx);
  const [sh, sw] = pair(ctx.config.size ?? 2);
  const halfPixel = ctx.className === 'HalfPixelUpSampling2D';
  const interpolation = halfPixel ? 'bilinear' : ((ctx.config.interpolation as string | undefined) ?? 'nearest');
  const x = interpolation === 'bilinear' ? ctx.g.inLayout(ctx.inputs[0], 'NCHW') : ctx.inputs[0];
  if (interpolation !== 'nearest' && interpolation !== 'bilinear')
    unsupportedConfig(ctx, `interpolation "${interpolation}"`);
  const scales = ctx.g.constFloat(`${ctx.name}/scales`, [4], Float32Array.from(byAxis(x, 1, 1, sh, sw)));
  const attributes = {
    mode: attr.string(interpolation === 'nearest' ? 'nearest' : 'linear'),
    coordinate_transformation_mode: attr.string(halfPixel ? 'half_pixel' : 'asymmetric'),
    ...(interpolation === 'nearest' ? { nearest_mode: attr.string('floor') } : {}),
  };
  return sameLayout(x, ctx.g.op('Resize', [x.name, '', scales], attributes, ctx.name));
};

const edges = (v: unknown): [[number, number], [number, number]] => {
  const [a, b] = Array.isArray(v) ? v : [v, v];
  return [pair(a), pair(b)];
};

export const zeroPadding2d: LayerHandler = (ctx) => {
  requireChannelsLast(ctx);
  const [x] = ctx.inputs;
  const [[top, bottom], [left, right]] = edges(ctx.config.padding ?? 1);
  const pads = [...byAxis(x, 0, 0, top, left), ...byAxis(x, 0, 0, bottom, right)];
  return sameLayout(
    x,
    ctx.g.op('Pad', [x.name, ctx.g.constInt64(`${ctx.name}/pads`, pads)], { mode: attr.string('constant') }, ctx.name),
  );
};

/** Slice's "to the end". */
export const INT64_MAX = Number.MAX_SAFE_INTEGER;

export const cropping2d: LayerHandler = (ctx) => {
  requireChannelsLast(ctx);
  const [x] = ctx.inputs;
  const [[top, bottom], [left, right]] = edges(ctx.config.cropping ?? 0);
  const axes = x.layout === 'NCHW' ? [2, 3] : [1, 2];
  const { g, name } = ctx;
  const inputs = [
    x.name,
    g.constInt64(`${name}/starts`, [top, left]),
    g.constInt64(`${name}/ends`, [bottom ? -bottom : INT64_MAX, right ? -right : INT64_MAX]),
    g.constInt64(`${name}/axes`, axes),
  ];
  return sameLayout(x, g.op('Slice', inputs, {}, name));
};
