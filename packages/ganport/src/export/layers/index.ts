/**
 * The one table from tfjs layer class to ONNX handler. A layer class that is
 * not here makes the export fail with a message naming the layer.
 */
import { activationLayer } from './activation.js';
import { foldSpectralNorm, type LayerHandler, type MaskMaker } from './context.js';
import { conv2d, conv2dTranspose, depthwiseConv2d, separableConv2d } from './conv.js';
import { dense, maxout } from './dense.js';
import { elu, leakyRelu, prelu, relu, rescaling, softmax, thresholdedRelu } from './elementwise-activations.js';
import { embedding, embeddingMask } from './embedding.js';
import { add, average, concatenate, dot, maximum, minimum, multiply, subtract } from './merge.js';
import { batchNormalization, layerNormalization } from './normalization.js';
import { averagePooling2d, globalAveragePooling2d, globalMaxPooling2d, maxPooling2d } from './pooling.js';
import { bidirectional, gru, lstm, simpleRnn } from './recurrent.js';
import {
  averagePooling1d,
  conv1d,
  cropping1d,
  globalAveragePooling1d,
  globalMaxPooling1d,
  kerasGlobalAveragePooling1d,
  maxPooling1d,
  zeroPadding1d,
} from './sequence.js';
import { flatten, identity, permute, repeatVector, reshape } from './shape.js';
import { cropping2d, upSampling2d, zeroPadding2d } from './spatial.js';
import { tensorFlowOpLayer } from './tf-ops.js';
import { masking, maskingMask, timeDistributed } from './wrappers.js';

export const LAYER_HANDLERS: Readonly<Record<string, LayerHandler>> = {
  Dense: dense,
  Maxout: maxout,
  SpectralNormDense: (ctx) => dense(foldSpectralNorm(ctx)),
  SpectralNormConv2D: (ctx) => conv2d(foldSpectralNorm(ctx)),
  SpectralNormEmbedding: (ctx) => embedding(foldSpectralNorm(ctx, 'embeddings')),
  Conv2D: conv2d,
  Conv2DTranspose: conv2dTranspose,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Conv1D: conv1d,
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
  Activation: activationLayer,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  ELU: elu,
  PReLU: prelu,
  Softmax: softmax,
  ThresholdedReLU: thresholdedRelu,
  Rescaling: rescaling,
  Reshape: reshape,
  Flatten: flatten,
  RepeatVector: repeatVector,
  Permute: permute,
  Embedding: embedding,
  Concatenate: concatenate,
  Add: add,
  Subtract: subtract,
  Multiply: multiply,
  Average: average,
  Maximum: maximum,
  Minimum: minimum,
  Dot: dot,
  UpSampling2D: upSampling2d,
  HalfPixelUpSampling2D: upSampling2d,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  Cropping1D: cropping1d,
  ZeroPadding1D: zeroPadding1d,
  MaxPooling2D: maxPooling2d,
  AveragePooling2D: averagePooling2d,
  GlobalAveragePooling2D: globalAveragePooling2d,
  GlobalMaxPooling2D: globalMaxPooling2d,
  MaxPooling1D: maxPooling1d,
  AveragePooling1D: averagePooling1d,
  GlobalAveragePooling1D: globalAveragePooling1d,
  KerasGlobalAveragePooling1D: kerasGlobalAveragePooling1d,
  GlobalMaxPooling1D: globalMaxPooling1d,
  SimpleRNN: simpleRnn,
  GRU: gru,
  GRUResetAfter: gru,
  LSTM: lstm,
  Bidirectional: bidirectional,
  TimeDistributed: timeDistributed,
  Masking: masking,
  TensorFlowOpLayer: tensorFlowOpLayer,
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};

export type { LayerContext, LayerHandler, Mask, Shape } from './context.js';

/**
 * How a layer call's outputs carry a mask, as tfjs's executor gives them one (see export/convert.ts):
 * a MaskMaker, its own (Embedding with maskZero, Masking), computed that way; `sequence`, its input's
 * with its sequence output only (recurrent layers); `drops`, none (it pools the steps away); any other
 * layer that supports masking passes its input's on.
 */
export const MASK_RULES: Readonly<Record<string, MaskMaker | 'sequence' | 'drops'>> = {
  Embedding: embeddingMask,
  Masking: maskingMask,
  SimpleRNN: 'sequence',
  GRU: 'sequence',
  GRUResetAfter: 'sequence',
  LSTM: 'sequence',
  Bidirectional: 'sequence',
  KerasGlobalAveragePooling1D: 'drops',
};
