/**
 * tfjs's seeded uniforms — randomUniform(shape, 0, 1, 'float32', seed), seedrandom's alea seeded with
 * the seed's string — drawn several times faster than alea draws them, number for number the same.
 *
 * Alea is a lag-3 multiply-with-carry generator (multiplier a = 2091639, base b = 2^32, carried in
 * doubles exactly: a·x + c < 2^53). One draw waits on the one before (a multiply, an add and two
 * conversions), so a single stream runs at the latency of that chain. A multiply-with-carry generator
 * is a linear congruential one in disguise: with m = a·b³ − 1, the state read as the integer
 * W = c·b³ + x₃·b² + x₂·b + x₁ (newest value first) steps as W ← W·b⁻¹ mod m, and b⁻¹ = a·b² mod m.
 * So the state k draws ahead is W·(a·b²)^k mod m (BigInt), and the draws split into streams that start
 * at even offsets and run side by side, their chains overlapping in the CPU.
 */
import seedrandom from 'seedrandom';

const A = 2091639;
const B = 2n ** 32n;
const M = BigInt(A) * B ** 3n - 1n;
const B_INVERSE = BigInt(A) * B * B;
const TO_UNIT = 2 ** -32;
/** Streams run side by side: measured 3.8 → 1.7 ms for a dcgan step's 600,000 uniforms (8 or 4 alike). */
const STREAMS = 8;

/** `count` uniforms of alea seeded with String(seed), written into `into` (a new array if not given). */
export function uniforms(seed: number, count: number, into: Float32Array = new Float32Array(count)): Float32Array {
  if (into.length < count) throw new Error(`internal error: ${count} uniforms into an array of ${into.length}`);
  const { c, s0, s1, s2 } = seedrandom.alea(String(seed), { state: true }).state();
  const start = BigInt(c) * B ** 3n + BigInt(s2 / TO_UNIT) * B * B + BigInt(s1 / TO_UNIT) * B + BigInt(s0 / TO_UNIT);
  const length = Math.floor(count / STREAMS);
  // per stream: x₁, x₂, x₃ (as fractions of b, oldest first, as alea keeps them) and the carry
  const state = new Float64Array(4 * STREAMS);
  const jump = modPow(B_INVERSE, BigInt(length), M);
  for (let j = 0, w = start; j < STREAMS; j++, w = (w * jump) % M) {
    state.set(
      [Number(w % B) * TO_UNIT, Number((w / B) % B) * TO_UNIT, Number((w / B / B) % B) * TO_UNIT, Number(w / B ** 3n)],
      4 * j,
    );
  }
  for (let i = 0; i < length; i++) {
    for (let j = 0, o = 0; j < STREAMS; j++, o += 4) {
      const t = A * state[o] + state[o + 3] * TO_UNIT;
      const carry = t | 0;
      state[o] = state[o + 1];
      state[o + 1] = state[o + 2];
      state[o + 2] = t - carry;
      state[o + 3] = carry;
      into[i + j * length] = t - carry;
    }
  }
  // the last stream goes on for the few draws left over
  let [x1, x2, x3, carry] = state.subarray(4 * STREAMS - 4);
  for (let i = STREAMS * length; i < count; i++) {
    const t = A * x1 + carry * TO_UNIT;
    carry = t | 0;
    x1 = x2;
    x2 = x3;
    x3 = t - carry;
    into[i] = x3;
  }
  return into;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  for (let b = base % modulus, e = exponent; e > 0n; e >>= 1n, b = (b * b) % modulus)
    if (e & 1n) result = (result * b) % modulus;
  return result;
}
