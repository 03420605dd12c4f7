/** The CLI as a user meets it: the main commands, and one clear line for every kind of bad input. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadGenerator, toPNG } from '@ganport/runtime';
import { PNG } from 'pngjs';
import { shippedModelsDir } from '../../src/assets.js';
import { defineCommand, UsageError } from '../../src/cli/flags.js';
import { COMMANDS } from '../../src/cli/main.js';
import { Classifier, predictedClasses } from '../../src/eval/classifier.js';
import { decodeModel } from '../../src/export/index.js';
import { verifyModelDir } from '../../src/formats/model-dir.js';
import { DataType, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/builder.js';
import { encodeModel } from '../../src/onnx/proto.js';
import { chromiumPath } from '../../src/parity/browser.js';
import type { ParityReport } from '../../src/parity/parity.js';
import { DEFAULT_CHROMIUM } from '../../src/parity/runtimes.js';
import {
  assertCleanFailure,
  runCli,
  runCliHere,
  SAMPLE_DATA,
  SHIPPED_MODELS,
  seedMlpGeneratorBytes,
  tempDir,
} from '../helpers.js';

/** One quiet epoch on 128 sample images. */
const trainBriefly = (runDir: string) =>
  runCli(['train', '--epochs', '1', '--limit', '128', '--data', SAMPLE_DATA, '--out', runDir, '--quiet']);

let validModel: string;
before(async () => {
  validModel = join(tempDir(), 'generator.onnx');
  writeFileSync(validModel, await seedMlpGeneratorBytes());
});

test('generate with no model uses the default shipped generator, cdcgan: a whole row per class', () => {
  const out = join(tempDir(), 'grid.png');
  const result = runCli(['generate', '--seed', '1', '--count', '16', '--out', out]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /wrote .*grid\.png: 20 images \(2 per class\) from seed 1 \(.*cdcgan/);
  const png = PNG.sync.read(readFileSync(out));
  assert.deepEqual([png.width, png.height], [2 * 28 + 3 * 2, 10 * 28 + 11 * 2]);
  const seedMlp = runCli(['generate', 'seed-mlp', '--seed', '1', '--count', '16', '--out', out]);
  assert.match(seedMlp.stdout, /wrote .*grid\.png: 16 images from seed 1 \(.*seed-mlp/, 'seed-mlp by name');
  assert.equal(PNG.sync.read(readFileSync(out)).width, 4 * 28 + 5 * 2);
});

test('generate is reproducible: the same seed writes the same file', () => {
  const dir = tempDir();
  for (const name of ['a.png', 'b.png']) {
    assert.equal(runCli(['generate', validModel, '--seed', '7', '--count', '9', '--out', join(dir, name)]).status, 0);
  }
  assert.deepEqual(readFileSync(join(dir, 'a.png')), readFileSync(join(dir, 'b.png')));
});

/**
 * The tiles of a grid PNG that generate wrote (padding 2): one gray level per source pixel, in
 * tile order; the grid's size and every scale×scale block's uniformity are checked on the way.
 */
function gridTiles(file: string, { count, columns, scale = 1 }: { count: number; columns: number; scale?: number }) {
  const png = PNG.sync.read(readFileSync(file));
  const [size, cell, rows] = [28, 28 * scale, Math.ceil(count / columns)];
  assert.deepEqual([png.width, png.height], [columns * cell + (columns + 1) * 2, rows * cell + (rows + 1) * 2]);
  return Array.from({ length: count }, (_, i) => {
    const [x0, y0] = [2 + (i % columns) * (cell + 2), 2 + Math.floor(i / columns) * (cell + 2)];
    const tile = new Uint8Array(size * size);
    for (let y = 0; y < cell; y++)
      for (let x = 0; x < cell; x++) {
        const value = png.data[4 * ((y0 + y) * png.width + x0 + x)];
        const at = Math.floor(y / scale) * size + Math.floor(x / scale);
        if (x % scale === 0 && y % scale === 0) tile[at] = value;
        else assert.equal(value, tile[at], `tile ${i}: pixel (${x}, ${y}) differs from its block's first`);
      }
    return tile;
  });
}

/** Runs generate on MODEL with `flags` into dir/NAME and returns that path. */
function generateInto(dir: string, name: string, model: string, flags: string[]): string {
  const out = join(dir, name);
  const result = runCli(['generate', model, '--out', out, ...flags]);
  assert.equal(result.status, 0, result.stderr);
  return out;
}

test('generate --columns C --scale K: the same images, C to a row, each pixel drawn K×K', () => {
  const dir = tempDir();
  const flags = ['--seed', '3', '--count', '6'];
  const square = gridTiles(generateInto(dir, 'square.png', validModel, flags), { count: 6, columns: 3 });
  assert.notDeepEqual(square[0], square[1]);
  const laidOut = generateInto(dir, 'laid-out.png', validModel, [...flags, '--columns', '2', '--scale', '3']);
  assert.deepEqual(gridTiles(laidOut, { count: 6, columns: 2, scale: 3 }), square);
});

test('generate --truncation T draws from truncated latents, as the runtime does with truncation T', async () => {
  const dir = tempDir();
  const flags = ['--seed', '3', '--count', '6'];
  const plain = readFileSync(generateInto(dir, 'plain.png', validModel, flags));
  const truncated = readFileSync(generateInto(dir, 'truncated.png', validModel, [...flags, '--truncation', '0.5']));
  const generator = await loadGenerator(validModel);
  const expected = toPNG(await generator.generateGrid({ seed: 3, count: 6, truncation: 0.5 }));
  await generator.dispose();
  assert.deepEqual(truncated, Buffer.from(expected));
  assert.notDeepEqual(truncated, plain);
});

test('generate --class K: the shipped classifier sees class K in what cdcgan draws; a class out of range is refused', async () => {
  const dir = tempDir();
  const classifier = await Classifier.load();
  try {
    for (const label of [1, 3]) {
      const file = generateInto(dir, `class-${label}.png`, 'cdcgan', ['--class', String(label), '--count', '16']);
      const tiles = gridTiles(file, { count: 16, columns: 4 });
      const images = Float32Array.from(tiles.flatMap((t) => Array.from(t, (v) => v / 127.5 - 1)));
      const classes = predictedClasses(await classifier.embed(images, 16), 10);
      const hits = classes.filter((c) => c === label).length;
      assert.ok(hits >= 12, `class ${label}: the classifier sees ${Array.from(classes)}`); // cdcgan: 89.8 % of requests
    }
  } finally {
    await classifier.dispose();
  }
  assertCleanFailure(
    runCli(['generate', 'cdcgan', '--class', '10', '--out', join(dir, 'x.png')]),
    /^ganport generate: --class 10: the model has 10 classes, 0 to 9$/,
  );
  assertCleanFailure(
    runCli(['generate', 'dcgan', '--class=-1', '--out', join(dir, 'x.png')]),
    /^ganport generate: --class -1: the model has 100 clusters, 0 to 99$/,
  );
  // a conditional .onnx without ganport's metadata (exported from its model file) does not know its classes
  const bare = join(dir, 'bare.onnx');
  const cdcgan = join(SHIPPED_MODELS, 'cdcgan', 'tfjs', 'generator', 'model.json');
  assert.equal(runCli(['export', cdcgan, '--out', bare]).status, 0);
  assertCleanFailure(
    runCli(['generate', bare, '--out', join(dir, 'x.png')]),
    /bare\.onnx is conditional but does not record its classes \(ganport\.num_classes\); choose one with --class K$/,
  );
  assert.equal(runCli(['generate', bare, '--class', '3', '--count', '4', '--out', join(dir, 'x.png')]).status, 0);
});

test('train --overwrite replaces a run: what the old run wrote goes, other files in the directory stay', () => {
  const dir = tempDir();
  const settings = ['--preset', 'mlp-2d', '--limit', '256', '--backend', 'wasm', '--quiet', '--out', dir];
  const run = (data: string, ...flags: string[]) => runCli(['train', ...settings, '--data', data, ...flags]);
  assert.equal(run('ring', '--eval-every', '1', '--eval-samples', '100').status, 0);
  assert.ok(existsSync(join(dir, 'eval.svg')) && existsSync(join(dir, 'best')));
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  assertCleanFailure(run('grid'), /already holds a training run; choose another --out, pass --overwrite/);
  const replaced = run('grid', '--overwrite');
  assert.equal(replaced.status, 0, replaced.stderr);
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).data, 'grid');
  assert.ok(
    !existsSync(join(dir, 'eval.svg')) && !existsSync(join(dir, 'best')),
    "the old run's measurements are gone",
  );
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
  const steps = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(
    steps.map((l) => JSON.parse(l).step),
    [1],
    'metrics of the new run only',
  );
  assert.equal(runCli(['export', dir, '--out', join(dir, 'model')]).status, 0, 'its manifest verifies');
});

