/** tfjs activation names → ONNX ops; used by the Activation layer and every layer's `activation` argument. */

import { GanportError } from '@ganport/runtime';
import { attr } from '../../onnx/builder.js';
import type { GraphBuilder, Value } from '../graph.js';
import { type LayerHandler, sameLayout } from './context.js';

// tfjs's selu constants (ONNX's defaults are these values rounded to float32; write them explicitly).
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** Applies the named activation to `x`; returns `x` itself for linear. Softmax works on the last tfjs axis. */
export function applyActivation(g: GraphBuilder, x: Value, activation: string | undefined, base: string): Value {
  const unary = (op: string, attributes = {}) => sameLayout(x, g.op(op, [x.name], attributes, base));
  switch (activation ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return unary('Relu');
    case 'relu6':
      return sameLayout(
        x,
        g.op(
          'Clip',
          [
            x.name,
            g.constFloat(`${base}/min`, [], Float32Array.of(0)),
            g.constFloat(`${base}/max`, [], Float32Array.of(6)),
          ],
          {},
          base,
        ),
      );
    case 'tanh':
      return unary('Tanh');
    case 'sigmoid':
      return unary('Sigmoid');
    case 'hardSigmoid':
      return unary('HardSigmoid', { alpha: attr.float(0.2), beta: attr.float(0.5) });
    case 'softmax': {
      const y = g.tfjsLayout(x);
      return sameLayout(y, g.op('Softmax', [y.name], { axis: attr.int(-1) }, base));
    }
    case 'elu':
      return unary('Elu', { alpha: attr.float(1) });
    case 'selu':
      return unary('Selu', { alpha: attr.float(SELU_ALPHA), gamma: attr.float(SELU_SCALE) });
    case 'softplus':
      return unary('Softplus');
    case 'softsign':
      return unary('Softsign');
    case 'swish':
      return sameLayout(x, g.op('Mul', [x.name, g.op('Sigmoid', [x.name], {}, `${base}/sigmoid`)], {}, base));
    default:
      throw new GanportError(`activation "${activation}" is not supported by the ONNX exporter`, 'unsupported');
  }
}

export const activationLayer: LayerHandler = (ctx) =>
  applyActivation(ctx.g, ctx.inputs[0], ctx.config.activation as string, ctx.name);
