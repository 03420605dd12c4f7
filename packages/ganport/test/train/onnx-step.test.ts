/**
 * The onnx engine against the tfjs engine it was captured from: every preset and option gives the
 * same losses and weights, over one step and over runs; nothing leaks; what cannot be captured says so.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { getPreset, PRESETS } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { ganLoss } from '../../src/train/losses.js';
import { OnnxStep } from '../../src/train/onnx-step.js';
import { buildTrainingState, disposeTrainingState } from '../../src/train/run-setup.js';
import { GanStep } from '../../src/train/step.js';
import { oneTrainingStep, realBatch, type StepResult, type TrainingStepOptions } from '../tfjs/training-step.js';

/** Losses within 1e-4 (relative), every weight within 1e-5, as the bar for a new engine. */
function assertSameStep(onnx: StepResult, tfjs: StepResult, what: string): void {
  for (const [s, losses] of onnx.curve.entries()) {
    for (const [i, l] of losses.entries()) {
      const expected = tfjs.curve[s][i];
      assert.ok(
        Math.abs(l - expected) <= 1e-4 * Math.max(1, Math.abs(expected)),
        `${what} step ${s + 1} loss ${i}: ${l} vs ${expected}`,
      );
    }
  }
  assert.equal(onnx.weights.length, tfjs.weights.length);
  onnx.weights.forEach((w, i) => {
    let worst = 0;
    for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j] - tfjs.weights[i][j]));
    assert.ok(worst <= 1e-5, `${what}: weight ${i} differs by ${worst}`);
  });
}

async function compareEngines(preset: string, batch: number, options: TrainingStepOptions = {}): Promise<void> {
  await selectBackend('wasm');
  const tfjs = await oneTrainingStep(getPreset(preset), batch, options);
  const onnx = await oneTrainingStep(getPreset(preset), batch, { ...options, engine: 'onnx' });
  assertSameStep(onnx, tfjs, `${preset} ${JSON.stringify(options)}`);
}

for (const preset of Object.values(PRESETS)) {
  test(`one step of ${preset.name}: the onnx engine equals the tfjs engine on wasm`, () =>
    compareEngines(preset.name, preset.sampleShape.length === 1 ? 16 : 8));
}

const OPTIONS: [string, number, TrainingStepOptions][] = [
  ['dcgan', 8, { loss: 'lsgan', labelSmoothing: 0.1 }],
  ['dcgan', 8, { loss: 'hinge', emaDecay: 0.9, steps: 3 }],
  ['dcgan', 8, { r1Gamma: 1, spectralNorm: true }],
  ['dcgan', 8, { pack: 2, learningRate: 1e-4, discriminatorLearningRate: 4e-4 }],
  ['cdcgan-projection', 8, { r1Gamma: 0.5, spectralNorm: true, loss: 'hinge' }],
  ['cdcgan', 8, { labelSmoothing: 0.2, emaDecay: 0.99, steps: 2 }],
  ['pacgan-2d', 16, { pack: 4, steps: 2 }],
  ['mlp-2d', 16, { lrDecay: true, steps: 4, emaDecay: 0.5 }],
  ['seed-mlp', 8, { loss: 'lsgan', lrDecay: true, steps: 3, r1Gamma: 2 }],
];

for (const [preset, batch, options] of OPTIONS) {
  test(`${preset} with ${JSON.stringify(options)}: the onnx engine equals the tfjs engine`, () =>
    compareEngines(preset, batch, options));
}

test('200 steps of seed-mlp on a fixed batch: the onnx loss curve follows the wasm one', async () => {
  await selectBackend('wasm');
  const options: TrainingStepOptions = { steps: 200, emaDecay: 0.999 };
  const tfjs = await oneTrainingStep(getPreset('seed-mlp'), 32, options);
  const onnx = await oneTrainingStep(getPreset('seed-mlp'), 32, { ...options, engine: 'onnx' });
  // float summation order differs (XNNPACK vs MLAS), so the runs drift apart slowly; each loss stays close
  for (const [s, losses] of onnx.curve.entries()) {
    for (const [i, l] of losses.entries()) {
      const expected = tfjs.curve[s][i];
      assert.ok(
        Math.abs(l - expected) <= 1e-2 * Math.max(1, Math.abs(expected)),
        `step ${s + 1} loss ${i}: ${l} vs ${expected}`,
      );
    }
  }
  const moved = Math.abs(tfjs.curve[199][1] - tfjs.curve[0][1]);
  assert.ok(moved > 0.05, `the generator loss moved over the run (${moved})`);
});