test('train → export → generate → parity through the CLI', () => {
  const dir = tempDir();
  const settings = ['--preset', 'seed-mlp', '--epochs', '1', '--limit', '256', '--data', SAMPLE_DATA, '--seed', '2'];
  const train = runCli(['train', ...settings, '--out', join(dir, 'run')]);
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stdout, /backend: (onnx|ort|wasm|cpu|tensorflow)/);
  assert.match(train.stderr, /epoch 1\/1 .* 4\/4 \| \d+ img\/s \| D \d\.\d{3} G \d\.\d{3}/, 'progress bar');
  const exported = runCli(['export', join(dir, 'run'), '--out', join(dir, 'model')]);
  assert.equal(exported.status, 0, exported.stderr);
  assert.match(exported.stdout, /generator\.onnx .*opset 17/);
  assert.equal(runCli(['generate', join(dir, 'model'), '--out', join(dir, 'g.png'), '--count', '4']).status, 0);
  const parity = runCli(['parity', join(dir, 'model'), '--runtimes', 'ort-node,ort-web', '--count', '8']);
  assert.equal(parity.status, 0, parity.stdout + parity.stderr);
  assert.match(parity.stdout, /ort-node\s+cpu\s+\d\.\d\de[-+]\d+/);
  assert.match(parity.stdout, /PASS$/m);
  const strict = runCli(['parity', join(dir, 'model'), '--runtimes', 'ort-node', '--tolerance', '1e-30']);
  assert.equal(strict.status, 1, 'an impossible tolerance must fail');
  assert.match(strict.stdout, /FAIL/);
});

test('export options: --fp16 halves the file, passes parity at 1e-2; --layout nchw at 1e-5', async () => {
  const dir = tempDir();
  assert.equal(trainBriefly(join(dir, 'run')).status, 0);
  assert.equal((await runCliHere(['export', join(dir, 'run'), '--out', join(dir, 'fp32')])).status, 0);
  const fp16 = await runCliHere(['export', join(dir, 'run'), '--out', join(dir, 'fp16'), '--fp16']);
  assert.match(fp16.stdout, /fp16/);
  assert.ok(
    readFileSync(join(dir, 'fp16', 'generator.onnx')).length <
      0.55 * readFileSync(join(dir, 'fp32', 'generator.onnx')).length,
  );
  // in process: the exports and parity as the CLI runs them, without a node start each
  assert.equal(
    (await runCliHere(['parity', join(dir, 'fp16'), '--runtimes', 'ort-node,ort-web', '--tolerance', '1e-2'])).status,
    0,
  );
  assert.equal(
    (await runCliHere(['export', join(dir, 'run'), '--out', join(dir, 'nchw'), '--layout', 'nchw'])).status,
    0,
  );
  const parity = await runCliHere(['parity', join(dir, 'nchw'), '--runtimes', 'ort-node', '--tolerance', '1e-5']);
  assert.equal(parity.status, 0, parity.stdout);
  assertCleanFailure(
    await runCliHere(['export', join(dir, 'run'), '--out', join(dir, 'x'), '--layout', 'hwcn']),
    /layout must be NHWC or NCHW, got "hwcn"/,
  );
  assertCleanFailure(
    await runCliHere(['export', join(dir, 'run'), '--out', join(dir, 'x'), '--opset', '9']),
    /opset must be an integer from 13 to 21, got 9/,
  );
});

test('export --fold-batchnorm: an mlp-2d generator (batch norm after each hidden layer) exports with none, at 1e-5', () => {
  const dir = tempDir();
  const settings = ['--preset', 'mlp-2d', '--data', 'grid', '--limit', '256', '--backend', 'wasm'];
  const train = runCli(['train', ...settings, '--out', join(dir, 'run')]);
  assert.equal(train.status, 0, train.stderr);
  const batchNorms = (model: string) => {
    const onnx = decodeModel(readFileSync(join(dir, model, 'generator.onnx')));
    return onnx.graph.node.filter((n) => n.opType === 'BatchNormalization').length;
  };
  assert.equal(runCli(['export', join(dir, 'run'), '--out', join(dir, 'plain')]).status, 0);
  assert.equal(batchNorms('plain'), 3, 'the unfolded export has one per hidden layer');
  const folded = runCli(['export', join(dir, 'run'), '--out', join(dir, 'folded'), '--fold-batchnorm']);
  assert.equal(folded.status, 0, folded.stderr);
  assert.equal(batchNorms('folded'), 0);
  const parity = runCli(['parity', join(dir, 'folded'), '--runtimes', 'ort-node', '--tolerance', '1e-5']);
  assert.equal(parity.status, 0, parity.stdout);
});

