/**
 * R1's gradient for D's weights is a gradient of a gradient, and tfjs gets some second derivatives
 * wrong: through tanh and sigmoid, a dense layer's R1 gradient came out 1.5 % and 3.5 % short of
 * finite differences (measured here with this file's check). Every preset's discriminator, with and
 * without spectral norm, is checked against finite differences, so a preset that brings such a layer
 * into a discriminator cannot break --r1 unnoticed. The onnx engine records tfjs's gradients, so this
 * covers it too.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { LOGIT_LAYER, PRESETS, type Preset } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import '../../src/tfjs/comparison-gradients.js'; // as the trainer: LeakyReLU's gradient's own gradient meets Greater

before(async () => {
  await selectBackend('cpu');
});

/** Spectral norm's training forwards before the check (below). */
const POWER_ITERATIONS = 30;

interface PenaltyProblem {
  /** The penalty at the weights' current values. */
  penalty: () => tf.Scalar;
  weights: tf.Variable[];
}

/** mean ‖∇ₓ logit‖² over a seeded batch of 1, as GanStep's R1 penalty computes it (without γ/2). */
function r1Problem(preset: Preset, spectralNorm: boolean): PenaltyProblem {
  const rng = new Rng(7);
  const d = preset.buildDiscriminator(3, 1, { spectralNorm });
  const logit = tf.model({ inputs: d.inputs, outputs: d.getLayer(LOGIT_LAYER).output as tf.SymbolicTensor });
  const batch = 1;
  const shape = [batch, ...(d.inputs[0].shape.slice(1) as number[])];
  const x = tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.nextNormal()),
    shape,
  );
  const labels = preset.numClasses
    ? tf.tensor2d(
        Int32Array.from({ length: batch }, (_, i) => i % preset.numClasses!),
        [batch, 1],
        'int32',
      )
    : undefined;
  const logitOf = (input: tf.Tensor, training = false) =>
    logit.apply(labels ? [input, labels] : input, { training }) as tf.Tensor;
  // Spectral norm's gradient holds its power iteration's vectors constant, which is σ's derivative
  // only where they have converged: each training forward advances them one iteration.
  if (spectralNorm) for (let i = 0; i < POWER_ITERATIONS; i++) tf.dispose(logitOf(x, true));
  const penalty = () => {
    const gradient = tf.grad((input: tf.Tensor) => logitOf(input).sum())(x);
    const perSample = tf.sum(
      tf.square(gradient),
      gradient.shape.slice(1).map((_, i) => i + 1),
    );
    return tf.mean(perSample) as tf.Scalar;
  };
  return { penalty, weights: logit.trainableWeights.map((w) => w.read() as tf.Variable) };
}

/**
 * The penalty's change when the weights move by ±h along `direction` (one array per weight: tfjs's
 * gradient by default; zeros leave a weight where it is), scaled to the moved weights' norm, divided by
 * the change tfjs's `gradient` predicts for that move (as the float32 weights moved). It tends to 1 for
 * the true gradient. LeakyReLU and maxout make the penalty jump where a unit's pattern flips, so h halves
 * from 1e-3 until three ratios in a row agree within 0.3 % (no flip crossed).
 */
function finiteDifferenceRatio(
  { penalty, weights }: PenaltyProblem,
  gradient: Float32Array[],
  direction = gradient,
): number {
  const start = weights.map((w) => w.dataSync().slice() as Float32Array);
  const norm = (arrays: Float32Array[]) =>
    Math.sqrt(arrays.reduce((sum, a) => sum + a.reduce((s, v) => s + v * v, 0), 0));
  const scale = norm(start.filter((_, i) => direction[i].some((v) => v !== 0))) / norm(direction);
  const moveTo = (t: number) =>
    weights.map((w, i) => {
      const values = Float32Array.from(start[i], (s, j) => s + t * scale * direction[i][j]);
      w.assign(tf.tensor(values, w.shape));
      return values;
    });
  const penaltyNow = () => tf.tidy(() => penalty().dataSync()[0]);
  const ratios: number[] = [];
  try {
    for (let h = 1e-3; h > 1e-7; h /= 2) {
      const plus = moveTo(h);
      const above = penaltyNow();
      const minus = moveTo(-h);
      const below = penaltyNow();
      let predicted = 0;
      gradient.forEach((g, i) => {
        for (let j = 0; j < g.length; j++) predicted += g[j] * (plus[i][j] - minus[i][j]);
      });
      ratios.push((above - below) / predicted);
      const last = ratios.slice(-3);
      if (last.length === 3 && last.every((r) => Math.abs(r - last[2]) < 3e-3)) return last[2];
    }
  } finally {
    moveTo(0);
  }
  throw new Error(`finite differences did not settle: ${ratios.map((r) => r.toFixed(4)).join(', ')}`);
}

