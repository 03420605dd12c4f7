/** The discriminator regularizers and schedule options: --spectral-norm, --r1, --lr-decay. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { exportRun } from '../../src/export/index.js';
import { getPreset, LOGIT_LAYER } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { Adam } from '../../src/train/adam.js';
import { readMetrics } from '../../src/train/metrics.js';
import { type TrainOptions, train } from '../../src/train/train.js';
import { tempDir } from '../helpers.js';
import { oneTrainingStep, realBatch } from '../tfjs/training-step.js';
import { exportedDiscriminatorGap } from './exported-discriminator.js';

before(async () => {
  await selectBackend('cpu');
});

const base = { preset: 'mlp-2d', dataDir: 'grid', backend: 'cpu', quiet: true } as const;

test('--spectral-norm: recorded, the discriminator trains with SN layers, and its export folds them (ORT = tfjs)', async () => {
  const run = tempDir();
  await train({ ...base, outDir: run, limit: 512, epochs: 1, spectralNorm: true });
  assert.equal(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).spectralNorm, true);
  const model = tempDir();
  await exportRun(run, model);
  const x = Float32Array.from({ length: 6 * 2 }, (_, i) => 3 * Math.sin(i));
  const { gap, reference } = await exportedDiscriminatorGap(model, x, [6, 2]);
  assert.deepEqual(
    reference.layers.map((l) => l.getClassName()).filter((c) => c.startsWith('SpectralNorm')),
    ['SpectralNormDense', 'SpectralNormDense', 'SpectralNormDense', 'SpectralNormDense'],
  );
  assert.ok(gap < 1e-5);
  await assert.rejects(
    train({ ...base, preset: 'pacgan-2d', outDir: tempDir(), limit: 400, spectralNorm: true }),
    /spectral normalization is not available for maxout layers/,
  );
});

test("--r1 γ adds γ/2 · mean ‖∇ₓ logit‖² over the real batch to the D loss, and its gradient to D's", async () => {
  const preset = getPreset('mlp-2d');
  const d = preset.buildDiscriminator(1);
  const logit = tf.model({ inputs: d.inputs, outputs: d.getLayer(LOGIT_LAYER).output as tf.SymbolicTensor });
  const real = realBatch([16, 2]);
  const gradient = tf.grad((x: tf.Tensor) => (logit.predict(x) as tf.Tensor).sum())(real);
  const penalty = tf.sum(tf.square(gradient), 1).mean().dataSync()[0];
  assert.ok(penalty > 0);
  const plainStep = await oneTrainingStep(preset, 16);
  const r1Step = await oneTrainingStep(preset, 16, { r1Gamma: 10 });
  const [plain] = plainStep.losses;
  const [withR1] = r1Step.losses;
  assert.ok(
    Math.abs(withR1 - plain - 5 * penalty) < 1e-5 * Math.max(1, withR1),
    `${withR1} - ${plain} vs ${5 * penalty}`,
  );
  // and D trains through it: its gradient gains γ/2 · ∇_W penalty, which Adam's first moment holds as
  // (1 − β1) · gradient after the first step (β1 0.5); D's weights are the last of the step's
  const { grads } = tf.variableGrads(
    () => {
      const g = tf.grad((x: tf.Tensor) => (logit.predict(x) as tf.Tensor).sum())(real);
      return tf.sum(tf.square(g), 1).mean() as tf.Scalar;
    },
    d.trainableWeights.map((w) => w.read() as tf.Variable),
  );
  const first = plainStep.moments.length - d.weights.length;
  for (const [i, w] of d.weights.entries()) {
    const variable = w.read() as tf.Variable;
    const expected = grads[variable.name]?.dataSync() ?? new Float32Array(variable.size);
    const gained = r1Step.moments[first + i]!.map((m, j) => m - plainStep.moments[first + i]![j]);
    const largest = Math.max(...expected.map((v) => Math.abs(2.5 * v)), 1e-6);
    const error = Math.max(...gained.map((v, j) => Math.abs(v - 2.5 * expected[j])));
    assert.ok(error <= 1e-3 * largest, `${w.name}: R1's share of the gradient off by ${error} of ${largest}`);
  }

  // with --pack 2, D's real inputs are pairs: the mean is over them, each pair's squared norm summed
  const packedD = preset.buildDiscriminator(1, 2);
  const packedLogit = tf.model({
    inputs: packedD.inputs,
    outputs: packedD.getLayer(LOGIT_LAYER).output as tf.SymbolicTensor,
  });
  const pairs = real.reshape([8, 4]);
  const pairGradient = tf.grad((x: tf.Tensor) => (packedLogit.predict(x) as tf.Tensor).sum())(pairs);
  const packedPenalty = tf.sum(tf.square(pairGradient), 1).mean().dataSync()[0];
  const [packedPlain] = (await oneTrainingStep(preset, 16, { pack: 2 })).losses;
  const [packedWithR1] = (await oneTrainingStep(preset, 16, { pack: 2, r1Gamma: 10 })).losses;
  assert.ok(
    Math.abs(packedWithR1 - packedPlain - 5 * packedPenalty) < 1e-5 * Math.max(1, packedWithR1),
    `${packedWithR1} - ${packedPlain} vs ${5 * packedPenalty}`,
  );

  const run = tempDir();
  await train({ ...base, outDir: run, limit: 1024, epochs: 1, r1Gamma: 1, logEvery: 1 });
  const losses = (await readMetrics(join(run, 'metrics.jsonl'))).map((l) => l.dLoss);
  assert.equal(losses.length, 4);
  assert.ok(losses.every(Number.isFinite));
  await assert.rejects(train({ ...base, outDir: tempDir(), r1Gamma: -1 }), /R1 gamma must be a non-negative number/);
});

/** Trains a run with `options`, recording the learning rate every Adam update reads, per optimizer, first updater first. */
async function learningRatesOf(options: Partial<TrainOptions>): Promise<{ runDir: string; rates: number[][] }> {
  const rates = new Map<Adam, number[]>();
  const { applyGradients } = Adam.prototype;
  Adam.prototype.applyGradients = function (this: Adam, gradients) {
    if (!rates.has(this)) rates.set(this, []);
    rates.get(this)!.push(this.learningRate.dataSync()[0]); // the scalar the update computes with
    return applyGradients.call(this, gradients);
  };
  const runDir = options.outDir ?? tempDir();
  try {
    await train({ ...base, ...options, outDir: runDir });
  } finally {
    Adam.prototype.applyGradients = applyGradients;
  }
  return { runDir, rates: [...rates.values()] };
}

