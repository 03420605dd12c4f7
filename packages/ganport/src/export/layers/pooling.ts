/** MaxPooling2D, AveragePooling2D (padding excluded from the average, as in TensorFlow) and the global poolings. */
import { attr } from '../../onnx/builder.js';
import { type LayerHandler, requireChannelsLast, tfjsValue } from './context.js';
import { pair, windowPads } from './geometry.js';

const pool =
  (op: 'MaxPool' | 'AveragePool'): LayerHandler =>
  (ctx) => {
    requireChannelsLast(ctx);
    const kernel = pair(ctx.config.poolSize ?? 2);
    const strides = pair(ctx.config.strides ?? kernel);
    const attributes = {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(strides),
      pads: attr.ints(windowPads(ctx, kernel, strides)),
    };
    const x = ctx.g.inLayout(ctx.inputs[0], 'NCHW');
    return {
      name: ctx.g.op(
        op,
        [x.name],
        op === 'AveragePool' ? { ...attributes, count_include_pad: attr.int(0) } : attributes,
        ctx.name,
      ),
      rank: 4,
      layout: 'NCHW',
    };
  };

export const maxPooling2d = pool('MaxPool');
export const averagePooling2d = pool('AveragePool');

/** Global pooling to [batch, channels] (tfjs's default keepDims false). */
const globalPool =
  (op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerHandler =>
  (ctx) => {
    requireChannelsLast(ctx);
    if (ctx.config.keepDims)
      return {
        name: ctx.g.op(op, [ctx.g.inLayout(ctx.inputs[0], 'NCHW').name], {}, ctx.name),
        rank: 4,
        layout: 'NCHW',
      };
    const pooled = ctx.g.op(op, [ctx.g.inLayout(ctx.inputs[0], 'NCHW').name], {}, `${ctx.name}/pool`);
    return tfjsValue(ctx.g.op('Flatten', [pooled], {}, ctx.name), 2);
  };

export const globalAveragePooling2d = globalPool('GlobalAveragePool');
export const globalMaxPooling2d = globalPool('GlobalMaxPool');
