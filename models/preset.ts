/** What every architecture in models/ provides to the trainer and exporter. */
import type * as tf from '@tensorflow/tfjs';

export interface Preset {
  name: string;
  description: string;
  latentSize: number;
  /** Per-sample output shape: [height, width, channels] for images (channels last), [2] for points. */
  sampleShape: number[];
  /** Training settings this architecture wants unless the command line says otherwise. */
  defaults?: { learningRate?: number; batchSize?: number; emaDecay?: number };
  /** Set for class-conditional presets: both models then take an int32 label [batch, 1] as their second input. */
  numClasses?: number;
  /** Builds a fresh generator: latent [batch, latentSize] (and label) → image in [-1, 1]. */
  buildGenerator(seed: number): tf.LayersModel;
  /**
   * Builds a fresh discriminator: image (and label) → probability; its layer named
   * `LOGIT_LAYER` outputs the logit, which training uses for numerical stability.
   */
  buildDiscriminator(seed: number): tf.LayersModel;
}

export const LOGIT_LAYER = 'logit';
