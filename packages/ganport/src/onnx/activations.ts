/**
 * Activation names → ONNX ops, for every writer: Keras/tfjs layer activations in the exporter and
 * tfjs's fused kernel activations (`leakyrelu`, `prelu`) in the captured training graphs. Softmax is
 * left to the callers: its axis depends on the value's layout.
 */
import { GanportError } from '@ganport/runtime';
import { attr } from './builder.js';
import type { OnnxGraph } from './graph.js';

// tfjs's selu constants (ONNX's defaults are these values rounded to float32; write them explicitly).
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

export interface ActivationOptions {
  /** LeakyReLU's slope (tfjs's fused kernels default to 0.2). */
  alpha?: number;
  /** PReLU's slopes, a value name. */
  preluWeights?: string;
}

/** `activation` applied to the value `x`; `x` itself for linear. */
export function activation(
  g: OnnxGraph,
  x: string,
  name: string | undefined,
  base: string,
  options: ActivationOptions = {},
): string {
  const unary = (op: string, attributes = {}) => g.op(op, [x], attributes, base);
  switch (name ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return unary('Relu');
    case 'relu6':
      return g.op('Clip', [x, g.scalar(0), g.scalar(6)], {}, base);
    case 'tanh':
      return unary('Tanh');
    case 'sigmoid':
      return unary('Sigmoid');
    case 'hardSigmoid':
      return unary('HardSigmoid', { alpha: attr.float(0.2), beta: attr.float(0.5) });
    case 'elu':
      return unary('Elu', { alpha: attr.float(1) });
    case 'selu':
      return unary('Selu', { alpha: attr.float(SELU_ALPHA), gamma: attr.float(SELU_SCALE) });
    case 'softplus':
      return unary('Softplus');
    case 'softsign':
      return unary('Softsign');
    case 'swish':
      return g.op('Mul', [x, g.op('Sigmoid', [x], {}, `${base}/sigmoid`)], {}, base);
    case 'leakyrelu':
      return unary('LeakyRelu', { alpha: attr.float(options.alpha ?? 0.2) });
    case 'prelu':
      if (!options.preluWeights) throw new Error('internal error: prelu without its weights');
      return g.op('PRelu', [x, options.preluWeights], {}, base);
    default:
      throw new GanportError(`activation "${name}" is not supported by the ONNX exporter`, 'unsupported');
  }
}
