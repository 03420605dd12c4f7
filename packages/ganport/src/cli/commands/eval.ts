import { join, relative } from 'node:path';
import { MIXTURES } from '../../datasets/mixtures.js';
import {
  DEFAULT_IMAGE_SAMPLES,
  EvalOptionError,
  evaluate,
  type ImageEvalReport,
  type ImageScores,
  MAX_IMAGE_SAMPLES,
  type MixtureEvalReport,
} from '../../eval/index.js';
import { defineCommand, flagFor, UsageError } from '../flags.js';
import { dataFlag } from '../shared-flags.js';

/** Named, so that an option the domain refuses can be reported as its flag. */
const flags = {
  samples: {
    type: 'int',
    value: 'N',
    help: `images on each side (default ${DEFAULT_IMAGE_SAMPLES}, at most ${MAX_IMAGE_SAMPLES}); 2-D points per seed (default 2500)`,
  },
  seed: { type: 'int', value: 'S', help: 'images: seeds the latents and the real images drawn (default 0)' },
  data: dataFlag('images: IDX data with train and t10k splits (default: Fashion-MNIST, else the shipped sample)'),
  classifier: {
    type: 'string',
    value: 'PATH',
    help: 'images: the classifier to measure with, its .onnx or the directory train-classifier wrote (default: the shipped one)',
  },
  k: { type: 'int', value: 'K', help: 'images: neighbours of the precision/recall manifolds (default 3)' },
  mixture: {
    type: 'string',
    value: MIXTURES.join('|'),
    help: 'points: the mixture to score against (default: the one the model was trained on)',
  },
  seeds: { type: 'int', value: 'K', help: 'points: score sampling seeds 0 to K-1, as mean ± std (default 5)' },
  plot: { type: 'string', value: 'FILE.png', help: "points: write seed 0's scatter plot over the modes" },
  json: { type: 'boolean', help: 'print the report as JSON' },
} as const;

/**
 * Measures a generator through the runtime (what users ship): image generators with classifier-based
 * metrics against real test images, 2-D mixture generators with the VEEGAN/PacGAN mode-collapse protocol.
 */
export const evalCommand = defineCommand({
  name: 'eval',
  summary:
    'measure a generator: FCD, precision/recall, class KL for images; modes, high quality, reverse KL for 2-D mixtures',
  positional: {
    name: 'MODEL',
    required: true,
    help: 'a generator .onnx file, a model directory, or a shipped model: seed-mlp, dcgan, cdcgan, …',
  },
  flags,
  examples: [
    'ganport eval dcgan',
    'ganport eval my-model --samples 2000 --data data/fashion-mnist --json',
    'ganport eval mlp-2d-grid --seeds 3 --plot grid.png',
  ],
  async run({ json, ...options }, model) {
    // checked before the model, the classifier and the data load
    if (options.seed !== undefined && (options.seed < 0 || options.seed > 0xffffffff))
      throw new UsageError(`--seed must be an integer in [0, 2^32), got ${options.seed}`);
    for (const flag of ['samples', 'k'] as const) {
      const value = options[flag];
      if (value !== undefined && value < 1) throw new UsageError(`--${flag} must be a positive integer, got ${value}`);
    }
    const log = json ? undefined : (line: string) => console.error(line);
    const report = await evaluate(model, { ...options, log }).catch((err: unknown) => {
      if (!(err instanceof EvalOptionError)) throw err;
      throw new UsageError(`${flagFor(flags, err.option)} does not apply to ${err.generatorKind} generators`);
    });
    if (json) console.log(JSON.stringify(report, null, 2));
    else console.log(report.kind === 'images' ? formatImageReport(report) : formatMixtureReport(report, options.plot));
    return 0;
  },
});

function formatImageReport(r: { model: string } & ImageEvalReport): string {
  const row = (label: string, pick: (s: ImageScores) => number | undefined, digits: number) => {
    const cell = (s: ImageScores) => (pick(s)?.toFixed(digits) ?? '-').padStart(12);
    return `  ${label.padEnd(22)}${cell(r.generated)}${cell(r.realFloor)}`;
  };
  const { classifier } = r;
  const accuracy = Number.isFinite(classifier.testAccuracy)
    ? `test accuracy ${(100 * classifier.testAccuracy).toFixed(2)} %`
    : 'no test accuracy recorded';
  const shown = relative(process.cwd(), classifier.path);
  const lines = [
    `${r.model}: ${r.samples} generated vs ${r.samples} real test images (seed ${r.seed})`,
    `classifier ${shown.startsWith('..') ? classifier.path : shown} (${classifier.data}, ${accuracy})`,
    `  ${''.padEnd(22)}${'generated'.padStart(12)}${'real floor'.padStart(12)}` +
      `   (floor: ${r.samples} train vs test images)`,
    row('FCD', (s) => s.fcd, 3),
    row(`precision (k=${r.k})`, (s) => s.precision, 3),
    row(`recall (k=${r.k})`, (s) => s.recall, 3),
    row('class KL', (s) => s.classKl, 4),
  ];
  if (r.generated.classAccuracy !== undefined) lines.push(row('requested-class acc.', (s) => s.classAccuracy, 3));
  lines.push(`  class histogram       ${r.generated.classHistogram.join(' ')}`);
  for (const warning of r.warnings) lines.push(`warning: ${warning}`);
  return lines.join('\n');
}

function formatMixtureReport(r: { model: string } & MixtureEvalReport, plot: string | undefined): string {
  const f = (s: { mean: number; std: number }, digits: number) =>
    `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
  const lines = [
    `${r.model} on ${r.mixture} (${r.modes} modes, σ ${r.sigma}): ${r.samples} samples × ${r.seeds} seeds`,
    `  modes captured      ${f(r.modesCaptured, 1)} / ${r.modes}`,
    `  high-quality        ${f(r.highQualityPercent, 1)} %`,
    `  reverse KL          ${f(r.reverseKl, 3)}`,
  ];
  if (plot) lines.push(`  scatter plot        ${join(plot)}`);
  return lines.join('\n');
}
