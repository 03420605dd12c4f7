/** The standalone activation layers: ReLU, LeakyReLU, ELU, PReLU, Softmax. */
import { attr, DataType } from '../../onnx/builder.js';
import { onnxAxis } from '../graph.js';
import { type LayerHandler, refuseMask, sameLayout, weight } from './context.js';

export const relu: LayerHandler = (ctx) => {
  const { g, name, config } = ctx;
  const [x] = ctx.inputs;
  if (config.maxValue === undefined || config.maxValue === null) return sameLayout(x, g.op('Relu', [x.name], {}, name));
  const max = g.constFloat(`${name}/max`, [], Float32Array.of(config.maxValue as number));
  return sameLayout(x, g.op('Clip', [x.name, g.constFloat(`${name}/min`, [], Float32Array.of(0)), max], {}, name));
};

/** One ONNX op on the input whose `alpha` attribute is the layer's config `key` (tfjs's `fallback` when unset). */
const withScalarAlpha =
  (op: string, key: string, fallback: number): LayerHandler =>
  (ctx) =>
    sameLayout(
      ctx.inputs[0],
      ctx.g.op(
        op,
        [ctx.inputs[0].name],
        { alpha: attr.float((ctx.config[key] as number | undefined) ?? fallback) },
        ctx.name,
      ),
    );

/** tfjs LeakyReLU's alpha defaults to 0.3, ONNX's to 0.01: always written explicitly. */
export const leakyRelu = withScalarAlpha('LeakyRelu', 'alpha', 0.3);

export const elu = withScalarAlpha('Elu', 'alpha', 1);

/**
 * PReLU's alpha has the input's tfjs shape (without batch), with 1s on the `sharedAxes`; ONNX PRelu
 * broadcasts it as tfjs does. Shared over both spatial axes ([1, 1, C]) it is one slope per channel,
 * applied in whichever layout the input is held ([C, 1, 1] channels-first); otherwise in tfjs layout.
 */
export const prelu: LayerHandler = (ctx) => {
  const alpha = weight(ctx, 'alpha');
  const perChannel = ctx.inputs[0].rank === 4 && alpha.shape[0] === 1 && alpha.shape[1] === 1;
  const x = perChannel ? ctx.inputs[0] : ctx.g.tfjsLayout(ctx.inputs[0]);
  const shape = perChannel && x.layout === 'NCHW' ? [alpha.shape[2], 1, 1] : alpha.shape;
  return sameLayout(
    x,
    ctx.g.op('PRelu', [x.name, ctx.g.constFloat(`${ctx.name}/alpha`, shape, alpha.data)], {}, ctx.name),
  );
};

export const softmax: LayerHandler = (ctx) => {
  refuseMask(ctx, 'tfjs adds -1e9 at the masked positions');
  const [x] = ctx.inputs;
  const axis = onnxAxis(x, (ctx.config.axis as number | undefined) ?? -1);
  return sameLayout(x, ctx.g.op('Softmax', [x.name], { axis: attr.int(axis) }, ctx.name));
};

/** ThresholdedReLU: x where x > theta, else 0 (ONNX ThresholdedRelu, alpha = theta; tfjs's default theta 1). */
export const thresholdedRelu = withScalarAlpha('ThresholdedRelu', 'theta', 1);

/** Rescaling: x·scale + offset (scalars), e.g. [0, 255] pixels to [−1, 1]; integer input is cast to float first, as tfjs does. */
export const rescaling: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const [x] = ctx.inputs;
  const input =
    ctx.inputDtypes[0] === 'float32'
      ? x.name
      : g.op('Cast', [x.name], { to: attr.int(DataType.FLOAT) }, `${name}/float`);
  const scale = g.constFloat(`${name}/scale`, [], Float32Array.of(ctx.config.scale as number));
  const scaled = g.op('Mul', [input, scale], {}, ctx.config.offset ? `${name}/scaled` : name);
  if (!ctx.config.offset) return sameLayout(x, scaled);
  const offset = g.constFloat(`${name}/offset`, [], Float32Array.of(ctx.config.offset as number));
  return sameLayout(x, g.op('Add', [scaled, offset], {}, name));
};
