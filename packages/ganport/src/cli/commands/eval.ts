import { join, relative } from 'node:path';
import { type ImageEvalReport, type ImageScores, DEFAULT_IMAGE_SAMPLES, evaluateImages } from '../../eval/images.js';
import { summarize, scoreMixture } from '../../eval/mixtures.js';
import { type Generator, GanportError, loadGenerator, toPNG } from '@ganport/runtime';
import { scatterPlot } from '@ganport/runtime';
import { mixture } from '../../datasets/mixtures.js';
import { writeFileAtomic } from '../../util/files.js';
import { UsageError, intFlag, parse } from '../flags.js';
import { resolveModel } from './generate.js';

export const usage =
  'ganport eval MODEL [--json]\n' +
  '       images:      [--samples N (10000)] [--seed S (0)] [--data DIR] [--classifier FILE.onnx] [--k K (3)]\n' +
  '       2-D points:  [--mixture ring|grid] [--samples N (2500)] [--seeds K (5)] [--plot FILE.png]';

function parseFlags(argv: string[]) {
  return parse(
    argv,
    {
      mixture: { type: 'string' },
      samples: { type: 'string' },
      seeds: { type: 'string' },
      seed: { type: 'string' },
      plot: { type: 'string' },
      data: { type: 'string' },
      classifier: { type: 'string' },
      k: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    usage,
  );
}

type Flags = ReturnType<typeof parseFlags>['values'];

/**
 * Measures a generator through the runtime (what users ship): image generators
 * with classifier-based metrics against real test images, 2-D mixture generators
 * with the VEEGAN/PacGAN mode-collapse protocol.
 */
export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv);
  if (positionals.length !== 1) throw new UsageError(`expected one MODEL\nusage: ${usage}`);
  const modelPath = resolveModel(positionals[0]);
  const generator = await loadGenerator(modelPath);
  try {
    const points = generator.info.layout === 'flat';
    const misplaced = Object.keys(values).filter((flag) => (points ? ['seed', 'data', 'classifier', 'k'] : ['mixture', 'seeds', 'plot']).includes(flag));
    if (misplaced.length) throw new UsageError(`--${misplaced[0]} does not apply to ${points ? '2-D point' : 'image'} generators\nusage: ${usage}`);
    if (points) await evalMixture(generator, modelPath, values);
    else await evalImages(generator, modelPath, values);
  } finally {
    await generator.dispose();
  }
  return 0;
}

async function evalImages(generator: Generator, modelPath: string, values: Flags): Promise<void> {
  const report = await evaluateImages(generator, {
    samples: intFlag(values.samples, 'samples', DEFAULT_IMAGE_SAMPLES),
    seed: intFlag(values.seed, 'seed', 0),
    dataDir: values.data,
    classifier: values.classifier,
    k: intFlag(values.k, 'k'),
    log: values.json ? undefined : (line) => console.error(line),
  });
  if (values.json) console.log(JSON.stringify({ model: modelPath, ...report }, null, 2));
  else console.log(formatImageReport(modelPath, report));
}

export function formatImageReport(modelPath: string, r: ImageEvalReport): string {
  const row = (label: string, pick: (s: ImageScores) => number | undefined, digits: number) => {
    const cell = (s: ImageScores) => (pick(s) === undefined ? '-' : pick(s)!.toFixed(digits)).padStart(12);
    return `  ${label.padEnd(22)}${cell(r.generated)}${cell(r.realFloor)}`;
  };
  const lines = [
    `${modelPath}: ${r.samples} generated vs ${r.samples} real test images (seed ${r.seed})`,
    `classifier ${relative(process.cwd(), r.classifier.path)} (${r.classifier.data}, test accuracy ${(100 * r.classifier.testAccuracy).toFixed(2)} %)`,
    `  ${''.padEnd(22)}${'generated'.padStart(12)}${'real floor'.padStart(12)}   (floor: ${r.samples} train vs test images)`,
    row('FCD', (s) => s.fcd, 3),
    row(`precision (k=${r.k})`, (s) => s.precision, 3),
    row(`recall (k=${r.k})`, (s) => s.recall, 3),
    row('class KL', (s) => s.classKl, 4),
  ];
  if (r.generated.classAccuracy !== undefined) lines.push(row('requested-class acc.', (s) => s.classAccuracy, 3));
  lines.push(`  class histogram       ${r.generated.classHistogram.join(' ')}`);
  return lines.join('\n');
}

async function evalMixture(generator: Generator, modelPath: string, values: Flags): Promise<void> {
  const { info } = generator;
  if (info.outputShape.join() !== '2') throw new GanportError(`${modelPath} makes flat ${info.outputShape.join('×')} outputs; ganport eval measures images and 2-D points`, 'unsupported');
  const name = values.mixture ?? info.metadata['ganport.data'];
  if (!name) throw new GanportError(`${modelPath} does not say which mixture it was trained on; pass --mixture ring or grid`);
  const m = mixture(name);
  const samples = intFlag(values.samples, 'samples', 2500);
  const seeds = intFlag(values.seeds, 'seeds', 5);
  if (samples < 1 || samples > 4096 || seeds < 1 || seeds > 100) throw new GanportError('--samples must be 1..4096 and --seeds 1..100');
  const runs = [];
  for (let seed = 0; seed < seeds; seed++) {
    const batch = await generator.generate({ seed, count: samples });
    runs.push(scoreMixture(batch.data, m));
    if (seed === 0 && values.plot) await writeFileAtomic(values.plot, toPNG(scatterPlot(batch.data, { modes: m.modes })));
  }
  const report = {
    model: modelPath,
    mixture: m.name,
    modes: m.modes.length,
    samples,
    seeds,
    modesCaptured: summarize(runs.map((r) => r.modesCaptured)),
    highQualityPercent: summarize(runs.map((r) => 100 * r.highQualityFraction)),
    reverseKl: summarize(runs.map((r) => r.reverseKl)),
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const f = (s: { mean: number; std: number }, digits: number) => `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
  console.log(`${modelPath} on ${m.name} (${m.modes.length} modes, σ ${m.sigma}): ${samples} samples × ${seeds} seeds`);
  console.log(`  modes captured      ${f(report.modesCaptured, 1)} / ${m.modes.length}`);
  console.log(`  high-quality        ${f(report.highQualityPercent, 1)} %`);
  console.log(`  reverse KL          ${f(report.reverseKl, 3)}`);
  if (values.plot) console.log(`  scatter plot        ${join(values.plot)}`);
}
