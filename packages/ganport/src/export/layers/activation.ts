/** The Activation layer and every layer's `activation` argument (the names → ops table is onnx/activations.ts). */

import { activation } from '../../onnx/activations.js';
import { attr } from '../../onnx/builder.js';
import type { GraphBuilder, Value } from '../graph.js';
import { type LayerHandler, sameLayout } from './context.js';

/** Applies the named activation to `x`; returns `x` itself for linear. Softmax works on the last tfjs axis. */
export function applyActivation(g: GraphBuilder, x: Value, name: string | undefined, base: string): Value {
  if (name !== 'softmax') return sameLayout(x, activation(g, x.name, name, base));
  const y = g.tfjsLayout(x);
  return sameLayout(y, g.op('Softmax', [y.name], { axis: attr.int(-1) }, base));
}

export const activationLayer: LayerHandler = (ctx) =>
  applyActivation(ctx.g, ctx.inputs[0], ctx.config.activation as string, ctx.name);
