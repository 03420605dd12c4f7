/**
 * Resuming trusts only verified checkpoints: a damaged newest one falls back to the previous, or stops with
 * --strict; a disk that fills up mid-run stops it with the last good checkpoint in place.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { verifyManifest } from '../../src/formats/manifest.js';
import type { RunConfig } from '../../src/formats/run-dir.js';
import { getPreset } from '../../src/presets/index.js';
import { CheckpointPolicy } from '../../src/train/checkpoints.js';
import { buildTrainingState, disposeTrainingState } from '../../src/train/run-setup.js';
import { readMetrics, train } from '../../src/train/train.js';
import { assertRefusal, assertSameLosses, damageFile, runCli, SAMPLE_DATA, tempDir } from '../helpers.js';

/** Two epochs of two steps: epoch-end checkpoints at step 2 (kept as the previous generation) and step 4. */
async function twoEpochRun(): Promise<string> {
  const dir = tempDir();
  await train({ outDir: dir, preset: 'seed-mlp', epochs: 2, limit: 128, dataDir: SAMPLE_DATA, quiet: true });
  return dir;
}

test("an epoch's last step that is also a --checkpoint-every multiple is saved once, so the one before stays previous", async () => {
  const dir = tempDir();
  // 2 steps an epoch, a checkpoint every 2: each epoch's end is both
  await train({
    outDir: dir,
    preset: 'seed-mlp',
    epochs: 2,
    limit: 128,
    checkpointEvery: 2,
    dataDir: SAMPLE_DATA,
    quiet: true,
  });
  const stepOf = (generation: string) =>
    (JSON.parse(readFileSync(join(dir, generation, 'position.json'), 'utf8')) as { step: number }).step;
  assert.deepEqual([stepOf('checkpoint'), stepOf('checkpoint.previous')], [4, 2]);
});

test('a checkpoint of a model holding an infinity is refused, naming the weight, and the one on disk stays', async () => {
  const dir = await twoEpochRun();
  const onDisk = readFileSync(join(dir, 'checkpoint', 'position.json'), 'utf8');
  const config = { seed: 1, emaDecay: 0.999, learningRate: 2e-4, discriminatorLearningRate: 2e-4, beta1: 0.5 };
  const state = buildTrainingState(getPreset('seed-mlp'), { ...config, pack: 1, images: 128 } as RunConfig);
  const kernel = state.generator.weights[0];
  kernel.write(tf.fill(kernel.shape as number[], Number.POSITIVE_INFINITY));
  const policy = new CheckpointPolicy(dir, state, 1, 4);
  await assert.rejects(
    policy.save({ step: 5, epoch: 3, batchInEpoch: 1, rng: [1, 2, 3, 4] }),
    new RegExp(
      `^GanportError: training diverged by step 5: the generator's weight ${kernel.originalName} holds a NaN or an infinity .*the checkpoint of step 4 is kept`,
    ),
  );
  assert.equal(readFileSync(join(dir, 'checkpoint', 'position.json'), 'utf8'), onDisk);
  disposeTrainingState(state);
});

test("a resume refuses a config.json whose fixed fields differ from its checkpoint's record, before reading weights", async () => {
  const dir = await twoEpochRun();
  const configPath = join(dir, 'config.json');
  const original = readFileSync(configPath, 'utf8');
  const edit = (fields: object) => writeFileSync(configPath, JSON.stringify({ ...JSON.parse(original), ...fields }));
  edit({ batchSize: 32, learningRate: 0.01 });
  await assert.rejects(
    train({ outDir: dir, resume: true, epochs: 3, quiet: true }),
    /config\.json differs from the run its checkpoint of step 4 was trained in: batchSize 32 \(trained with 64\), learningRate 0\.01 \(trained with 0\.0002\); it was edited or damaged/,
  );
  // a bigger model than the checkpoint's is named the same way, not as a weight-shape mismatch
  edit({ preset: 'mlp' });
  await assert.rejects(
    train({ outDir: dir, resume: true, epochs: 3, quiet: true }),
    /preset "mlp" \(trained with "seed-mlp"\)/,
  );
  edit({ logEvery: 1 }); // how a run is logged is not what it learns
  const resumed = await train({ outDir: dir, resume: true, epochs: 3, quiet: true });
  assert.equal(resumed.steps, 6);
});

