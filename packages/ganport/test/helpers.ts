/** Shared by the tests: temp dirs, running the CLI, paths of the shipped assets. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import fc from 'fast-check';
import { shippedFashionMnistSample, shippedModelsDir } from '../src/assets.js';
import { packageRoot } from '../src/util/files.js';

export const ROOT = packageRoot();
export const SAMPLE_DATA = shippedFashionMnistSample();
export const SHIPPED_MODELS = shippedModelsDir();
export const SHIPPED_MODEL_DIR = join(SHIPPED_MODELS, 'seed-mlp');

/**
 * A data file from the steering repo's shared/ folder (real published models: data from other
 * repositories, never committed here), inside or beside the checkout. Absent: undefined, so the
 * caller skips, except in CI (`CI` set), where shared/ is always provided and its absence is a failure.
 */
export function sharedDataFile(...path: string[]): string | undefined {
  const candidates = [join(ROOT, '..', '..', 'shared', ...path), join(ROOT, '..', '..', '..', 'shared', ...path)];
  const found = candidates.find((file) => existsSync(file));
  if (!found && process.env.CI) throw new Error(`CI is set but shared/${path.join('/')} is missing`);
  return found;
}

export function tempDir(prefix = 'ganport-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Overwrites `count` bytes in the middle of a file, as a failing disk or a stray write would. */
export function damageFile(file: string, count = 400): void {
  const bytes = readFileSync(file);
  const from = Math.max(0, Math.floor((bytes.length - count) / 2));
  bytes.fill(0xab, from, from + count);
  writeFileSync(file, bytes);
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `env` adds to the environment, `unset` takes variables out of it. */
export function runCli(args: string[], options: { env?: Record<string, string>; unset?: string[] } = {}): CliResult {
  const env = { ...process.env, ...options.env };
  for (const name of options.unset ?? []) delete env[name];
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'ganport.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env,
    timeout: 300_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
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

/**
 * An exported (untrained) seed-mlp generator with or without ganport metadata:
 * a fixture for runtime tests that must not depend on the shipped model's weights.
 */
export async function seedMlpGeneratorBytes(withMetadata = true): Promise<Uint8Array> {
  const { seedMlp } = await import('../src/presets/mlp.js');
  const { modelToBytes } = await import('../src/export/index.js');
  const { META } = await import('@ganport/runtime');
  const { selectBackend } = await import('../src/tfjs/backend.js');
  await selectBackend('cpu');
  const model = seedMlp.buildGenerator(123);
  const metadata = withMetadata
    ? {
        [META.latentSize]: '64',
        [META.outputShape]: '[28,28,1]',
        [META.layout]: 'NHWC',
        [META.valueRange]: '[-1,1]',
        [META.role]: 'generator',
      }
    : undefined;
  const bytes = modelToBytes(model, { inputNames: ['latent'], outputNames: ['image'], metadata });
  model.dispose();
  return bytes;
}

/** Seeded and bounded, so that property tests stay fast and repeatable. */
export const PROPERTY_RUNS = { seed: 15, numRuns: 200 };

/** A damaged copy of `bytes`: cut short, a few bits flipped, or a span overwritten with random bytes. */
export const damagedBytes = (bytes: Uint8Array): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.nat({ max: bytes.length - 1 }).map((length) => bytes.slice(0, length)),
    fc
      .array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 })), {
        minLength: 1,
        maxLength: 8,
      })
      .map((flips) => {
        const copy = bytes.slice();
        for (const [at, bit] of flips) copy[at] ^= 1 << bit;
        return copy;
      }),
    fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, span]) => {
      const copy = bytes.slice();
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
