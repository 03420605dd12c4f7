/**
 * ganport's Adam against tfjs's AdamOptimizer, over steps whose gradients range from 1e-9 (where ε
 * decides the step) to 1e2, with exact zeros among them: the same moments bit for bit, weights within a
 * few float32 roundings of the updates; checkpoints that either optimizer resumes from; and the update's
 * kernels, 12 a variable.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../../src/train/adam.js';

const SHAPES = [[37], [5, 7]];
const RATE = 2e-4;

/** Gradients for `variables`, each value's size drawn from 1e-9 to 1e2; about one in eight is 0. */
function drawGradients(rng: Rng, variables: tf.Variable[]): tf.NamedTensorMap {
  return Object.fromEntries(
    variables.map((v) => {
      const values = Float32Array.from({ length: v.size }, () =>
        rng.nextUniform() < 0.125 ? 0 : rng.nextNormal() * 10 ** (-9 + 11 * rng.nextUniform()),
      );
      return [v.name, tf.tensor(values, v.shape)];
    }),
  );
}

const zeroVariables = (tag: string) => SHAPES.map((shape, i) => tf.variable(tf.zeros(shape), true, `${tag}/w${i}`));

/** Moments by their checkpoint position (the iteration count dropped): the first moments, then the second. */
async function moments(optimizer: tf.Optimizer): Promise<Float32Array[]> {
  const weights = await optimizer.getWeights();
  return weights.slice(1).map((w) => w.tensor.dataSync() as Float32Array);
}

/** Each weight within 1e-5 of its value, or 1e-9 (0.5 % of an update at the rate here) where that is less. */
function assertCloseWeights(actual: tf.Variable[], expected: tf.Variable[], step: number): void {
  for (const [i, variable] of actual.entries()) {
    const a = variable.dataSync();
    const e = expected[i].dataSync();
    for (let j = 0; j < a.length; j++) {
      const tolerance = Math.max(1e-5 * Math.abs(e[j]), 1e-9);
      assert.ok(Math.abs(a[j] - e[j]) <= tolerance, `step ${step}, w${i}[${j}]: ${a[j]} against tfjs's ${e[j]}`);
    }
  }
}

for (const beta1 of [0.5, 0.9]) {
  test(`Adam (β1 ${beta1}) keeps tfjs's moments bit for bit and its weights within float32 roundings`, async () => {
    const ours = zeroVariables(`ours${beta1}`);
    const theirs = zeroVariables(`theirs${beta1}`);
    const adam = new Adam(ours, RATE, beta1);
    const reference = tf.train.adam(RATE, beta1, 0.999, tf.backend().epsilon());
    const rng = new Rng(7);
    for (let step = 1; step <= 40; step++) {
      const gradients = drawGradients(rng, ours);
      adam.applyGradients(gradients);
      reference.applyGradients(theirs.map((v, i) => ({ name: v.name, tensor: gradients[ours[i].name] })));
      tf.dispose(Object.values(gradients));
      assert.deepEqual(await moments(adam), await moments(reference), `step ${step}: the moments`);
      assertCloseWeights(ours, theirs, step);
    }
    tf.dispose([...ours, ...theirs]);
    adam.dispose();
    reference.dispose();
  });
}

test("Adam and tfjs's AdamOptimizer resume from each other's checkpoints alike", async () => {
  const train = (optimizer: tf.Optimizer, variables: tf.Variable[], seed: number, steps: number) => {
    const rng = new Rng(seed);
    for (let i = 0; i < steps; i++) {
      const gradients = drawGradients(rng, variables);
      optimizer.applyGradients(Object.entries(gradients).map(([name, tensor]) => ({ name, tensor })));
      tf.dispose(Object.values(gradients));
    }
  };
  const tfjsAdam = () => tf.train.adam(RATE, 0.5, 0.999, tf.backend().epsilon());
  for (const [writer, make] of [
    ['Adam', (variables: tf.Variable[]) => new Adam(variables, RATE, 0.5)],
    ["tfjs's AdamOptimizer", () => tfjsAdam()],
  ] as const) {
    const trained = zeroVariables(`${writer}/trained`);
    const source = make(trained);
    train(source, trained, 1, 5);
    const checkpoint = await source.getWeights();
    // both resume from the checkpoint (their bias corrections then come from the same βᵗ) and go on alike
    const ours = trained.map((v, i) => tf.variable(v.clone(), true, `${writer}/ours/w${i}`));
    const theirs = trained.map((v, i) => tf.variable(v.clone(), true, `${writer}/theirs/w${i}`));
    const adam = new Adam(ours, RATE, 0.5);
    const reference = tfjsAdam();
    await adam.setWeights(checkpoint);
    await reference.setWeights(checkpoint);
    assert.deepEqual([adam.iterations, reference.iterations], [5, 5], `${writer}'s checkpoint`);
    train(adam, ours, 2, 3);
    train(reference, theirs, 2, 3);
    assert.deepEqual(await moments(adam), await moments(reference), `${writer}'s checkpoint`);
    assertCloseWeights(ours, theirs, 8);
    tf.dispose([...trained, ...ours, ...theirs]);
    for (const o of [source, adam, reference]) o.dispose();
  }
});

test("Adam's update runs 12 kernels a variable (tfjs's form: 14)", async () => {
  const kernelsFor = async (count: number) => {
    const variables = Array.from({ length: count }, (_, i) => tf.variable(tf.zeros([8]), true, `k${count}/w${i}`));
    const adam = new Adam(variables, RATE, 0.5);
    const gradients = Object.fromEntries(variables.map((v) => [v.name, tf.onesLike(v)]));
    const { kernels } = await tf.profile(() => adam.applyGradients(gradients));
    tf.dispose([...variables, ...Object.values(gradients)]);
    adam.dispose();
    return kernels.length;
  };
  assert.equal((await kernelsFor(3)) - (await kernelsFor(2)), 12);
});
