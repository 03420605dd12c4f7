/** End to end on the shipped data: train one short epoch → export → compare ONNX Runtime outputs with tfjs. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readOnnxInfo } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { PNG } from 'pngjs';
import { loadImageDataset } from '../src/datasets/fashion-mnist.js';
import { exportRun, modelPaths } from '../src/export/index.js';
import { runParity } from '../src/parity/parity.js';
import { loadLayersModel } from '../src/tfjs/model-io.js';
import { readMetrics, train } from '../src/train/train.js';
import { maxAbsDiff, runCli, SAMPLE_DATA, tempDir } from './helpers.js';

const metricsOf = (dir: string) => readMetrics(join(dir, 'metrics.jsonl'));

const options = (outDir: string) => ({
  preset: 'seed-mlp',
  epochs: 1,
  outDir,
  dataDir: SAMPLE_DATA,
  limit: 1280,
  batchSize: 64,
  seed: 3,
  logEvery: 5,
  quiet: true,
});

let runDir: string;
let modelDir: string;

before(async () => {
  runDir = tempDir();
  modelDir = tempDir();
  await train(options(runDir));
  await exportRun(runDir, modelDir);
});

test('a run writes models, config, metrics and a sample grid', async () => {
  for (const f of [
    'config.json',
    'metrics.jsonl',
    'generator/model.json',
    'generator/weights.bin',
    'discriminator/model.json',
    'discriminator/weights.bin',
  ]) {
    assert.ok(existsSync(join(runDir, f)), f);
  }
  const metrics = await metricsOf(runDir);
  assert.deepEqual(
    metrics.map((m) => m.step),
    [5, 10, 15, 20],
  );
  const grid = PNG.sync.read(readFileSync(join(runDir, 'samples', 'epoch-001.png')));
  assert.equal(grid.width, 8 * 28 + 9 * 2);
  assert.equal(grid.height, grid.width);
});

test('the discriminator learns to tell real images from generated ones', async () => {
  const last = (await metricsOf(runDir)).at(-1)!;
  assert.ok(last.dReal > last.dFake + 0.1, `D(real) ${last.dReal} vs D(fake) ${last.dFake}`);
  assert.ok(Number.isFinite(last.dLoss) && Number.isFinite(last.gLoss));
});

test('the same seed on the same backend gives the same losses', async () => {
  const again = tempDir();
  await train(options(again));
  assert.deepEqual(
    (await metricsOf(again)).map(({ dLoss, gLoss, dReal, dFake }) => [dLoss, gLoss, dReal, dFake]),
    (await metricsOf(runDir)).map(({ dLoss, gLoss, dReal, dFake }) => [dLoss, gLoss, dReal, dFake]),
  );
});

test('an existing run is not overwritten without --overwrite', async () => {
  await assert.rejects(train(options(runDir)), /already holds a training run/);
});

test('export writes both models, metadata and the tfjs reference', () => {
  const paths = modelPaths(modelDir);
  for (const f of [paths.generator, paths.discriminator, paths.tfjsGeneratorJson, paths.tfjsDiscriminatorJson])
    assert.ok(existsSync(f), f);
  const info = readOnnxInfo(readFileSync(paths.generator));
  assert.equal(info.metadata['ganport.latent_size'], '64');
  assert.equal(info.metadata['ganport.preset'], 'seed-mlp');
  assert.equal(info.metadata['ganport.layout'], 'NHWC');
  assert.equal(info.metadata['ganport.value_range'], '[-1,1]');
  assert.equal(info.producerName, 'ganport');
  assert.deepEqual(info.inputs[0].dims, ['batch', 64]);
  assert.deepEqual(info.outputs[0].dims, ['batch', 28, 28, 1]);
});

test('exported generator matches tfjs in onnxruntime-node and onnxruntime-web', async () => {
  const report = await runParity(modelDir, { runtimes: ['tfjs', 'ort-node', 'ort-web'], count: 32, seed: 9 });
  assert.equal(report.rows.length, 3);
  for (const row of report.rows) assert.ok(row.maxAbsError <= 1e-5, `${row.runtime}: ${row.maxAbsError}`);
  // each row runs in the package it names: onnxruntime-web's wasm build, not onnxruntime-node again
  const providers = Object.fromEntries(report.rows.map((row) => [row.runtime, row.provider]));
  assert.deepEqual([providers['ort-node'], providers['ort-web']], ['cpu', 'wasm']);
  assert.ok(report.ok);
});

test('exported discriminator outputs the probability tfjs gives for real images', async () => {
  const data = await loadImageDataset(SAMPLE_DATA);
  const n = 16;
  const x = Float32Array.from(data.images.subarray(0, n * 784), (v) => v / 127.5 - 1);
  const model = await loadLayersModel(modelPaths(modelDir).tfjsDiscriminatorJson);
  const expected = (model.predict(tf.tensor4d(x, [n, 28, 28, 1])) as tf.Tensor).dataSync();
  assert.ok(expected.every((p) => p > 0 && p < 1));
  const session = await ort.InferenceSession.create(modelPaths(modelDir).discriminator);
  const out = await session.run({ image: new ort.Tensor('float32', x, [n, 28, 28, 1]) });
  assert.deepEqual(out.probability.dims, [n, 1]);
  assert.ok(maxAbsDiff(expected, out.probability.data as Float32Array) <= 1e-6);
});

test('ganport eval measures the freshly trained model against the real floor', () => {
  const result = runCli(['eval', modelDir, '--samples', '500', '--data', SAMPLE_DATA, '--json']);
  assert.equal(result.status, 0, result.stderr);
  const { generated, realFloor } = JSON.parse(result.stdout) as {
    generated: { fcd: number; classHistogram: number[] };
    realFloor: { fcd: number };
  };
  assert.ok(
    Number.isFinite(generated.fcd) && generated.fcd > realFloor.fcd,
    `${generated.fcd} vs floor ${realFloor.fcd}`,
  );
  assert.equal(
    generated.classHistogram.reduce((a, b) => a + b, 0),
    500,
  );
});