test('export of a single model.json writes one .onnx file', () => {
  const dir = tempDir();
  assert.equal(trainBriefly(join(dir, 'run')).status, 0);
  const json = join(dir, 'run', 'discriminator', 'model.json');
  const result = runCli(['export', json, '--out', join(dir, 'd.onnx'), '--opset', '13']);
  assert.equal(result.status, 0, result.stderr);
  assert.ok(existsSync(join(dir, 'd.onnx')));
});

test('bad training input: missing data, corrupt data, unknown preset, bad numbers', async () => {
  const dir = tempDir();
  assertCleanFailure(
    await runCliHere(['train', '--data', join(dir, 'nope'), '--out', join(dir, 'r1')]),
    /data directory .*nope does not exist/,
  );
  assert.ok(!existsSync(join(dir, 'r1')), 'no run directory left behind');
  const corrupt = join(dir, 'corrupt');
  mkdirSync(corrupt);
  writeFileSync(join(corrupt, 'train-images-idx3-ubyte.gz'), Uint8Array.of(0x1f, 0x8b, 8, 0, 1, 2, 3));
  writeFileSync(join(corrupt, 'train-labels-idx1-ubyte.gz'), Uint8Array.of(0x1f, 0x8b, 8, 0, 1, 2, 3));
  assertCleanFailure(await runCliHere(['train', '--data', corrupt, '--out', join(dir, 'r2')]), /corrupt gzip file/);
  assert.ok(!existsSync(join(dir, 'r2')));
  // the refusals that need no data are checkRun's, tested in process for each (run-setup.test.ts); a dry run makes them too
  assertCleanFailure(
    await runCliHere(['train', '--preset', 'nope', '--out', join(dir, 'r3'), '--dry-run']),
    /unknown preset "nope"; available: seed-mlp/,
  );
  assertCleanFailure(
    await runCliHere(['train', '--epochs', 'x', '--out', join(dir, 'r5')]),
    /--epochs must be an integer/,
    2,
  );
  assertCleanFailure(
    await runCliHere(['train', '--backend', 'tpu', '--data', SAMPLE_DATA, '--out', join(dir, 'r6')]),
    /unknown backend "tpu"/,
  );
  // the options and the backend are checked before the data loads: no clustering line before the error
  for (const [flag, value, message] of [
    ['--backend', 'tpu', /^ganport train: unknown backend "tpu"/],
    ['--loss', 'hinj', /^ganport train: unknown loss "hinj"/],
  ] as const) {
    const clustered = ['--preset', 'dcgan', '--clusters', '10', flag, value];
    const early = await runCliHere(['train', ...clustered, '--data', SAMPLE_DATA, '--out', join(dir, 'r6')]);
    assertCleanFailure(early, message);
    assert.doesNotMatch(early.stdout, /self-conditioning/);
  }
  for (const dryRun of [[], ['--dry-run']])
    assertCleanFailure(
      await runCliHere([
        'train',
        '--backend',
        'cpu',
        '--provider',
        'cpu',
        '--data',
        SAMPLE_DATA,
        '--out',
        join(dir, 'r6'),
        ...dryRun,
      ]),
      /^ganport train: --provider goes with the onnx backend/,
    );
  assertCleanFailure(
    await runCliHere(['train', '--dry-run', '--out', join(dir, 'r6'), '--resume', join(dir, 'r6')]),
    /give either --out RUN_DIR \(a new run\) or --resume RUN_DIR/,
    2,
  );
  assertCleanFailure(
    await runCliHere(['train', '--data', join(SAMPLE_DATA, 'train-images-idx3-ubyte.gz'), '--out', join(dir, 'r6')]),
    /^ganport train: data directory .*train-images-idx3-ubyte\.gz is a file, not a directory$/,
  );
  assert.ok(!existsSync(join(dir, 'r6')));
  // and one through the bin script
  assertCleanFailure(runCli(['train', '--out', join(dir, 'r7'), '--bogus']), /Unknown option '--bogus'/, 2);
});

test('a diverging run stops with a clear message and keeps its last good checkpoint', async () => {
  const dir = tempDir();
  const settings = ['--epochs', '3', '--limit', '640', '--data', SAMPLE_DATA, '--lr', '3', '--quiet'];
  const result = await runCliHere(['train', ...settings, '--log-every', '1', '--checkpoint-every', '1', '--out', dir]);
  assertCleanFailure(result, /ganport train: training diverged at step \d+ \(D loss .*\); the checkpoint of step \d+/);
  assert.match(result.stderr, /; try a lower --lr$/m);
  const [, divergedAt] = /diverged at step (\d+)/.exec(result.stderr)!;
  const checkpoint = JSON.parse(readFileSync(join(dir, 'checkpoint', 'position.json'), 'utf8')) as { step: number };
  assert.equal(checkpoint.step, Number(divergedAt) - 1);
  // every step's losses are checked, not only those a metrics line is written for: the same step stops
  const quiet = tempDir();
  const unlogged = await runCliHere(['train', ...settings, '--checkpoint-every', '1', '--out', quiet]);
  assert.match(unlogged.stderr, new RegExp(`diverged at step ${divergedAt} `));
  // a run that diverged before its first checkpoint has nothing to resume: the refusal says --overwrite
  const early = tempDir();
  const first = await runCliHere(['train', ...settings, '--lr', '1e9', '--out', early]);
  assert.match(first.stderr, /no checkpoint had been written yet/);
  assertCleanFailure(
    await runCliHere(['train', ...settings, '--out', early]),
    /holds a training run that stopped before its first checkpoint; pass --overwrite to start it again/,
  );
});

