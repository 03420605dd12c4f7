/**
 * Trains the evaluation classifier (models/classifier.ts) on labelled IDX data
 * with the same pieces as the GAN trainer (backend choice, seeded order, progress
 * bar), measures its test accuracy and exports it to ONNX for `ganport eval`.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { GanportError, META, Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { type ImageDataset, imagesAsFloats, loadImageDataset, resolveDataDir } from '../datasets/fashion-mnist.js';
import { modelToBytes } from '../export/index.js';
import { type ClassifierRecord, classifierPaths } from '../formats/classifier-dir.js';
import { buildClassifier, CLASS_LOGITS_LAYER, FEATURE_SIZE } from '../presets/classifier.js';
import { type BackendChoice, selectBackend } from '../tfjs/backend.js';
import { saveLayersModel } from '../tfjs/model-io.js';
import { packageVersion, writeFileAtomic } from '../util/files.js';
import { positiveInt } from './option-checks.js';
import { ProgressBar } from './progress.js';

export interface ClassifierTrainOptions {
  outDir: string;
  dataDir?: string;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  backend?: string;
  /** Use only the first N training images. */
  limit?: number;
  overwrite?: boolean;
  quiet?: boolean;
  log?: (line: string) => void;
}

/** Real and generated images are embedded alike: both in [-1, 1]. */
const imageBatch = (data: ImageDataset, indices: ArrayLike<number>): tf.Tensor4D =>
  tf.tensor4d(imagesAsFloats(data, indices), [indices.length, data.height, data.width, 1]);

function accuracy(logits: tf.LayersModel, data: ImageDataset): number {
  let correct = 0;
  for (let from = 0; from < data.count; from += 500) {
    const indices = Array.from({ length: Math.min(500, data.count - from) }, (_, i) => from + i);
    const predicted = tf.tidy(() => (logits.predict(imageBatch(data, indices)) as tf.Tensor).argMax(-1).dataSync());
    for (const [i, index] of indices.entries()) correct += Number(predicted[i] === data.labels[index]);
  }
  return correct / data.count;
}

function numClassesOf(data: ImageDataset): number {
  const n = data.labels.reduce((max, label) => Math.max(max, label), 0) + 1; // no spread: it would overflow the stack on large label files
  if (n < 2) throw new GanportError(`${data.source}: the labels name only one class; a classifier needs at least two`);
  return n;
}

