/** Shared by the tests: temp dirs, running the CLI, paths of the shipped assets. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../util/files.js';

export const ROOT = packageRoot();
export const SAMPLE_DATA = join(ROOT, 'data', 'fashion-mnist-sample');
export const SHIPPED_MODEL_DIR = join(ROOT, 'models', 'seed-mlp');

export function tempDir(prefix = 'ganport-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
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
  const { seedMlp } = await import('../models/mlp.js');
  const { modelToBytes } = await import('../export/index.js');
  const { META } = await import('../runtime/metadata.js');
  const { selectBackend } = await import('../tfjs/backend.js');
  await selectBackend('cpu');
  const model = seedMlp.buildGenerator(123);
  const metadata = withMetadata
    ? { [META.latentSize]: '64', [META.outputShape]: '[28,28,1]', [META.layout]: 'NHWC', [META.valueRange]: '[-1,1]', [META.role]: 'generator' }
    : undefined;
  const bytes = modelToBytes(model, { inputNames: ['latent'], outputNames: ['image'], metadata });
  model.dispose();
  return bytes;
}
