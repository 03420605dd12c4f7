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
 * at even offsets and run side by side, their chains overlapping in the CPU: eight of them, two to a
 * SIMD vector, in WebAssembly (alea-uniforms.wat), in float64 as alea computes them.
 */
import seedrandom from 'seedrandom';
import { ALEA_UNIFORMS_WASM } from './alea-uniforms-wasm.js';

const A = 2091639;
const B = 2n ** 32n;
const M = BigInt(A) * B ** 3n - 1n;
const B_INVERSE = BigInt(A) * B * B;
const TO_UNIT = 2 ** -32;
/**
 * A dcgan step's 600,000 uniforms: one stream at a time 3.8 ms, eight side by side in JavaScript 1.7 ms
 * (on the AMD VM); on the Intel VM, 2.7 ms in JavaScript (1.1 in most process starts with four streams'
 * states in local variables, but 2.4–2.6 in 10 of 37, where V8's compile of the loop boxed them), 0.64 ms
 * in WebAssembly, the copy out of its memory included.
 */
const STREAMS = 8;
/** The streams' states at the start of the kernel's memory, the draws after them. */
const STATE_BYTES = 32 * STREAMS;
const PAGE = 65536;

/** `count` uniforms of alea seeded with String(seed), written into `into` (a new array if not given). */
export function uniforms(seed: number, count: number, into: Float32Array = new Float32Array(count)): Float32Array {
  if (into.length < count) throw new Error(`internal error: ${count} uniforms into an array of ${into.length}`);
  const { memory } = drawn(seed, count, 0);
  into.set(new Float32Array(memory.buffer, STATE_BYTES, count));
  return into;
}

/** How a dropout mask is laid out against its uniforms: `dims` [N, …, C] as they are, or channels first. */
export interface MaskLayout {
  dims: number[];
  channelsFirst: boolean;
}

/**
 * tfjs's dropout mask of seed `seed` (Dropout's floor(u + keep) / keep in float32, of `uniforms(seed)`
 * shaped `layout.dims`), written into `into` channels first ([N, C, …]) where `layout` says so. In
 * WebAssembly beside the draws, four pixels by four channels at a time: the dcgan's two masks (600,000
 * values) take 0.90–0.98 ms against their uniforms' 0.65–0.69 (lower quartiles, the Intel VM), where a
 * JavaScript loop over the uniforms took 1.5 ms more, and one storing each lane a plane apart 0.42.
 */
export function dropoutMask(seed: number, keep: number, layout: MaskLayout, into: Float32Array): Float32Array {
  const count = layout.dims.reduce((a, b) => a * b, 1);
  if (into.length < count) throw new Error(`internal error: a mask of ${count} values into an array of ${into.length}`);
  const output = STATE_BYTES + 4 * count;
  const { memory, mask } = drawn(seed, count, 4 * count);
  // channels first: [N, H·W, C] to [N, C, H·W]; as it is: one pixel of `count` channels
  const [batch, ...rest] = layout.dims;
  const channels = rest.at(-1)!;
  if (layout.channelsFirst) mask(STATE_BYTES, output, batch, count / batch / channels, channels, keep);
  else mask(STATE_BYTES, output, 1, 1, count, keep);
  into.set(new Float32Array(memory.buffer, output, count));
  return into;
}

/** The kernel, `count` uniforms of seed `seed` drawn at byte STATE_BYTES of its memory, `extra` bytes free after them. */
function drawn(seed: number, count: number, extra: number): DrawKernel {
  const length = Math.floor(count / STREAMS);
  const states = streamStates(seed, length);
  const kernel = drawKernel(STATE_BYTES + 4 * count + extra);
  // by pairs, as the kernel reads them: x₁ of streams 2p and 2p + 1 side by side, then x₂, x₃ and the carry
  const pairs = new Float64Array(kernel.memory.buffer, 0, 4 * STREAMS);
  for (let j = 0; j < STREAMS; j++)
    for (let k = 0; k < 4; k++) pairs[8 * (j >> 1) + 2 * k + (j & 1)] = states[4 * j + k];
  kernel.draw(0, STATE_BYTES, length);
  // the few draws left over, from the state one more stream would start at
  const draws = new Float32Array(kernel.memory.buffer, STATE_BYTES, count);
  drawOn(states.subarray(4 * STREAMS), draws, STREAMS * length, count);
  return kernel;
}

interface DrawKernel {
  /** `length` draws of each stream, their states at byte `states`, into byte `out` on (alea-uniforms.wat). */
  draw(states: number, out: number, length: number): void;
  /** The dropout mask of the uniforms at byte `src`, [batch, spatial, channels], channels first at byte `dst`. */
  mask(src: number, dst: number, batch: number, spatial: number, channels: number, keep: number): void;
  memory: WebAssembly.Memory;
}

let kernel: DrawKernel | undefined;

/** The kernel, its memory grown to `bytes` at least. */
function drawKernel(bytes: number): DrawKernel {
  const pages = Math.ceil(bytes / PAGE);
  if (!kernel) {
    const memory = new WebAssembly.Memory({ initial: pages });
    const module = new WebAssembly.Module(Buffer.from(ALEA_UNIFORMS_WASM, 'base64'));
    const { draw, mask } = new WebAssembly.Instance(module, { host: { memory } }).exports as Omit<DrawKernel, 'memory'>;
    kernel = { draw, mask, memory };
  }
  const missing = pages - kernel.memory.buffer.byteLength / PAGE;
  if (missing > 0) kernel.memory.grow(missing);
  return kernel;
}

/** Draws into `into` from `from` to `to`, from one stream's state (as streamStates holds it). */
function drawOn([x1, x2, x3, carry]: Float64Array, into: Float32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const t = A * x1 + carry * TO_UNIT;
    carry = t | 0;
    x1 = x2;
    x2 = x3;
    x3 = t - carry;
    into[i] = x3;
  }
}

/**
 * Per stream, and for one more after them (each `length` draws on): x₁, x₂, x₃ (as fractions of b, oldest
 * first, as alea keeps them) and the carry.
 */
function streamStates(seed: number, length: number): Float64Array {
  const { c, s0, s1, s2 } = seedrandom.alea(String(seed), { state: true }).state();
  const start = BigInt(c) * B ** 3n + BigInt(s2 / TO_UNIT) * B * B + BigInt(s1 / TO_UNIT) * B + BigInt(s0 / TO_UNIT);
  const state = new Float64Array(4 * STREAMS + 4);
  const jump = modPow(B_INVERSE, BigInt(length), M);
  for (let j = 0, w = start; j <= STREAMS; j++, w = (w * jump) % M) {
    state.set(
      [Number(w % B) * TO_UNIT, Number((w / B) % B) * TO_UNIT, Number((w / B / B) % B) * TO_UNIT, Number(w / B ** 3n)],
      4 * j,
    );
  }
  return state;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  for (let b = base % modulus, e = exponent; e > 0n; e >>= 1n, b = (b * b) % modulus)
    if (e & 1n) result = (result * b) % modulus;
  return result;
}
