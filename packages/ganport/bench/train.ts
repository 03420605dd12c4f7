/**
 * Training-speed benchmark: ms per GAN step (D update + G update) for seed-mlp, mlp, the 28×28
 * DCGAN and cdcgan at width 32 (no dropout; batch 64) and PacGAN's 2-D pair (pack 4, batch 400), on
 * the onnx engine and every tfjs backend available, side by side in one run, beside PyTorch on the
 * same architectures (bench/pytorch_train.py, best of 1, 2, 4, … threads up to the cores) when /usr/bin/python3 has
 * torch. Each figure is the best step of its run: on a shared machine the fastest step is the one
 * least disturbed (cpu: at most 10 MLP steps, and no warm-up step). With --profile, the ms per
 * step of every kernel (tf.profile) on wasm and on ort, side by side, and where the onnx engine's
 * step goes (onnxruntime's profiler, per op type). With --rounds N, the backends' steps and PyTorch's are
 * measured N times in turn, and the table gives each figure's median, the ratio of the medians, and the
 * range of the rounds' own ratios (each round's figure against that round's PyTorch): on a shared VM one
 * PyTorch process's best dcgan step ranged 44–82 ms from one process to the next.
 * webgpu runs where there is an adapter, labelled with it; a software adapter (SwiftShader, …)
 * is labelled correctness-only: its figures say nothing about a GPU.
 * Run: npm run bench:train [-- --dcgan-steps N --mlp-steps N --cpu-dcgan-steps N --backends a,b --rounds N --profile]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { dcgan } from '../src/presets/dcgan.js';
import { getPreset, type Preset } from '../src/presets/index.js';
import { selectBackend } from '../src/tfjs/backend.js';
import { BACKENDS, ONNX_BACKEND } from '../src/tfjs/backend-names.js';
import { ganLoss } from '../src/train/losses.js';
import { OnnxStep } from '../src/train/onnx-step.js';
import { buildTrainingState, disposeTrainingState } from '../src/train/run-setup.js';
import { GanStep, type StepEngine } from '../src/train/step.js';
import { packageRoot } from '../src/util/files.js';
import { compareRounds, median, type RoundFigure } from './stats.js';

const USAGE =
  'usage: npm run bench:train [-- --dcgan-steps N --mlp-steps N --cpu-dcgan-steps N --backends a,b --rounds N --profile]\n' +
  `  --backends: of ${BACKENDS.join(', ')} (default: all)`;
const { values } = (() => {
  try {
    return parseArgs({
      options: {
        'dcgan-steps': { type: 'string', default: '10' },
        'mlp-steps': { type: 'string', default: '50' },
        'cpu-dcgan-steps': { type: 'string', default: '1' },
        rounds: { type: 'string', default: '1' },
        backends: { type: 'string', default: BACKENDS.join(',') },
        profile: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    console.error(`bench:train: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const backendNames = values
  .backends!.split(',')
  .map((name) => name.trim())
  .filter(Boolean);
if (backendNames.length === 0) {
  console.error(`bench:train: --backends names no backend\n${USAGE}`);
  process.exit(2);
}
const unknownBackend = backendNames.find((b) => !(BACKENDS as readonly string[]).includes(b));
if (unknownBackend !== undefined) {
  console.error(`bench:train: unknown backend "${unknownBackend}"\n${USAGE}`);
  process.exit(2);
}
const COUNT_FLAGS = ['dcgan-steps', 'mlp-steps', 'cpu-dcgan-steps', 'rounds'] as const;
const badCount = COUNT_FLAGS.find((flag) => !/^[1-9]\d*$/.test(values[flag]!));
if (badCount !== undefined) {
  console.error(`bench:train: --${badCount} must be a positive integer, got "${values[badCount]}"\n${USAGE}`);
  process.exit(2);
}
/** A benchmarked model: the preset, its batch and packing, and its name in bench/pytorch_train.py. */
interface Model {
  name: string;
  preset: Preset;
  batch: number;
  pack: number;
  pytorch: string;
  /** Timed with --dcgan-steps (else --mlp-steps). */
  convolutional: boolean;
}

