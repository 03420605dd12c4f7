/** Model directories you can trust: exportRun writes a manifest, ganport verifies it on load, and every shipped directory passes. */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import { evaluate } from '../../src/eval/index.js';
import { exportRun } from '../../src/export/index.js';
import { MANIFEST, verifyManifest } from '../../src/formats/manifest.js';
import { resolveGeneratorFile } from '../../src/formats/model-dir.js';
import { runParity } from '../../src/parity/parity.js';
import { train } from '../../src/train/train.js';
import { acquireLock } from '../../src/util/lock.js';
import { damageFile, runCli, SAMPLE_DATA, SHIPPED_MODELS, tempDir } from '../helpers.js';

let runDir: string;
let modelDir: string;

before(async () => {
  runDir = tempDir();
  modelDir = join(tempDir(), 'model');
  await train({ outDir: runDir, preset: 'seed-mlp', epochs: 1, limit: 128, dataDir: SAMPLE_DATA, quiet: true });
  await exportRun(runDir, modelDir);
});

test('every shipped model directory carries a manifest that verifies', async () => {
  const dirs = readdirSync(SHIPPED_MODELS);
  assert.ok(dirs.includes('seed-mlp') && dirs.includes('classifier'), dirs.join());
  for (const name of dirs) {
    const dir = join(SHIPPED_MODELS, name);
    assert.ok(
      existsSync(join(dir, MANIFEST)),
      `${name}/${MANIFEST} (regenerate with formats/manifest.ts writeManifest)`,
    );
    await verifyManifest(dir);
  }
});

test('exportRun lists exactly what it wrote in the manifest, last', () => {
  const manifest = JSON.parse(readFileSync(join(modelDir, MANIFEST), 'utf8')) as { files: Record<string, unknown> };
  assert.deepEqual(Object.keys(manifest.files), [
    'discriminator.onnx',
    'generator.onnx',
    'tfjs/discriminator/model.json',
    'tfjs/discriminator/weights.bin',
    'tfjs/generator/model.json',
    'tfjs/generator/weights.bin',
    'training-config.json',
  ]);
});

test('a damaged model directory is refused by generate, eval and parity, in one line', async () => {
  const damaged = join(tempDir(), 'damaged');
  cpSync(modelDir, damaged, { recursive: true });
  assert.equal(await resolveGeneratorFile(damaged), join(damaged, 'generator.onnx'));
  damageFile(join(damaged, 'generator.onnx'));
  await assert.rejects(resolveGeneratorFile(damaged), /damaged fails verification: generator\.onnx has SHA-256/);
  await assert.rejects(evaluate(damaged), /fails verification: generator\.onnx/);
  await assert.rejects(runParity(damaged, { runtimes: ['tfjs', 'ort-node'] }), /fails verification: generator\.onnx/);
  await assert.rejects(runParity(modelDir, { runtimes: ['tfjs'] }), /names nothing to compare with tfjs/);
  const result = runCli(['generate', damaged, '--out', join(damaged, 'grid.png')]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /^ganport generate: .*damaged fails verification: generator\.onnx has SHA-256 .*\n$/);
  assert.ok(!existsSync(join(damaged, 'grid.png')));
});

test('export replaces an earlier export whole, keeps other files, leaves no staging behind; refuses the run itself as --out, and a run in training', async () => {
  const out = join(tempDir(), 'again');
  await exportRun(runDir, out);
  writeFileSync(join(out, 'notes.txt'), 'mine');
  mkdirSync(join(out, 'tfjs', 'my-other-model'));
  writeFileSync(join(out, 'tfjs', 'my-other-model', 'model.json'), 'mine too');
  await exportRun(runDir, out, { fp16: true });
  await verifyManifest(out);
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
  assert.equal(readFileSync(join(out, 'tfjs', 'my-other-model', 'model.json'), 'utf8'), 'mine too', 'tfjs/ is shared');
  assert.ok(readFileSync(join(out, 'generator.onnx')).length < readFileSync(join(modelDir, 'generator.onnx')).length);
  assert.deepEqual(readdirSync(dirname(out)), ['again']);
  await assert.rejects(exportRun(runDir, join(out, 'notes.txt')), /--out .*notes\.txt is a file/);
  for (const inside of [runDir, join(runDir, 'generator'), join(runDir, 'checkpoint', 'x')])
    await assert.rejects(exportRun(runDir, inside), /--out .* is the run .* or what it writes/);
  const lock = await acquireLock(join(runDir, 'train.lock'), 'the run');
  try {
    await assert.rejects(exportRun(runDir, join(tempDir(), 'x')), /the run in .* is being written by process/);
  } finally {
    await lock.release();
  }
});

test('export refuses a run whose models no longer match its manifest, and writes nothing', async () => {
  const damaged = join(tempDir(), 'run');
  cpSync(runDir, damaged, { recursive: true });
  damageFile(join(damaged, 'generator', 'weights.bin'));
  const out = join(tempDir(), 'out');
  await assert.rejects(
    exportRun(damaged, out),
    /run fails verification: generator\/weights\.bin has SHA-256 .* \(a run stopped at an epoch's end is repaired by ganport train --resume\)/,
  );
  assert.ok(!existsSync(out));
});