test('train --resume names the flags it cannot change, and refuses a smaller --limit before the data loads', () => {
  const dir = tempDir();
  const run = ['--limit', '128', '--data', SAMPLE_DATA, '--quiet'];
  assert.equal(runCli(['train', ...run, '--epochs', '1', '--out', dir]).status, 0);
  assertCleanFailure(
    runCli(['train', '--resume', dir, '--epochs', '2', '--batch', '32', '--lr', '0.01']),
    /config\.json fixes --batch, --lr for the whole run; a resume cannot change them/,
  );
  assertCleanFailure(
    runCli(['train', '--resume', dir, '--epochs', '2', '--limit', '64']),
    /config\.json fixes --limit /,
  );
  // a dry run makes the same checks, before any data would load
  assertCleanFailure(
    runCli(['train', '--resume', dir, '--batch', '32', '--dry-run']),
    /config\.json fixes --batch for the whole run/,
  );
  assertCleanFailure(runCli(['train', '--dry-run', '--out', dir]), /already holds a training run/);
  // the run measures nothing: --eval-samples would be recorded and never used
  assertCleanFailure(
    runCli(['train', '--resume', dir, '--eval-samples', '500', '--dry-run']),
    /--eval-samples goes with --eval-every: the run in .* measures nothing/,
  );
  const resumable = runCli(['train', '--resume', dir, '--epochs', '2', '--dry-run']);
  assert.equal(resumable.status, 0, resumable.stderr);
  assert.match(resumable.stdout, /^dry run: nothing trained$/m);
});

test('train --provider: an unknown name is refused, one that cannot open a session is passed over for the next', () => {
  const dir = tempDir();
  assertCleanFailure(
    runCli(['train', '--provider', 'bogus', '--dry-run']),
    /^ganport train: --provider bogus: onnxruntime-node here has cpu, /,
  );
  // cuda's libraries are installed apart (not here): passed over for cpu, or taken where they are
  const fallback = runCli(['train', '--provider', 'cuda,cpu', '--dry-run']);
  assert.equal(fallback.status, 0, fallback.stderr);
  assert.equal(fallback.stderr, '', "no block of onnxruntime's own log where cuda's libraries are missing");
  const generated = runCli([
    'generate',
    'seed-mlp',
    '--count',
    '4',
    '--provider',
    'cuda,cpu',
    '--out',
    join(dir, 'g.png'),
  ]);
  assert.equal(generated.status, 0, generated.stderr);
  assert.equal(generated.stderr, '', 'nor from generate');
  assert.match(fallback.stdout, /onnxruntime providers (cuda, cpu|cpu \(passed over: cuda: .+\))\)$/m);
  const only = runCli([
    'train',
    '--provider',
    'cuda',
    '--limit',
    '128',
    '--data',
    SAMPLE_DATA,
    '--out',
    join(dir, 'r'),
  ]);
  if (only.status !== 0) assert.match(only.stderr, /no --provider opens an onnxruntime session here \(cuda: /);
});

test('train-classifier: a diverging run exports nothing and, with --overwrite, leaves the old classifier whole; a new one replaces it with its manifest', async () => {
  const dir = tempDir();
  const args = ['train-classifier', '--limit', '128', '--epochs', '1', '--data', SAMPLE_DATA, '--quiet'];
  const diverged = await runCliHere([...args, '--lr', '1e9', '--out', join(dir, 'c')]);
  assertCleanFailure(diverged, /training diverged at epoch 1, step \d+ \(loss NaN\); nothing was exported/);
  assert.ok(!existsSync(join(dir, 'c')));
  const kept = join(dir, 'kept');
  assert.equal((await runCliHere([...args, '--out', kept])).status, 0);
  const files = () =>
    readdirSync(kept, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => [join(entry.path, entry.name), readFileSync(join(entry.path, entry.name), 'utf8')]);
  const before = files();
  assertCleanFailure(await runCliHere([...args, '--overwrite', '--seed=-1', '--out', kept]), /seed must be an integer/);
  assertCleanFailure(await runCliHere([...args, '--overwrite', '--lr', '1e9', '--out', kept]), /training diverged/);
  assert.deepEqual(files(), before, 'a failed run leaves the old classifier as it was');
  assert.equal((await runCliHere([...args, '--overwrite', '--seed', '5', '--out', kept])).status, 0);
  assert.notDeepEqual(files(), before);
  await verifyModelDir(kept, ['classifier.onnx']); // the manifest is the new classifier's, which eval checks
  assert.deepEqual(readdirSync(dir).sort(), ['kept'], 'no staging left');
  // a training run, or a model directory, is not a classifier's to replace
  const run = join(dir, 'run');
  mkdirSync(run);
  writeFileSync(join(run, 'config.json'), '{}');
  writeFileSync(join(run, 'metrics.jsonl'), '{"step":1}\n');
  assertCleanFailure(
    await runCliHere([...args, '--overwrite', '--out', run]),
    /--out .*run holds config\.json \(a training run or a model directory\), whose files a classifier's would replace/,
  );
  assert.equal(readFileSync(join(run, 'metrics.jsonl'), 'utf8'), '{"step":1}\n');
});

/**
 * Native libraries print to the process's stderr (the Vulkan loader with VK_LOADER_DEBUG set, libwayland
 * without XDG_RUNTIME_DIR): with both, and no HOME either, ganport's stderr still holds only its own line.
 */
test('ganport owns its stderr: a bare environment and chatty native libraries add no line to a failure', (t) => {
  const swiftShader = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!existsSync(swiftShader) && !process.env.CI) return t.skip('no Vulkan driver (Debian chromium) to probe');
  const noisy = { env: { VK_LOADER_DEBUG: 'all', VK_ICD_FILENAMES: swiftShader }, unset: ['XDG_RUNTIME_DIR', 'HOME'] };
  const dir = tempDir();
  const settings = [
    '--epochs',
    '2',
    '--limit',
    '640',
    '--data',
    SAMPLE_DATA,
    '--lr',
    '3',
    '--quiet',
    '--log-every',
    '1',
  ];
  const diverged = runCli(['train', ...settings, '--out', dir], noisy);
  assertCleanFailure(diverged, /ganport train: training diverged at step \d+/);
  const doctor = runCli(['doctor', '--json'], noisy);
  assert.equal(doctor.status, 0, doctor.stderr);
  assert.equal(doctor.stderr, '', 'doctor prints nothing foreign either');
  const diagnosis = JSON.parse(doctor.stdout) as { native: { probe: string; lines: string[] }[] };
  const dawn = diagnosis.native.find((n) => n.probe === 'WebGPU (Dawn)');
  assert.ok(
    dawn?.lines.some((line) => line.includes('Vulkan Loader')),
    'doctor reports what the probe printed',
  );
});

