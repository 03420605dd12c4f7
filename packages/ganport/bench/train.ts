/**
 * Training-speed benchmark: ms per GAN step (D update + G update, batch 64) for
 * seed-mlp and the 28×28 DCGAN at width 32 (no dropout), on every tfjs backend
 * available, side by side in one run, with each backend's speed-up over `cpu`.
 * Run: npm run bench:train [-- --dcgan-steps N --mlp-steps N --cpu-dcgan-steps N]
 */
import { parseArgs } from 'node:util';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { dcgan } from '../src/presets/dcgan.js';
import { getPreset, type Preset } from '../src/presets/index.js';
import { BACKENDS, selectBackend } from '../src/tfjs/backend.js';
import { ganLoss } from '../src/train/losses.js';
import { GanStep } from '../src/train/step.js';

const { values } = parseArgs({
  options: {
    'dcgan-steps': { type: 'string', default: '10' },
    'mlp-steps': { type: 'string', default: '100' },
    'cpu-dcgan-steps': { type: 'string', default: '1' },
  },
});
const BATCH = 64;
const models: Preset[] = [
  getPreset('seed-mlp'),
  dcgan({ name: 'dcgan (width 32)', description: '', size: 28, channels: 1, width: 32, dropout: 0 }),
];

function msPerStep(preset: Preset, steps: number): number {
  const rng = new Rng(1);
  const generator = preset.buildGenerator(1);
  const state = {
    generator,
    discriminator: preset.buildDiscriminator(1),
    ema: generator,
    dOptimizer: tf.train.adam(2e-4, 0.5),
    gOptimizer: tf.train.adam(2e-4, 0.5),
    order: new Uint32Array(0),
  };
  const stepper = new GanStep(
    state,
    ganLoss('bce'),
    { latentSize: preset.latentSize, batchSize: BATCH, emaDecay: 0 },
    rng,
  );
  const real = tf.randomUniform([BATCH, ...preset.sampleShape], -1, 1, 'float32', 1);
  stepper.run(1, real, undefined, true); // warm-up: kernel setup, weight packing
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) stepper.run(i + 2, real, undefined, i === steps - 1); // the last step reads back, so all work is finished
  const ms = (performance.now() - t0) / steps;
  real.dispose();
  state.generator.dispose();
  state.discriminator.dispose();
  state.dOptimizer.dispose();
  state.gOptimizer.dispose();
  return ms;
}

const results: Record<string, Record<string, number>> = {};
for (const backend of BACKENDS) {
  try {
    await selectBackend(backend);
  } catch {
    console.log(`${backend}: not available here`);
    continue;
  }
  for (const preset of models) {
    const isDcgan = preset.name.startsWith('dcgan');
    const steps = Number(
      isDcgan ? (backend === 'cpu' ? values['cpu-dcgan-steps'] : values['dcgan-steps']) : values['mlp-steps'],
    );
    results[preset.name] ??= {};
    results[preset.name][backend] = msPerStep(preset, steps);
    console.log(
      `${backend.padEnd(14)} ${preset.name.padEnd(18)} ${results[preset.name][backend].toFixed(1)} ms/step (${steps} steps)`,
    );
  }
}

console.log('\nms per step, batch 64 (speed-up over cpu):');
for (const [name, byBackend] of Object.entries(results)) {
  const cpu = byBackend.cpu;
  const cells = Object.entries(byBackend).map(
    ([b, ms]) => `${b} ${ms.toFixed(1)}${cpu && b !== 'cpu' ? ` (${(cpu / ms).toFixed(1)}×)` : ''}`,
  );
  console.log(`  ${name.padEnd(18)} ${cells.join('   ')}`);
}