const image = (name: string, preset: Preset, pytorch: string): Model => ({
  name,
  preset,
  batch: 64,
  pack: 1,
  pytorch,
  convolutional: preset.sampleShape.length === 3 && name !== 'seed-mlp' && name !== 'mlp',
});
const models: Model[] = [
  image('seed-mlp', getPreset('seed-mlp'), 'seed-mlp'),
  image('mlp', getPreset('mlp'), 'mlp'),
  image('dcgan (width 32)', dcgan({ name: 'dcgan', description: '', size: 28, channels: 1, dropout: 0 }), 'dcgan'),
  image(
    'cdcgan (width 32)',
    dcgan({ name: 'cdcgan', description: '', size: 28, channels: 1, dropout: 0, numClasses: 10 }),
    'cdcgan',
  ),
  {
    name: 'pacgan-2d (pack 4)',
    preset: getPreset('pacgan-2d'),
    batch: 400,
    pack: 4,
    pytorch: 'pacgan-2d',
    convolutional: false,
  },
];
const PROFILED_BACKENDS = ['wasm', 'ort'];

interface Benchmark {
  step(i: number): Promise<unknown>;
  /** Resolves when the step's work is done: webgpu queues kernels and returns before the GPU has run them. */
  sync(): Promise<unknown>;
  dispose(): void;
  /** The onnx engine's step graph (the profile runs it). */
  engine?: OnnxStep;
}

async function benchmark({ preset, batch, pack }: Model, engine: 'tfjs' | 'onnx'): Promise<Benchmark> {
  const config = {
    seed: 1,
    emaDecay: 0,
    pack,
    spectralNorm: false,
    learningRate: 2e-4,
    discriminatorLearningRate: 2e-4,
    beta1: 0.5,
    images: 0,
    latentSize: preset.latentSize,
    batchSize: batch,
    numClasses: preset.numClasses,
  };
  const state = buildTrainingState(preset, config);
  const stepper = new GanStep(state, ganLoss('bce'), config, new Rng(1));
  const real = tf.randomUniform([batch, ...preset.sampleShape], -1, 1, 'float32', 1);
  const labels = preset.numClasses ? tf.randomUniform([batch, 1], 0, preset.numClasses, 'int32', 2) : undefined;
  const onnx =
    engine === 'onnx'
      ? await OnnxStep.create(new GanStep(state, ganLoss('bce'), config, new Rng(2)), stepper, real, labels)
      : undefined;
  const runner: StepEngine = onnx ?? stepper;
  return {
    // No read-back (it would add two inference passes): the cpu, wasm and ort kernels and the onnx
    // engine run synchronously, so the step's work is done when run returns.
    step: (i) => runner.run(i, real, labels, false),
    sync: () => state.generator.weights[state.generator.weights.length - 1].read().data(),
    dispose() {
      tf.dispose([real, ...(labels ? [labels] : [])]);
      void onnx?.dispose();
      stepper.dispose();
      disposeTrainingState(state);
    },
    engine: onnx,
  };
}

/**
 * The fastest of `steps` steps, after a warm-up step (kernel setup, weight packing, ORT sessions)
 * unless `warmUp` is false (cpu: nothing to set up, and a DCGAN step takes minutes); and, on the onnx
 * engine, the onnxruntime threads it chose (its warm-up is its trial's steps, which take turns on each way).
 */
async function bestStep(
  model: Model,
  engine: 'tfjs' | 'onnx',
  steps: number,
  warmUp: boolean,
): Promise<{ ms: number; threading?: string; hostUpdateMs?: number }> {
  const bench = await benchmark(model, engine);
  let warmUpSteps = 0;
  const throughTrial = async () => {
    // the trial's length depends on its times (onnx-runners.ts): step until it has chosen
    do await bench.step(++warmUpSteps);
    while ((bench.engine?.trialStepsLeft ?? 0) > 0);
  };
  if (warmUp) {
    await throughTrial();
    // a long run's choice settles over its re-trials; the bench's steps are too few for one, so it
    // re-tries until two trials in a row agree (at most 3 more): one busy stretch of the machine
    // during the first trial left PacGAN on one thread at 35.8 ms a step (23–26 ms on two)
    for (let retrials = 0; bench.engine && retrials < 3; retrials++) {
      const chosen = bench.engine.threading;
      bench.engine.retry();
      await throughTrial();
      if (bench.engine.threading === chosen) break;
    }
    await bench.sync();
  }
  let best = Infinity;
  let hostUpdateMs: number | undefined;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await bench.step(warmUpSteps + i + 1);
    await bench.sync();
    const ms = performance.now() - t0;
    if (ms < best) [best, hostUpdateMs] = [ms, bench.engine?.hostUpdateMs];
  }
  bench.dispose();
  return { ms: best, threading: bench.engine?.threading, hostUpdateMs };
}

