import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type * as tf from '@tensorflow/tfjs';
import { readRunConfig } from '../../src/formats/run-dir.js';
import { buildTrainingState, checkRun, disposeTrainingState, openRun } from '../../src/train/run-setup.js';
import { SAMPLE_DATA, tempDir } from '../helpers.js';

test('TTUR: --lr-d gives the discriminator its own Adam learning rate, recorded in config.json', async () => {
  const outDir = tempDir();
  const base = { outDir, preset: 'mlp-2d', dataDir: 'grid', backend: 'cpu', quiet: true };
  const { config, preset } = await openRun({ ...base, learningRate: 1e-4, discriminatorLearningRate: 4e-4 });
  const state = buildTrainingState(preset, config);
  assert.equal(state.gOptimizer.rate, 1e-4);
  assert.equal(state.dOptimizer.rate, 4e-4);
  assert.ok(Math.abs(state.dOptimizer.learningRate.dataSync()[0] - 4e-4) < 1e-10, 'the rate the step reads');
  const saved = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  assert.deepEqual([saved.learningRate, saved.discriminatorLearningRate], [1e-4, 4e-4]);

  const same = await openRun({ ...base, outDir: tempDir(), learningRate: 3e-4 });
  assert.equal(same.config.discriminatorLearningRate, 3e-4, 'without --lr-d, D uses --lr');
});

test('learning rates must be positive numbers, checked before a run is written', async () => {
  for (const options of [{ learningRate: 0 }, { discriminatorLearningRate: -1 }, { learningRate: Number.NaN }]) {
    await assert.rejects(
      openRun({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'grid', backend: 'cpu', ...options }),
      /learning rate must be a positive number/,
    );
  }
});

test('a run from before TTUR reads back with the discriminator on the common learning rate', async () => {
  const outDir = tempDir();
  const { config } = await openRun({ outDir, preset: 'mlp-2d', dataDir: 'grid', backend: 'cpu', learningRate: 2e-3 });
  const { discriminatorLearningRate: _, ...old } = config;
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(old));
  assert.equal((await readRunConfig(outDir)).discriminatorLearningRate, 2e-3);
});

