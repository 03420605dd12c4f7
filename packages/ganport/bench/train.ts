/**
 * Training-speed benchmark: ms per GAN step (D update + G update, batch 64) for seed-mlp,
 * mlp and the 28×28 DCGAN at width 32 (no dropout), on every tfjs backend available, side
 * by side in one run, beside PyTorch on the same architectures (bench/pytorch_train.py,
 * best of 1 and 2 threads) when /usr/bin/python3 has torch. Each figure is the best step
 * of its run: on a shared machine the fastest step is the one least disturbed (cpu: at most
 * 10 MLP steps, and no warm-up step). With
 * --profile, the ms per step of every kernel (tf.profile) on wasm and on ort, side by side.
 * webgpu runs where there is an adapter, labelled with it; a software adapter (SwiftShader, …)
 * is labelled correctness-only: its figures say nothing about a GPU.
 * Run: npm run bench:train [-- --dcgan-steps N --mlp-steps N --cpu-dcgan-steps N --backends a,b --profile]
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { dcgan } from '../src/presets/dcgan.js';
import { getPreset, type Preset } from '../src/presets/index.js';
import { BACKENDS, selectBackend } from '../src/tfjs/backend.js';
import { ganLoss } from '../src/train/losses.js';
import { buildTrainingState, disposeTrainingState } from '../src/train/run-setup.js';
import { GanStep } from '../src/train/step.js';
import { packageRoot } from '../src/util/files.js';

const { values } = parseArgs({
  options: {
    'dcgan-steps': { type: 'string', default: '10' },
    'mlp-steps': { type: 'string', default: '50' },
    'cpu-dcgan-steps': { type: 'string', default: '1' },
    backends: { type: 'string', default: BACKENDS.join(',') },
    profile: { type: 'boolean', default: false },
  },
});
const BATCH = 64;
const DCGAN = 'dcgan (width 32)';
const models: Preset[] = [
  getPreset('seed-mlp'),
  getPreset('mlp'),
  dcgan({ name: DCGAN, description: '', size: 28, channels: 1, width: 32, dropout: 0 }),
];
/** PyTorch's names for the same models (bench/pytorch_train.py). */
const PYTORCH_NAMES: Record<string, string> = { 'seed-mlp': 'seed-mlp', mlp: 'mlp', [DCGAN]: 'dcgan' };
const PROFILED_BACKENDS = ['wasm', 'ort'];

interface Benchmark {
  step(i: number): void;
  /** Resolves when the step's work is done: webgpu queues kernels and returns before the GPU has run them. */
  sync(): Promise<unknown>;
  dispose(): void;
}

function benchmark(preset: Preset): Benchmark {
  const config = {
    seed: 1,
    emaDecay: 0,
    pack: 1,
    spectralNorm: false,
    learningRate: 2e-4,
    discriminatorLearningRate: 2e-4,
    beta1: 0.5,
    images: 0,
    latentSize: preset.latentSize,
    batchSize: BATCH,
  };
  const state = buildTrainingState(preset, config);
  const stepper = new GanStep(state, ganLoss('bce'), config, new Rng(1));
  const real = tf.randomUniform([BATCH, ...preset.sampleShape], -1, 1, 'float32', 1);
  return {
    // No read-back (it would add two inference passes): the cpu, wasm and ort kernels run eagerly,
    // so the step's work is done when run returns.
    step: (i) => stepper.run(i, real, undefined, false),
    sync: () => state.generator.weights[state.generator.weights.length - 1].read().data(),
    dispose() {
      real.dispose();
      stepper.dispose();
      disposeTrainingState(state);
    },
  };
}

/**
 * The fastest of `steps` steps, after a warm-up step (kernel setup, weight packing, ORT sessions)
 * unless `warmUp` is false (cpu: nothing to set up, and a DCGAN step takes minutes).
 */
async function bestStepMs(preset: Preset, steps: number, warmUp: boolean): Promise<number> {
  const bench = benchmark(preset);
  if (warmUp) {
    bench.step(1);
    await bench.sync();
  }
  let best = Infinity;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    bench.step(i + 2);
    await bench.sync();
    best = Math.min(best, performance.now() - t0);
  }
  bench.dispose();
  return best;
}

/** ms per step of each kernel over one profiled step (nested `…__op` scopes left out: their kernels are counted). */
async function kernelProfile(preset: Preset): Promise<Map<string, number>> {
  const bench = benchmark(preset);
  bench.step(1);
  const info = await tf.profile(() => bench.step(2));
  const byKernel = new Map<string, number>();
  for (const kernel of info.kernels) {
    if (kernel.name.endsWith('__op')) continue;
    const ms = await kernel.kernelTimeMs;
    byKernel.set(kernel.name, (byKernel.get(kernel.name) ?? 0) + (typeof ms === 'number' ? ms : 0));
  }
  bench.dispose();
  return byKernel;
}

function pytorchMs(): Record<string, { threads: number; ms: number }> | undefined {
  if (spawnSync('/usr/bin/python3', ['-c', 'import torch']).status !== 0) return undefined;
  const script = join(packageRoot(), 'bench', 'pytorch_train.py');
  const args = [script, '--dcgan-steps', values['dcgan-steps']!, '--mlp-steps', values['mlp-steps']!];
  const run = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
  if (run.status !== 0) {
    console.log(`pytorch: the reference script failed: ${run.stderr.trim().split('\n').at(-1)}`);
    return undefined;
  }
  const byThreads = JSON.parse(run.stdout) as Record<string, Record<string, number>>;
  return Object.fromEntries(
    Object.entries(byThreads).map(([name, times]) => {
      const [threads, ms] = Object.entries(times).sort((a, b) => a[1] - b[1])[0];
      return [name, { threads: Number(threads), ms }];
    }),
  );
}

const results: Record<string, Record<string, number>> = {};
const profiles: Record<string, Record<string, Map<string, number>>> = {};
for (const name of values.backends!.split(',')) {
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
  for (const preset of models) {
    const isDcgan = preset.name === DCGAN;
    const cpu = backend === 'cpu';
    const steps = Number(isDcgan ? values[cpu ? 'cpu-dcgan-steps' : 'dcgan-steps'] : values['mlp-steps']);
    const ms = await bestStepMs(preset, cpu && !isDcgan ? Math.min(steps, 10) : steps, !cpu);
    results[preset.name] ??= {};
    results[preset.name][backend] = ms;
    console.log(`${backend.padEnd(14)} ${preset.name.padEnd(18)} ${ms.toFixed(1)} ms/step`);
    if (values.profile && PROFILED_BACKENDS.includes(backend)) {
      profiles[preset.name] ??= {};
      profiles[preset.name][backend] = await kernelProfile(preset);
    }
  }
}

const pytorch = pytorchMs();
if (!pytorch) console.log('pytorch: /usr/bin/python3 has no torch; no reference column');
console.log(`\nms per step, batch 64, best step of each run (× = time relative to PyTorch):`);
for (const [name, byBackend] of Object.entries(results)) {
  const reference = pytorch?.[PYTORCH_NAMES[name]];
  const relative = (ms: number) => (reference ? ` (${(ms / reference.ms).toFixed(2)}×)` : '');
  const cells = Object.entries(byBackend).map(([b, ms]) => `${b} ${ms.toFixed(1)}${relative(ms)}`);
  if (reference) cells.push(`pytorch ${reference.ms.toFixed(1)} (threads: ${reference.threads})`);
  console.log(`  ${name.padEnd(18)} ${cells.join('   ')}`);
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
