/** The Maxout layer: its values against a plain computation, gradients, serialization through model.json, bad arguments. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/tfjs/backend.js';
import { type Maxout, maxout } from '../../src/tfjs/maxout.js';
import { loadLayersModel, saveLayersModel } from '../../src/tfjs/model-io.js';
import { maxAbsDiff } from '../helpers.js';

before(async () => {
  await selectBackend('cpu');
});

/** max over pieces p of x·W[:, u·pieces + p] + b[u·pieces + p], one number at a time. */
function reference(x: number[][], kernel: number[][], bias: number[], units: number, pieces: number): number[][] {
  return x.map((row) =>
    Array.from({ length: units }, (_, u) =>
      Math.max(
        ...Array.from({ length: pieces }, (_, p) => {
          const j = u * pieces + p;
          return row.reduce((sum, v, i) => sum + v * kernel[i][j], bias[j]);
        }),
      ),
    ),
  );
}

test('each unit is the max of its pieces of the affine map (unit-major layout), kernel N(0, stddev²), bias 0', () => {
  const layer = maxout({ units: 4, pieces: 3, stddev: 0.7, seed: 3, inputShape: [5] });
  const model = tf.sequential({ layers: [layer] });
  const [kernel, bias] = layer.getWeights();
  assert.deepEqual(kernel.shape, [5, 12]);
  assert.deepEqual(Array.from(bias.dataSync()), new Array(12).fill(0));
  const std = Math.sqrt(tf.moments(kernel).variance.dataSync()[0]);
  assert.ok(std > 0.4 && std < 1, `kernel std ${std}`);
  layer.setWeights([kernel, tf.randomNormal([12], 0, 1, 'float32', 4)]);
  const x = tf.randomNormal([6, 5], 0, 1, 'float32', 5);
  const y = model.predict(x) as tf.Tensor;
  assert.deepEqual(y.shape, [6, 4]);
  const expected = reference(
    x.arraySync() as number[][],
    kernel.arraySync() as number[][],
    Array.from(layer.getWeights()[1].dataSync()),
    4,
    3,
  );
  assert.ok(maxAbsDiff(y.dataSync(), Float32Array.from(expected.flat())) < 1e-5);
});

test('applies to the last axis of higher-rank input; the gradient reaches only the piece that won', () => {
  const layer = maxout({ units: 2, pieces: 3, stddev: 1, seed: 1, inputShape: [3, 4] });
  tf.sequential({ layers: [layer] });
  const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 2);
  assert.deepEqual((layer.apply(x) as tf.Tensor).shape, [2, 3, 2]);
  const [kernel, bias] = layer.getWeights();
  // d(sum of outputs)/d(bias[u·pieces + p]) counts the positions where piece p is unit u's max.
  const biasGrad = tf.grad((b: tf.Tensor) => {
    layer.setWeights([kernel, b]);
    return (layer.apply(x) as tf.Tensor).sum();
  })(bias);
  const pieces = tf.add(tf.matMul(x.reshape([6, 4]), kernel), bias).reshape([6, 2, 3]);
  const winners = tf.oneHot(pieces.argMax(-1), 3).sum(0).reshape([6]);
  assert.deepEqual(Array.from(biasGrad.dataSync()), Array.from(winners.dataSync()));
  assert.equal(winners.sum().dataSync()[0], 12);
});

test('saves and loads back through model.json (registered with tfjs serialization), outputs unchanged', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ganport-maxout-'));
  try {
    const model = tf.sequential({
      layers: [
        maxout({ units: 6, pieces: 5, stddev: 0.3, seed: 7, inputShape: [8], name: 'h0' }),
        tf.layers.dense({ units: 1 }),
      ],
    });
    await saveLayersModel(model, dir);
    const loaded = await loadLayersModel(join(dir, 'model.json'));
    const layer = loaded.getLayer('h0') as Maxout;
    assert.equal(layer.getClassName(), 'Maxout');
    assert.deepEqual([layer.units, layer.pieces, layer.stddev, layer.seed], [6, 5, 0.3, 7]);
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 8);
    assert.equal(
      maxAbsDiff((model.predict(x) as tf.Tensor).dataSync(), (loaded.predict(x) as tf.Tensor).dataSync()),
      0,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('units and pieces must be positive integers', () => {
  assert.throws(() => maxout({ units: 0, pieces: 2 }), /units must be a positive integer/);
  assert.throws(() => maxout({ units: 3, pieces: 1.5 }), /pieces must be a positive integer/);
});
