/**
 * A training study over seeds: the same `ganport train` command run once per training seed, each
 * measured during training with --eval-every, then the last and the best measurement of every
 * run summarised as mean ± std over the seeds (the PacGAN paper reports its 2-D numbers over
 * training runs this way), with the mean curve against the step drawn as an SVG.
 *
 * Run: npm run bench:study -- --out runs/study-grid --seeds 1,2,3,4,5 --eval-every 500 [--jobs 2] [--svg F]
 *        -- --preset mlp-2d --data grid --epochs 150 --pack 4
 * A run that already finished is read, not retrained; an interrupted one resumes.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mapScores, type ScoreName, scoreNames, scoreOf } from '../src/formats/eval-scores.js';
import { readRunConfig } from '../src/formats/run-dir.js';
import { isBetter } from '../src/train/evaluation.js';
import { type EvalLine, evalPlotSvg, readEvalLines, readMetrics } from '../src/train/metrics.js';
import { packageRoot } from '../src/util/files.js';

const USAGE =
  'usage: study --out DIR [--seeds 1,2,3] [--eval-every N] [--eval-samples N] [--jobs J] [--svg FILE] -- TRAIN_ARGS…';
function usageError(problem: string): never {
  console.error(`study: ${problem}\n${USAGE}`);
  process.exit(2);
}

const separator = process.argv.indexOf('--');
const { values } = (() => {
  try {
    return parseArgs({
      args: process.argv.slice(2, separator < 0 ? undefined : separator),
      options: {
        out: { type: 'string' },
        seeds: { type: 'string', default: '1,2,3,4,5' },
        'eval-every': { type: 'string', default: '500' },
        'eval-samples': { type: 'string', default: '2500' },
        jobs: { type: 'string', default: '1' },
        svg: { type: 'string' },
      },
    });
  } catch (err) {
    return usageError((err as Error).message);
  }
})();
const trainArgs = separator < 0 ? [] : process.argv.slice(separator + 1);
if (!values.out || trainArgs.length === 0) usageError('give --out DIR and, after --, the train options');
const isCount = (text: string) => /^\d+$/.test(text);
const seeds = values.seeds!.split(',').map((seed) => (isCount(seed) ? Number(seed) : usageError(`bad seed "${seed}"`)));
const jobs =
  isCount(values.jobs!) && Number(values.jobs) > 0 ? Number(values.jobs) : usageError('--jobs takes a count');
const runDir = (seed: number) => join(values.out!, `seed-${seed}`);
const cli = join(packageRoot(), 'bin', 'ganport.js');

/** Trains (or resumes, or leaves alone when finished) the run of one seed; its output goes to RUN.log. */
async function trainSeed(seed: number): Promise<void> {
  const dir = runDir(seed);
  const exists = existsSync(join(dir, 'config.json'));
  if (exists && (await finished(dir))) return;
  const measured = ['--eval-every', values['eval-every']!, '--eval-samples', values['eval-samples']!];
  const args = exists
    ? ['train', '--resume', dir, ...measured, ...epochsOf(trainArgs)]
    : ['train', ...trainArgs, '--seed', String(seed), '--out', dir, ...measured];
  const started = Date.now();
  await mkdir(values.out!, { recursive: true });
  const log = createWriteStream(`${dir}.log`, { flags: 'a' });
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [cli, ...args, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`seed ${seed}: ganport ${args.join(' ')} exited with ${code}; see ${dir}.log`);
  console.log(`seed ${seed}: trained in ${((Date.now() - started) / 60000).toFixed(1)} min`);
}

const epochsOf = (args: string[]) => {
  const i = args.indexOf('--epochs');
  return i < 0 ? [] : ['--epochs', args[i + 1]];
};

async function finished(dir: string): Promise<boolean> {
  const config = await readRunConfig(dir);
  const last = (await readMetrics(join(dir, 'metrics.jsonl'))).at(-1);
  const wanted = Number(epochsOf(trainArgs)[1] ?? config.epochs);
  return last !== undefined && last.step >= Math.floor(config.images / config.batchSize) * wanted;
}

/** Runs the seeds, `jobs` at a time. */
async function trainAll(): Promise<void> {
  const queue = [...seeds];
  const worker = async () => {
    for (let seed = queue.shift(); seed !== undefined; seed = queue.shift()) await trainSeed(seed);
  };
  await Promise.all(Array.from({ length: jobs }, worker));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** The population standard deviation (divided by n, numpy's default), as the README's study tables report it. */
const std = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const cell = (xs: number[]) => `${mean(xs).toFixed(3)} ± ${std(xs).toFixed(3)}`;

/** The measurement of each step, averaged over the seeds that reached it. */
function meanCurve(runs: EvalLine[][]): EvalLine[] {
  const steps = [...new Set(runs.flat().map((l) => l.step))].sort((a, b) => a - b);
  return steps.map((step) => {
    const at = runs.flatMap((lines) => lines.filter((l) => l.step === step));
    const averaged = mapScores(at[0].eval, (name) => mean(at.map((l) => scoreOf(l.eval, name)!)));
    return { step, epoch: at[0].epoch, eval: averaged };
  });
}

await trainAll();
const runs = await Promise.all(seeds.map((seed) => readEvalLines(join(runDir(seed), 'metrics.jsonl'))));
const unmeasured = seeds.filter((_, i) => runs[i].length === 0);
if (unmeasured.length > 0) {
  console.error(
    `bench:study: the runs of seeds ${unmeasured.join(', ')} have no --eval-every measurement ` +
      '(is --eval-every more than the steps of the run?); nothing to summarise',
  );
  process.exit(1);
}
const last = runs.map((lines) => lines.at(-1)!);
const best = runs.map((lines) => lines.reduce((a, b) => (isBetter(b.eval, a.eval) ? b : a)));
const keys = scoreNames(last[0].eval);
console.log(
  `\n${values.out}: ${seeds.length} training seeds (${seeds.join(', ')}), ganport train ${trainArgs.join(' ')}`,
);
for (const [name, lines] of [
  ['last measurement', last],
  ['best measurement', best],
] as const) {
  const column = (k: ScoreName) => lines.map((l) => scoreOf(l.eval, k)!);
  console.log(`  ${name.padEnd(17)} ${keys.map((k) => `${k} ${cell(column(k))}`).join('   ')}`);
  console.log(`  ${''.padEnd(17)} at steps ${lines.map((l) => l.step).join(', ')}`);
}
const svg = evalPlotSvg(meanCurve(runs), `mean of ${seeds.length} seeds`);
await writeFile(values.svg ?? join(values.out, 'curve.svg'), svg);
console.log(`curve: ${values.svg ?? join(values.out, 'curve.svg')}`);