export async function trainClassifier(
  options: ClassifierTrainOptions,
): Promise<{ record: ClassifierRecord; backend: BackendChoice }> {
  const log = options.log ?? (() => {});
  const paths = classifierPaths(options.outDir);
  if (existsSync(paths.record) && !options.overwrite)
    throw new GanportError(`${options.outDir} already holds a classifier; choose another --out or pass --overwrite`);
  const dir = resolve(resolveDataDir(options.dataDir));
  const train = await loadImageDataset(dir, 'train');
  const test = await loadImageDataset(dir, 't10k').catch((err: Error) => {
    throw new GanportError(
      `${err.message}; the classifier's accuracy is measured on the t10k split, so the data directory needs both`,
      'not-found',
    );
  });
  if (test.height !== train.height || test.width !== train.width)
    throw new GanportError(
      `${dir}: train images are ${train.height}×${train.width} but t10k images ${test.height}×${test.width}`,
    );
  const seed = options.seed ?? 0;
  const epochs = positiveInt('epochs', options.epochs ?? 5);
  const batchSize = positiveInt('batch size', options.batchSize ?? 64);
  const learningRate = options.learningRate ?? 1e-3;
  const trainImages = positiveInt('limit', Math.min(train.count, options.limit ?? Infinity));
  if (trainImages < batchSize)
    throw new GanportError(`batch size ${batchSize} is larger than the ${trainImages} training images`);
  const numClasses = Math.max(numClassesOf(train), numClassesOf(test));

  const backend = await selectBackend(options.backend);
  log(`backend: ${backend.name} (${backend.reason})`);
  log(`data: ${trainImages} training and ${test.count} test images from ${dir}`);
  if (options.overwrite) for (const old of Object.values(paths)) await rm(old, { recursive: true, force: true });
  await mkdir(options.outDir, { recursive: true });

  const model = buildClassifier({ height: train.height, width: train.width, channels: 1, numClasses }, seed);
  const logits = tf.model({
    inputs: model.inputs,
    outputs: model.getLayer(CLASS_LOGITS_LAYER).output as tf.SymbolicTensor,
  });
  const optimizer = tf.train.adam(learningRate);
  const rng = new Rng(seed);
  const order = Uint32Array.from({ length: trainImages }, (_, i) => i);
  const stepsPerEpoch = Math.floor(trainImages / batchSize);
  const bar = new ProgressBar(process.stderr, 24, options.quiet);
  const start = Date.now();
  let testAccuracy = 0;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      rng.shuffle(order);
      let lossSum = 0;
      let lastLoss: number | undefined;
      for (let i = 0; i < stepsPerEpoch; i++) {
        const indices = order.subarray(i * batchSize, (i + 1) * batchSize);
        const x = imageBatch(train, indices);
        const y = tf
          .oneHot(
            tf.tensor1d(
              Int32Array.from(indices, (index) => train.labels[index]),
              'int32',
            ),
            numClasses,
          )
          .toFloat();
        const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, logits.apply(x) as tf.Tensor), true)!;
        lastLoss = (await loss.data())[0];
        lossSum += lastLoss;
        tf.dispose([x, y, loss]);
        const done = (epoch - 1) * stepsPerEpoch + i + 1;
        const imagesPerSecond = (done * batchSize) / Math.max((Date.now() - start) / 1000, 1e-3);
        bar.update(
          {
            epoch,
            epochs,
            step: i + 1,
            steps: stepsPerEpoch,
            imagesPerSecond,
            losses: { loss: lastLoss },
            etaSeconds: ((epochs * stepsPerEpoch - done) * batchSize) / imagesPerSecond,
          },
          i === stepsPerEpoch - 1,
        );
      }
      testAccuracy = accuracy(logits, test);
      const line = {
        epoch,
        train_loss: lossSum / stepsPerEpoch,
        test_accuracy: testAccuracy,
        elapsed_s: (Date.now() - start) / 1000,
      };
      await appendFile(paths.metrics, `${JSON.stringify(line)}\n`);
      await saveLayersModel(model, paths.tfjs, { ganport: { role: 'classifier', epoch } });
      log(
        `epoch ${epoch}: train loss ${line.train_loss.toFixed(4)}, test accuracy ${(100 * testAccuracy).toFixed(2)} %`,
      );
    }
  } finally {
    bar.done();
    optimizer.dispose();
  }

  const record: ClassifierRecord = {
    data: dir,
    dataName: basename(dir),
    numClasses,
    imageShape: [train.height, train.width, 1],
    seed,
    epochs,
    batchSize,
    learningRate,
    backend: backend.name,
    trainImages,
    testImages: test.count,
    testAccuracy,
    trainSeconds: Math.round((Date.now() - start) / 1000),
    ganportVersion: packageVersion(),
  };
  const bytes = modelToBytes(model, {
    inputNames: ['image'],
    outputNames: ['features', 'probabilities'],
    docString: `ganport evaluation classifier: image [batch, ${record.imageShape.join(', ')}] (NHWC) in [-1, 1] → features [batch, ${FEATURE_SIZE}], probabilities [batch, ${numClasses}]; test accuracy ${(100 * testAccuracy).toFixed(2)} % on ${record.dataName}`,
    metadata: {
      [META.role]: 'classifier',
      [META.data]: record.dataName,
      [META.numClasses]: String(numClasses),
      [META.outputShape]: JSON.stringify(record.imageShape),
      [META.layout]: 'NHWC',
      [META.valueRange]: '[-1,1]',
      [META.testAccuracy]: testAccuracy.toFixed(4),
    },
  });
  model.dispose();
  await writeFileAtomic(paths.onnx, bytes);
  await writeFileAtomic(paths.record, `${JSON.stringify(record, null, 2)}\n`);
  log(`wrote ${options.outDir}: classifier.onnx (${bytes.length} bytes), classifier.json, metrics.jsonl, tfjs/`);
  return { record, backend };
}
