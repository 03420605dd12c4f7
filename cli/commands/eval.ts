import { join } from 'node:path';
import { summarize, scoreMixture } from '../../eval/mixtures.js';
import { GanportError, loadGenerator, toPNG } from '../../runtime/node.js';
import { scatterPlot } from '../../runtime/scatter.js';
import { mixture } from '../../train/data/mixtures.js';
import { writeFileAtomic } from '../../util/files.js';
import { UsageError, intFlag, parse } from '../args.js';
import { resolveModel } from './generate.js';

export const usage = 'ganport eval MODEL [--mixture ring|grid] [--samples N (2500)] [--seeds K (5)] [--plot FILE.png] [--json]';

/** Measures a 2-D mixture generator with the VEEGAN/PacGAN protocol, through the runtime (what users ship). */
export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { mixture: { type: 'string' }, samples: { type: 'string' }, seeds: { type: 'string' }, plot: { type: 'string' }, json: { type: 'boolean', default: false } },
    usage,
  );
  if (positionals.length !== 1) throw new UsageError(`expected one MODEL\nusage: ${usage}`);
  const modelPath = resolveModel(positionals[0]);
  const generator = await loadGenerator(modelPath);
  try {
    const { info } = generator;
    if (info.layout !== 'flat' || info.outputShape.join() !== '2') {
      throw new GanportError(`${modelPath} makes ${info.outputShape.join('×')} outputs; ganport eval measures 2-D mixture generators so far (image metrics are not implemented yet)`, 'unsupported');
    }
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
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      const f = (s: { mean: number; std: number }, digits: number) => `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
      console.log(`${modelPath} on ${m.name} (${m.modes.length} modes, σ ${m.sigma}): ${samples} samples × ${seeds} seeds`);
      console.log(`  modes captured      ${f(report.modesCaptured, 1)} / ${m.modes.length}`);
      console.log(`  high-quality        ${f(report.highQualityPercent, 1)} %`);
      console.log(`  reverse KL          ${f(report.reverseKl, 3)}`);
      if (values.plot) console.log(`  scatter plot        ${join(values.plot)}`);
    }
  } finally {
    await generator.dispose();
  }
  return 0;
}
