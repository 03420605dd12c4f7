/** Spectrally normalized Dense and Conv2D: σ estimated by power iteration, u advanced only in training, serialization. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/tfjs/backend.js';
import { loadLayersModel, saveLayersModel } from '../../src/tfjs/model-io.js';
import {
  spectralNormConv2d,
  spectralNormDense,
  spectralNormEmbedding,
  spectralNormFolded,
} from '../../src/tfjs/spectral-norm.js';
import { maxAbsDiff } from '../helpers.js';

before(async () => {
  await selectBackend('cpu');
});

/** The largest singular value of a [rows, cols] row-major matrix, by 500 power iterations on WᵀW in float64. */
function largestSingularValue(w: Float32Array, rows: number, cols: number): number {
  let x = Float64Array.from({ length: cols }, (_, i) => 1 + Math.sin(i));
  let sigma = 0;
  for (let iteration = 0; iteration < 500; iteration++) {
    const wx = Float64Array.from({ length: rows }, (_, r) => x.reduce((s, v, c) => s + w[r * cols + c] * v, 0));
    const wtwx = Float64Array.from({ length: cols }, (_, c) => wx.reduce((s, v, r) => s + w[r * cols + c] * v, 0));
    const norm = Math.hypot(...wtwx);
    sigma = Math.sqrt(norm / Math.hypot(...x));
    x = wtwx.map((v) => v / norm);
  }
  return sigma;
}

test('after training forwards the folded kernel has spectral norm 1; inference leaves u alone', () => {
  const layer = spectralNormDense({ units: 6, seed: 3, inputShape: [9] });
  const model = tf.sequential({ layers: [layer] });
  const x = tf.randomNormal([4, 9], 0, 1, 'float32', 1);
  const u = () => layer.getWeights()[2].dataSync().slice();
  const before = u();
  model.predict(x);
  assert.deepEqual(u(), before, 'inference does not advance the power iteration');
  for (let i = 0; i < 30; i++) tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor);
  assert.notDeepEqual(u(), before, 'training does');
  const [kernel, , stored] = layer.getWeights();
  const folded = spectralNormFolded(kernel.dataSync() as Float32Array, stored.dataSync() as Float32Array);
  assert.ok(Math.abs(largestSingularValue(folded, 9, 6) - 1) < 1e-4);
  assert.ok(largestSingularValue(kernel.dataSync() as Float32Array, 9, 6) > 1.2, 'the raw kernel is not normalized');
  // the layer's inference output is x · folded + bias
  const expected = tf.add(tf.matMul(x, tf.tensor2d(folded, [9, 6])), layer.getWeights()[1]);
  assert.ok(maxAbsDiff((model.predict(x) as tf.Tensor).dataSync(), expected.dataSync()) < 1e-5);
});

test('the gradient reaches kernel and bias (through σ), never u; a conv layer keeps the Conv2D output shape', () => {
  const conv = spectralNormConv2d({
    filters: 5,
    kernelSize: 4,
    strides: 2,
    padding: 'same',
    seed: 1,
    inputShape: [9, 7, 3],
  });
  const model = tf.sequential({ layers: [conv, tf.layers.flatten(), spectralNormDense({ units: 1, seed: 2 })] });
  assert.deepEqual(conv.outputShape, [null, 5, 4, 5]);
  assert.deepEqual(
    model.trainableWeights.map((w) => w.name.split('/').at(-1)),
    ['kernel', 'bias', 'kernel', 'bias'],
  );
  assert.equal(model.nonTrainableWeights.length, 2);
  const x = tf.randomNormal([2, 9, 7, 3], 0, 1, 'float32', 3);
  const { grads } = tf.variableGrads(
    () => (model.apply(x, { training: true }) as tf.Tensor).square().mean() as tf.Scalar,
    model.trainableWeights.map((w) => w.read() as tf.Variable),
  );
  for (const [name, g] of Object.entries(grads)) {
    const values = g.dataSync();
    assert.ok(values.every(Number.isFinite) && values.some((v) => v !== 0), name);
  }
  const valid = spectralNormConv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid', inputShape: [9, 7, 3] });
  tf.sequential({ layers: [valid] });
  assert.deepEqual(valid.outputShape, [null, 4, 3, 2]);
});

test('an embedding table normalized: σ 1 once folded, rows of it looked up, its gradient reaching the table, never u', () => {
  const layer = spectralNormEmbedding({ inputDim: 7, outputDim: 5, seed: 8 });
  const ids = tf.input({ shape: [1], dtype: 'int32' });
  const model = tf.model({ inputs: ids, outputs: layer.apply(ids) as tf.SymbolicTensor });
  const labels = tf.tensor2d([[0], [6], [3]], [3, 1], 'int32');
  for (let i = 0; i < 30; i++) tf.tidy(() => model.apply(labels, { training: true }) as tf.Tensor);
  const [table, u] = layer.getWeights();
  assert.deepEqual(
    layer.weights.map((w) => w.originalName.split('/').at(-1)),
    ['embeddings', 'u'],
  );
  const folded = spectralNormFolded(table.dataSync() as Float32Array, u.dataSync() as Float32Array);
  assert.ok(Math.abs(largestSingularValue(folded, 7, 5) - 1) < 1e-4);
  const looked = (model.predict(labels) as tf.Tensor).dataSync();
  const rows = [0, 6, 3].flatMap((id) => [...folded.subarray(id * 5, id * 5 + 5)]);
  assert.ok(maxAbsDiff(looked, Float32Array.from(rows)) < 1e-6, 'inference looks rows of W / σ up');
  const { grads } = tf.variableGrads(() => tf.sum(model.apply(labels, { training: true }) as tf.Tensor) as tf.Scalar);
  const named = Object.keys(grads).map((name) => name.split('/').at(-1));
  assert.ok(named.includes('embeddings') && !named.includes('u'), named.join(', '));
});

test('saves and loads back through model.json, u included; inference outputs unchanged', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ganport-sn-'));
  try {
    const model = tf.sequential({
      layers: [
        spectralNormConv2d({ filters: 4, kernelSize: 3, strides: 1, padding: 'same', seed: 4, inputShape: [5, 5, 2] }),
        tf.layers.flatten(),
        spectralNormDense({ units: 3, seed: 5, name: 'head' }),
      ],
    });
    const x = tf.randomNormal([3, 5, 5, 2], 0, 1, 'float32', 6);
    for (let i = 0; i < 3; i++) tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor);
    await saveLayersModel(model, dir);
    const loaded = await loadLayersModel(join(dir, 'model.json'));
    assert.deepEqual(
      loaded.layers.map((l) => l.getClassName()),
      ['SpectralNormConv2D', 'Flatten', 'SpectralNormDense'],
    );
    assert.equal(
      maxAbsDiff((model.predict(x) as tf.Tensor).dataSync(), (loaded.predict(x) as tf.Tensor).dataSync()),
      0,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