/** ms per step of each kernel over one profiled step (nested `…__op` scopes left out: their kernels are counted). */
async function kernelProfile(model: Model): Promise<Map<string, number>> {
  const bench = await benchmark(model, 'tfjs');
  await bench.step(1);
  const info = await tf.profile(async () => {
    await bench.step(2);
  });
  const byKernel = new Map<string, number>();
  for (const kernel of info.kernels) {
    if (kernel.name.endsWith('__op')) continue;
    const ms = await kernel.kernelTimeMs;
    byKernel.set(kernel.name, (byKernel.get(kernel.name) ?? 0) + (typeof ms === 'number' ? ms : 0));
  }
  bench.dispose();
  return byKernel;
}

/**
 * PyTorch's best step per model (bench/pytorch_train.py, on up to every core, as the onnx engine), or
 * why there is none; says which BLAS torch computed with, and warns where it is the reference BLAS.
 */
function pytorchMs(sayBlas: boolean): Record<string, { threads: number; ms: number }> | string {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error) return `/usr/bin/python3 cannot run (${probe.error.message})`;
  if (probe.status !== 0) return `/usr/bin/python3 cannot import torch (${probe.stderr.trim().split('\n').at(-1)})`;
  const script = join(packageRoot(), 'bench', 'pytorch_train.py');
  const args = [script, '--dcgan-steps', values['dcgan-steps']!, '--mlp-steps', values['mlp-steps']!];
  const run = spawnSync('/usr/bin/python3', [...args, '--max-threads', String(cpus().length)], { encoding: 'utf8' });
  if (run.status !== 0) return `the reference script failed: ${run.stderr.trim().split('\n').at(-1)}`;
  let report: { blas: string[]; times: Record<string, Record<string, number>> };
  try {
    report = JSON.parse(run.stdout);
  } catch {
    return `the reference script printed no JSON report: ${run.stdout.trim().split('\n').at(-1)}`;
  }
  const { blas, times } = report;
  if (sayBlas) console.log(`pytorch: BLAS ${blas.join(', ') || 'none found'}`);
  if (sayBlas && blas.some((path) => /\/blas\/libblas/.test(path)))
    console.log(
      'pytorch: WARNING: the reference BLAS (install libopenblas0-openmp): its matrix products are several ' +
        'times slower, and the ratios below flatter ganport',
    );
  return Object.fromEntries(
    Object.entries(times).map(([name, byThreads]) => {
      const [threads, ms] = Object.entries(byThreads).sort((a, b) => a[1] - b[1])[0];
      return [name, { threads: Number(threads), ms }];
    }),
  );
}

/**
 * Where the onnx engine's step goes: onnxruntime's own profile of its step graph, ms per op type per
 * step (10 profiled runs, fed random values).
 */
async function onnxProfile(model: Model): Promise<Map<string, number>> {
  const bench = await benchmark(model, 'onnx');
  const graph = bench.engine!.stepGraph;
  const dir = mkdtempSync(join(tmpdir(), 'ganport-profile-'));
  const session = await ort.InferenceSession.create(graph.model, {
    enableProfiling: true,
    profileFilePrefix: join(dir, 'step'),
    intraOpNumThreads: cpus().length,
    logSeverityLevel: 3,
  });
  const rng = new Rng(5);
  const feeds = Object.fromEntries(
    graph.inputs.map((input) => {
      const n = input.shape.reduce((a, b) => a * b, 1);
      const data =
        input.dtype === 'float32' ? Float32Array.from({ length: n }, () => 0.1 * rng.nextNormal()) : new Int32Array(n);
      return [input.name, new ort.Tensor(input.dtype as 'float32' | 'int32', data, input.shape)];
    }),
  );
  const runs = 10;
  await session.run(feeds); // warm-up, also profiled: left out below by counting from the end
  for (let i = 0; i < runs; i++) await session.run(feeds);
  await session.endProfiling(); // writes dir/step_<date>.json
  const file = join(dir, readdirSync(dir)[0]);
  const events = (JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[]).filter(
    (e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'),
  );
  rmSync(dir, { recursive: true, force: true });
  await session.release();
  bench.dispose();
  const perRun = events.slice(-events.length * (runs / (runs + 1)));
  const byOp = new Map<string, number>();
  for (const e of perRun) byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur / 1000 / runs);
  return byOp;
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args: { op_name: string };
}

