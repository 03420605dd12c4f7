/** Resuming trusts only verified checkpoints: a damaged newest one falls back to the previous, or stops with --strict. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { train } from '../../src/train/train.js';
import { damageFile, runCli, SAMPLE_DATA, tempDir } from '../helpers.js';

/** Two epochs of two steps: epoch-end checkpoints at step 2 (kept as the previous generation) and step 4. */
async function twoEpochRun(): Promise<string> {
  const dir = tempDir();
  await train({ outDir: dir, preset: 'seed-mlp', epochs: 2, limit: 128, dataDir: SAMPLE_DATA, quiet: true });
  return dir;
}

test('train --resume on a checkpoint with 400 damaged bytes says so in one line and resumes from the previous one', async () => {
  const dir = await twoEpochRun();
  damageFile(join(dir, 'checkpoint', 'generator', 'weights.bin'));
  const lines: string[] = [];
  const result = await train({ outDir: dir, resume: true, epochs: 3, quiet: true, log: (line) => lines.push(line) });
  const warnings = lines.filter((line) => line.includes('fails verification'));
  assert.equal(warnings.length, 1, lines.join('\n'));
  assert.match(warnings[0], /checkpoint fails verification: generator\/weights\.bin has SHA-256 .*; falling back to/);
  assert.ok(lines.includes('resuming at step 2 (epoch 2, batch 0)'), lines.join('\n'));
  assert.equal(result.steps, 6);
});

test('train --resume --strict stops with one line and exit status 1 instead', async () => {
  const dir = await twoEpochRun();
  damageFile(join(dir, 'checkpoint', 'generator', 'weights.bin'));
  const result = runCli(['train', '--resume', dir, '--epochs', '3', '--strict', '--quiet']);
  assert.equal(result.status, 1, result.stderr);
  assert.match(
    result.stderr,
    /^ganport train: .*checkpoint fails verification: generator\/weights\.bin .*; --strict refuses to fall back to checkpoint\.previous\/\n$/,
  );
});
