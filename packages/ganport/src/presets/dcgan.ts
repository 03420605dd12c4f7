/**
 * DCGAN (Radford et al., 2016) sized for small images, and its class-conditional
 * variant. Generator: Dense → BN → ReLU → reshape → Conv2DTranspose stride 2 (BN,
 * ReLU) … → Conv2DTranspose to the image channels, tanh. Discriminator: strided
 * Conv2D + LeakyReLU(0.2) + Dropout … → flatten → Dense 1 (the logit) → sigmoid.
 * The conditional variant embeds the class label and joins it to the latent, and
 * feeds the discriminator a learned label map as an extra image channel.
 */

import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../tfjs/batch-norm.js';
import { discriminatorDense, spectralNormConv2d, spectralNormEmbedding } from '../tfjs/spectral-norm.js';
import { LOGIT_LAYER, type Preset, packedShape } from './preset.js';

export interface DcganOptions {
  name: string;
  description: string;
  /** Image side: 28 (two upsamplings from 7×7), 32 or 64 (from 4×4). */
  size: 28 | 32 | 64;
  channels: 1 | 3;
  /** Channels of the last hidden layer; each earlier one doubles it. */
  width?: number;
  latentSize?: number;
  dropout?: number;
  /** Classes for the conditional variant. */
  numClasses?: number;
  /**
   * How the conditional discriminator sees the label: a learned label map as an extra image
   * channel (default), or projection (Miyato & Koyama 2018): logit = ψ(φ(x)) + ⟨embed(y), φ(x)⟩.
   */
  conditioning?: 'label-map' | 'projection';
}

/** The DCGAN presets' width when none is given (channels of the last hidden layer). */
export const DEFAULT_DCGAN_WIDTH = 32;

const glorot = (seed: number) => tf.initializers.glorotUniform({ seed });

