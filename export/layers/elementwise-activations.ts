/** The standalone activation layers: ReLU, LeakyReLU, ELU, PReLU, Softmax. */
import { attr } from '../builder.js';
import { type LayerHandler, unsupportedConfig, weight } from './context.js';

export const relu: LayerHandler = (ctx) => {
  const { g, name, config } = ctx;
  if (config.maxValue === undefined || config.maxValue === null) return g.op('Relu', ctx.inputs, {}, name);
  const max = g.constFloat(`${name}/max`, [], Float32Array.of(config.maxValue as number));
  return g.op('Clip', [ctx.inputs[0], g.constFloat(`${name}/min`, [], Float32Array.of(0)), max], {}, name);
};

/** tfjs LeakyReLU's alpha defaults to 0.3, ONNX's to 0.01: always written explicitly. */
export const leakyRelu: LayerHandler = (ctx) => ctx.g.op('LeakyRelu', ctx.inputs, { alpha: attr.float((ctx.config.alpha as number | undefined) ?? 0.3) }, ctx.name);

export const elu: LayerHandler = (ctx) => ctx.g.op('Elu', ctx.inputs, { alpha: attr.float((ctx.config.alpha as number | undefined) ?? 1) }, ctx.name);

export const prelu: LayerHandler = (ctx) => {
  if (ctx.config.sharedAxes) unsupportedConfig(ctx, 'sharedAxes');
  const alpha = weight(ctx, 'alpha');
  return ctx.g.op('PRelu', [ctx.inputs[0], ctx.g.constFloat(`${ctx.name}/alpha`, alpha.shape, alpha.data)], {}, ctx.name);
};

export const softmax: LayerHandler = (ctx) => ctx.g.op('Softmax', ctx.inputs, { axis: attr.int((ctx.config.axis as number | undefined) ?? -1) }, ctx.name);