test('the onnx engine: the same seed gives the same losses; a step leaves no tensor behind', async () => {
  await selectBackend('wasm');
  const options: TrainingStepOptions = { steps: 3, engine: 'onnx', emaDecay: 0.99 };
  const first = await oneTrainingStep(getPreset('dcgan'), 8, options);
  const second = await oneTrainingStep(getPreset('dcgan'), 8, options);
  assert.deepEqual(first.curve, second.curve);

  const preset = getPreset('dcgan');
  const config = { ...stateConfig(preset.latentSize, 8), emaDecay: 0.99 };
  const state = buildTrainingState(preset, config);
  const real = realBatch([8, ...preset.sampleShape]);
  const stepper = new GanStep(state, ganLoss('bce'), config, new Rng(3));
  const engine = await OnnxStep.create(
    new GanStep(state, ganLoss('bce'), config, new Rng(4)),
    stepper,
    real,
    undefined,
  );
  await engine.run(1, real, undefined, true);
  const before = tf.memory().numTensors;
  await engine.run(2, real, undefined, true);
  await engine.run(3, real, undefined, false);
  assert.equal(tf.memory().numTensors, before, 'steps make no tensors');
  await engine.sync();
  assert.equal(tf.memory().numTensors, before, 'sync replaces the state, it does not add to it');
  assert.equal(state.dOptimizer.iterations, 3);
  await engine.dispose();
  stepper.dispose();
  real.dispose();
  disposeTrainingState(state);
});

test('the onnx engine gives the same losses on one onnxruntime thread as on two (so it may choose the faster)', async () => {
  await selectBackend('wasm');
  const single = await oneTrainingStep(getPreset('dcgan'), 8, { steps: 2, engine: 'onnx', threads: 1 });
  const double = await oneTrainingStep(getPreset('dcgan'), 8, { steps: 2, engine: 'onnx', threads: 2 });
  assert.deepEqual(single.curve, double.curve);
  assert.deepEqual(single.weights, double.weights);
});

test('the onnx engine keeps its memory flat over 1,000 steps', async () => {
  await selectBackend('wasm');
  const preset = getPreset('mlp-2d');
  const config = stateConfig(preset.latentSize, 64);
  const state = buildTrainingState(preset, config);
  const real = realBatch([64, 2]);
  const stepper = new GanStep(state, ganLoss('bce'), config, new Rng(3));
  const engine = await OnnxStep.create(
    new GanStep(state, ganLoss('bce'), config, new Rng(4)),
    stepper,
    real,
    undefined,
  );
  const rss = () => process.memoryUsage().rss;
  for (let step = 1; step <= 100; step++) await engine.run(step, real, undefined, step % 50 === 0);
  global.gc?.();
  const warm = rss();
  const tensors = tf.memory().numTensors;
  for (let step = 101; step <= 1000; step++) await engine.run(step, real, undefined, step % 50 === 0);
  global.gc?.();
  const grown = (rss() - warm) / 2 ** 20;
  assert.ok(grown < 20, `RSS grew by ${grown.toFixed(1)} MB over 900 steps`);
  assert.equal(tf.memory().numTensors, tensors);
  await engine.dispose();
  stepper.dispose();
  real.dispose();
  disposeTrainingState(state);
});

test('a kernel the engine cannot write stops the capture with one line naming it', async () => {
  await selectBackend('wasm');
  const { captureGraph } = await import('../../src/tfjs/capture.js');
  const x = tf.tensor1d([1, 2, 3]);
  assert.throws(
    () => captureGraph({ name: 'fft', inputs: [{ name: 'x', tensor: x }], state: [], fn: () => ({ y: tf.cumsum(x) }) }),
    /the onnx engine cannot capture the tfjs kernel Cumsum yet/,
  );
  x.dispose();
});

/** What buildTrainingState and GanStep read, for the hand-made engines above. */
function stateConfig(latentSize: number, batchSize: number) {
  return {
    seed: 1,
    emaDecay: 0,
    pack: 1,
    spectralNorm: false,
    learningRate: 2e-4,
    discriminatorLearningRate: 2e-4,
    beta1: 0.5,
    images: 0,
    latentSize,
    batchSize,
  };
}
