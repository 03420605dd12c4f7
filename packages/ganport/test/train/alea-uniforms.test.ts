/**
 * The dropout uniforms the onnx engine feeds are tfjs's own: randomUniform with the layer's seed, number
 * for number, however many are drawn (the fast path splits them into streams at jumped-ahead offsets, run
 * in WebAssembly compiled from the .wat the repository holds), and drawn ahead for the next step without
 * disturbing the running one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { compileWat } from '../../scripts/build-wasm.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { size } from '../../src/tfjs/onnx-kernels/index.js';
import { uniforms } from '../../src/train/alea-uniforms.js';
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