export function dcgan(options: DcganOptions): Preset {
  const { size, channels, numClasses } = options;
  const width = options.width ?? DEFAULT_DCGAN_WIDTH;
  const latentSize = options.latentSize ?? 100;
  const dropout = options.dropout ?? 0.3;
  const upsamplings = size === 28 ? 2 : Math.log2(size / 4);
  const base = size / 2 ** upsamplings;
  const widthAt = (level: number) => width * 2 ** level; // level upsamplings-1 … 0
  /** The class label [B, 1] as a learned vector [B, dim]; its table spectrally normalized where `spectralNormSeed` is given. */
  const embedLabel = (
    label: tf.SymbolicTensor,
    dim: number,
    embeddingsInitializer: ReturnType<typeof tf.initializers.randomNormal>,
    name: string,
    spectralNormSeed?: number,
  ) => {
    const table = { inputDim: numClasses!, outputDim: dim, embeddingsInitializer, name };
    const layer =
      spectralNormSeed === undefined
        ? tf.layers.embedding(table)
        : spectralNormEmbedding({ ...table, seed: spectralNormSeed });
    return tf.layers.flatten().apply(layer.apply(label)) as tf.SymbolicTensor;
  };

  return {
    name: options.name,
    description: options.description,
    latentSize,
    sampleShape: [size, size, channels],
    numClasses,
    withWidth: (w) => dcgan({ ...options, width: w }),
    withClusters: numClasses
      ? undefined
      : (k) =>
          dcgan({
            ...options,
            description: `${options.description}, self-conditioned on ${k} clusters`,
            numClasses: k,
            conditioning: 'projection',
          }),
    buildGenerator(seed) {
      const z = tf.input({ shape: [latentSize], name: 'latent' });
      const label = numClasses ? tf.input({ shape: [1], dtype: 'int32', name: 'label' }) : undefined;
      let x: tf.SymbolicTensor = z;
      if (label) {
        const embedded = embedLabel(label, 50, tf.initializers.randomNormal({ seed: seed + 99 }), 'label_embedding');
        x = tf.layers.concatenate({ name: 'latent_and_label' }).apply([z, embedded]) as tf.SymbolicTensor;
      }
      const top = widthAt(upsamplings - 1);
      x = tf.layers
        .dense({ units: base * base * top, useBias: false, kernelInitializer: glorot(seed), name: 'project' })
        .apply(x) as tf.SymbolicTensor;
      x = tf.layers.reLU().apply(batchNormalization({ name: 'project_bn' }).apply(x)) as tf.SymbolicTensor;
      x = tf.layers.reshape({ targetShape: [base, base, top] }).apply(x) as tf.SymbolicTensor;
      for (let level = upsamplings - 2; level >= 0; level--) {
        x = tf.layers
          .conv2dTranspose({
            filters: widthAt(level),
            kernelSize: 4,
            strides: 2,
            padding: 'same',
            useBias: false,
            kernelInitializer: glorot(seed + 10 + level),
            name: `up${level}`,
          })
          .apply(x) as tf.SymbolicTensor;
        x = tf.layers.reLU().apply(batchNormalization({ name: `up${level}_bn` }).apply(x)) as tf.SymbolicTensor;
      }
      const image = tf.layers
        .conv2dTranspose({
          filters: channels,
          kernelSize: 4,
          strides: 2,
          padding: 'same',
          activation: 'tanh',
          kernelInitializer: glorot(seed + 1),
          name: 'image',
        })
        .apply(x) as tf.SymbolicTensor;
      return tf.model({ inputs: label ? [z, label] : [z], outputs: image, name: 'generator' });
    },
    buildDiscriminator(seed, pack = 1, { spectralNorm = false } = {}) {
      const dense = (units: number, layerSeed: number, name: string) =>
        discriminatorDense(spectralNorm, { units, seed: layerSeed, name, kernelInitializer: glorot(layerSeed) });
      if (numClasses && pack > 1)
        throw new GanportError(`${options.name} is class-conditional; packing (PacGAN) is for unconditional presets`);
      const image = tf.input({ shape: packedShape([size, size, channels], pack), name: 'image' });
      const label = numClasses ? tf.input({ shape: [1], dtype: 'int32', name: 'label' }) : undefined;
      let x: tf.SymbolicTensor = image;
      const projection = label !== undefined && options.conditioning === 'projection';
      if (label && !projection) {
        const embedded = embedLabel(label, 50, tf.initializers.randomNormal({ seed: seed + 98 }), 'label_embedding');
        const map = dense(size * size, seed + 97, 'label_map').apply(embedded) as tf.SymbolicTensor;
        x = tf.layers
          .concatenate({ name: 'image_and_label' })
          .apply([
            image,
            tf.layers.reshape({ targetShape: [size, size, 1] }).apply(map) as tf.SymbolicTensor,
          ]) as tf.SymbolicTensor;
      }
      for (let level = 0; level < upsamplings; level++) {
        const conv = {
          filters: widthAt(level),
          kernelSize: 4,
          strides: 2,
          padding: 'same',
          name: `down${level}`,
        } as const;
        x = (
          spectralNorm
            ? spectralNormConv2d({ ...conv, seed: seed + 20 + level })
            : tf.layers.conv2d({ ...conv, kernelInitializer: glorot(seed + 20 + level) })
        ).apply(x) as tf.SymbolicTensor;
        x = tf.layers.leakyReLU({ alpha: 0.2 }).apply(x) as tf.SymbolicTensor;
        if (dropout > 0)
          x = tf.layers.dropout({ rate: dropout, seed: seed + 30 + level }).apply(x) as tf.SymbolicTensor;
      }
      const features = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
      let logit = dense(1, seed + 2, projection ? 'unconditional_logit' : LOGIT_LAYER).apply(
        features,
      ) as tf.SymbolicTensor;
      if (projection) {
        // with --spectral-norm the class embedding is normalized too, as in Miyato & Koyama's code
        const embedded = embedLabel(
          label!,
          features.shape[1]!,
          tf.initializers.randomNormal({ stddev: 0.02, seed: seed + 96 }),
          'label_projection',
          spectralNorm ? seed + 96 : undefined,
        );
        const agreement = tf.layers
          .dot({ axes: 1, name: 'label_agreement' })
          .apply([features, embedded]) as tf.SymbolicTensor;
        logit = tf.layers.add({ name: LOGIT_LAYER }).apply([logit, agreement]) as tf.SymbolicTensor;
      }
      const probability = tf.layers
        .activation({ activation: 'sigmoid', name: 'probability' })
        .apply(logit) as tf.SymbolicTensor;
      return tf.model({ inputs: label ? [image, label] : [image], outputs: probability, name: 'discriminator' });
    },
  };
}
