/**
 * The closed-form batch normalization against tfjs's own layer: the same outputs, moving averages
 * and gradients in training, the same inference, a frozen layer, and a plain BatchNormalization in
 * model.json.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { selectBackend } from '../../src/tfjs/backend.js';
import { batchNormalization } from '../../src/tfjs/batch-norm.js';
import { loadLayersModel, saveLayersModel } from '../../src/tfjs/model-io.js';
import { maxAbsDiff } from '../helpers.js';

before(async () => {
  await selectBackend('cpu');
});

type Args = Parameters<typeof batchNormalization>[0];

/** The closed-form layer and tfjs's, built for `shape` with the same random weights. */
function layerPair(shape: number[], seed: number, args: Args = {}): [tf.layers.Layer, tf.layers.Layer] {
  const channels = shape.at(-1) as number;
  const weights = [
    tf.randomUniform([channels], 0.5, 1.5, 'float32', seed),
    tf.randomNormal([channels], 0, 0.5, 'float32', seed + 1),
    tf.randomNormal([channels], 0, 0.5, 'float32', seed + 2),
    tf.randomUniform([channels], 0.5, 2, 'float32', seed + 3),
  ];
  const pair: [tf.layers.Layer, tf.layers.Layer] = [batchNormalization(args), tf.layers.batchNormalization(args)];
  for (const layer of pair) {
    layer.build(shape);
    layer.setWeights(weights);
  }
  tf.dispose(weights);
  return pair;
}

/** The layer's training output, its weights afterwards, and the gradients of Σ y·w for x, γ and β. */
function trainingPass(layer: tf.layers.Layer, x: tf.Tensor, w: tf.Tensor) {
  const input = tf.variable(x);
  // Every trainable variable the loss reaches: x, γ and β (tfjs names a layer's variables as the layer does).
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, w)) as tf.Scalar,
  );
  const y = layer.apply(input, { training: true }) as tf.Tensor;
  const result = {
    loss: value.dataSync()[0],
    y: y.arraySync(),
    weights: layer.getWeights().map((t) => t.arraySync()),
    grads: [input.name, ...layer.trainableWeights.map((v) => v.name)].map((name) => grads[name].arraySync()),
  };
  tf.dispose([input, value, y, ...Object.values(grads)]);
  return result;
}

/** Largest difference relative to the reference's largest magnitude. */
function relativeDiff(actual: unknown, expected: unknown): number {
  const [a, e] = [actual, expected].map((v) => (v as number[]).flat(3) as number[]);
  return maxAbsDiff(a, e) / Math.max(1e-6, ...e.map(Math.abs));
}

test('training: the same outputs, moving averages and gradients (x, γ, β) as tfjs, rank 2 and rank 4', () => {
  fc.assert(
    fc.property(
      fc.constantFrom([7, 5], [64, 3], [2, 3, 4, 6], [1, 4, 4, 8]),
      fc.integer({ min: 1, max: 1000 }),
      fc.constantFrom(0.99, 0.5),
      (fixedShape, seed, momentum) => {
        const shape = [...fixedShape];
        const [closed, tfjs] = layerPair(shape, seed, { momentum });
        const x = tf.randomNormal(shape, 1, 2, 'float32', seed + 4);
        const w = tf.randomNormal(shape, 0, 1, 'float32', seed + 5);
        const [ours, theirs] = [closed, tfjs].map((layer) => trainingPass(layer, x, w));
        tf.dispose([x, w, ...closed.weights.map((v) => v.read()), ...tfjs.weights.map((v) => v.read())]);
        assert.ok(relativeDiff(ours.y, theirs.y) < 1e-6, 'outputs');
        for (const [i, weight] of ours.weights.entries())
          assert.ok(relativeDiff(weight, theirs.weights[i]) < 1e-6, `weight ${i}`);
        for (const [i, grad] of ours.grads.entries())
          assert.ok(relativeDiff(grad, theirs.grads[i]) < 1e-5, `gradient ${i}`);
      },
    ),
    { numRuns: 24, seed: 7 },
  );
});

test('the gradient for x is the normalization’s: each feature’s dx sums to zero and is orthogonal to x̂ (ε → 0)', () => {
  const [layer] = layerPair([32, 4], 11, { epsilon: 1e-7 });
  const x = tf.randomNormal([32, 4], 3, 2, 'float32', 12);
  const w = tf.randomNormal([32, 4], 0, 1, 'float32', 13);
  const dx = tf.tensor(trainingPass(layer, x, w).grads[0] as number[][]);
  assert.ok(tf.max(tf.abs(dx)).dataSync()[0] > 0.1, 'a gradient to test');
  const { mean, variance } = tf.moments(x, 0);
  const xHat = tf.div(tf.sub(x, mean), tf.sqrt(variance));
  for (const projection of [tf.sum(dx, 0), tf.sum(tf.mul(dx, xHat), 0)])
    for (const v of projection.dataSync()) assert.ok(Math.abs(v) < 1e-4, `projection ${v}`);
});

test('inference and a frozen layer take the same path as tfjs; training a frozen layer still normalizes by the batch', () => {
  const [closed, tfjs] = layerPair([9, 6], 21);
  const x = tf.randomNormal([9, 6], 0, 3, 'float32', 22);
  const [a, b] = [closed, tfjs].map((layer) => layer.apply(x) as tf.Tensor);
  assert.deepEqual(a.arraySync(), b.arraySync());
  for (const layer of [closed, tfjs]) layer.trainable = false;
  const [ta, tb] = [closed, tfjs].map((layer) => layer.apply(x, { training: true }) as tf.Tensor);
  assert.ok(maxAbsDiff(ta.dataSync(), tb.dataSync()) < 1e-5);
  const batchMeans = tf.mean(ta, 0).dataSync();
  const beta = closed.getWeights()[1].dataSync();
  for (const [i, m] of batchMeans.entries()) assert.ok(Math.abs(m - beta[i]) < 1e-5, 'each feature centres on β');
});

test('saves as a plain BatchNormalization, and tfjs loads it back with the same weights', async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 5, inputShape: [3] }), batchNormalization({ momentum: 0.9 })],
  });
  const dir = await mkdtemp(join(tmpdir(), 'ganport-batch-norm-'));
  try {
    await saveLayersModel(model, dir);
    const topology = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')).modelTopology;
    const saved = topology.config.layers[1];
    assert.equal(saved.class_name, 'BatchNormalization');
    assert.equal(saved.config.momentum, 0.9);
    const loaded = await loadLayersModel(join(dir, 'model.json'));
    assert.equal(loaded.layers[1].getClassName(), 'BatchNormalization');
    const x = tf.randomNormal([4, 3], 0, 1, 'float32', 31);
    assert.deepEqual((loaded.predict(x) as tf.Tensor).arraySync(), (model.predict(x) as tf.Tensor).arraySync());
  } finally {
    await rm(dir, { recursive: true });
  }
});
