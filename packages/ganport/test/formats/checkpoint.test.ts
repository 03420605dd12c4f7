/** Checkpoint generations: a manifest written last, the previous generation kept, and the fallback when the newest is damaged. */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { checkpointDirs, loadCheckpoint, saveCheckpoint } from '../../src/formats/checkpoint.js';
import { MANIFEST } from '../../src/formats/manifest.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import type { RunPosition, TrainingState } from '../../src/train/state.js';
import { damageFile, tempDir } from '../helpers.js';
import { freshState, positionAt } from './checkpoint-fixtures.js';

const firstWeights = (state: TrainingState) => Array.from(state.generator.getWeights()[0].dataSync().slice(0, 8));

/** A run directory with two generations: step 1 (weights of seed 1) kept as previous, step 2 (seed 2) newest. */
async function twoGenerations(): Promise<{ dir: string; weights: number[][] }> {
  const dir = tempDir();
  const weights: number[][] = [];
  for (const step of [1, 2]) {
    const state = freshState(step);
    weights.push(firstWeights(state));
    await saveCheckpoint(dir, state, positionAt(step));
  }
  return { dir, weights };
}

before(async () => {
  await selectBackend('cpu');
});

test('each generation carries a manifest; the newest and the previous one are kept', async () => {
  const { dir, weights } = await twoGenerations();
  const { newest, previous, tmp } = checkpointDirs(dir);
  assert.ok(existsSync(join(newest, MANIFEST)) && existsSync(join(previous, MANIFEST)));
  assert.ok(!existsSync(tmp));
  const state = freshState(9);
  const lines: string[] = [];
  assert.equal((await loadCheckpoint<RunPosition>(dir, state, { log: (line) => lines.push(line) })).step, 2);
  assert.deepEqual(firstWeights(state), weights[1]);
  assert.deepEqual(lines, [], 'nothing to say when the newest verifies');
});

test('a damaged newest generation is named in one line and the previous one is loaded', async () => {
  const { dir, weights } = await twoGenerations();
  damageFile(join(dir, 'checkpoint', 'generator', 'weights.bin'));
  const state = freshState(9);
  const lines: string[] = [];
  const position = await loadCheckpoint<RunPosition>(dir, state, { log: (line) => lines.push(line) });
  assert.equal(position.step, 1);
  assert.deepEqual(firstWeights(state), weights[0]);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /checkpoint fails verification: generator\/weights\.bin has SHA-256 \w+…, its manifest says \w+…; falling back to checkpoint\.previous\//,
  );
});

test('--strict refuses the fallback; with both generations damaged there is nothing to resume', async () => {
  const { dir } = await twoGenerations();
  damageFile(join(dir, 'checkpoint', 'ema', 'weights.bin'));
  await assert.rejects(
    loadCheckpoint<RunPosition>(dir, freshState(9), { strict: true }),
    /checkpoint fails verification: ema\/weights\.bin .*; --strict refuses to fall back to checkpoint\.previous\//,
  );
  rmSync(join(dir, 'checkpoint.previous', 'position.json'));
  await assert.rejects(
    loadCheckpoint<RunPosition>(dir, freshState(9)),
    /checkpoint\.previous fails verification: position\.json is missing; there is no earlier checkpoint to fall back to/,
  );
});

test('every moment of a save leaves a complete generation to load', async () => {
  const { dir } = await twoGenerations();
  const { newest, previous, tmp } = checkpointDirs(dir);
  // killed while writing checkpoint.tmp/: no manifest there yet, so it is not a generation
  mkdirSync(join(tmp, 'generator'), { recursive: true });
  writeFileSync(join(tmp, 'generator', 'model.json'), '{"half":');
  assert.equal((await loadCheckpoint<RunPosition>(dir, freshState(9))).step, 2);
  // killed between the two renames: checkpoint.tmp/ is complete and the newest
  const third = tempDir();
  await saveCheckpoint(third, freshState(3), positionAt(3));
  rmSync(tmp, { recursive: true });
  cpSync(join(third, 'checkpoint'), tmp, { recursive: true });
  rmSync(previous, { recursive: true });
  renameSync(newest, previous);
  assert.equal((await loadCheckpoint<RunPosition>(dir, freshState(9))).step, 3);
  // the next save completes the swap
  await saveCheckpoint(dir, freshState(4), positionAt(4));
  assert.equal((await loadCheckpoint<RunPosition>(dir, freshState(9))).step, 4);
  assert.ok(!existsSync(tmp));
});

test('a run directory without any checkpoint says so', async () => {
  await assert.rejects(loadCheckpoint<RunPosition>(tempDir(), freshState(1)), /has no checkpoint to resume from/);
});

test('a checkpoint from before manifests (ganport 0.1) resumes unverified with one line, or not at all with --strict', async () => {
  const dir = tempDir();
  const saved = freshState(3);
  await saveCheckpoint(dir, saved, positionAt(5));
  rmSync(join(checkpointDirs(dir).newest, MANIFEST));
  const state = freshState(9);
  const lines: string[] = [];
  assert.equal((await loadCheckpoint<RunPosition>(dir, state, { log: (line) => lines.push(line) })).step, 5);
  assert.deepEqual(firstWeights(state), firstWeights(saved));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /has no manifest \(written before ganport 0\.2\); resuming it unverified/);
  await assert.rejects(
    loadCheckpoint<RunPosition>(dir, freshState(9), { strict: true }),
    /--strict refuses to resume it unverified/,
  );
});
