/** The standalone activation layers: ReLU, LeakyReLU, ELU, PReLU, Softmax. */
import { attr, DataType } from '../../onnx/builder.js';
import { onnxAxis } from '../graph.js';
import { type LayerHandler, refuseMask, sameLayout, tfjsValue, unsupportedConfig, weight } from './context.js';

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

/** Softmax over one axis, or, as tfjs does for a list of several (Keras saves tuples as lists), exp(x − logSumExp(x, axes)). */
export const softmax: LayerHandler = (ctx) => {
  refuseMask(ctx, 'tfjs adds -1e9 at the masked positions');
  const { g, name } = ctx;
  const [x] = ctx.inputs;
  const { axis = -1 } = ctx.config as { axis?: number | number[] };
  const axes = Array.isArray(axis) ? axis : [axis];
  if (axes.length === 0 || !axes.every(Number.isInteger)) unsupportedConfig(ctx, `axis ${JSON.stringify(axis)}`);
  if (axes.length === 1)
    return sameLayout(x, g.op('Softmax', [x.name], { axis: attr.int(onnxAxis(x, axes[0])) }, name));
  const t = g.tfjsLayout(x);
  const logSumExp = g.reduce('ReduceLogSumExp', t.name, axes, true, `${name}/log_sum_exp`);
  return tfjsValue(g.op('Exp', [g.op('Sub', [t.name, logSumExp], {}, `${name}/shifted`)], {}, name), t.rank);
};

/** ThresholdedReLU: x where x > theta, else 0 (ONNX ThresholdedRelu, alpha = theta; tfjs's default theta 1). */
export const thresholdedRelu = withScalarAlpha('ThresholdedRelu', 'theta', 1);

/**
 * Rescaling: x·scale + offset, e.g. [0, 255] pixels to [−1, 1]; integer input is cast to float first, as
 * tfjs does. Scale and offset are scalars or lists of one value per channel (ImageNet's mean and std),
 * which broadcast over tfjs's last axis.
 */
export const rescaling: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const { scale, offset } = ctx.config as { scale: number | number[]; offset?: number | number[] };
  const perChannel = Array.isArray(scale) || Array.isArray(offset);
  for (const [key, value] of Object.entries({ scale, offset }))
    if (Array.isArray(value) && !value.every((v) => typeof v === 'number'))
      unsupportedConfig(ctx, `${key} ${JSON.stringify(value)}: a scalar or one number per channel`);
  const x = perChannel ? g.tfjsLayout(ctx.inputs[0]) : ctx.inputs[0];
  const input =
    ctx.inputDtypes[0] === 'float32'
      ? x.name
      : g.op('Cast', [x.name], { to: attr.int(DataType.FLOAT) }, `${name}/float`);
  const constant = (key: string, value: number | number[]) =>
    Array.isArray(value)
      ? g.constFloat(`${name}/${key}`, [value.length], Float32Array.from(value))
      : g.constFloat(`${name}/${key}`, [], Float32Array.of(value));
  const scaled = g.op('Mul', [input, constant('scale', scale)], {}, offset ? `${name}/scaled` : name);
  const out = offset ? g.op('Add', [scaled, constant('offset', offset)], {}, name) : scaled;
  return perChannel ? tfjsValue(out, x.rank) : sameLayout(x, out);
};
