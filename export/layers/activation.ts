/** tfjs activation names → ONNX ops; used by the Activation layer and every layer's `activation` argument. */
import { attr } from '../builder.js';
import type { GraphBuilder } from '../graph.js';
import { GanportError } from '../../runtime/errors.js';
import type { LayerHandler } from './context.js';

// tfjs's selu constants (ONNX's defaults are these values rounded to float32; write them explicitly).
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** Applies the named activation to `x`; returns `x` itself for linear. */
export function applyActivation(g: GraphBuilder, x: string, activation: string | undefined, base: string): string {
  switch (activation ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return g.op('Relu', [x], {}, base);
    case 'relu6':
      return g.op('Clip', [x, g.constFloat(`${base}/min`, [], Float32Array.of(0)), g.constFloat(`${base}/max`, [], Float32Array.of(6))], {}, base);
    case 'tanh':
      return g.op('Tanh', [x], {}, base);
    case 'sigmoid':
      return g.op('Sigmoid', [x], {}, base);
    case 'hardSigmoid':
      return g.op('HardSigmoid', [x], { alpha: attr.float(0.2), beta: attr.float(0.5) }, base);
    case 'softmax':
      return g.op('Softmax', [x], { axis: attr.int(-1) }, base);
    case 'elu':
      return g.op('Elu', [x], { alpha: attr.float(1) }, base);
    case 'selu':
      return g.op('Selu', [x], { alpha: attr.float(SELU_ALPHA), gamma: attr.float(SELU_SCALE) }, base);
    case 'softplus':
      return g.op('Softplus', [x], {}, base);
    case 'softsign':
      return g.op('Softsign', [x], {}, base);
    case 'swish':
      return g.op('Mul', [x, g.op('Sigmoid', [x], {}, `${base}/sigmoid`)], {}, base);
    default:
      throw new GanportError(`activation "${activation}" is not supported by the ONNX exporter`, 'unsupported');
  }
}

export const activationLayer: LayerHandler = (ctx) => applyActivation(ctx.g, ctx.inputs[0], ctx.config.activation as string, ctx.name);
