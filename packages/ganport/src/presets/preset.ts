/** What every architecture in models/ provides to the trainer and exporter. */
import type * as tf from '@tensorflow/tfjs';

export interface Preset {
  name: string;
  description: string;
  latentSize: number;
  /** Per-sample output shape: [height, width, channels] for images (channels last), [2] for points. */
  sampleShape: number[];
  /** Training settings this architecture wants unless the command line says otherwise. */
  defaults?: { learningRate?: number; beta1?: number; batchSize?: number; emaDecay?: number };
  /** Set for class-conditional presets: both models then take an int32 label [batch, 1] as their second input. */
  numClasses?: number;
  /** Builds a fresh generator: latent [batch, latentSize] (and label) → image in [-1, 1]. */
  buildGenerator(seed: number): tf.LayersModel;
  /**
   * Builds a fresh discriminator: image (and label) → probability; its layer named
   * `LOGIT_LAYER` outputs the logit, which training uses for numerical stability.
   * With `pack` > 1 (PacGAN) it judges that many samples at once, joined along the
   * last axis (see `packedShape`); conditional presets do not pack.
   */
  buildDiscriminator(seed: number, pack?: number, options?: DiscriminatorOptions): tf.LayersModel;
  /** Why its discriminator cannot be spectrally normalized, where it cannot (checked before a run starts). */
  noSpectralNorm?: string;
  /** The DCGAN presets: the same architecture at another width (channels of the last hidden layer). */
  withWidth?(width: number): Preset;
  /**
   * The unconditional DCGAN presets: the same architecture self-conditioned on `k` unsupervised
   * clusters of the training images (datasets/clusters.ts): a label embedding joins the latent and
   * the discriminator is a projection discriminator, as in `cdcgan-projection`.
   */
  withClusters?(k: number): Preset;
}

export interface DiscriminatorOptions {
  /**
   * Spectral normalization (Miyato et al. 2018) on every dense and convolution kernel, and a projection
   * discriminator's class embedding (src/tfjs/spectral-norm.ts).
   */
  spectralNorm?: boolean;
}

/** The input shape of a discriminator that judges `pack` samples at once: their last axes (channels, or coordinates) joined. */
export function packedShape(sampleShape: number[], pack = 1): number[] {
  return [...sampleShape.slice(0, -1), sampleShape.at(-1)! * pack];
}

export const LOGIT_LAYER = 'logit';
