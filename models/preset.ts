/** What every architecture in models/ provides to the trainer and exporter. */
import type * as tf from '@tensorflow/tfjs';

export interface Preset {
  name: string;
  description: string;
  latentSize: number;
  /** Per-sample image shape, channels last. */
  imageShape: [number, number, number];
  /** Builds a fresh generator: latent [batch, latentSize] → image in [-1, 1]. */
  buildGenerator(seed: number): tf.Sequential | tf.LayersModel;
  /**
   * Builds a fresh discriminator whose layer named `LOGIT_LAYER` outputs the
   * logit (trained on, for numerical stability) and whose final output is the probability.
   */
  buildDiscriminator(seed: number): tf.Sequential | tf.LayersModel;
}

export const LOGIT_LAYER = 'logit';
