/** GAN losses on discriminator logits. */

import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { LOSSES } from './loss-names.js';

export interface GanLoss {
  /** Discriminator loss from the logits of a real and a fake batch. */
  discriminator(real: tf.Tensor, fake: tf.Tensor): tf.Scalar;
  /** Generator loss from the logits of a fake batch. */
  generator(fake: tf.Tensor): tf.Scalar;
}

/**
 * bce: the non-saturating GAN loss (Goodfellow et al., 2014), real targets 1 − smoothing;
 * lsgan: least squares (Mao et al., 2017) with targets 1/0;
 * hinge: as in SAGAN / BigGAN (Lim & Ye, 2017).
 */
export function ganLoss(name: string, labelSmoothing = 0): GanLoss {
  if (!(labelSmoothing >= 0 && labelSmoothing < 0.5))
    throw new GanportError(`label smoothing must be in [0, 0.5), got ${labelSmoothing}`);
  if (name === 'hinge' && labelSmoothing > 0)
    throw new GanportError('label smoothing is for the bce and lsgan losses: the hinge loss has no target to smooth');
  const bce = (target: number, logits: tf.Tensor) =>
    tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, target), logits) as tf.Scalar;
  switch (name) {
    case 'bce':
      return {
        discriminator: (real, fake) => bce(1 - labelSmoothing, real).add(bce(0, fake)) as tf.Scalar,
        generator: (fake) => bce(1, fake),
      };
    case 'lsgan':
      return {
        discriminator: (real, fake) =>
          tf
            .mean(tf.square(tf.sub(real, 1 - labelSmoothing)))
            .add(tf.mean(tf.square(fake)))
            .mul(0.5) as tf.Scalar,
        generator: (fake) => tf.mean(tf.square(tf.sub(fake, 1))).mul(0.5) as tf.Scalar,
      };
    case 'hinge':
      return {
        discriminator: (real, fake) =>
          tf.mean(tf.relu(tf.sub(1, real))).add(tf.mean(tf.relu(tf.add(1, fake)))) as tf.Scalar,
        generator: (fake) => tf.neg(tf.mean(fake)) as tf.Scalar,
      };
    default:
      throw new GanportError(`unknown loss "${String(name)}"; choose one of ${LOSSES.join(', ')}`);
  }
}
