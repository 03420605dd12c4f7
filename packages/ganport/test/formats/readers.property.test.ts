/**
 * Property tests of the on-disk formats ganport reads back: a run's config.json and metrics.jsonl,
 * checkpoint generations, manifests and model directories. Damage either reads as something valid,
 * falls back as documented, or is refused with a GanportError, never another exception.
 */
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { loadCheckpoint, saveCheckpoint } from '../../src/formats/checkpoint.js';
import { MANIFEST } from '../../src/formats/manifest.js';
import { resolveGeneratorFile, verifyModelDir } from '../../src/formats/model-dir.js';
import { type RunConfig, readRunConfig } from '../../src/formats/run-dir.js';
import { PRESET_NAMES } from '../../src/presets/names.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { readMetrics } from '../../src/train/metrics.js';
import type { RunPosition } from '../../src/train/state.js';
import { assertRefusal, damagedBytes, PROPERTY_RUNS, SHIPPED_MODEL_DIR, tempDir } from '../helpers.js';
import { freshState, positionAt } from './checkpoint-fixtures.js';

/** Async: resolves to what `read` gives, after `check`; a rejection must be a refusal. */
async function readsOrRefuses<T>(read: () => Promise<T>, check: (value: T) => void = () => {}): Promise<void> {
  let value: T;
  try {
    value = await read();
  } catch (err) {
    assertRefusal(err);
    return;
  }
  check(value);
}

/** Every file under `dir`, relative, sorted. */
const filesOf = (dir: string) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();

const validConfig: RunConfig = {
  preset: 'seed-mlp',
  latentSize: 64,
  sampleShape: [28, 28, 1],
  valueRange: [-1, 1],
  seed: 0,
  batchSize: 64,
  epochs: 1,
  learningRate: 2e-4,
  discriminatorLearningRate: 2e-4,
  beta1: 0.5,
  backend: 'cpu',
  data: '/data',
  images: 128,
  pack: 1,
  loss: 'bce',
  labelSmoothing: 0,
  emaDecay: 0.999,
  spectralNorm: false,
  r1Gamma: 0,
  lrDecay: false,
  checkpointEvery: 500,
  logEvery: 50,
  evalEvery: 0,
  evalSamples: 2000,
  ganportVersion: '0.2.0',
};

before(async () => {
  await selectBackend('cpu');
});

test('config.json: fields replaced by any JSON, removed, or the text damaged, read back valid or are refused', async () => {
  const runDir = tempDir();
  const text = JSON.stringify(validConfig);
  const mutated = fc.oneof(
    fc
      .tuple(fc.constantFrom(...Object.keys(validConfig)), fc.jsonValue())
      .map(([key, value]) => JSON.stringify({ ...validConfig, [key]: value })),
    fc.constantFrom(...Object.keys(validConfig)).map((key) => JSON.stringify({ ...validConfig, [key]: undefined })),
    damagedBytes(new TextEncoder().encode(text)).map((bytes) => Buffer.from(bytes).toString('latin1')),
    fc.jsonValue().map((value) => JSON.stringify(value) ?? ''),
  );
  await fc.assert(
    fc.asyncProperty(mutated, async (content) => {
      writeFileSync(join(runDir, 'config.json'), content);
      await readsOrRefuses(
        () => readRunConfig(runDir),
        (config) => {
          assert.ok((PRESET_NAMES as readonly string[]).includes(config.preset));
          assert.ok(Number.isSafeInteger(config.batchSize) && config.batchSize > 0);
          assert.ok(config.sampleShape.every((d) => Number.isSafeInteger(d) && d > 0));
        },
      );
    }),
    PROPERTY_RUNS,
  );
});

test("config.json: a preset that is not one of ganport's is refused (export names files after it)", async () => {
  const runDir = tempDir();
  writeFileSync(join(runDir, 'config.json'), JSON.stringify({ ...validConfig, preset: '../../x "q"' }));
  await assert.rejects(
    readRunConfig(runDir),
    /: preset must be one of seed-mlp, mlp, .*, got "\.\.\/\.\.\/x \\"q\\""$/,
  );
});

