// Seeded latent sampler, bit-identical in every JavaScript engine: Math.log/cos may differ in the
// last bit between engines, so it uses only integer ops, + - * / and Math.sqrt (exactly rounded).

import { GanportError, integerIn } from './errors.js';

/** xoshiro128** seeded through splitmix32: a small, fast, well-tested 32-bit PRNG. */
export class Rng {
  private s = new Uint32Array(4);
  // the second value of the last polar-method pair, returned by the next call
  private spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new GanportError(`seed must be an integer in [0, 2^32), got ${seed}`);
    }
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** The full generator state, so training runs can checkpoint and resume it. */
  get state(): number[] {
    return Array.from(this.s);
  }

  set state(values: number[]) {
    const isWord = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
    // xoshiro's all-zero state stays zero for good: every draw would be 0, and nextNormal never return
    if (values.length !== 4 || !values.every(isWord) || values.every((v) => v === 0))
      throw new GanportError(`an Rng state is four 32-bit unsigned integers, not all 0; got [${values}]`);
    this.s.set(values);
    this.spare = undefined;
  }

  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in (0, 1): 53 random bits, never exactly 0 or 1. */
  nextUniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    // (2^53 − 1 + 0.5) rounds to 2^53: the one draw that would give 1 gives the double below it
    return Math.min((hi * 67108864 + lo + 0.5) / 9007199254740992, 1 - 2 ** -53);
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextUniform() * n);
  }

  /** Standard normal by the Marsaglia polar method (needs only log and sqrt). */
  nextNormal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    for (;;) {
      const u = 2 * this.nextUniform() - 1;
      const v = 2 * this.nextUniform() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * portableLog(s)) / s);
      this.spare = v * f;
      return u * f;
    }
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[] | Uint32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

const LN2 = Math.LN2;
const SQRT2 = Math.SQRT2;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // little-endian: high word is [1]

/**
 * Natural log of a positive normal double using only exact IEEE operations:
 * x = m·2^e with m in [√½, √2), ln m = 2·atanh(t), t = (m-1)/(m+1), |t| < 0.172,
 * summed as a series whose terms fall below 2^-60 within 12 steps.
 */
export function portableLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`portableLog needs a positive finite number, got ${x}`);
  f64[0] = x;
  let e = ((u32[HI] >>> 20) & 0x7ff) - 1023;
  if (e === -1023) throw new RangeError('portableLog does not handle subnormal inputs');
  u32[HI] = (u32[HI] & 0x800fffff) | 0x3ff00000; // mantissa scaled into [1, 2)
  let m = f64[0];
  if (m > SQRT2) {
    m /= 2;
    e += 1;
  }
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  let term = t;
  let sum = 0;
  for (let k = 1; k <= 25; k += 2) {
    sum += term / k;
    term *= t2;
  }
  return 2 * sum + e * LN2;
}

export interface LatentRequest {
  seed: number;
  count: number;
  dim: number;
  /** Resample any component whose magnitude exceeds this (the "truncation trick"). */
  truncation?: number;
}

/** `count` latent vectors of length `dim`, row-major, as float32. */
export function sampleLatents({ seed, count, dim, truncation }: LatentRequest): Float32Array {
  integerIn('count', count, 1);
  integerIn('latent size', dim, 1);
  if (truncation !== undefined && !(truncation >= 0.01))
    throw new GanportError(`truncation must be ≥ 0.01, got ${truncation}`);
  const rng = new Rng(seed);
  const out = new Float32Array(count * dim);
  for (let i = 0; i < out.length; i++) {
    let z = rng.nextNormal();
    if (truncation !== undefined) while (Math.abs(z) > truncation) z = rng.nextNormal();
    out[i] = z;
  }
  return out;
}