/** tfjs's gradient of the penalty for each weight (zeros where ∇ₓ logit does not depend on it: the logit's bias). */
function tfjsGradient({ penalty, weights }: PenaltyProblem): Float32Array[] {
  const { value, grads } = tf.variableGrads(penalty, weights);
  const gradient = weights.map((w) => (grads[w.name]?.dataSync().slice() as Float32Array) ?? new Float32Array(w.size));
  tf.dispose([value, ...Object.values(grads)]);
  return gradient;
}

for (const [name, preset] of Object.entries(PRESETS))
  for (const spectralNorm of [false, true]) {
    if (spectralNorm && name === 'pacgan-2d') continue; // maxout layers have no spectral norm (refused)
    test(`R1's weight gradient on ${name}${spectralNorm ? ' with spectral norm' : ''} agrees with finite differences`, () => {
      // the DCGANs at width 4: the same layers, a fraction of the time on the cpu backend
      const problem = r1Problem(preset.withWidth?.(4) ?? preset, spectralNorm);
      const ratio = finiteDifferenceRatio(problem, tfjsGradient(problem));
      assert.ok(Math.abs(ratio - 1) < 5e-3, `finite differences / tfjs: ${ratio}`);
    });
  }

/**
 * The penalty's smallest relative change when weight `i` alone moves in a seeded random direction, by
 * 1 % of its norm (or of 1) and then by halves of that, down to 1/128: 0 for a weight that ∇ₓ logit reaches only
 * through the piecewise-constant slopes of LeakyReLU and maxout (a bias before them), once the move
 * crosses no unit's kink; never 0 for a weight the penalty depends on smoothly.
 */
function changeMovingOnly({ penalty, weights }: PenaltyProblem, i: number): number {
  const rng = new Rng(i + 1);
  const start = weights[i].dataSync().slice() as Float32Array;
  const step = Float32Array.from(start, () => rng.nextNormal());
  const size = (0.01 * (Math.hypot(...start) || 1)) / Math.hypot(...step);
  const before = tf.tidy(() => penalty().dataSync()[0]);
  let smallest = Number.POSITIVE_INFINITY;
  try {
    for (let h = size; h > size / 200 && smallest > 0; h /= 2) {
      weights[i].assign(
        tf.tensor(
          Float32Array.from(start, (s, j) => s + h * step[j]),
          weights[i].shape,
        ),
      );
      smallest = Math.min(smallest, Math.abs(tf.tidy(() => penalty().dataSync()[0]) - before) / Math.abs(before));
    }
  } finally {
    weights[i].assign(tf.tensor(start, weights[i].shape));
  }
  return smallest;
}

/**
 * Along the whole gradient a weight whose gradient tfjs dropped (zeros) goes unseen: the move leaves it
 * alone and the prediction leaves it out. So each weight is checked on its own: along its own gradient
 * (the ratio to 1), or, without one, by moving it (the penalty must come to not change at all).
 */
function checksByWeight(
  problem: PenaltyProblem,
  gradient: Float32Array[],
): { weight: string; ratio?: number; change?: number }[] {
  return gradient.map((g, i) => {
    const weight = problem.weights[i].name;
    if (!g.some((v) => v !== 0)) return { weight, change: changeMovingOnly(problem, i) };
    const direction = gradient.map((other, k) => (k === i ? other : new Float32Array(other.length)));
    return { weight, ratio: finiteDifferenceRatio(problem, gradient, direction) };
  });
}

const agrees = ({ ratio, change }: { ratio?: number; change?: number }) =>
  ratio !== undefined ? Math.abs(ratio - 1) < 5e-3 : change === 0;

for (const [name, spectralNorm] of [
  ['dcgan', true],
  ['cdcgan-projection', false],
  ['pacgan-2d', false],
] as const)
  test(`R1's gradient on ${name}${spectralNorm ? ' with spectral norm' : ''}, weight by weight, agrees with finite differences`, () => {
    const problem = r1Problem(PRESETS[name].withWidth?.(4) ?? PRESETS[name], spectralNorm);
    for (const check of checksByWeight(problem, tfjsGradient(problem)))
      assert.ok(agrees(check), `finite differences / tfjs: ${JSON.stringify(check)}`);
  });

test("the finite-difference check notices a gradient 1 % off, and, weight by weight, one weight's gradient dropped", () => {
  const problem = r1Problem(PRESETS.dcgan.withWidth!(4), false);
  const gradient = tfjsGradient(problem);
  const ratio = finiteDifferenceRatio(
    problem,
    gradient.map((g) => g.map((v) => 1.01 * v)),
  );
  assert.ok(Math.abs(ratio - 1 / 1.01) < 2e-3, `${ratio}`);
  const dropped = gradient.map((g, i) => (i === 0 ? new Float32Array(g.length) : g)); // the first kernel's
  assert.ok(Math.abs(finiteDifferenceRatio(problem, dropped) - 1) < 5e-3, 'unseen along the whole gradient');
  const [first] = checksByWeight(problem, dropped);
  assert.ok(!agrees(first), `seen weight by weight: ${JSON.stringify(first)}`);
});
