/** Checkpoint generations: a manifest written last, the previous generation kept, and the fallback when the newest is damaged. */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { checkpointDirs, loadCheckpoint, saveCheckpoint } from '../../src/formats/checkpoint.js';
import { MANIFEST, writeManifest } from '../../src/formats/manifest.js';
import type { RunConfig } from '../../src/formats/run-dir.js';
import { getPreset } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { buildTrainingState } from '../../src/train/run-setup.js';
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

test('a newest generation whose manifest was emptied by hand is not taken as verified: the previous one is loaded', async () => {
  const { dir, weights } = await twoGenerations();
  writeFileSync(join(dir, 'checkpoint', MANIFEST), JSON.stringify({ format: 'ganport-manifest/1', files: {} }));
  const state = freshState(9);
  const lines: string[] = [];
  assert.equal((await loadCheckpoint<RunPosition>(dir, state, { log: (line) => lines.push(line) })).step, 1);
  assert.deepEqual(firstWeights(state), weights[0]);
  assert.match(
    lines.join('\n'),
    /^.*checkpoint fails verification: \S+ is not in its manifest; falling back to checkpoint\.previous\/$/,
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
  // the next save completes the swap first: step 3, the generation resumed from, stays as the previous
  await saveCheckpoint(dir, freshState(4), positionAt(4));
  assert.equal((await loadCheckpoint<RunPosition>(dir, freshState(9))).step, 4);
  assert.equal((JSON.parse(readFileSync(join(previous, 'position.json'), 'utf8')) as RunPosition).step, 3);
  assert.ok(!existsSync(tmp));
  // killed after removing checkpoint.previous/, before the first rename: checkpoint.tmp/ is still the newest
  const fifth = tempDir();
  await saveCheckpoint(fifth, freshState(5), positionAt(5));
  cpSync(join(fifth, 'checkpoint'), tmp, { recursive: true });
  rmSync(previous, { recursive: true });
  assert.equal((await loadCheckpoint<RunPosition>(dir, freshState(9))).step, 5);
  await saveCheckpoint(dir, freshState(6), positionAt(6));
  assert.equal((JSON.parse(readFileSync(join(previous, 'position.json'), 'utf8')) as RunPosition).step, 5);
});

test('a checkpoint.tmp/ that fails verification falls back to checkpoint/ and is not swapped in by the next save', async () => {
  const { dir } = await twoGenerations();
  const { previous, tmp } = checkpointDirs(dir);
  const other = tempDir();
  await saveCheckpoint(other, freshState(3), positionAt(3));
  cpSync(join(other, 'checkpoint'), tmp, { recursive: true });
  damageFile(join(tmp, 'generator', 'weights.bin'));
  const lines: string[] = [];
  assert.equal((await loadCheckpoint<RunPosition>(dir, freshState(9), { log: (line) => lines.push(line) })).step, 2);
  assert.match(
    lines.join('\n'),
    /checkpoint\.tmp fails verification: generator\/weights\.bin .*; falling back to checkpoint\//,
  );
  await saveCheckpoint(dir, freshState(4), positionAt(4));
  assert.equal((JSON.parse(readFileSync(join(previous, 'position.json'), 'utf8')) as RunPosition).step, 2);
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
  // unverified, a damaged file is one line, not a parse error's stack
  writeFileSync(join(checkpointDirs(dir).newest, 'position.json'), '{"step": 5');
  await assert.rejects(loadCheckpoint<RunPosition>(dir, freshState(9)), (err: Error) => {
    assert.ok(err instanceof GanportError, String(err));
    assert.match(err.message, /checkpoint cannot be read: .*JSON/);
    return true;
  });
});

test('a newest generation that lost its manifest, where the previous one has its own, is damaged: the previous one is loaded', async () => {
  const { dir, weights } = await twoGenerations();
  rmSync(join(checkpointDirs(dir).newest, MANIFEST));
  damageFile(join(dir, 'checkpoint', 'generator', 'weights.bin'));
  const state = freshState(9);
  const lines: string[] = [];
  assert.equal((await loadCheckpoint<RunPosition>(dir, state, { log: (line) => lines.push(line) })).step, 1);
  assert.deepEqual(firstWeights(state), weights[0]);
  assert.deepEqual(lines, [
    `${checkpointDirs(dir).newest} has lost its manifest (another checkpoint has one); falling back to checkpoint.previous/`,
  ]);
});

/** In place: each [rows, units·pieces] block of `data` (piece-major columns) rewritten unit-major, index by index. */
function toUnitMajor(data: Float32Array, units: number, pieces: number): void {
  const columns = units * pieces;
  for (let row = 0; row < data.length / columns; row++) {
    const pieceMajor = data.slice(row * columns, (row + 1) * columns);
    for (let u = 0; u < units; u++)
      for (let p = 0; p < pieces; p++) data[row * columns + u * pieces + p] = pieceMajor[p * units + u];
  }
}

/** The discriminator's weights and both Adam moments, as arrays. */
const discriminatorState = (state: TrainingState) => ({
  weights: state.discriminator.getWeights().map((w) => Array.from(w.dataSync())),
  moments: [...state.dOptimizer.firstMoments, ...state.dOptimizer.secondMoments].map((m) => Array.from(m.dataSync())),
});

test('a previous generation without its manifest (rotated there after losing it) is not read unverified when the newest fails', async () => {
  const { dir } = await twoGenerations();
  rmSync(join(checkpointDirs(dir).previous, MANIFEST));
  damageFile(join(dir, 'checkpoint', 'generator', 'weights.bin'));
  await assert.rejects(
    loadCheckpoint<RunPosition>(dir, freshState(9)),
    /checkpoint\.previous has lost its manifest \(another checkpoint has one\); there is no earlier checkpoint to fall back to/,
  );
});

test('a PacGAN checkpoint from before piece-major maxouts resumes as the same discriminator, its Adam moments regrouped too', async () => {
  const dir = tempDir();
  const preset = getPreset('pacgan-2d');
  const config = {
    seed: 4,
    emaDecay: 0,
    pack: 4,
    learningRate: 1e-4,
    discriminatorLearningRate: 1e-4,
    beta1: 0.8,
    images: 64,
  };
  const saved = buildTrainingState(preset, config as RunConfig);
  for (const [i, m] of [...saved.dOptimizer.firstMoments, ...saved.dOptimizer.secondMoments].entries())
    m.assign(tf.randomUniform(m.shape, 0, 1, 'float32', i));
  await saveCheckpoint(dir, saved, positionAt(7));

  // The files as an earlier ganport wrote them: no layout (so unit-major), and the values grouped so.
  const generation = checkpointDirs(dir).newest;
  const modelJson = join(generation, 'discriminator', 'model.json');
  const model = JSON.parse(readFileSync(modelJson, 'utf8'));
  const maxouts = new Map<string, { units: number; pieces: number }>();
  for (const layer of model.modelTopology.config.layers)
    if (layer.class_name === 'Maxout') {
      assert.equal(layer.config.layout, 'piece-major');
      delete layer.config.layout;
      maxouts.set(layer.config.name, layer.config);
    }
  assert.equal(maxouts.size, 3);
  writeFileSync(modelJson, JSON.stringify(model));
  const regroup = (file: string, names: string[], shapes: number[][], maxoutOf: (name: string) => string) => {
    const bytes = readFileSync(file);
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    let offset = 0;
    for (const [i, name] of names.entries()) {
      const size = shapes[i].reduce((a, b) => a * b, 1);
      const maxout = maxouts.get(maxoutOf(name));
      if (maxout) toUnitMajor(data.subarray(offset, offset + size), maxout.units, maxout.pieces);
      offset += size;
    }
    writeFileSync(file, new Uint8Array(data.buffer));
  };
  const weights = model.weightsManifest[0].weights as { name: string; shape: number[] }[];
  const layerOf = (name: string) => name.split('/')[0];
  regroup(
    join(generation, 'discriminator', 'weights.bin'),
    weights.map((w) => w.name),
    weights.map((w) => w.shape),
    layerOf,
  );
  const moments = JSON.parse(readFileSync(join(generation, 'd-optimizer.json'), 'utf8')) as {
    name: string;
    shape: number[];
  }[];
  regroup(
    join(generation, 'd-optimizer.bin'),
    moments.map((m) => m.name),
    moments.map((m) => m.shape),
    layerOf,
  );
  await writeManifest(generation);

  const resumed = buildTrainingState(preset, { ...config, seed: 5 } as RunConfig);
  assert.notDeepEqual(discriminatorState(resumed).weights, discriminatorState(saved).weights);
  assert.equal((await loadCheckpoint<RunPosition>(dir, resumed)).step, 7);
  assert.deepEqual(discriminatorState(resumed), discriminatorState(saved));
  const x = tf.randomNormal([5, 8], 0, 1, 'float32', 6);
  assert.deepEqual(
    (resumed.discriminator.predict(x) as tf.Tensor).arraySync(),
    (saved.discriminator.predict(x) as tf.Tensor).arraySync(),
  );
});

test("a checkpoint whose models differ from those this ganport builds is refused with a message, not tfjs's", async () => {
  // a projection discriminator saved before --spectral-norm normalized its class embedding (no u for it)
  const dir = tempDir();
  await saveCheckpoint(dir, freshState(1, 'cdcgan-projection'), positionAt(1));
  await assert.rejects(
    loadCheckpoint(dir, freshState(1, 'cdcgan-projection', true)),
    /checkpoint\/discriminator holds other weights than the discriminator this ganport builds for the run \(.+\); it was saved by a ganport whose discriminator differed: start a new run with --out/,
  );
});
