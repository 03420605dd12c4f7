/**
 * The beginner's MLP GAN: G: 64-d noise → Dense 64 relu → Dense 784 tanh → 28×28×1;
 * D: flatten → Dense 64 relu → Dense 1 (logit) → sigmoid.
 */
import * as tf from '@tensorflow/tfjs';
import { LOGIT_LAYER, type Preset } from './preset.js';

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

export const seedMlp: Preset = {
  name: 'seed-mlp',
  description: "the beginner's MLP GAN (64-d noise, one hidden layer of 64 on each side), 28×28 grayscale",
  latentSize: 64,
  imageShape: [28, 28, 1],
  buildGenerator(seed) {
    return tf.sequential({
      name: 'generator',
      layers: [
        tf.layers.dense({ name: 'hidden', units: 64, activation: 'relu', inputShape: [64], kernelInitializer: init(seed) }),
        tf.layers.dense({ name: 'pixels', units: 28 * 28, activation: 'tanh', kernelInitializer: init(seed + 1) }),
        tf.layers.reshape({ name: 'image', targetShape: [28, 28, 1] }),
      ],
    });
  },
  buildDiscriminator(seed) {
    return tf.sequential({
      name: 'discriminator',
      layers: [
        tf.layers.flatten({ name: 'flatten', inputShape: [28, 28, 1] }),
        tf.layers.dense({ name: 'hidden', units: 64, activation: 'relu', kernelInitializer: init(seed + 2) }),
        tf.layers.dense({ name: LOGIT_LAYER, units: 1, kernelInitializer: init(seed + 3) }),
        tf.layers.activation({ name: 'probability', activation: 'sigmoid' }),
      ],
    });
  },
};