test('bad export input: no models in RUN_DIR, corrupt model.json, wrong weight size, unwritable output', async () => {
  const dir = tempDir();
  assertCleanFailure(runCli(['export', dir, '--out', join(dir, 'm')]), /has no trained models/); // through the bin script
  assertCleanFailure(
    await runCliHere(['export', join(dir, 'absent'), '--out', join(dir, 'm')]),
    /absent does not exist$/,
  );
  assertCleanFailure(
    await runCliHere(['export', join(dir, 'absent'), '--best', '--out', join(dir, 'm')]),
    /absent does not exist$/,
  );
  assertCleanFailure(
    await runCliHere(['export', validModel, '--out', join(dir, 'again.onnx')]),
    /generator\.onnx is already ONNX; ganport reads tfjs model\.json and Keras \.h5\/\.keras files/,
  );
  assertCleanFailure(await runCliHere(['inspect', join(dir, 'missing.h5')]), /missing\.h5 does not exist/);
  assertCleanFailure(
    await runCliHere(['inspect', dir]),
    /is a directory; name the model\.json in it, or a Keras \.h5\/\.keras file/,
  );
  assert.equal(trainBriefly(join(dir, 'run')).status, 0);
  const json = join(dir, 'run', 'generator', 'model.json');
  assertCleanFailure(await runCliHere(['export', json, '--out', json]), /--out .*model\.json is the model file itself/);
  const weights = join(dir, 'run', 'generator', 'weights.bin');
  const goodWeights = readFileSync(weights);
  writeFileSync(weights, goodWeights.subarray(0, 1000));
  assertCleanFailure(
    await runCliHere(['export', json, '--out', join(dir, 'g.onnx')]),
    /weights of .* do not match its topology: weights\.bin hold 1000 bytes/,
  );
  writeFileSync(weights, goodWeights);
  const goodJson = readFileSync(json, 'utf8');
  writeFileSync(json, goodJson.slice(0, goodJson.length / 2));
  assertCleanFailure(await runCliHere(['export', json, '--out', join(dir, 'g.onnx')]), /is not valid JSON/);
  assertCleanFailure(
    await runCliHere(['export', join(dir, 'run'), '--out', join(dir, 'm2')]),
    /run fails verification: generator\/model\.json is \d+ bytes, its manifest says \d+/,
  );
  assert.ok(
    !existsSync(join(dir, 'm2', 'generator.onnx')) && !existsSync(join(dir, 'm2', 'discriminator.onnx')),
    'nothing partial written',
  );
  writeFileSync(json, goodJson);
  // tests run as root, so permissions cannot make a path unwritable; a file in the way can
  writeFileSync(join(dir, 'a-file'), 'x');
  assertCleanFailure(
    await runCliHere(['export', json, '--out', join(dir, 'a-file', 'g.onnx')]),
    /cannot write .*a-file\/g\.onnx: cannot create directory .*a-file: a file stands in its path$/,
  );
  assert.ok(!existsSync(join(dir, 'g.onnx')));
});

test('bad generate input: truncated or non-ONNX model, bad counts; no output file is left', async () => {
  const dir = tempDir();
  const out = join(dir, 'out.png');
  const truncated = join(dir, 'truncated.onnx');
  writeFileSync(truncated, readFileSync(validModel).subarray(0, 5000));
  // named: a local file can hide a shipped model of the same name
  assertCleanFailure(
    await runCliHere(['generate', truncated, '--out', out]),
    /truncated\.onnx: not a valid ONNX model: the file is truncated/,
  );
  const text = join(dir, 'notes.onnx');
  writeFileSync(text, 'this is not a model at all');
  assertCleanFailure(await runCliHere(['generate', text, '--out', out]), /not a valid ONNX model/);
  assertCleanFailure(
    await runCliHere(['generate', join(dir, 'missing.onnx'), '--out', out]),
    /missing\.onnx does not exist/,
  );
  assertCleanFailure(
    await runCliHere(['generate', 'dcgna', '--out', out]),
    /^ganport generate: no model dcgna: no such path, and no shipped model of that name \(cdcgan, dcgan, mlp-2d-grid, mlp-2d-ring, seed-mlp\)$/,
  );
  assertCleanFailure(
    await runCliHere(['generate', 'classifier', '--out', out]),
    /classifier is a directory without generator\.onnx: it holds a classifier \(classifier\.onnx\), which eval measures with, not a generator$/,
  );
  const countRange = /count must be an integer from 1 to 4096, got/;
  assertCleanFailure(
    await runCliHere(['generate', validModel, '--count', '0', '--out', out]),
    /count must be an integer from 1 to 4096, got 0/,
  );
  assertCleanFailure(await runCliHere(['generate', validModel, '--count=-3', '--out', out]), countRange);
  assertCleanFailure(await runCliHere(['generate', validModel, '--count', '1000000000', '--out', out]), countRange);
  // a conditional model rounds the count to whole rows per class, but never past the limit by clamping
  assertCleanFailure(
    await runCliHere(['generate', 'cdcgan', '--count', '100000', '--out', out]),
    /count must .* got 100000$/,
  );
  assertCleanFailure(
    await runCliHere(['generate', validModel, '--truncation', '1e-9', '--out', out]),
    /truncation must be ≥ 0\.01, got 1e-9/,
  );
  for (const columns of ['0', '-3'])
    assertCleanFailure(
      await runCliHere(['generate', validModel, `--columns=${columns}`, '--out', out]),
      new RegExp(`columns must be an integer ≥ 1, got ${columns}`),
    );
  assertCleanFailure(
    await runCliHere(['generate', validModel, '--seed=-1', '--out', out]),
    /seed must be an integer in \[0, 2\^32\)/,
  );
  for (const flag of ['--scale', '--columns'])
    assertCleanFailure(
      await runCliHere(['generate', 'mlp-2d-ring', flag, '2', '--out', out]),
      /^ganport generate: --scale and --columns lay out image grids; a 2-D generator draws one scatter plot$/,
    );
  assertCleanFailure(
    await runCliHere(['generate', validModel, '--provider', 'cpu,', '--out', out]),
    /--provider "cpu," has an empty name; name providers as cpu, cuda, webgpu or webgpu,cpu$/,
  );
  // an empty word (an unset shell variable) is a malformed command line, as a flag or as the model
  assertCleanFailure(
    await runCliHere(['generate', validModel, '--provider', '', '--out', out]),
    /^ganport generate: --provider needs a value, got ""$/,
    2,
  );
  assertCleanFailure(await runCliHere(['generate', '', '--out', out]), /^ganport generate: MODEL is empty/, 2);
  assertCleanFailure(runCli(['generate', validModel]), /--out is required/, 2); // and one through the bin script
  // 400 outputs of 2048×2048×3 are more values than one Float32Array holds (a RangeError's stack trace before)
  const huge = join(dir, 'huge.onnx');
  const shape = makeTensor('shape', DataType.INT64, [4], BigInt64Array.of(1n, 2048n, 2048n, 3n));
  const graph = makeGraph(
    [makeNode('ReduceSum', ['latent'], ['sum']), makeNode('Expand', ['sum', 'shape'], ['image'])],
    'huge',
    [makeValueInfo('latent', DataType.FLOAT, ['N', 2])],
    [makeValueInfo('image', DataType.FLOAT, ['N', 2048, 2048, 3])],
    [shape],
  );
  writeFileSync(huge, encodeModel(makeModel(graph, { opset: 13, producerName: 'test', producerVersion: '0' })));
  assertCleanFailure(
    await runCliHere(['generate', huge, '--count', '400', '--out', out]),
    /^ganport generate: 400 outputs are too large; generate fewer$/,
  );
  assert.ok(!existsSync(out), 'no partial output');
});

