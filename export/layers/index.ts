/**
 * The one table from tfjs layer class to ONNX handler. A layer class that is
 * not here makes the export fail with a message naming the layer.
 */
import { activationLayer } from './activation.js';
import type { LayerHandler } from './context.js';
import { dense } from './dense.js';
import { elu, leakyRelu, prelu, relu, softmax } from './elementwise-activations.js';
import { flatten, identity, reshape } from './shape.js';

export const LAYER_HANDLERS: Readonly<Record<string, LayerHandler>> = {
  Dense: dense,
  Activation: activationLayer,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  ELU: elu,
  PReLU: prelu,
  Softmax: softmax,
  Reshape: reshape,
  Flatten: flatten,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};

export type { LayerContext, LayerHandler, Shape } from './context.js';
