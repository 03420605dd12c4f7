import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import { standardNormals } from '../../src/train/step.js';

test('the training latents are standard normals, the same for the same RNG state, any count', () => {
  const a = standardNormals(new Rng(5), 200_001);
  assert.deepEqual(a, standardNormals(new Rng(5), 200_001));
  assert.notDeepEqual(a.subarray(0, 10), standardNormals(new Rng(6), 10));
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
  assert.ok(Math.abs(mean) < 0.01 && Math.abs(variance - 1) < 0.01, `mean ${mean}, variance ${variance}`);
  const beyondTwo = a.filter((v) => Math.abs(v) > 2).length / a.length;
  assert.ok(Math.abs(beyondTwo - 0.0455) < 0.003, `P(|z| > 2) = ${beyondTwo}`);
  assert.equal(a.filter((v) => !Number.isFinite(v)).length, 0);
});
