import assert from 'node:assert/strict';
import { test } from 'node:test';
import { portableLog, Rng, sampleLatents } from '../src/sampler.js';

test('the same seed gives the same latents, different seeds differ', () => {
  const a = sampleLatents({ seed: 5, count: 3, dim: 16 });
  const b = sampleLatents({ seed: 5, count: 3, dim: 16 });
  const c = sampleLatents({ seed: 6, count: 3, dim: 16 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

// A change detector, not a check of correctness: values copied from the sampler's own output. The
// independent checks are beside it (determinism, the N(0, 1) statistics, truncation) and in the browser
// parity test (the same latents bit for bit in Chromium); this one flags any change, which would change
// every shipped grid and parity fixture.
test('change detector: the latents of seeds 0 and 42 are pinned', () => {
  assert.deepEqual(
    Array.from(sampleLatents({ seed: 0, count: 1, dim: 4 })),
    [0.12177618592977524, 0.4934249222278595, -0.5381877422332764, 1.6753298044204712],
  );
  assert.deepEqual(
    Array.from(sampleLatents({ seed: 42, count: 1, dim: 4 })),
    [0.3187578618526459, -0.7706159949302673, 0.15178267657756805, -0.12624146044254303],
  );
});

test('latents are standard normal', () => {
  const z = sampleLatents({ seed: 7, count: 1000, dim: 100 });
  let mean = 0;
  let sq = 0;
  let beyond2 = 0;
  for (const x of z) {
    mean += x;
    sq += x * x;
    if (Math.abs(x) > 2) beyond2++;
  }
  mean /= z.length;
  const variance = sq / z.length - mean * mean;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.01, `variance ${variance}`);
  assert.ok(Math.abs(beyond2 / z.length - 0.0455) < 0.003, `P(|z|>2) = ${beyond2 / z.length}`);
});

test('truncation bounds every component', () => {
  const z = sampleLatents({ seed: 1, count: 200, dim: 64, truncation: 0.5 });
  assert.ok(z.every((x) => Math.abs(x) <= 0.5));
  assert.ok(z.some((x) => Math.abs(x) > 0.45));
});

test('portableLog agrees with Math.log to within 2 ulp over a wide range', () => {
  const rng = new Rng(3);
  for (let i = 0; i < 20000; i++) {
    const x = Math.exp((rng.nextUniform() - 0.5) * 200);
    const expected = Math.log(x);
    assert.ok(Math.abs(portableLog(x) - expected) <= 4.5e-16 * Math.max(1, Math.abs(expected)), `log(${x})`);
  }
  assert.equal(portableLog(1), 0);
  assert.throws(() => portableLog(0), RangeError);
  assert.throws(() => portableLog(-1), RangeError);
});

test('Rng state round-trips, so a run can resume its random stream', () => {
  const a = new Rng(11);
  a.nextUint32();
  const saved = a.state;
  const expected = [a.nextUint32(), a.nextUint32()];
  const b = new Rng(0);
  b.state = saved;
  assert.deepEqual([b.nextUint32(), b.nextUint32()], expected);
});

test('shuffle is a seeded permutation', () => {
  const items = Uint32Array.from({ length: 100 }, (_, i) => i);
  new Rng(9).shuffle(items);
  assert.deepEqual(
    [...items].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  const again = Uint32Array.from({ length: 100 }, (_, i) => i);
  new Rng(9).shuffle(again);
  assert.deepEqual(items, again);
  assert.notDeepEqual(
    Array.from(items),
    Array.from({ length: 100 }, (_, i) => i),
  );
});

test('bad arguments are rejected', () => {
  assert.throws(() => sampleLatents({ seed: -1, count: 1, dim: 4 }), /seed/);
  assert.throws(() => sampleLatents({ seed: 1.5, count: 1, dim: 4 }), /seed/);
  assert.throws(() => sampleLatents({ seed: 0, count: 0, dim: 4 }), /count/);
  assert.throws(() => sampleLatents({ seed: 0, count: 1, dim: 0 }), /latent size/);
  // |z| ≤ 0.01 takes about 125 draws a component; far smaller bounds would redraw for minutes
  for (const truncation of [0, 1e-9, 0.009, Number.NaN])
    assert.throws(() => sampleLatents({ seed: 0, count: 1, dim: 4, truncation }), /truncation must be ≥ 0\.01/);
  assert.ok(sampleLatents({ seed: 0, count: 4, dim: 8, truncation: 0.01 }).every((z) => Math.abs(z) <= 0.01));
});

test('an Rng state must be four 32-bit unsigned integers, not all 0 (which would draw 0 for good)', () => {
  const rng = new Rng(1);
  for (const bad of [[0, 0, 0, 0], [5], [1, 2, 3, 2 ** 32], [1, 2, 3, -1], [1, 2, 3, 0.5]])
    assert.throws(
      () => {
        rng.state = bad;
      },
      /an Rng state is four 32-bit unsigned integers, not all 0/,
      JSON.stringify(bad),
    );
  assert.deepEqual(rng.state, new Rng(1).state, 'a refused state leaves the old one');
});

test('nextUniform stays below 1 on its largest draw, so nextInt(n) stays below n', () => {
  // xoshiro128** gives 0xffffffff twice from this state (s1 = 9⁻¹·rotr(…)·5⁻¹ mod 2³², and s0 = s2 keeps s1):
  // 53 one bits, whose (2^53 − 1 + 0.5) / 2^53 rounds to exactly 1
  const state = [0, 0x831c71c7, 0, 1];
  const rng = new Rng(0);
  rng.state = state;
  assert.equal(rng.nextUint32(), 0xffffffff);
  assert.equal(rng.nextUint32(), 0xffffffff);
  rng.state = state;
  assert.equal(rng.nextUniform(), 1 - 2 ** -53);
  rng.state = state;
  assert.equal(rng.nextInt(10), 9);
});
