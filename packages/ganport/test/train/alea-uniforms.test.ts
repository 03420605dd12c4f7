/**
 * The dropout uniforms the onnx engine feeds are tfjs's own: randomUniform with the layer's seed, number
 * for number, however many are drawn (the fast path splits them into streams at jumped-ahead offsets).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { selectBackend } from '../../src/tfjs/backend.js';
import { uniforms } from '../../src/train/alea-uniforms.js';

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
