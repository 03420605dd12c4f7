/** The 2-D mixtures and the mlp-2d pipeline: data, training, export, parity, scatter plots. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadGenerator, Rng, readOnnxInfo } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { loadDataset } from '../../src/datasets/dataset.js';
import { mixture, sampleMixture } from '../../src/datasets/mixtures.js';
import { type MixtureEvalReport, scoreMixture, summarize } from '../../src/eval/mixtures.js';
import { exportRun } from '../../src/export/index.js';
import { runParity } from '../../src/parity/parity.js';
import { getPreset } from '../../src/presets/index.js';
import { packedShape } from '../../src/presets/preset.js';
import { packSamples } from '../../src/train/step.js';
import { train } from '../../src/train/train.js';
import { assertCleanFailure, runCli, SAMPLE_DATA, tempDir } from '../helpers.js';
import { exportedDiscriminatorGap } from './exported-discriminator.js';

test('ring: 8 modes on the unit circle, σ 0.01; grid: 25 modes on {-4,-2,0,2,4}², σ 0.05', () => {
  const ring = mixture('ring');
  assert.equal(ring.modes.length, 8);
  for (const [x, y] of ring.modes) assert.ok(Math.abs(Math.hypot(x, y) - 1) < 1e-12);
  assert.equal(ring.sigma, 0.01);
  const grid = mixture('grid');
  assert.equal(grid.modes.length, 25);
  assert.deepEqual(grid.modes[0], [-4, -4]);
  assert.deepEqual(grid.modes[24], [4, 4]);
  assert.equal(grid.sigma, 0.05);
  assert.throws(() => mixture('spiral'), /unknown mixture "spiral"/);
});

test('mixture samples sit around their modes with the stated spread, every mode used', () => {
  const grid = mixture('grid');
  const { points, modes } = sampleMixture(grid, 20000, new Rng(1));
  let sq = 0;
  for (let i = 0; i < modes.length; i++) {
    const [mx, my] = grid.modes[modes[i]];
    sq += (points[2 * i] - mx) ** 2 + (points[2 * i + 1] - my) ** 2;
  }
  const sigma = Math.sqrt(sq / (2 * modes.length));
  assert.ok(Math.abs(sigma - 0.05) < 0.002, `measured σ ${sigma}`);
  assert.equal(new Set(modes).size, 25);
});

test("--data ring|grid: train's dataset is 25,600 points drawn from the mixture with the run's seed", async () => {
  for (const name of ['ring', 'grid']) {
    const m = mixture(name);
    const data = await loadDataset(name, getPreset('mlp-2d'), 5);
    assert.equal(data.count, 25_600, name);
    const order = Uint32Array.from({ length: data.count }, (_, i) => i);
    const { x } = data.batch(order, 0, data.count, false);
    const points = (await x.data()) as Float32Array;
    x.dispose();
    assert.equal(points.length, 2 * 25_600);
    // 98.9 % of a mixture's points lie within 3σ of a mode (1 − e^−4.5); these are its draw for the seed
    assert.ok(scoreMixture(points, m).highQualityFraction > 0.98, name);
    assert.deepEqual(points, sampleMixture(m, 25_600, new Rng(5)).points);
  }
});

test('mlp-2d trains on a mixture, exports a flat 2-d output, passes parity and plots', async () => {
  const run = tempDir();
  const model = tempDir();
  await train({ outDir: run, preset: 'mlp-2d', dataDir: 'grid', epochs: 1, limit: 1280, seed: 3, quiet: true });
  const scatter = PNG.sync.read(readFileSync(join(run, 'samples', 'epoch-001.png')));
  assert.equal(scatter.width, 400);
  await exportRun(run, model);
  const info = readOnnxInfo(readFileSync(join(model, 'generator.onnx')));
  assert.equal(info.metadata['ganport.layout'], 'flat');
  assert.deepEqual(info.outputs[0], { name: 'point', elemType: 1, dims: ['batch', 2] });
  const report = await runParity(model, { runtimes: ['tfjs', 'ort-node', 'ort-web'], count: 64 });
  assert.ok(report.ok, JSON.stringify(report.rows));
  const out = join(model, 'points.png');
  const generated = runCli(['generate', model, '--count', '500', '--out', out]);
  assert.equal(generated.status, 0, generated.stderr);
  assert.equal(PNG.sync.read(readFileSync(out)).width, 400);
  const generator = await loadGenerator(join(model, 'generator.onnx')); // the runtime draws point generators as a scatter plot (the demo relies on it)
  const picture = await generator.generateGrid({ seed: 1, count: 300 });
  // what eval must report below: the protocol on 500 points from each sampling seed 0, 1, 2, scored on the grid
  const perSeed = await Promise.all(
    [0, 1, 2].map(async (seed) => scoreMixture((await generator.generate({ seed, count: 500 })).data, mixture('grid'))),
  );
  await generator.dispose();
  assert.deepEqual([picture.width, picture.height], [400, 400]);
  assert.ok(
    picture.pixels.some((v, i) => i % 4 === 2 && v === 180),
    'blue sample dots',
  );
  const evaluated = runCli([
    'eval',
    model,
    '--json',
    '--seeds',
    '3',
    '--samples',
    '500',
    '--plot',
    join(model, 'eval.png'),
  ]);
  assert.equal(evaluated.status, 0, evaluated.stderr);
  const scores = JSON.parse(evaluated.stdout) as MixtureEvalReport;
  assert.equal(scores.mixture, 'grid', 'the mixture comes from the model metadata');
  assert.equal(scores.modes, 25);
  assert.equal(scores.seeds, 3);
  assert.deepEqual(
    [scores.modesCaptured, scores.highQualityPercent, scores.reverseKl],
    [
      summarize(perSeed.map((s) => s.modesCaptured)),
      summarize(perSeed.map((s) => 100 * s.highQualityFraction)),
      summarize(perSeed.map((s) => s.reverseKl)),
    ],
  );
  assert.equal(PNG.sync.read(readFileSync(join(model, 'eval.png'))).width, 400);
  assertCleanFailure(
    runCli(['train', '--preset', 'dcgan', '--data', 'ring', '--out', join(run, 'x')]),
    /makes images; the ring mixture needs a 2-D preset/,
  );
});

test('PacGAN packing joins consecutive samples along the last axis', () => {
  const points = tf.tensor2d([0, 1, 2, 3, 4, 5, 6, 7], [4, 2]);
  assert.deepEqual(packSamples(points, 2).arraySync(), [
    [0, 1, 2, 3],
    [4, 5, 6, 7],
  ]);
  assert.equal(packSamples(points, 1), points);
  // four 2×2 grayscale images whose pixels all hold the image's index: packed in twos, channel c is sample c of the group
  const images = tf.tensor4d(
    Float32Array.from({ length: 16 }, (_, i) => Math.floor(i / 4)),
    [4, 2, 2, 1],
  );
  const packed = packSamples(images, 2);
  assert.deepEqual(packed.shape, [2, 2, 2, 2]);
  assert.deepEqual((packed.arraySync() as number[][][][])[1][1][0], [2, 3]);
  assert.deepEqual(packedShape([28, 28, 1], 4), [28, 28, 4]);
  assert.deepEqual(packedShape([2], 4), [8]);
});

test('train --pack 4: the discriminator judges 4 points at once, in tfjs and in its ONNX export', async () => {
  const run = tempDir();
  const model = tempDir();
  await train({ outDir: run, preset: 'mlp-2d', dataDir: 'ring', epochs: 1, limit: 800, seed: 2, pack: 4, quiet: true });
  assert.equal((JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { pack: number }).pack, 4);
  await exportRun(run, model);
  const info = readOnnxInfo(readFileSync(join(model, 'discriminator.onnx')));
  assert.deepEqual(info.inputs[0].dims, ['batch', 8]);
  assert.equal(info.metadata['ganport.pack'], '4');
  const x = Float32Array.from({ length: 5 * 8 }, (_, i) => Math.sin(i));
  assert.ok((await exportedDiscriminatorGap(model, x, [5, 8])).gap < 1e-5);
  await assert.rejects(
    train({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'ring', epochs: 1, pack: 3, quiet: true }),
    /pack 3 must divide the batch size 256/,
  );
  await assert.rejects(
    train({ outDir: tempDir(), preset: 'cdcgan', dataDir: SAMPLE_DATA, epochs: 1, pack: 2, quiet: true }),
    /class-conditional; packing \(PacGAN\) is for unconditional presets/,
  );
});

test("pacgan-2d: the paper's Adam settings as preset defaults; its packed maxout D exports and matches tfjs", async () => {
  const run = tempDir();
  const model = tempDir();
  await train({
    outDir: run,
    preset: 'pacgan-2d',
    dataDir: 'grid',
    epochs: 1,
    limit: 400,
    seed: 3,
    pack: 4,
    quiet: true,
  });
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  assert.deepEqual(
    [config.learningRate, config.beta1, config.batchSize, config.emaDecay, config.pack],
    [1e-4, 0.8, 100, 0, 4],
  );
  await exportRun(run, model);
  const x = Float32Array.from({ length: 3 * 8 }, (_, i) => 4 * Math.cos(i));
  const { gap, reference } = await exportedDiscriminatorGap(model, x, [3, 8]);
  assert.deepEqual(
    reference.layers.filter((l) => l.getClassName() === 'Maxout').map((l) => l.name),
    ['hidden0', 'hidden1', 'hidden2'],
  );
  assert.ok(gap < 1e-5);
});

test('mlp-2d-deep: mlp-2d with a 4-layer ReLU generator (batch norm before each ReLU); the discriminator is unchanged', () => {
  const layers = (m: tf.LayersModel) => m.layers.map((l) => l.getClassName());
  const deep = getPreset('mlp-2d-deep');
  const plain = getPreset('mlp-2d');
  const [generator, discriminator, plainDiscriminator] = [
    deep.buildGenerator(1),
    deep.buildDiscriminator(1),
    plain.buildDiscriminator(1),
  ];
  assert.deepEqual(layers(generator), [...Array(4).fill(['Dense', 'BatchNormalization', 'ReLU']).flat(), 'Dense']);
  assert.deepEqual(layers(discriminator), layers(plainDiscriminator), 'the same LeakyReLU discriminator as mlp-2d');
  assert.deepEqual(deep.defaults, plain.defaults);
  for (const model of [generator, discriminator, plainDiscriminator]) model.dispose();
});
