/** The 2-D mixture protocol (VEEGAN / PacGAN) on cases with known answers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import { mixture, sampleMixture } from '../../src/datasets/mixtures.js';
import { scoreMixture, summarize } from '../../src/eval/mixtures.js';

test('samples from the true mixture: every mode captured, ~98.9 % high quality (2-D: 1 − e^-4.5), reverse KL ≈ 0', () => {
  for (const name of ['ring', 'grid']) {
    const m = mixture(name);
    const { points } = sampleMixture(m, 20000, new Rng(2));
    const s = scoreMixture(points, m);
    assert.equal(s.modesCaptured, m.modes.length);
    assert.ok(Math.abs(s.highQualityFraction - (1 - Math.exp(-4.5))) < 0.003, `${name}: ${s.highQualityFraction}`);
    assert.ok(s.reverseKl < 0.005, `${name}: ${s.reverseKl}`);
  }
});

test('a collapsed generator: one mode, reverse KL = log K; nothing near a mode: none captured', () => {
  const grid = mixture('grid');
  const oneMode = Float32Array.from({ length: 200 }, (_, i) => (i % 2 ? 2 : -4) + 0.001 * (i % 7));
  const s = scoreMixture(oneMode, grid);
  assert.equal(s.modesCaptured, 1);
  assert.equal(s.highQualityFraction, 1);
  assert.ok(Math.abs(s.reverseKl - Math.log(25)) < 1e-12);
  const between = Float32Array.from({ length: 100 }, () => 1);
  assert.deepEqual(scoreMixture(between, grid), { modesCaptured: 0, highQualityFraction: 0, reverseKl: Math.log(25) });
  const half = scoreMixture(Float32Array.from([-4, -4, 4, 4, 7, 7]), grid);
  assert.equal(half.modesCaptured, 2);
  assert.ok(Math.abs(half.highQualityFraction - 2 / 3) < 1e-12);
  assert.ok(Math.abs(half.reverseKl - Math.log(12.5)) < 1e-12);
});

test('mean ± sample standard deviation', () => {
  assert.deepEqual(summarize([2, 4, 4, 4, 5, 5, 7, 9]), { mean: 5, std: Math.sqrt(32 / 7) });
  assert.deepEqual(summarize([3]), { mean: 3, std: 0 });
});
