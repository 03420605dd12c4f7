/** How many weights a preset's models hold, counted without building them at a width that may not fit. */
import type * as tf from '@tensorflow/tfjs';
import type { DiscriminatorOptions, Preset } from './preset.js';

export interface WeightCounts {
  generator: number;
  discriminator: number;
}

/** The weights (trainable or not) of `preset`'s two models, built on the current tfjs backend and disposed. */
export function weightCounts(preset: Preset, pack = 1, options: DiscriminatorOptions = {}): WeightCounts {
  const count = (model: tf.LayersModel) => {
    try {
      return model.countParams();
    } finally {
      model.dispose();
    }
  };
  return {
    generator: count(preset.buildGenerator(0)),
    discriminator: count(preset.buildDiscriminator(0, pack, options)),
  };
}

/**
 * `weightCounts` of a width preset (`withWidth`) at `width`, without building it there: every layer holds
 * products of at most two widths (a convolution's channels in and out) and fixed sizes, so each count is
 * a quadratic in the width, fitted exactly from builds at widths 1, 2 and 3.
 */
export function weightCountsAtWidth(
  preset: Preset,
  width: number,
  pack = 1,
  options: DiscriminatorOptions = {},
): WeightCounts {
  if (!preset.withWidth) throw new Error(`internal: ${preset.name} has no width`);
  const [c1, c2, c3] = [1, 2, 3].map((w) => weightCounts(preset.withWidth!(w), pack, options));
  const at = (key: keyof WeightCounts) => {
    const a = (c3[key] - 2 * c2[key] + c1[key]) / 2;
    const b = c2[key] - c1[key] - 3 * a;
    return a * width * width + b * width + (c1[key] - a - b);
  };
  return { generator: at('generator'), discriminator: at('discriminator') };
}
