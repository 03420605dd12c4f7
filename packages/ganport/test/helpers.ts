/** Shared by the tests: temp dirs, running the CLI, paths of the shipped assets. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shippedFashionMnistSample, shippedModelsDir } from '../src/assets.js';
import { packageRoot } from '../src/util/files.js';

export const ROOT = packageRoot();
export const SAMPLE_DATA = shippedFashionMnistSample();
export const SHIPPED_MODELS = shippedModelsDir();
export const SHIPPED_MODEL_DIR = join(SHIPPED_MODELS, 'seed-mlp');

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

export function runCli(args: string[], options: { env?: Record<string, string> } = {}): CliResult {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'ganport.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
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