test('generate --out replaces a PNG, never the model, a file a manifest lists, or a file that is not a PNG', {
  timeout: 120_000,
}, async () => {
  const dir = tempDir();
  const modelDir = join(dir, 'seed-mlp');
  cpSync(join(shippedModelsDir(), 'seed-mlp'), modelDir, { recursive: true });
  const model = join(modelDir, 'generator.onnx');
  const before = readFileSync(model);
  const link = join(dir, 'link.png');
  symlinkSync(model, link);
  for (const [from, out, message] of [
    [model, model, /--out .*generator\.onnx is the model itself$/],
    [model, link, /--out .*link\.png is the model itself$/],
    [
      'seed-mlp',
      model,
      /--out .*generator\.onnx belongs to .*seed-mlp \(its manifest lists it\); write the PNG elsewhere$/,
    ],
  ] as const)
    assertCleanFailure(await runCliHere(['generate', from, '--count', '1', '--out', out]), message);
  assert.deepEqual(readFileSync(model), before, 'the model is whole');
  const notes = join(dir, 'notes.txt');
  writeFileSync(notes, 'keep me');
  assertCleanFailure(
    await runCliHere(['generate', model, '--count', '1', '--out', notes]),
    /--out .*notes\.txt exists and is not a PNG; generate replaces only PNGs$/,
  );
  assert.equal(readFileSync(notes, 'utf8'), 'keep me');
  // a file it cannot read (write-only, for a user other than root) is not replaced unseen: one line
  const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises');
  const { open } = fsp;
  const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
  Object.assign(fsp, {
    open: (path: string, ...rest: [string]) => (path === notes ? Promise.reject(denied) : open(path, ...rest)),
  });
  syncBuiltinESMExports();
  try {
    assertCleanFailure(
      await runCliHere(['generate', model, '--count', '1', '--out', notes]),
      /--out .*notes\.txt exists and cannot be read \(EACCES\) to see that it is a PNG$/,
    );
  } finally {
    Object.assign(fsp, { open });
    syncBuiltinESMExports();
  }
  // a folder above --out whose manifest.json is a pipe: not read (it hung, waiting for a writer)
  if (process.platform !== 'win32') {
    const piped = join(tempDir(), 'piped');
    mkdirSync(piped);
    execFileSync('mkfifo', [join(piped, 'manifest.json')]);
    assert.equal(
      (await runCliHere(['generate', model, '--count', '1', '--out', join(piped, 'sub', 'x.png')])).status,
      0,
    );
  }
  const png = join(dir, 'grid.png');
  for (const seed of ['1', '2'])
    assert.equal((await runCliHere(['generate', model, '--seed', seed, '--out', png])).status, 0);
  // a name legal itself, whose temporary name (NAME.PID.TIME.tmp) would pass 255 bytes
  const long = join(dir, `${'é'.repeat(124)}.png`);
  assert.equal((await runCliHere(['generate', model, '--count', '1', '--out', long])).status, 0);
  assert.deepEqual(
    readdirSync(dir).sort(),
    ['grid.png', 'link.png', 'notes.txt', 'seed-mlp', `${'é'.repeat(124)}.png`].sort(),
  );
});

test('bad parity input and unknown commands', async () => {
  const dir = tempDir();
  assertCleanFailure(await runCliHere(['parity', dir]), /has no generator\.onnx/);
  assertCleanFailure(
    await runCliHere(['parity', validModel]),
    /parity compares a model directory .*, not the file .*generator\.onnx$/,
  );
  assertCleanFailure(runCli(['parity', 'dcgna']), /^ganport parity: no model dcgna: no such path/); // through the bin script
  assertCleanFailure(
    await runCliHere(['parity', 'classifier']),
    /classifier has no generator\.onnx: it holds a classifier \(classifier\.onnx\), which eval measures with, not a generator$/,
  );
  mkdirSync(join(dir, 'm'));
  writeFileSync(join(dir, 'm', 'generator.onnx'), readFileSync(validModel));
  assertCleanFailure(await runCliHere(['parity', join(dir, 'm')]), /has no tfjs reference/);
  assertCleanFailure(
    await runCliHere(['parity', dir, '--runtimes', 'tfjs,onnx-magic']),
    /unknown runtime "onnx-magic"/,
  );
  for (const runtimes of ['tfjs', ','])
    assertCleanFailure(
      await runCliHere(['parity', 'seed-mlp', '--runtimes', runtimes]),
      /--runtimes names nothing to compare/,
    );
  const noBrowser = ['parity', 'seed-mlp', '--runtimes', 'ort-node,ort-web-chromium', '--chromium', '/bin/true'];
  const failed = await runCliHere(noBrowser);
  assertCleanFailure(failed, /^ganport parity: ort-web-chromium: cannot start Chromium at \/bin\/true: /);
  assert.match(failed.stdout, /^ort-node .* ok$/m, 'the rows that ran are reported');
  // --json reports the failed row too
  const asJson = await runCliHere([...noBrowser, '--json']);
  assert.equal(asJson.status, 1);
  const report = JSON.parse(asJson.stdout) as ParityReport;
  assert.deepEqual(
    report.rows.map((row) => [row.runtime, row.ok, row.failed?.slice(0, 24)]),
    [
      ['tfjs', true, undefined],
      ['ort-node', true, undefined],
      ['ort-web-chromium', false, 'cannot start Chromium at'],
    ],
  );
  assert.equal(report.ok, false);
  // a bare name given to --chromium is the file here: Playwright would look it up on PATH
  assert.equal(chromiumPath('chr'), join(process.cwd(), 'chr'));
  const setting = process.env.GANPORT_CHROMIUM;
  process.env.GANPORT_CHROMIUM = ''; // set but empty: the default, not the current directory
  try {
    assert.equal(chromiumPath(), DEFAULT_CHROMIUM);
  } finally {
    if (setting === undefined) delete process.env.GANPORT_CHROMIUM;
    else process.env.GANPORT_CHROMIUM = setting;
  }
  assertCleanFailure(runCli(['frobnicate']), /unknown command "frobnicate"/, 2);
  const help = runCli(['--help']);
  assert.equal(help.status, 0);
  for (const command of ['train', 'export', 'generate', 'parity']) {
    assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
  }
});

