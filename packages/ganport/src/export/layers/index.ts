/**
 * The one table from tfjs layer class to ONNX handler. A layer class that is
 * not here makes the export fail with a message naming the layer.
 */
import { activationLayer } from './activation.js';
import type { LayerHandler } from './context.js';
import { conv2d, conv2dTranspose } from './conv.js';
import { dense } from './dense.js';
import { elu, leakyRelu, prelu, relu, softmax } from './elementwise-activations.js';
import { embedding } from './embedding.js';
import { add, average, concatenate, maximum, minimum, multiply } from './merge.js';
import { batchNormalization, layerNormalization } from './normalization.js';
import { averagePooling2d, globalAveragePooling2d, globalMaxPooling2d, maxPooling2d } from './pooling.js';
import { flatten, identity, reshape } from './shape.js';
import { cropping2d, upSampling2d, zeroPadding2d } from './spatial.js';

export const LAYER_HANDLERS: Readonly<Record<string, LayerHandler>> = {
  Dense: dense,
  Conv2D: conv2d,
  Conv2DTranspose: conv2dTranspose,
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
  Activation: activationLayer,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  ELU: elu,
  PReLU: prelu,
  Softmax: softmax,
  Reshape: reshape,
  Flatten: flatten,
  Embedding: embedding,
  Concatenate: concatenate,
  Add: add,
  Multiply: multiply,
  Average: average,
  Maximum: maximum,
  Minimum: minimum,
  UpSampling2D: upSampling2d,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  MaxPooling2D: maxPooling2d,
  AveragePooling2D: averagePooling2d,
  GlobalAveragePooling2D: globalAveragePooling2d,
  GlobalMaxPooling2D: globalMaxPooling2d,
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};

export type { LayerContext, LayerHandler, Shape } from './context.js';
