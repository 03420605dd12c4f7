/**
 * Shared by the runtime's tests, and by ganport's (its test/helpers.ts re-exports the generic ones):
 * generators to load, comparisons, and damaged bytes with the refusal they must meet.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { GanportError } from '../src/errors.js';

/** packages/runtime, from dist/test/ where the tests run. */
export const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * A generator that ganport ships, read from its assets in this checkout (a file: the runtime's tests use
 * none of ganport's code). seed-mlp: 64 latents → 28×28×1 NHWC in [-1, 1]; cdcgan: the same with 10 classes.
 * A Uint8Array, not a Buffer, so that its slice() copies as a damaged copy needs.
 */
export function shippedGenerator(name: 'seed-mlp' | 'cdcgan'): Uint8Array {
  return new Uint8Array(readFileSync(join(PACKAGE, '..', 'ganport', 'assets', 'models', name, 'generator.onnx')));
}

/**
 * `model` (an ONNX ModelProto) without its metadata_props, field 14: a generator as another exporter
 * writes it. A ModelProto's own fields are all varints or length-delimited.
 */
export function withoutMetadata(model: Uint8Array): Uint8Array {
  const METADATA_PROPS = 14;
  let pos = 0;
  const varint = () => {
    let value = 0;
    for (let scale = 1; ; scale *= 128) {
      const byte = model[pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
  };
  const kept: Uint8Array[] = [];
  while (pos < model.length) {
    const start = pos;
    const tag = varint();
    const wireType = tag % 8;
    if (wireType === 2) {
      const length = varint();
      pos += length;
    } else if (wireType === 0) varint();
    else throw new Error(`wire type ${wireType} among a ModelProto's fields`);
    if (Math.floor(tag / 8) !== METADATA_PROPS) kept.push(model.subarray(start, pos));
  }
  return new Uint8Array(Buffer.concat(kept));
}

/** Largest |a[i] - b[i]|; Infinity when the lengths differ. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = d;
  }
  return max;
}

/** Seeded and bounded, so that property tests stay fast and repeatable. */
export const PROPERTY_RUNS = { seed: 15, numRuns: 200 };

/**
 * A damaged copy of `bytes`: cut short, a few bits flipped, or a span overwritten with random bytes.
 * Copied with Uint8Array.from: ganport's tests pass Buffers, whose slice() is a view, so damage would
 * build up in `bytes` from one case to the next.
 */
export const damagedBytes = (bytes: Uint8Array): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.nat({ max: bytes.length - 1 }).map((length) => Uint8Array.from(bytes.subarray(0, length))),
    fc
      .array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 })), {
        minLength: 1,
        maxLength: 8,
      })
      .map((flips) => {
        const copy = Uint8Array.from(bytes);
        for (const [at, bit] of flips) copy[at] ^= 1 << bit;
        return copy;
      }),
    fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, span]) => {
      const copy = Uint8Array.from(bytes);
      copy.set(span.subarray(0, copy.length - at), at);
      return copy;
    }),
  );

/** A refusal as ganport promises it: a GanportError with a one-line message. */
export function assertRefusal(err: unknown): void {
  assert.ok(err instanceof GanportError, `not a GanportError: ${(err as Error)?.stack ?? err}`);
  assert.ok(err.message.length > 0 && !err.message.includes('\n'), err.message);
}

/** Runs `read`: what it returns must pass `check`; what it throws must be a refusal. */
export function assertReadsOrRefuses<T>(read: () => T, check: (value: T) => void): void {
  let value: T;
  try {
    value = read();
  } catch (err) {
    assertRefusal(err);
    return;
  }
  check(value);
}
