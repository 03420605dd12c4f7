/**
 * The mode-collapse protocol of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018)
 * for generators of the 2-D mixtures: a sample is high quality when it lies within 3σ of
 * its nearest mode; a mode is captured when at least one high-quality sample is nearest to
 * it; the reverse KL compares the high-quality samples' distribution over modes with the
 * uniform one, KL(p_gen ‖ uniform).
 */
import type { Mixture } from '../datasets/mixtures.js';

export interface MixtureScores {
  modesCaptured: number;
  highQualityFraction: number;
  reverseKl: number;
}

export function scoreMixture(points: Float32Array, m: Mixture): MixtureScores {
  const counts = new Array<number>(m.modes.length).fill(0);
  const n = points.length / 2;
  let highQuality = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestDistance = Infinity;
    m.modes.forEach(([mx, my], k) => {
      const d = Math.hypot(points[2 * i] - mx, points[2 * i + 1] - my);
      if (d < bestDistance) [best, bestDistance] = [k, d];
    });
    if (bestDistance <= 3 * m.sigma) {
      counts[best]++;
      highQuality++;
    }
  }
  const uniform = 1 / m.modes.length;
  // With no high-quality sample there is no distribution over modes: report the largest possible value, log K.
  const reverseKl = highQuality === 0 ? Math.log(m.modes.length) : counts.reduce((kl, c) => (c ? kl + (c / highQuality) * Math.log(c / highQuality / uniform) : kl), 0);
  return { modesCaptured: counts.filter((c) => c > 0).length, highQualityFraction: highQuality / n, reverseKl };
}

export interface Summary {
  mean: number;
  std: number;
}

export function summarize(values: number[]): Summary {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}