test('a directory where an input file should be, or an --out that is no file, is one line', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'model', 'generator.onnx'), { recursive: true });
  mkdirSync(join(dir, 'model', 'tfjs', 'generator'), { recursive: true });
  writeFileSync(join(dir, 'model', 'tfjs', 'generator', 'model.json'), '{}');
  assertCleanFailure(
    await runCliHere(['parity', join(dir, 'model'), '--runtimes', 'ort-node']),
    /model\/generator\.onnx (cannot be read \(EISDIR\)|fails verification)/,
  );
  mkdirSync(join(dir, 'classifier', 'classifier.onnx'), { recursive: true });
  assertCleanFailure(
    await runCliHere(['eval', 'seed-mlp', '--samples', '100', '--classifier', join(dir, 'classifier')]),
    /classifier\.onnx cannot be read \(EISDIR\)/,
  );
  mkdirSync(join(dir, 'data', 'train-images-idx3-ubyte'), { recursive: true });
  assertCleanFailure(
    await runCliHere(['eval', 'seed-mlp', '--samples', '100', '--data', join(dir, 'data')]),
    /train-images-idx3-ubyte cannot be read \(EISDIR\)/,
  );
  execFileSync('mkfifo', [join(dir, 'fifo.onnx')]);
  assertCleanFailure(
    await runCliHere(['generate', join(dir, 'fifo.onnx'), '--out', join(dir, 'g.png')]),
    /fifo\.onnx cannot be read: it is not a regular file \(a pipe, socket or device\); name a model file$/,
  );
  mkdirSync(join(dir, 'adir'));
  assertCleanFailure(
    await runCliHere(['generate', 'seed-mlp', '--count', '4', '--out', join(dir, 'adir')]),
    /cannot write .*adir: it is a directory; name a file$/,
  );
  assertCleanFailure(
    await runCliHere(['generate', 'seed-mlp', '--count', '4', '--out', `${join(dir, 'new')}/`]),
    /it names a directory \(a trailing separator\)/,
  );
});

test('every command has --help: its usage, each flag of its table with its help, examples that use those flags', () => {
  for (const command of COMMANDS) {
    const result = runCli([command.name, '--help']);
    assert.equal(result.status, 0, `${command.name}: ${result.stderr}`);
    assert.ok(result.stdout.includes(command.usage), `${command.name} --help prints its usage:\n${result.stdout}`);
    for (const [name, flag] of Object.entries(command.flags)) {
      assert.match(
        result.stdout,
        new RegExp(`^  --${name}\\b.* ${escapeRegExp(flag.help)}`, 'm'),
        `${command.name} --${name}`,
      );
    }
    assert.ok(command.examples.length > 0);
    for (const example of command.examples) {
      assert.ok(result.stdout.includes(`  ${example}\n`), `${command.name} --help shows ${example}`);
      assert.ok(example.startsWith(`ganport ${command.name} `) || example === `ganport ${command.name}`, example);
      for (const [, flag] of example.matchAll(/ --([\w-]+)/g)) assert.ok(flag in command.flags, `${example} --${flag}`);
    }
  }
});

/**
 * A preload that prints, as the process exits, the npm packages loaded through require. tfjs,
 * playwright-core and onnxruntime are CommonJS: imported from ESM, they are listed too. (h5wasm, an
 * ES module, would not be; only the Keras loader imports it, and that loads tfjs as well.)
 * (createRequire is given the node binary's path: a data: URL has none to require from.)
 */
const LIST_PACKAGES = `data:text/javascript,${encodeURIComponent(
  "import { createRequire } from 'node:module'; import { writeSync } from 'node:fs';" +
    'const loaded = createRequire(process.execPath).cache;' +
    "process.on('exit', () => writeSync(2, 'packages: ' + Object.keys(loaded).join(' ') + '\\n'));",
)}`;

