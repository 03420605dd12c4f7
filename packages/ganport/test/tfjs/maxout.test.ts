/** The Maxout layer: its values against a plain computation, gradients, serialization through model.json, bad arguments. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/tfjs/backend.js';
import { type Maxout, type MaxoutLayout, maxout } from '../../src/tfjs/maxout.js';
import { loadLayersModel, saveLayersModel } from '../../src/tfjs/model-io.js';
import { maxAbsDiff } from '../helpers.js';

before(async () => {
  await selectBackend('cpu');
});

/** max over pieces p of x·W[:, column(u, p)] + b[column(u, p)], one number at a time. */
function reference(
  x: number[][],
  kernel: number[][],
  bias: number[],
  units: number,
  pieces: number,
  layout: MaxoutLayout = 'unit-major',
): number[][] {
  const column = (u: number, p: number) => (layout === 'unit-major' ? u * pieces + p : p * units + u);
  return x.map((row) =>
    Array.from({ length: units }, (_, u) =>
      Math.max(
        ...Array.from({ length: pieces }, (_, p) => {
          const j = column(u, p);
          return row.reduce((sum, v, i) => sum + v * kernel[i][j], bias[j]);
        }),
      ),
    ),
  );
}

for (const layout of ['unit-major', 'piece-major'] as const)
  test(`each unit is the max of its pieces of the affine map (${layout}), kernel N(0, stddev²), bias 0`, () => {
    const layer = maxout({ units: 4, pieces: 3, stddev: 0.7, seed: 3, inputShape: [5], layout });
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
    const [w, b] = [kernel.arraySync() as number[][], Array.from(layer.getWeights()[1].dataSync())];
    const expected = reference(x.arraySync() as number[][], w, b, 4, 3, layout);
    assert.ok(maxAbsDiff(y.dataSync(), Float32Array.from(expected.flat())) < 1e-5);
    const other = reference(
      x.arraySync() as number[][],
      w,
      b,
      4,
      3,
      layout === 'unit-major' ? 'piece-major' : 'unit-major',
    );
    assert.ok(maxAbsDiff(y.dataSync(), Float32Array.from(other.flat())) > 0.1, 'the layouts differ');
  });

for (const layout of ['unit-major', 'piece-major'] as const)
  test(`applies to the last axis of higher-rank input; the gradient reaches only the piece that won (${layout})`, () => {
    const layer = maxout({ units: 2, pieces: 3, stddev: 1, seed: 1, inputShape: [3, 4], layout });
    tf.sequential({ layers: [layer] });
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 2);
    assert.deepEqual((layer.apply(x) as tf.Tensor).shape, [2, 3, 2]);
    const [kernel, bias] = layer.getWeights();
    // d(sum of outputs)/d(bias of unit u, piece p) counts the positions where piece p is unit u's max.
    const biasGrad = tf.grad((b: tf.Tensor) => {
      layer.setWeights([kernel, b]);
      return (layer.apply(x) as tf.Tensor).sum();
    })(bias);
    const linear = tf.add(tf.matMul(x.reshape([6, 4]), kernel), bias);
    const pieces = layout === 'unit-major' ? linear.reshape([6, 2, 3]) : linear.reshape([6, 3, 2]).transpose([0, 2, 1]);
    const counts = tf.oneHot(pieces.argMax(-1), 3).sum(0); // [unit, piece]
    const winners = (layout === 'unit-major' ? counts : counts.transpose()).reshape([6]);
    assert.deepEqual(Array.from(biasGrad.dataSync()), Array.from(winners.dataSync()));
    assert.equal(winners.sum().dataSync()[0], 12);
  });

test('saves and loads back through model.json (registered with tfjs serialization), layout and outputs unchanged', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ganport-maxout-'));
  try {
    const model = tf.sequential({
      layers: [
        maxout({ units: 6, pieces: 5, stddev: 0.3, seed: 7, inputShape: [8], name: 'h0', layout: 'piece-major' }),
        tf.layers.dense({ units: 1 }),
      ],
    });
    await saveLayersModel(model, dir);
    const loaded = await loadLayersModel(join(dir, 'model.json'));
    const layer = loaded.getLayer('h0') as Maxout;
    assert.equal(layer.getClassName(), 'Maxout');
    assert.deepEqual(
      [layer.units, layer.pieces, layer.stddev, layer.seed, layer.layout],
      [6, 5, 0.3, 7, 'piece-major'],
    );
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 8);
    assert.equal(
      maxAbsDiff((model.predict(x) as tf.Tensor).dataSync(), (loaded.predict(x) as tf.Tensor).dataSync()),
      0,
    );
    // a file saved before the layout existed has none: its layers are unit-major
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    delete json.modelTopology.config.layers[0].config.layout;
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    assert.equal(((await loadLayersModel(join(dir, 'model.json'))).getLayer('h0') as Maxout).layout, 'unit-major');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('units and pieces must be positive integers, the layout one of the two', () => {
  assert.throws(() => maxout({ units: 0, pieces: 2 }), /units must be a positive integer/);
  assert.throws(() => maxout({ units: 3, pieces: 1.5 }), /pieces must be a positive integer/);
  assert.throws(
    () => maxout({ units: 3, pieces: 2, layout: 'rows' as MaxoutLayout }),
    /layout must be unit-major or piece-major/,
  );
});
