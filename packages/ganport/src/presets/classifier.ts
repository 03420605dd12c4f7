/**
 * The small CNN that `ganport eval` measures images with: two stride-2 convolutions,
 * a 128-unit feature layer (the embedding for the Fréchet distance and the k-NN
 * precision/recall) and a softmax over the classes (for class histograms).
 */
import * as tf from '@tensorflow/tfjs';

const FEATURES_LAYER = 'features';
export const CLASS_LOGITS_LAYER = 'class_logits';
export const FEATURE_SIZE = 128;

export interface ClassifierShape {
  height: number;
  width: number;
  channels: number;
  numClasses: number;
}

/** image [batch, h, w, c] in [-1, 1] → [features [batch, 128], probabilities [batch, classes]]. */
export function buildClassifier(shape: ClassifierShape, seed: number): tf.LayersModel {
  const he = (offset: number) => tf.initializers.heNormal({ seed: seed + offset });
  const image = tf.input({ shape: [shape.height, shape.width, shape.channels], name: 'image' });
  const conv1 = tf.layers
    .conv2d({
      filters: 32,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: he(1),
      name: 'conv1',
    })
    .apply(image);
  const conv2 = tf.layers
    .conv2d({
      filters: 64,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: he(2),
      name: 'conv2',
    })
    .apply(conv1);
  const flat = tf.layers.flatten({ name: 'flatten' }).apply(conv2);
  const features = tf.layers
    .dense({ units: FEATURE_SIZE, activation: 'relu', kernelInitializer: he(3), name: FEATURES_LAYER })
    .apply(flat) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({
      units: shape.numClasses,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 4 }),
      name: CLASS_LOGITS_LAYER,
    })
    .apply(features);
  const probabilities = tf.layers
    .activation({ activation: 'softmax', name: 'probabilities' })
    .apply(logits) as tf.SymbolicTensor;
  return tf.model({ name: 'classifier', inputs: image, outputs: [features, probabilities] });
}
