/**
 * The dropout uniforms the onnx engine feeds are tfjs's own: randomUniform with the layer's seed, number
 * for number, however many are drawn (the fast path splits them into streams at jumped-ahead offsets, run
 * in WebAssembly compiled from the .wat the repository holds), and drawn ahead for the next step without
 * disturbing the running one. So are the masks made from them, laid out as the graph reads them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { compileWat } from '../../scripts/build-wasm.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { size } from '../../src/tfjs/onnx-kernels/index.js';
import { dropoutMask, uniforms } from '../../src/train/alea-uniforms.js';
import { ALEA_UNIFORMS_WASM } from '../../src/train/alea-uniforms-wasm.js';
import { DropoutFeeds } from '../../src/train/onnx-step.js';

test('alea-uniforms-wasm.ts holds alea-uniforms.wat compiled (npm run build:wasm -w ganport)', async () => {
  assert.deepEqual(Buffer.from(ALEA_UNIFORMS_WASM, 'base64'), Buffer.from(await compileWat('alea-uniforms')));
});

const tfjsUniforms = (seed: number, count: number) =>
  tf.tidy(() => tf.randomUniform([count], 0, 1, 'float32', seed).dataSync() as Float32Array);

test("equal to tfjs's randomUniform for any seed and count, the streams' seams and the leftovers included", async () => {
  await selectBackend('wasm');
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.integer({ min: 1, max: 5000 }), (seed, count) => {
      assert.deepEqual(uniforms(seed, count), tfjsUniforms(seed, count));
    }),
    { numRuns: 150 },
  );
});

test("a dcgan Dropout layer's 401,408 uniforms, written into the caller's array", async () => {
  await selectBackend('wasm');
  const into = new Float32Array(401_408).fill(-1);
  for (const seed of [0, 31, 1234567]) {
    assert.equal(uniforms(seed, into.length, into), into);
    assert.deepEqual(into, tfjsUniforms(seed, into.length));
  }
  assert.equal(uniforms(5, 0).length, 0);
});

/** tfjs's own dropout of ones, [N, …, C]: its mask (x · 1 is exact), transposed to [N, C, …] where asked. */
function tfjsMask(dims: number[], keep: number, seed: number, channelsFirst: boolean): Float32Array {
  return tf.tidy(() => {
    const mask = tf.dropout(tf.ones(dims), 1 - keep, undefined, seed);
    const perm = [0, dims.length - 1, ...dims.slice(1, -1).map((_, i) => i + 1)];
    return (channelsFirst ? tf.transpose(mask, perm) : mask).dataSync() as Float32Array;
  });
}

test("a dropout mask is tfjs's own, bit for bit, as it is or channels first, any shape and keep", async () => {
  await selectBackend('wasm');
  const dims = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 2, maxLength: 4 });
  const keep = fc.constantFrom(0.7, 0.5, 0.9, 1, 0.1, Math.fround(1 / 3));
  fc.assert(
    fc.property(dims, keep, fc.nat({ max: 2 ** 32 - 1 }), fc.boolean(), (shape, k, seed, first) => {
      const channelsFirst = first && shape.length >= 3;
      const into = new Float32Array(size(shape) + 2).fill(-1);
      dropoutMask(seed, Math.fround(k), { dims: shape, channelsFirst }, into);
      // tfjs's keep probability is 1 − rate in float32, as the graph's constant holds it
      const expected = tfjsMask(shape, k, seed, channelsFirst);
      assert.deepEqual(into.subarray(0, expected.length), expected, `${shape} keep ${k}`);
      assert.deepEqual([...into.subarray(expected.length)], [-1, -1], 'nothing written past the mask');
    }),
    { numRuns: 120 },
  );
  // the dcgan's first Dropout layer, whose 32 channels go four at a time
  const shape = [64, 14, 14, 32];
  const mask = dropoutMask(9, Math.fround(0.7), { dims: shape, channelsFirst: true }, new Float32Array(size(shape)));
  assert.deepEqual(mask, tfjsMask(shape, 0.7, 9, true));
});

test("the onnx engine's Dropout feeds: drawn ahead into arrays the running step does not read, redrawn when the seeds differ", () => {
  const inputs = [
    { name: 'dropout/0/2x3x3x4', shape: [2, 3, 3, 4], dtype: 'float32' as const },
    { name: 'dropout/1/2x5', shape: [2, 5], dtype: 'float32' as const },
  ];
  const feeds = new DropoutFeeds(inputs);
  const expected = (seeds: number[]) =>
    new Map(inputs.map(({ name, shape }, layer) => [name, uniforms(seeds[layer], size(shape))]));
  const first = feeds.take([1, 2]);
  assert.deepEqual(first, expected([1, 2]));
  const reading = new Map([...first].map(([name, values]) => [name, values.slice()]));
  feeds.drawAhead([3, 4]);
  assert.deepEqual(first, reading, 'drawing ahead left the running step’s arrays alone');
  assert.deepEqual(feeds.take([3, 4]), expected([3, 4]));
  feeds.drawAhead([5, 6]);
  // the run's RNG moved on in between: the second layer's seed is not the one drawn ahead
  assert.deepEqual(feeds.take([5, 7]), expected([5, 7]));
});

test("the Dropout feeds of a graph that takes a layer's mask: that layer's mask, channels first, the other's uniforms", () => {
  const layout = { dims: [2, 3, 3, 4], channelsFirst: true };
  const inputs = [
    { name: 'dropout/0/2x3x3x4/mask', shape: [2, 4, 3, 3], dtype: 'float32' as const },
    { name: 'dropout/1/2x5', shape: [2, 5], dtype: 'float32' as const },
  ];
  const keep = Math.fround(0.7);
  const feeds = new DropoutFeeds(inputs, [{ uniforms: 'dropout/0/2x3x3x4', input: inputs[0].name, keep, layout }]);
  const expected = (seeds: number[]) =>
    new Map([
      [inputs[0].name, dropoutMask(seeds[0], keep, layout, new Float32Array(size(layout.dims)))],
      [inputs[1].name, uniforms(seeds[1], 10)],
    ]);
  assert.deepEqual(feeds.take([1, 2]), expected([1, 2]));
  feeds.drawAhead([3, 4]);
  assert.deepEqual(feeds.take([3, 4]), expected([3, 4]));
  feeds.drawAhead([5, 6]);
  assert.deepEqual(feeds.take([8, 6]), expected([8, 6]));
});