test('--width sets a DCGAN preset’s channels, is recorded in config.json and fixed for the run', async () => {
  const outDir = tempDir();
  const base = { outDir, preset: 'dcgan', dataDir: SAMPLE_DATA, backend: 'cpu', quiet: true };
  const { config, preset } = await openRun({ ...base, width: 8 });
  assert.equal(config.width, 8);
  assert.equal(JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8')).width, 8);
  const filters = (m: tf.LayersModel) =>
    m.layers.filter((l) => /Conv2D/.test(l.getClassName())).map((l) => (l.getConfig() as { filters: number }).filters);
  const state = buildTrainingState(preset, config);
  assert.deepEqual(filters(state.generator), [8, 1], 'generator: 16 → 8 → the image');
  assert.deepEqual(filters(state.discriminator), [8, 16]);
  disposeTrainingState(state);

  const resumed = await openRun({ outDir, resume: true, backend: 'cpu' });
  const generator = resumed.preset.buildGenerator(0);
  assert.equal(generator.getLayer('up0').getConfig().filters, 8, 'a resume keeps the width');
  generator.dispose();
  await assert.rejects(
    openRun({ outDir, resume: true, backend: 'cpu', width: 16 }),
    /config\.json fixes width for the whole run/,
  );
  const plainDir = tempDir();
  const plain = await openRun({ ...base, outDir: plainDir });
  assert.equal(plain.config.width, undefined, 'no --width: the preset’s own, and nothing recorded');
  await openRun({ outDir: plainDir, resume: true, backend: 'cpu', width: 32 }); // the width it has
  await assert.rejects(openRun({ outDir: plainDir, resume: true, backend: 'cpu', width: 16 }), /fixes width/);
});

test('every option is checked before the data loads; beta1 in [0, 1), --eval-every 0 is "never"', async () => {
  const missing = join(tempDir(), 'no-data-here');
  const base = { preset: 'dcgan', dataDir: missing, backend: 'cpu', quiet: true };
  for (const [options, message] of [
    [{ beta1: 1 }, /beta1 must be in \[0, 1\), got 1/],
    [{ emaDecay: 5 }, /EMA decay must be in \[0, 1\)/],
    [{ loss: 'hinge', labelSmoothing: 0.1 }, /label smoothing is for the bce and lsgan losses/],
    [{ pack: 3 }, /pack 3 must divide the batch size 64/],
    [{ backend: 'tpu' }, /unknown backend "tpu"/],
  ] as const)
    await assert.rejects(openRun({ ...base, ...options, outDir: tempDir() }), message);
  await assert.rejects(openRun({ ...base, outDir: tempDir() }), /data directory .*no-data-here does not exist/);
  const { config } = await openRun({ ...base, dataDir: SAMPLE_DATA, outDir: tempDir(), evalEvery: 0 });
  assert.equal(config.evalEvery, 0);
});

test('--eval-every is checked against the classifier and the data before the first step', async () => {
  const base = { preset: 'dcgan', dataDir: SAMPLE_DATA, backend: 'cpu', quiet: true, evalEvery: 10 };
  const outDir = tempDir();
  await assert.rejects(
    openRun({ ...base, outDir, evalSamples: 3000 }),
    /--eval-every: 3000 samples need 3000 images in each split, but .* holds 2000 train and 2000 t10k images; pass --eval-samples 2000/,
  );
  assert.ok(!existsSync(join(outDir, 'config.json')), 'nothing written');
  await assert.rejects(openRun({ ...base, outDir, evalSamples: 200_000 }), /eval samples are capped at 100000/);
  const { config } = await openRun({ ...base, outDir, evalSamples: 2000 });
  assert.equal(config.evalSamples, 2000);
});

test('--width is refused for presets without one, and must be a positive integer', async () => {
  await assert.rejects(
    openRun({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'grid', backend: 'cpu', width: 64 }),
    /--width is for the DCGAN presets \(dcgan, cdcgan, .*\); mlp-2d has fixed widths/,
  );
  await assert.rejects(
    openRun({ outDir: tempDir(), preset: 'dcgan', dataDir: SAMPLE_DATA, backend: 'cpu', width: 0 }),
    /width must be a positive integer/,
  );
  const outDir = tempDir();
  const { config } = await openRun({ outDir, preset: 'dcgan', dataDir: SAMPLE_DATA, backend: 'cpu' });
  writeFileSync(join(outDir, 'config.json'), JSON.stringify({ ...config, width: 2.5 }));
  await assert.rejects(readRunConfig(outDir), /width must be a positive integer when present, got 2.5/);
});

test('--clusters self-conditions a DCGAN preset on k-means labels, recorded in config.json and fixed for the run', async () => {
  const outDir = tempDir();
  const lines: string[] = [];
  const base = { outDir, preset: 'dcgan', dataDir: SAMPLE_DATA, backend: 'cpu', log: (l: string) => lines.push(l) };
  const { config, preset, data } = await openRun({ ...base, clusters: 5, seed: 3 });
  assert.deepEqual([config.clusters, config.numClasses, preset.numClasses], [5, 5, 5]);
  assert.equal(JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8')).clusters, 5);
  assert.match(lines[0], /self-conditioning: labelling the images by 5 balanced k-means clusters \(seed 3\)/);
  const sizes = Array.from({ length: 5 }, (_, c) => data.labels!.filter((l) => l === c).length);
  assert.deepEqual(sizes, Array(5).fill(data.count / 5), 'every cluster the same size, no class labels left');
  const state = buildTrainingState(preset, config);
  assert.deepEqual(
    state.generator.inputs.map((t) => t.dtype),
    ['float32', 'int32'],
    'the generator takes a cluster label beside the latent',
  );
  assert.ok(state.discriminator.getLayer('label_projection'), 'a projection discriminator');
  disposeTrainingState(state);

  const resumed = await openRun({ outDir, resume: true, backend: 'cpu', quiet: true });
  assert.deepEqual(resumed.data.labels, data.labels, 'a resume labels every image as before');
  await assert.rejects(
    openRun({ outDir, resume: true, backend: 'cpu', clusters: 6 }),
    /config\.json fixes clusters for the whole run/,
  );
  // labels that came out otherwise (other data, or a changed clustering) would scramble the learned embeddings
  const saved = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  assert.match(saved.clusterLabelsSha256, /^[0-9a-f]{64}$/);
  writeFileSync(join(outDir, 'config.json'), JSON.stringify({ ...saved, clusterLabelsSha256: '0'.repeat(64) }));
  await assert.rejects(
    openRun({ outDir, resume: true, backend: 'cpu', quiet: true }),
    /the images' clusters differ from those .* was trained on/,
  );
});

test('with --limit, --clusters labels only the images the run trains on, in equal clusters', async () => {
  const { config, data } = await openRun({
    outDir: tempDir(),
    preset: 'dcgan',
    dataDir: SAMPLE_DATA,
    backend: 'cpu',
    clusters: 4,
    limit: 100,
    quiet: true,
  });
  assert.equal(config.images, 100);
  assert.equal(data.labels!.length, 100);
  assert.deepEqual(
    Array.from({ length: 4 }, (_, c) => data.labels!.filter((l) => l === c).length),
    [25, 25, 25, 25],
  );
  await assert.rejects(
    openRun({ outDir: tempDir(), preset: 'dcgan', dataDir: SAMPLE_DATA, backend: 'cpu', clusters: 4, pack: 2 }),
    /--clusters makes dcgan conditional on its clusters; packing \(PacGAN\) is for unconditional presets/,
  );
});

test('--clusters is refused for conditional and 2-D presets', async () => {
  await assert.rejects(
    openRun({ outDir: tempDir(), preset: 'cdcgan', dataDir: SAMPLE_DATA, backend: 'cpu', clusters: 5 }),
    /--clusters is for the unconditional DCGAN presets \(dcgan, dcgan-32, dcgan-64\); cdcgan is conditioned on its classes already/,
  );
  await assert.rejects(
    openRun({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'grid', backend: 'cpu', clusters: 5 }),
    /--clusters is for the unconditional DCGAN presets .*; mlp-2d is not one/,
  );
  await assert.rejects(
    openRun({ outDir: tempDir(), preset: 'dcgan', dataDir: SAMPLE_DATA, backend: 'cpu', clusters: 1 }),
    /clusters must be an integer in \[2, 255\]/,
  );
});

test("checkRun (train --dry-run) makes train's checks that need no data, and writes nothing", async () => {
  for (const [options, message] of [
    [{ preset: 'dcgan64' }, /unknown preset "dcgan64"/],
    [{ learningRate: 0 }, /learning rate must be a positive number/],
    [{ batchSize: 60, pack: 8 }, /pack 8 must divide the batch size 60/],
    [{ preset: 'mlp-2d', width: 64 }, /--width is for the DCGAN presets .*; mlp-2d has fixed widths/],
    [{ preset: 'dcgan', width: 100000 }, /width must be at most 1024, got 100000/],
    // failed inside tfjs with a stack trace, after config.json was written
    [
      { preset: 'dcgan-64', width: 300, backend: 'wasm' },
      /--width 300: dcgan-64's models hold 125\.0 million weights.* 5\.36 GiB, more than the 4 GiB the wasm backend trains in/,
    ],
    [{ epochs: 0 }, /epochs must be a positive integer/],
    [{ clusters: 300, preset: 'dcgan' }, /clusters must be an integer in \[2, 255\], got 300/],
    [{ clusters: 20, preset: 'cdcgan' }, /--clusters is for the unconditional DCGAN presets .*; cdcgan is conditioned/],
    // these three stopped a run only after its data loaded (and clustered), and passed --dry-run
    [{ preset: 'pacgan-2d', spectralNorm: true }, /pacgan-2d: spectral normalization is not available for maxout/],
    [
      { preset: 'dcgan', clusters: 10, evalEvery: 100, evalSamples: 200_000 },
      /eval samples are capped at 100000, got 200000/,
    ],
    [{ preset: 'dcgan', evalEvery: 100, evalClassifier: '/no/such/classifier' }, /--eval-classifier: no classifier at/],
    [
      { preset: 'dcgan-32', evalEvery: 100 },
      /--eval-every: the generator makes 32×32×3 images but the classifier .* takes 28×28×1/,
    ],
  ] as const)
    await assert.rejects(checkRun({ backend: 'cpu', ...options }), message);
  const outDir = join(tempDir(), 'run');
  const { config, backend } = await checkRun({ outDir, preset: 'dcgan', backend: 'cpu' });
  assert.deepEqual([config.preset, backend.name], ['dcgan', 'cpu']);
  assert.ok(!existsSync(outDir), 'nothing written');
  // the cpu backend's memory is JavaScript's: no WebAssembly limit to check
  assert.equal((await checkRun({ outDir, preset: 'dcgan-64', width: 300, backend: 'cpu' })).config.width, 300);
});