test("a resume continues bit for bit: Adam's βᵗ come back as the updates multiplied them, not as powers", async () => {
  const run = { preset: 'mlp-2d', dataDir: 'ring', limit: 640, batchSize: 128, backend: 'wasm', logEvery: 1 } as const;
  const straight = tempDir();
  await train({ ...run, outDir: straight, epochs: 2, quiet: true });
  // 5 steps an epoch: after 5, 0.999 multiplied up differs from 0.999⁶ in float32
  const resumed = tempDir();
  await train({ ...run, outDir: resumed, epochs: 1, quiet: true });
  await train({ outDir: resumed, resume: true, epochs: 2, quiet: true });
  const losses = async (dir: string) =>
    (await readMetrics(join(dir, 'metrics.jsonl'))).map((m) => [m.step, m.dLoss, m.gLoss, m.dReal, m.dFake]);
  assert.deepEqual(await losses(resumed), await losses(straight));
  const weights = (dir: string) => readFileSync(join(dir, 'generator', 'weights.bin'));
  assert.ok(weights(resumed).equals(weights(straight)), 'the same generator weights');
});

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

/**
 * A disk that fills up: from the `nth` write or append to a path containing `part` on, every file write
 * and append of this process fails with ENOSPC, as the kernel's would, until `free()` (at the opening,
 * for a file opened to write through its handle).
 */
function diskFullFrom(part: string, nth: number): { free(): void } {
  const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises');
  const { writeFile, appendFile, open } = fsp;
  let [seen, full] = [0, false];
  const check = (path: unknown) => {
    if (!full && String(path).includes(part)) full = ++seen === nth;
    if (full)
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC', path });
  };
  const failing =
    (write: (path: string, data: string) => Promise<void>) =>
    (path: string, ...rest: unknown[]): Promise<void> => {
      check(path);
      return write(path, ...(rest as [string]));
    };
  // writeFileAtomic writes through a handle it opens
  const opening = (path: string, flags?: string | number, ...rest: unknown[]) => {
    if (typeof flags === 'string' && /[wa]/.test(flags)) check(path);
    return open(path, flags, ...(rest as [number]));
  };
  Object.assign(fsp, { writeFile: failing(writeFile), appendFile: failing(appendFile), open: opening });
  syncBuiltinESMExports(); // the modules that import them by name see the full disk too
  return {
    free() {
      Object.assign(fsp, { writeFile, appendFile, open });
      syncBuiltinESMExports();
    },
  };
}

for (const [where, part] of [
  ['in the middle of a checkpoint', '/ema/weights.bin'], // only checkpoints hold an ema/
  ['at a metrics line', 'metrics.jsonl'],
] as const) {
  test(`a disk that fills ${where} stops training with the last good checkpoint in place, which resumes`, async () => {
    // four steps of 64, a checkpoint and a metrics line after each: the disk fills at step 3's
    const run = { preset: 'seed-mlp', epochs: 1, limit: 256, dataDir: SAMPLE_DATA, backend: 'wasm', seed: 3 };
    const settings = { ...run, checkpointEvery: 1, logEvery: 1, quiet: true };
    const reference = tempDir();
    await train({ ...settings, outDir: reference });
    const dir = tempDir();
    const disk = diskFullFrom(part, 3);
    const stopped = await train({ ...settings, outDir: dir }).then(
      () => assert.fail('training went on with a full disk'),
      (err: unknown) => err,
    );
    disk.free();
    assertRefusal(stopped); // a GanportError: one line, as the CLI prints it
    assert.match((stopped as Error).message, new RegExp(`^cannot write .*${part.split('/').pop()}.*: ENOSPC$`));
    await verifyManifest(join(dir, 'checkpoint'));
    assert.equal(JSON.parse(readFileSync(join(dir, 'checkpoint', 'position.json'), 'utf8')).step, 2);
    await train({ outDir: dir, resume: true, quiet: true });
    assertSameLosses(
      await readMetrics(join(dir, 'metrics.jsonl')),
      await readMetrics(join(reference, 'metrics.jsonl')),
    );
  });
}