const rounds = Number(values.rounds);
/** By model and backend (labelled with its adapter), a figure per round it ran in. */
const results: Record<string, Record<string, RoundFigure[]>> = {};
const profiles: Record<string, Record<string, Map<string, number>>> = {};
const onnxProfiles: Record<string, Map<string, number>> = {};
/** The onnx engine's best steps' time on Adam and the EMA outside the graph (host-update.ts), first round. */
const hostUpdates: Record<string, number> = {};

/** One round: every backend's best step per model, then (with `profile`) the profiles. */
async function measureBackends(round: number, profile: boolean): Promise<void> {
  for (const name of backendNames) {
    let backend = name;
    try {
      const choice = await selectBackend(name);
      // e.g. "webgpu [nvidia ampere (…; hardware)]"; software adapters are marked as not a speed figure
      if (choice.adapter) {
        const software = choice.software ? ', correctness only' : '';
        backend = `${name} [${choice.adapter}${software}]`;
      }
    } catch (err) {
      console.log(`${name}: ${(err as Error).message}`);
      continue;
    }
    const engine = name === ONNX_BACKEND ? 'onnx' : 'tfjs';
    for (const model of models) {
      const cpu = backend === 'cpu';
      const steps = Number(model.convolutional ? values[cpu ? 'cpu-dcgan-steps' : 'dcgan-steps'] : values['mlp-steps']);
      const { ms, threading, hostUpdateMs } = await bestStep(
        model,
        engine,
        cpu && !model.convolutional ? Math.min(steps, 10) : steps,
        !cpu,
      );
      results[model.name] ??= {};
      results[model.name][backend] ??= [];
      results[model.name][backend].push({ round, ms });
      if (hostUpdateMs && !(model.name in hostUpdates)) hostUpdates[model.name] = hostUpdateMs;
      const threads = threading ? ` (onnxruntime on ${threading})` : '';
      console.log(`${backend.padEnd(14)} ${model.name.padEnd(20)} ${ms.toFixed(1)} ms/step${threads}`);
      if (profile && PROFILED_BACKENDS.includes(backend)) {
        profiles[model.name] ??= {};
        profiles[model.name][backend] = await kernelProfile(model);
      }
      if (profile && engine === 'onnx') onnxProfiles[model.name] = await onnxProfile(model);
    }
  }
}

// rounds take turns, the backends' steps then PyTorch's, so that a slow stretch of a shared machine
// falls on both sides; the profiles run in the first round only
/** PyTorch's best step per model, by round. */
const pytorchRounds = new Map<number, Record<string, { threads: number; ms: number }>>();
for (let round = 1; round <= rounds; round++) {
  if (rounds > 1) console.log(`${round > 1 ? '\n' : ''}round ${round} of ${rounds}`);
  await measureBackends(round, values.profile && round === 1);
  if (round > 1 && pytorchRounds.size === 0) continue; // no PyTorch: said in the first round
  const reference = pytorchMs(round === 1);
  if (typeof reference === 'string') console.log(`pytorch: ${reference}; no reference column`);
  else {
    pytorchRounds.set(round, reference);
    for (const model of models)
      console.log(
        `${'pytorch'.padEnd(14)} ${model.name.padEnd(20)} ${
          reference[model.pytorch]
            ? `${reference[model.pytorch].ms.toFixed(1)} ms/step (threads: ${reference[model.pytorch].threads})`
            : `no figure for ${model.pytorch} from bench/pytorch_train.py`
        }`,
      );
  }
}

