/** `ganport train-classifier`: a short run on the shipped sample, its ONNX export against tfjs, and its guard rails. */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { imagesAsFloats, loadImageDataset } from '../../src/datasets/fashion-mnist.js';
import { Classifier } from '../../src/eval/classifier.js';
import { type ClassifierRecord, classifierPaths } from '../../src/formats/classifier-dir.js';
import { verifyManifest } from '../../src/formats/manifest.js';
import { loadLayersModel } from '../../src/tfjs/model-io.js';
import { trainClassifier } from '../../src/train/classifier.js';
import { maxAbsDiff, runCli, SAMPLE_DATA, tempDir } from '../helpers.js';

test('train-classifier learns from the shipped sample and exports features + probabilities that match tfjs', async () => {
  const out = tempDir();
  const result = runCli([
    'train-classifier',
    '--out',
    out,
    '--data',
    SAMPLE_DATA,
    '--epochs',
    '2',
    '--limit',
    '1024',
    '--seed',
    '2',
    '--quiet',
  ]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /test accuracy \d+\.\d\d % on 2000 fashion-mnist-sample test images after 2 epochs/);
  const paths = classifierPaths(out);
  for (const f of Object.values(paths)) assert.ok(existsSync(f), f);
  await verifyManifest(out, { listed: [''] }); // every file it wrote, listed
  assert.deepEqual(
    readdirSync(dirname(out)).filter((name) => name.startsWith(basename(out))),
    [basename(out)],
  );
  const record = JSON.parse(readFileSync(paths.record, 'utf8')) as ClassifierRecord;
  assert.equal(record.trainImages, 1024);
  assert.equal(record.numClasses, 10);
  assert.ok(record.testAccuracy > 0.6, `accuracy after 2 short epochs: ${record.testAccuracy}`);
  const epochs = readFileSync(paths.metrics, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const fields = ['epoch', 'train_loss', 'test_accuracy', 'elapsed_s'];
  assert.deepEqual(
    epochs.map((line) => Object.keys(line)),
    [fields, fields],
  );
  assert.equal(epochs[1].test_accuracy, record.testAccuracy);

  const test = await loadImageDataset(SAMPLE_DATA, 't10k');
  const indices = Array.from({ length: 64 }, (_, i) => i * 31);
  const images = imagesAsFloats(test, indices);
  const classifier = await Classifier.load(paths.onnx);
  const reference = await loadLayersModel(join(paths.tfjs, 'model.json'));
  try {
    assert.equal(classifier.testAccuracy.toFixed(4), record.testAccuracy.toFixed(4));
    const onnx = await classifier.embed(images, 64);
    const [features, probabilities] = reference.predict(tf.tensor4d(images, [64, 28, 28, 1])) as tf.Tensor[];
    assert.ok(maxAbsDiff(onnx.features, features.dataSync()) < 1e-4);
    assert.ok(maxAbsDiff(onnx.probabilities, probabilities.dataSync()) < 1e-5);
  } finally {
    await classifier.dispose();
    reference.dispose();
  }
  await assert.rejects(trainClassifier({ outDir: out, dataDir: SAMPLE_DATA }), /already holds a classifier/);
});

test('train-classifier needs the t10k split and sane settings', async () => {
  const trainOnly = tempDir();
  for (const f of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'])
    copyFileSync(join(SAMPLE_DATA, f), join(trainOnly, f));
  const noTest = runCli(['train-classifier', '--out', tempDir(), '--data', trainOnly]);
  assert.equal(noTest.status, 1);
  assert.match(noTest.stderr, /no t10k-images-idx3-ubyte\[\.gz\] in .*measured on the t10k split/);
  await assert.rejects(
    trainClassifier({ outDir: tempDir(), dataDir: SAMPLE_DATA, batchSize: 4096 }),
    /batch size 4096 is larger than the 2000 training images/,
  );
  assert.equal(runCli(['train-classifier']).status, 2);
  for (const learningRate of [0, -1])
    await assert.rejects(
      trainClassifier({ outDir: tempDir(), dataDir: SAMPLE_DATA, learningRate }),
      /learning rate must be a positive number/,
    );
  const file = join(tempDir(), 'a-file');
  writeFileSync(file, '');
  const onFile = runCli(['train-classifier', '--out', file, '--data', SAMPLE_DATA]);
  assert.equal(onFile.status, 1);
  assert.match(onFile.stderr, /--out .*a-file is a file, not a directory/);
  // files a classifier would replace, of something else: named, not called a classifier
  const other = tempDir();
  writeFileSync(join(other, 'metrics.jsonl'), '{"epoch":1}\n');
  await assert.rejects(
    trainClassifier({ outDir: other, dataDir: SAMPLE_DATA }),
    /already holds metrics\.jsonl, which a classifier's files would replace; choose another --out or pass --overwrite/,
  );
  const cannot = runCli(['train-classifier', '--out', join(file, 'x'), '--data', SAMPLE_DATA]);
  assert.equal(cannot.status, 1);
  assert.match(cannot.stderr, /^ganport train-classifier: cannot create --out .*a-file\/x \(ENOTDIR\)\n$/);
});