test('help and usage errors load none of the training, export or browser code (no tfjs, no playwright)', () => {
  const cases = [
    ['--help'],
    ...COMMANDS.map((c) => [c.name, '--help']),
    ['train', '--bogus'],
    ['export', 'm', '--opset', 'x'],
  ];
  for (const args of cases) {
    const result = runCli(args, { node: ['--import', LIST_PACKAGES] });
    const packages = result.stderr.split('\n').find((line) => line.startsWith('packages: '));
    assert.ok(packages, `${args.join(' ')}: the preload listed what was loaded; stderr: ${result.stderr}`);
    // the runtime's onnxruntime-node is light, and it shows that the list sees CommonJS imported from ESM
    assert.match(packages, /node_modules\/onnxruntime-node\//);
    assert.doesNotMatch(packages, /node_modules\/(@tensorflow|playwright-core)\//, args.join(' '));
  }
});

test('ganport --help lists every command with its summary; --version prints the version', () => {
  const help = runCli(['--help']);
  assert.equal(help.status, 0);
  for (const command of COMMANDS) {
    assert.match(help.stdout, new RegExp(`^  ${command.name} +${escapeRegExp(command.summary)}$`, 'm'));
  }
  const version = runCli(['--version']);
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('bad flag values are one line with exit 2; unknown flags and misplaced arguments add the usage line', () => {
  const out = join(tempDir(), 'x.png');
  for (const [args, message] of [
    [['generate', '--count', '2.5', '--out', out], 'ganport generate: --count must be an integer, got "2.5"'],
    [['parity', 'models/x', '--tolerance', 'tiny'], 'ganport parity: --tolerance must be a number, got "tiny"'],
    [['train', '--lr', '', '--out', out], 'ganport train: --lr must be a number, got ""'],
    [['train', '--lr', '0x10', '--out', out], 'ganport train: --lr must be a number, got "0x10"'],
  ] as const) {
    const result = runCli([...args]);
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stderr, `${message}\n`);
  }
  for (const [args, message] of [
    [['generate', '--colour', 'red', '--out', out], "Unknown option '--colour'"],
    [['generate', 'a.onnx', 'b.onnx', '--out', out], 'unexpected argument "b.onnx"'],
    [['export', '--out', out], 'SOURCE is required'],
    [['train-classifier'], '--out is required'],
    [['train', '--out', out, '--resume', out], 'give either --out RUN_DIR (a new run) or --resume RUN_DIR'],
    [['train', '--strict', '--out', out], '--strict goes with --resume'],
    [['train', '--overwrite', '--resume', out], '--overwrite replaces a run; --resume continues one: give one of them'],
    [['train', '--eval-samples', '500', '--out', out], '--eval-samples goes with --eval-every'],
  ] as const) {
    const result = runCli([...args]);
    const command = COMMANDS.find((c) => c.name === args[0])!;
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stderr, `ganport ${command.name}: ${message}\n${command.usage}\n`);
  }
});

test('eval names the flag of an option that does not apply, and prints the 2-D table', () => {
  const model = join(SHIPPED_MODELS, 'mlp-2d-ring');
  const misplaced = runCli(['eval', model, '--data', SAMPLE_DATA]);
  assertCleanFailure(misplaced, /^ganport eval: --data does not apply to 2-D point generators$/, 2);
  const table = runCli(['eval', model, '--samples', '200', '--seeds', '2']);
  assert.equal(table.status, 0, table.stderr);
  assert.match(
    table.stdout,
    /on ring \(8 modes, σ [\d.]+\): 200 samples × 2 seeds\n {2}modes captured +\d\.\d ± \d\.\d \/ 8\n/,
  );
  assert.match(table.stdout, /reverse KL +\d\.\d{3} ± \d\.\d{3}/);
  assertCleanFailure(runCli(['eval', model, '--seeds', '0']), /seeds must be an integer from 1 to 100, got 0/);
});

/** A command of the test's own, to see what the framework makes of a table. */
function probeCommand(count: { value: string; required?: boolean }) {
  const received: unknown[] = [];
  const command = defineCommand({
    name: 'probe',
    summary: 'a command of the test',
    positional: { name: 'INPUT', help: 'what to read' },
    flags: {
      name: { type: 'string', value: 'TEXT', option: 'label', required: true, help: 'a string, renamed' },
      count: { type: 'int', help: 'an integer', ...count },
      rate: { type: 'number', value: 'R', help: 'a number' },
      size: { type: 'int', value: 'S', default: 7, help: 'an integer with a default' },
      verbose: { type: 'boolean', help: 'a switch' },
    },
    examples: ['ganport probe --name a --count 3'],
    async run(values, input) {
      // the types follow the table: option names as keys, converted values, undefined only where a flag may be absent
      const typed: {
        label: string;
        count: number | undefined;
        rate: number | undefined;
        size: number;
        verbose: boolean;
      } = values;
      // @ts-expect-error the value of --name arrives as its option, label
      values.name;
      if (typed.label === 'wrong') throw new UsageError('that name is wrong');
      received.push(typed, input);
      return 0;
    },
  });
  return { command, received };
}

test('a flag table: typed values under their option names, defaults, a generated usage line and help', async () => {
  const { command, received } = probeCommand({ value: 'N' });
  assert.equal(await command.run(['in.txt', '--name', 'x', '--count=-3', '--rate', '1e-3', '--verbose']), 0);
  assert.deepEqual(received, [{ label: 'x', count: -3, rate: 0.001, size: 7, verbose: true }, 'in.txt']);
  received.length = 0;
  await command.run(['--name', 'y', '--size', '2']);
  assert.deepEqual(received, [{ label: 'y', count: undefined, rate: undefined, size: 2, verbose: false }, undefined]);

  assert.equal(command.usage, 'usage: ganport probe [INPUT] --name TEXT [--count N] [--rate R] [--size S] [--verbose]');
  assert.equal(
    command.help,
    [
      'ganport probe: a command of the test',
      '',
      command.usage,
      '',
      '  INPUT        what to read',
      '  --name TEXT  a string, renamed',
      '  --count N    an integer',
      '  --rate R     a number',
      '  --size S     an integer with a default (default 7)',
      '  --verbose    a switch',
      '',
      'examples:',
      '  ganport probe --name a --count 3',
      '',
    ].join('\n'),
  );
});

test('the usage line in an error comes from the table: changing one entry changes it', async () => {
  const usageIn = (error: unknown) => (error as Error).message.split('\n').slice(1).join('\n');
  const errorOf = async (count: { value: string; required?: boolean }, argv: string[]) => {
    const { command } = probeCommand(count);
    const error = await command.run(argv).then(
      () => assert.fail('a usage error expected'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof UsageError);
    return error;
  };
  const plain = await errorOf({ value: 'N' }, ['--name', 'x', '--bogus']);
  assert.equal((plain as Error).message.split('\n')[0], "Unknown option '--bogus'");
  assert.equal(
    usageIn(plain),
    'usage: ganport probe [INPUT] --name TEXT [--count N] [--rate R] [--size S] [--verbose]',
  );
  const renamed = await errorOf({ value: 'HOW_MANY' }, ['--name', 'x', '--bogus']);
  assert.equal(
    usageIn(renamed),
    'usage: ganport probe [INPUT] --name TEXT [--count HOW_MANY] [--rate R] [--size S] [--verbose]',
  );
  const required = await errorOf({ value: 'N', required: true }, ['--name', 'x']);
  assert.equal(
    (required as Error).message,
    '--count is required\nusage: ganport probe [INPUT] --name TEXT --count N [--rate R] [--size S] [--verbose]',
  );
  const fromRun = await errorOf({ value: 'N' }, ['--name', 'wrong']);
  assert.equal((fromRun as Error).message, `that name is wrong\n${usageIn(plain)}`);
  for (const [argv, message] of [
    [['--name', 'x', '--count', 'x'], '--count must be an integer, got "x"'],
    [['--name', 'x', '--count', '1.5'], '--count must be an integer, got "1.5"'],
    [
      ['--name', 'x', '--count', '99999999999999999999'],
      '--count is too large: an integer flag takes at most ±(2^53 − 1), got "99999999999999999999"',
    ],
    [['--name', 'x', '--rate', '1,5'], '--rate must be a number, got "1,5"'],
    [['--name', 'x', '--size', ''], '--size must be an integer, got ""'],
  ] as const) {
    assert.equal(
      (await errorOf({ value: 'N' }, [...argv])).message,
      message,
      'a bad value is one line, without the usage',
    );
  }
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