const heading =
  rounds === 1
    ? 'ms per step, best step of each run (× = time relative to PyTorch):'
    : `ms per step, the median over ${rounds} rounds of each round's best step (× = the medians' ratio to ` +
      "PyTorch's, and in brackets the range of the rounds' own ratios):";
console.log(`\n${heading}`);
const range = (low: number, high: number, digits: number) => `${low.toFixed(digits)}–${high.toFixed(digits)}`;
for (const model of models) {
  const byBackend = results[model.name];
  if (!byBackend) continue;
  const reference = [...pytorchRounds].flatMap(([round, byModel]) => {
    const r = byModel[model.pytorch];
    return r ? [{ round, ...r }] : [];
  });
  const relative = (figures: RoundFigure[]) => {
    if (reference.length === 0) return '';
    const compared = compareRounds(figures, reference);
    if (!compared) return ' (no round beside PyTorch)';
    const { ratio, lowest, highest, paired } = compared;
    // where a side missed rounds, the ratio is over the rounds both ran in
    const over = paired < Math.max(figures.length, reference.length) ? ` over the ${paired} rounds both ran` : '';
    return ` (${ratio.toFixed(2)}×${rounds > 1 ? ` [${range(lowest, highest, 2)}×]` : ''}${over})`;
  };
  const cells = Object.entries(byBackend).map(
    ([b, figures]) => `${b} ${median(figures.map((f) => f.ms)).toFixed(1)}${relative(figures)}`,
  );
  if (reference.length) {
    const ms = reference.map((r) => r.ms);
    const spread = reference.length > 1 ? `${range(Math.min(...ms), Math.max(...ms), 1)}; ` : '';
    cells.push(`pytorch ${median(ms).toFixed(1)} (${spread}threads: ${reference.map((r) => r.threads).join(', ')})`);
  }
  console.log(`  ${`${model.name}, batch ${model.batch}`.padEnd(30)} ${cells.join('   ')}`);
}

for (const [name, byBackend] of Object.entries(profiles)) {
  const kernels = [...new Set(PROFILED_BACKENDS.flatMap((b) => [...(byBackend[b]?.keys() ?? [])]))];
  const ms = (backend: string, kernel: string) => byBackend[backend]?.get(kernel) ?? 0;
  kernels.sort((a, b) => Math.max(ms('wasm', b), ms('ort', b)) - Math.max(ms('wasm', a), ms('ort', a)));
  console.log(`\n${name}: kernel ms in one step (tf.profile), ${PROFILED_BACKENDS.join(' → ')}`);
  for (const kernel of kernels) {
    const cells = PROFILED_BACKENDS.map((b) => ms(b, kernel).toFixed(2).padStart(9));
    console.log(`  ${kernel.padEnd(24)}${cells.join('')}`);
  }
  const totals = PROFILED_BACKENDS.map((b) => [...(byBackend[b]?.values() ?? [])].reduce((x, y) => x + y, 0));
  console.log(`  ${'total'.padEnd(24)}${totals.map((t) => t.toFixed(2).padStart(9)).join('')}`);
}

for (const [name, byOp] of Object.entries(onnxProfiles)) {
  // profiled runs are slower than plain ones: the shares are what to read, scaled to the best step
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  const best = results[name]?.[ONNX_BACKEND]?.find((f) => f.round === 1)?.ms ?? total;
  const host = hostUpdates[name] ?? 0;
  console.log(`\n${name}: where the onnx engine's step goes (onnxruntime's profiler, share of its kernel time)`);
  for (const [op, ms] of [...byOp].sort((a, b) => b[1] - a[1])) {
    const share = ms / total;
    console.log(
      `  ${op.padEnd(24)}${`${(100 * share).toFixed(1)} %`.padStart(9)}${`≈ ${(share * (best - host)).toFixed(2)} ms`.padStart(14)}`,
    );
  }
  if (host) console.log(`  and Adam and the EMA outside the graph (WebAssembly): ${host.toFixed(2)} ms, measured`);
  console.log(`  of a best step of ${best.toFixed(1)} ms, feeding, draws and dropout masks included`);
}