test('--lr-decay: step n of N trains D and G at (1 − (n − 1)/N) of their own rates, linearly to 0; recorded', async () => {
  const rates = { learningRate: 1e-3, discriminatorLearningRate: 4e-3 };
  const steps = 4; // 2 epochs of 512 points in batches of 256
  const { runDir, rates: actual } = await learningRatesOf({ ...rates, limit: 512, epochs: 2, lrDecay: true });
  // the discriminator's optimizer updates first in every step
  const expected = [rates.discriminatorLearningRate, rates.learningRate].map((rate) =>
    Array.from({ length: steps }, (_, i) => rate * (1 - i / steps)),
  );
  assert.equal(actual.length, 2);
  for (const [i, what] of ['D', 'G'].entries()) {
    assert.equal(actual[i].length, steps, what);
    for (const [n, r] of actual[i].entries())
      assert.ok(Math.abs(r - expected[i][n]) <= 1e-9, `${what} step ${n + 1}: ${r}`); // float32 scalars
  }
  assert.equal(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).lrDecay, true);
});

test('--lr-decay on a resume with a longer --epochs: the schedule is taken over the new length, as the README says', async () => {
  const rate = 1e-3;
  const options = { learningRate: rate, discriminatorLearningRate: rate, limit: 512, lrDecay: true };
  const { runDir, rates: first } = await learningRatesOf({ ...options, epochs: 1 }); // steps 1–2 of 2
  const { rates: resumed } = await learningRatesOf({ outDir: runDir, resume: true, epochs: 2 }); // steps 3–4 of 4
  assert.deepEqual(
    [first[0], resumed[0]].map((rates) => rates.map((r) => Number((r / rate).toFixed(6)))),
    [
      [1, 0.5],
      [0.5, 0.25],
    ],
  );
});
