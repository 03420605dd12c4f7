/** Model directories you can trust: exportRun writes a manifest, ganport verifies it on load, and every shipped directory passes. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import { GanportError, META } from '@ganport/runtime';
import { evaluate } from '../../src/eval/index.js';
import { decodeModel, encodeModel, exportModelFile, exportRun } from '../../src/export/index.js';
import { MANIFEST, verifyManifest } from '../../src/formats/manifest.js';
import { moveModelDir, resolveGeneratorFile, verifyModelDir } from '../../src/formats/model-dir.js';
import { chromiumFailure, formatParity, isSkippable, runParity, withTimeout } from '../../src/parity/parity.js';
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
  const emptied = join(tempDir(), 'emptied');
  cpSync(modelDir, emptied, { recursive: true });
  writeFileSync(join(emptied, MANIFEST), JSON.stringify({ format: 'ganport-manifest/1', files: {} }));
  await assert.rejects(
    resolveGeneratorFile(emptied),
    /emptied fails verification: generator\.onnx is not in its manifest/,
  );
  await assert.rejects(verifyModelDir(emptied), /fails verification: \S+ is not in its manifest/);
  const result = runCli(['generate', damaged, '--out', join(damaged, 'grid.png')]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /^ganport generate: .*damaged fails verification: generator\.onnx has SHA-256 .*\n$/);
  assert.ok(!existsSync(join(damaged, 'grid.png')));
});

test('export replaces an earlier export whole, keeps other files, leaves no staging behind; refuses the run and what it writes as --out or --triton, and a run in training', async () => {
  const out = join(tempDir(), 'again');
  await exportRun(runDir, out);
  writeFileSync(join(out, 'notes.txt'), 'mine');
  mkdirSync(join(out, 'tfjs', 'my-other-model'));
  writeFileSync(join(out, 'tfjs', 'my-other-model', 'model.json'), 'mine too');
  // staging left by an export killed midway goes; one of a process still running (pid 1) stays
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
  mkdirSync(join(dirname(out), `again.${deadPid}.tmp`, 'tfjs'), { recursive: true });
  mkdirSync(join(dirname(out), 'again.1.tmp'));
  await exportRun(runDir, out, { fp16: true });
  await verifyManifest(out);
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
  assert.equal(readFileSync(join(out, 'tfjs', 'my-other-model', 'model.json'), 'utf8'), 'mine too', 'tfjs/ is shared');
  assert.ok(readFileSync(join(out, 'generator.onnx')).length < readFileSync(join(modelDir, 'generator.onnx')).length);
  assert.deepEqual(readdirSync(dirname(out)).sort(), ['again', 'again.1.tmp']);
  await assert.rejects(exportRun(runDir, join(out, 'notes.txt')), /--out .*notes\.txt is a file/);
  const elsewhere = join(tempDir(), 'model');
  for (const inside of [runDir, join(runDir, 'generator'), join(runDir, 'checkpoint', 'x')]) {
    await assert.rejects(exportRun(runDir, inside), /--out .* is the run .* or what it writes/);
    await assert.rejects(
      exportRun(runDir, elsewhere, { triton: inside }),
      /: --triton .* is the run .* or what it writes; export to a directory of its own$/,
    );
  }
  assert.ok(!existsSync(elsewhere));
  assert.deepEqual(readdirSync(join(runDir, 'generator')).sort(), ['model.json', 'weights.bin']);
  const lock = await acquireLock(join(runDir, 'train.lock'), 'the run');
  try {
    await assert.rejects(exportRun(runDir, join(tempDir(), 'x')), /the run in .* is being written by process/);
  } finally {
    await lock.release();
  }
});

test('an export stopped between its moves into an earlier one leaves a directory that fails verification, not a mix that passes', async () => {
  const dir = join(tempDir(), 'model');
  cpSync(modelDir, dir, { recursive: true });
  await verifyModelDir(dir);
  // another export: its generator and training config differ (what it holds need not be valid ONNX here)
  const staging = join(tempDir(), 'staging');
  cpSync(modelDir, staging, { recursive: true });
  rmSync(join(staging, MANIFEST));
  const newGenerator = Buffer.concat([readFileSync(join(dir, 'generator.onnx')), Buffer.of(0)]);
  writeFileSync(join(staging, 'generator.onnx'), newGenerator);
  writeFileSync(join(staging, 'training-config.json'), '{"another":"export"}');
  // killed after the generator moved in, before the discriminator: the next removal never happens
  const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises');
  const { rm } = fsp;
  const killed = Object.assign(new Error('killed'), { code: 'EKILLED' });
  Object.assign(fsp, {
    rm: (path: string, ...rest: Parameters<typeof rm> extends [unknown, ...infer R] ? R : never) =>
      path === join(dir, 'discriminator.onnx') ? Promise.reject(killed) : rm(path, ...rest),
  });
  syncBuiltinESMExports();
  try {
    await assert.rejects(moveModelDir(staging, dir), /^Error: killed$/);
  } finally {
    Object.assign(fsp, { rm });
    syncBuiltinESMExports();
  }
  assert.deepEqual(readFileSync(join(dir, 'generator.onnx')), newGenerator, 'the generator moved in');
  // the new manifest went in first: the old training config beside it fails, rather than passing unverified
  await assert.rejects(
    verifyModelDir(dir),
    /model fails verification: training-config\.json (is \d+ bytes|has SHA-256)/,
  );
});

test("a generator is checked against its own manifest entry: the rest of the directory may go, a web app manifest is not ganport's", async () => {
  const trimmed = join(tempDir(), 'trimmed');
  cpSync(modelDir, trimmed, { recursive: true });
  rmSync(join(trimmed, 'discriminator.onnx'));
  rmSync(join(trimmed, 'tfjs'), { recursive: true });
  assert.equal(await resolveGeneratorFile(join(trimmed, 'generator.onnx')), join(trimmed, 'generator.onnx'));
  damageFile(join(trimmed, 'generator.onnx'));
  await assert.rejects(resolveGeneratorFile(trimmed), /trimmed fails verification: generator\.onnx has SHA-256/);

  const site = join(tempDir(), 'public');
  mkdirSync(site);
  cpSync(join(modelDir, 'generator.onnx'), join(site, 'generator.onnx'));
  writeFileSync(join(site, MANIFEST), JSON.stringify({ name: 'My GAN app', start_url: '/', display: 'standalone' }));
  const result = runCli(['generate', join(site, 'generator.onnx'), '--out', join(site, 'grid.png')]);
  assert.equal(result.status, 0, result.stderr);
  // an export would replace the app's manifest: refused
  await assert.rejects(exportRun(runDir, site), /--out .*public holds a manifest\.json that is not ganport's/);
  assert.match(readFileSync(join(site, MANIFEST), 'utf8'), /My GAN app/);
  // a damaged one of ganport's still stops it: cut short, or without its format
  for (const damaged of ['{"format": "ganport-manif', '{"files": {"generator.onnx": {}}}']) {
    writeFileSync(join(site, MANIFEST), damaged);
    await assert.rejects(resolveGeneratorFile(join(site, 'generator.onnx')), /public fails verification/, damaged);
  }
});

test('a model-file export is refused where --out names one of its weight files or a file a model directory lists', async () => {
  const source = join(runDir, 'generator', 'model.json');
  const shard = join(runDir, 'generator', 'weights.bin');
  const before = readFileSync(shard);
  await assert.rejects(exportModelFile(source, shard), /--out .*weights\.bin is a weight file of .*model\.json/);
  assert.deepEqual(readFileSync(shard), before);
  const listed = join(modelDir, 'generator.onnx');
  await assert.rejects(
    exportModelFile(source, listed, { opset: 13 }),
    /--out .*generator\.onnx belongs to the model directory .*model \(its manifest lists it\)/,
  );
  // listed by a manifest further up
  await assert.rejects(
    exportModelFile(source, join(modelDir, 'tfjs', 'generator', 'model.json')),
    /model\.json belongs to the model directory .*model \(its manifest lists it\)/,
  );
  await verifyManifest(modelDir);
  // a manifest.json that cannot be read lists nothing: the export goes ahead
  const other = join(tempDir(), 'other');
  mkdirSync(other);
  writeFileSync(join(other, MANIFEST), '');
  await exportModelFile(source, join(other, 'g.onnx'));
  assert.ok(existsSync(join(other, 'g.onnx')));
});

test('a model directory whose generator.onnx is a pipe or a link to a device is refused before it is read', {
  skip: process.platform === 'win32' && 'no mkfifo on Windows',
}, async () => {
  const pipe = join(tempDir(), 'pipe');
  mkdirSync(pipe);
  execFileSync('mkfifo', [join(pipe, 'generator.onnx')]);
  const device = join(tempDir(), 'device');
  mkdirSync(device);
  symlinkSync('/dev/zero', join(device, 'generator.onnx'));
  for (const model of [pipe, device])
    await assert.rejects(
      resolveGeneratorFile(model),
      /generator\.onnx cannot be read: it is not a regular file \(a pipe, socket or device\)$/,
    );
});

test('parity refuses a generator that takes labels but records no class count, whose labels it cannot choose', async () => {
  const unlabelled = join(tempDir(), 'unlabelled');
  cpSync(join(SHIPPED_MODELS, 'cdcgan'), unlabelled, { recursive: true });
  rmSync(join(unlabelled, MANIFEST));
  const onnx = decodeModel(readFileSync(join(unlabelled, 'generator.onnx')));
  onnx.metadataProps = onnx.metadataProps.filter((p) => p.key !== META.numClasses);
  writeFileSync(join(unlabelled, 'generator.onnx'), encodeModel(onnx));
  await assert.rejects(
    runParity(unlabelled, { runtimes: ['tfjs', 'ort-node'], count: 2 }),
    /^GanportError: .*generator\.onnx takes labels \(\w+\) but does not record its classes \(ganport\.num_classes\)/,
  );
});

test('parity refuses a count out of range before running anything, and a tfjs reference that does not fit in one line', async () => {
  for (const count of [0, 4097, 1e8, 2.5])
    await assert.rejects(runParity(modelDir, { count }), /^GanportError: count must be an integer from 1 to 4096/);
  // generator.onnx (seed-mlp: latents only) beside a conditional tfjs reference, no manifest to catch it
  const swapped = join(tempDir(), 'swapped');
  cpSync(modelDir, swapped, { recursive: true });
  rmSync(join(swapped, MANIFEST));
  rmSync(join(swapped, 'tfjs', 'generator'), { recursive: true });
  cpSync(join(SHIPPED_MODELS, 'cdcgan', 'tfjs', 'generator'), join(swapped, 'tfjs', 'generator'), { recursive: true });
  await assert.rejects(
    runParity(swapped, { runtimes: ['tfjs', 'ort-node'], count: 2 }),
    /^GanportError: the tfjs reference .*generator\/model\.json does not take the generator's inputs: /,
  );
});

test('parity: a tfjs reference that computes NaN is refused, only an unavailable WebGPU row is skipped, and no Chromium row means no latents compared', async () => {
  const nan = join(tempDir(), 'nan');
  cpSync(modelDir, nan, { recursive: true });
  rmSync(join(nan, MANIFEST)); // read unverified, as directories from before manifests are
  const weightsFile = join(nan, 'tfjs', 'generator', 'weights.bin');
  const weights = readFileSync(weightsFile);
  // pixels/bias[0], after hidden/kernel, hidden/bias and pixels/kernel: pixel 0 of every image is NaN
  // (one in the hidden layer would not do: tfjs's wasm ReLU turns NaN into 0)
  weights.writeFloatLE(Number.NaN, 4 * (64 * 64 + 64 + 64 * 784));
  writeFileSync(weightsFile, weights);
  await assert.rejects(
    runParity(nan, { runtimes: ['tfjs', 'ort-node'], count: 2 }),
    /^GanportError: the tfjs reference .*model\.json computed NaN or infinite values$/,
  );
  const unavailable = new GanportError('no adapter', 'unavailable');
  assert.equal(isSkippable('ort-node-webgpu', unavailable, false), true);
  assert.equal(isSkippable('ort-web-chromium-webgpu', unavailable, false), true);
  assert.equal(isSkippable('ort-node-webgpu', unavailable, true), false, 'asked for by name');
  assert.equal(isSkippable('ort-node', unavailable, false), false, 'not a WebGPU row');
  const computedNaN = new GanportError('the model computed NaN or infinite values', 'invalid-model');
  assert.equal(isSkippable('ort-node-webgpu', computedNaN, false), false, 'it ran, and failed');
  // the browser gone mid-run (a crash), or a run that never ends: a failure, not a missing adapter
  const crash = chromiumFailure(new Error('page.evaluate: Target page, context or browser has been closed'), 'webgpu', [
    'a page error',
  ]);
  assert.match(
    crash.message,
    /^Chromium \(webgpu\) failed: page\.evaluate: Target .* closed; page errors: a page error$/,
  );
  assert.equal(isSkippable('ort-web-chromium-webgpu', crash, false), false);
  const never = withTimeout(new Promise(() => {}), 20, () => new GanportError('too long'));
  await assert.rejects(never, /^GanportError: too long$/);
  assert.equal(await withTimeout(Promise.resolve(7), 1000, () => new Error('unused')), 7);
  const report = await runParity(modelDir, { runtimes: ['tfjs', 'ort-node'], count: 2 });
  assert.equal(report.latentsCompared, 0);
  assert.equal(report.latentsIdentical, undefined, 'nothing compared: neither identical nor not');
  assert.ok(report.ok);
  assert.match(formatParity(report), /^latents bit-identical across runtimes: n\/a/m);
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
  cpSync(runDir, damaged, { recursive: true, force: true });
  writeFileSync(join(damaged, MANIFEST), JSON.stringify({ format: 'ganport-manifest/1', files: {} }));
  await assert.rejects(exportRun(damaged, out), /run fails verification: config\.json is not in its manifest/);
  assert.ok(!existsSync(out));
});