test('metrics.jsonl: damaged lines are skipped, whole records kept, nothing throws', async () => {
  const path = join(tempDir(), 'metrics.jsonl');
  const line = (step: number) =>
    JSON.stringify({ step, epoch: 1, d_loss: 1, g_loss: 2, d_real: 0.5, d_fake: 0.5, images_per_sec: 1, elapsed_s: 1 });
  const text = new TextEncoder().encode(`${[1, 2, 3].map(line).join('\n')}\n`);
  await fc.assert(
    fc.asyncProperty(fc.oneof(damagedBytes(text), fc.uint8Array({ maxLength: 200 })), async (bytes) => {
      writeFileSync(path, bytes);
      const records = await readMetrics(path);
      assert.ok(records.length <= 3);
      for (const record of records) assert.ok(Number.isSafeInteger(record.step) && typeof record.dLoss === 'number');
    }),
    PROPERTY_RUNS,
  );
});

test('checkpoints: any damage to any file of the newest generation falls back to the previous one, never a refusal', async () => {
  const runDir = tempDir();
  await saveCheckpoint(runDir, freshState(), positionAt(1));
  await saveCheckpoint(runDir, freshState(), positionAt(2));
  const newest = join(runDir, 'checkpoint');
  const pristine = join(tempDir(), 'pristine');
  cpSync(newest, pristine, { recursive: true });
  const damage = fc
    .constantFrom(...filesOf(pristine))
    .chain((file) => damagedBytes(readFileSync(join(pristine, file))).map((bytes) => ({ file, bytes })));
  await fc.assert(
    fc.asyncProperty(damage, async ({ file, bytes }) => {
      cpSync(pristine, newest, { recursive: true });
      writeFileSync(join(newest, file), bytes);
      const lines: string[] = [];
      // the previous generation is intact, so a refusal would be a bug: the read must succeed
      const { step } = await loadCheckpoint<RunPosition>(runDir, freshState(), { log: (l) => lines.push(l) });
      const unchanged = Buffer.compare(bytes, readFileSync(join(pristine, file))) === 0;
      assert.equal(step, unchanged ? 2 : 1, `${file} damaged: ${lines.join()}`);
      assert.equal(lines.length, unchanged ? 0 : 1);
    }),
    { ...PROPERTY_RUNS, numRuns: 60 },
  );
});

/** Whether two manifests hold the same format and generator.onnx entry (false where either is not JSON). */
function sameGeneratorEntry(a: Uint8Array, b: Uint8Array): boolean {
  const said = (bytes: Uint8Array) => {
    const { format, files } = JSON.parse(Buffer.from(bytes).toString());
    return [format, files?.['generator.onnx']];
  };
  try {
    return isDeepStrictEqual(said(a), said(b));
  } catch {
    return false;
  }
}

test('model directories: damage to any listed file, or to the manifest, is refused before loading (generate: to what it reads)', async () => {
  const pristine = SHIPPED_MODEL_DIR;
  const dir = join(tempDir(), 'model');
  cpSync(pristine, dir, { recursive: true });
  const damage = fc
    .constantFrom(...filesOf(pristine))
    .chain((file) => damagedBytes(readFileSync(join(pristine, file))).map((bytes) => ({ file, bytes })));
  await fc.assert(
    fc.asyncProperty(damage, async ({ file, bytes }) => {
      const original = readFileSync(join(pristine, file));
      writeFileSync(join(dir, file), bytes);
      try {
        const unchanged = Buffer.compare(bytes, original) === 0;
        // generate checks the generator's entry only; parity and the demo, the whole directory
        const read = file === 'generator.onnx' || file === MANIFEST;
        if (!read) await resolveGeneratorFile(dir);
        await readsOrRefuses<unknown>(
          () => (read ? resolveGeneratorFile(dir) : verifyModelDir(dir)),
          // a manifest may only pass where its damage kept what generate reads of it: the generator's entry
          () =>
            assert.ok(
              unchanged || (file === MANIFEST && sameGeneratorEntry(bytes, original)),
              `${file} damaged, yet the directory verified`,
            ),
        );
      } finally {
        writeFileSync(join(dir, file), original);
      }
    }),
    { ...PROPERTY_RUNS, numRuns: 100 },
  );
});
