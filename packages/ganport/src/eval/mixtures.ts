/**
 * The mode-collapse protocol of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018)
 * for generators of the 2-D mixtures: a sample is high quality when it lies within 3σ of
 * its nearest mode; a mode is captured when at least one high-quality sample is nearest to
 * it; the reverse KL compares the high-quality samples' distribution over modes with the
 * uniform one, KL(p_gen ‖ uniform).
 */
import { GanportError, type Generator, scatterPlot, toPNG } from '@ganport/runtime';
import { type Mixture, mixture } from '../datasets/mixtures.js';
import { writeFileAtomic } from '../util/files.js';

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
  const reverseKl =
    highQuality === 0
      ? Math.log(m.modes.length)
      : counts.reduce((kl, c) => (c ? kl + (c / highQuality) * Math.log(c / highQuality / uniform) : kl), 0);
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

export interface MixtureEvalOptions {
  /** ring or grid; default: the mixture the model's metadata names. */
  mixture?: string;
  /** Samples per seed (the protocol's 2,500). */
  samples?: number;
  /** Sampling seeds 0..seeds-1, scored separately and summarised as mean ± std. */
  seeds?: number;
  /** Write seed 0's scatter plot over the mixture's modes here. */
  plot?: string;
}

export interface MixtureEvalReport {
  mixture: string;
  modes: number;
  sigma: number;
  samples: number;
  seeds: number;
  modesCaptured: Summary;
  highQualityPercent: Summary;
  reverseKl: Summary;
}

/** The largest sample count and seed count one evaluation takes (one batch per seed). */
export const MAX_MIXTURE_SAMPLES = 4096;
export const MAX_MIXTURE_SEEDS = 100;

/** Scores a 2-D point generator on its mixture over several sampling seeds. */
export async function evaluateMixture(
  generator: Generator,
  options: MixtureEvalOptions = {},
): Promise<MixtureEvalReport> {
  const { info } = generator;
  if (info.outputShape.join() !== '2') {
    throw new GanportError(
      `the model makes flat ${info.outputShape.join('×')} outputs; eval measures images and 2-D points`,
      'unsupported',
    );
  }
  const name = options.mixture ?? info.metadata['ganport.data'];
  if (!name) throw new GanportError('the model does not say which mixture it was trained on; name one (ring or grid)');
  const m = mixture(name);
  const samples = options.samples ?? 2500;
  const seeds = options.seeds ?? 5;
  if (!Number.isInteger(samples) || samples < 1 || samples > MAX_MIXTURE_SAMPLES) {
    throw new GanportError(`samples must be an integer from 1 to ${MAX_MIXTURE_SAMPLES}, got ${samples}`);
  }
  if (!Number.isInteger(seeds) || seeds < 1 || seeds > MAX_MIXTURE_SEEDS) {
    throw new GanportError(`seeds must be an integer from 1 to ${MAX_MIXTURE_SEEDS}, got ${seeds}`);
  }
  const runs: MixtureScores[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    const batch = await generator.generate({ seed, count: samples });
    runs.push(scoreMixture(batch.data, m));
    if (seed === 0 && options.plot)
      await writeFileAtomic(options.plot, toPNG(scatterPlot(batch.data, { modes: m.modes })));
  }
  return {
    mixture: m.name,
    modes: m.modes.length,
    sigma: m.sigma,
    samples,
    seeds,
    modesCaptured: summarize(runs.map((r) => r.modesCaptured)),
    highQualityPercent: summarize(runs.map((r) => 100 * r.highQualityFraction)),
    reverseKl: summarize(runs.map((r) => r.reverseKl)),
  };
}
