/** Shared by the tests: temp dirs, running the CLI, paths of the shipped assets. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type * as RuntimeTestHelpers from '../../runtime/test/helpers.js';
import { shippedFashionMnistSample, shippedModelsDir } from '../src/assets.js';
import type { MetricsLine } from '../src/train/metrics.js';
import { packageRoot, temporaryDir } from '../src/util/files.js';

export const ROOT = packageRoot();

/**
 * Comparisons and damaged bytes with the refusal they must meet (the runtime's GanportError) are the
 * runtime's test helpers; ganport's tests load them from its build, which `tsc -b` writes first.
 */
const runtimeHelpers: typeof RuntimeTestHelpers = await import(
  pathToFileURL(join(ROOT, '..', 'runtime', 'dist', 'test', 'helpers.js')).href
);
export const { assertReadsOrRefuses, assertRefusal, damagedBytes, maxAbsDiff, PROPERTY_RUNS } = runtimeHelpers;
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

/**
 * A full garbage collection, for the memory tests: without one, garbage not yet collected (tens of MB
 * of dropped onnxruntime tensors, more when another test process slows this one) counts as growth.
 * The test runner does not pass --expose-gc, so the flag is set here and gc taken from a new context.
 */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** A temp dir, removed when the test file's process exits. */
export function tempDir(prefix = 'ganport-test-'): string {
  return temporaryDir(prefix);
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

/** Runs the CLI; `env` adds to the environment, `unset` takes variables out of it, `node` are node's own flags. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; unset?: string[]; node?: string[] } = {},
): CliResult {
  const env = { ...process.env, ...options.env };
  for (const name of options.unset ?? []) delete env[name];
  const result = spawnSync(process.execPath, [...(options.node ?? []), join(ROOT, 'bin', 'ganport.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env,
    timeout: 300_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs the CLI in this process (its `main`), capturing what it writes through console and stderr: for
 * refusals, without starting node and the CLI for each (1–1.5 s apiece). What native code writes to the
 * process's stderr is not captured, so a test of that runs the CLI with `runCli`.
 */
export async function runCliHere(args: string[]): Promise<CliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const saved = { log: console.log, error: console.error, warn: console.warn, write: process.stderr.write };
  console.log = (...values: unknown[]) => stdout.push(`${format(...values)}\n`);
  console.error = console.warn = (...values: unknown[]) => stderr.push(`${format(...values)}\n`);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const { main } = await import('../src/cli/main.js');
    const status = await main(args);
    return { status, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    Object.assign(console, { log: saved.log, error: saved.error, warn: saved.warn });
    process.stderr.write = saved.write;
  }
}

/** A failure the user caused: non-zero exit, exactly one line on stderr naming the problem, no stack trace. */
export function assertCleanFailure(result: CliResult, message: RegExp, status = 1): void {
  assert.equal(result.status, status, `exit status; stderr: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.match(lines[0], message);
  if (status === 1) assert.equal(lines.length, 1, `one line expected, got:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

/** The same steps, and losses and mean D outputs within 1e-5 (relative to their size, at least 1): a resumed run's. */
export function assertSameLosses(actual: MetricsLine[], expected: MetricsLine[]): void {
  assert.deepEqual(
    actual.map((m) => m.step),
    expected.map((m) => m.step),
  );
  actual.forEach((m, i) => {
    for (const key of ['dLoss', 'gLoss', 'dReal', 'dFake'] as const) {
      const e = expected[i][key];
      assert.ok(Math.abs(m[key] - e) <= 1e-5 * Math.max(1, Math.abs(e)), `step ${m.step} ${key}: ${m[key]} vs ${e}`);
    }
  });
}

/**
 * An exported (untrained) seed-mlp generator with or without ganport metadata:
 * a fixture for tests that must not depend on the shipped model's weights.
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
