/**
 * Trains the evaluation classifier (presets/classifier.ts) on labelled IDX data with the same pieces
 * as the GAN trainer (backend choice, seeded order, progress bar, throughput, metrics.jsonl lines),
 * measures its test accuracy after every epoch and exports it to ONNX for `ganport eval`.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { GanportError, META, Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { type ImageDataset, imagesAsFloats, loadImageDataset, resolveDataDir } from '../datasets/fashion-mnist.js';
import { modelToBytes } from '../export/index.js';
import {
  CLASSIFIER_METRICS_FILE_NAMES,
  type ClassifierPaths,
  type ClassifierRecord,
  classifierPaths,
} from '../formats/classifier-dir.js';
import { moveInWithManifest } from '../formats/manifest.js';
import { modelPaths } from '../formats/model-dir.js';
import { runPaths } from '../formats/run-dir.js';
import { buildClassifier, CLASS_LOGITS_LAYER, FEATURE_SIZE } from '../presets/classifier.js';
import { type BackendChoice, selectBackend } from '../tfjs/backend.js';
import { ONNX_BACKEND, ORT_BACKEND } from '../tfjs/backend-names.js';
import { saveLayersModel } from '../tfjs/model-io.js';
import { toFileFields } from '../util/file-fields.js';
import { makeStaging, packageVersion, refuseFile, writeFileAtomic } from '../util/files.js';
import { appendJsonLine } from './metrics.js';
import { positiveInt, positiveNumber } from './option-checks.js';
import { ProgressBar } from './progress.js';
import { Throughput } from './throughput.js';

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

/** What a classifier run trains on and how, settled before its first step. */
interface ClassifierSetup {
  outDir: string;
  /** Where the run writes, beside outDir (stagingDir), until it moves in. */
  staging: string;
  /** The files in staging. */
  paths: ClassifierPaths;
  dataDir: string;
  train: ImageDataset;
  test: ImageDataset;
  numClasses: number;
  seed: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  trainImages: number;
  backend: BackendChoice;
  quiet?: boolean;
  log: (line: string) => void;
}

/** Everything one run's steps share. */
interface ClassifierRun extends ClassifierSetup {
  model: tf.LayersModel;
  /** The model up to its class logits, which the loss is computed on. */
  logits: tf.LayersModel;
  optimizer: tf.Optimizer;
  rng: Rng;
  order: Uint32Array;
  stepsPerEpoch: number;
  bar: ProgressBar;
  speed: Throughput;
}

/**
 * Trains a classifier into a staging directory beside `outDir` and moves it in whole once exported, so
 * that a run which fails or is killed leaves `outDir` (an earlier classifier with --overwrite) as it was.
 */
export async function trainClassifier(
  options: ClassifierTrainOptions,
): Promise<{ record: ClassifierRecord; backend: BackendChoice }> {
  const run = startRun(await openClassifierRun(options));
  try {
    let testAccuracy = 0;
    try {
      for (let epoch = 1; epoch <= run.epochs; epoch++) {
        const trainLoss = await trainEpoch(run, epoch);
        testAccuracy = await finishEpoch(run, epoch, trainLoss);
      }
    } finally {
      run.bar.done();
      run.optimizer.dispose();
    }
    const record = await exportClassifier(run, testAccuracy);
    await moveInWithManifest(run.staging, run.outDir, CLASSIFIER_ENTRIES);
    run.log(`wrote ${run.outDir}: classifier.onnx, classifier.json, metrics.jsonl, tfjs/ and manifest.json`);
    return { record, backend: run.backend };
  } finally {
    await rm(run.staging, { recursive: true, force: true }); // gone already unless something failed
  }
}

/** What a classifier directory holds besides its manifest, relative to it. */
const CLASSIFIER_ENTRIES = Object.values(classifierPaths('.'));

/** Refuses an --out that would replace what is not a classifier's, or replace one without --overwrite. */
function checkOutDir(outDir: string, overwrite: boolean): void {
  refuseFile(outDir, '--out');
  const foreign = [runPaths(outDir).config, modelPaths(outDir).generator].find(existsSync);
  if (foreign !== undefined)
    throw new GanportError(
      `--out ${outDir} holds ${basename(foreign)} (a training run or a model directory), whose files a classifier's would replace; choose a directory of its own`,
    );
  const paths = classifierPaths(outDir);
  const taken = CLASSIFIER_ENTRIES.filter((entry) => existsSync(join(outDir, entry)));
  if (taken.length === 0 || overwrite) return;
  throw new GanportError(
    existsSync(paths.onnx) || existsSync(paths.record)
      ? `${outDir} already holds a classifier; choose another --out or pass --overwrite`
      : `${outDir} already holds ${taken.join(', ')}, which a classifier's files would replace; choose another --out or pass --overwrite`,
  );
}

/** Checks the options and the data, selects the backend and prepares the output directory. */
async function openClassifierRun(options: ClassifierTrainOptions): Promise<ClassifierSetup> {
  const log = options.log ?? (() => {});
  checkOutDir(options.outDir, options.overwrite ?? false);
  const dataDir = resolve(resolveDataDir(options.dataDir));
  const { train, test } = await loadSplits(dataDir);
  const seed = options.seed ?? 0;
  new Rng(seed); // checks the seed before anything is written
  const epochs = positiveInt('epochs', options.epochs ?? 5);
  const batchSize = positiveInt('batch size', options.batchSize ?? 64);
  const learningRate = positiveNumber('learning rate', options.learningRate ?? 1e-3);
  const trainImages = positiveInt('limit', Math.min(train.count, options.limit ?? Infinity));
  if (trainImages < batchSize)
    throw new GanportError(`batch size ${batchSize} is larger than the ${trainImages} training images`);
  const numClasses = Math.max(numClassesOf(train), numClassesOf(test));

  const chosen = await selectBackend(options.backend);
  // the onnx engine runs GAN steps; a classifier trains on the tfjs kernels under it, ort
  const backend: BackendChoice =
    chosen.name === ONNX_BACKEND
      ? { ...chosen, name: ORT_BACKEND, reason: `${chosen.reason}; as ort, its tfjs kernels` }
      : chosen;
  log(`backend: ${backend.name} (${backend.reason})`);
  log(`data: ${trainImages} training and ${test.count} test images from ${dataDir}`);
  const { outDir, quiet } = options;
  const staging = await makeStaging(outDir, '--out');
  const settings = { seed, epochs, batchSize, learningRate, trainImages, numClasses };
  return { outDir, staging, paths: classifierPaths(staging), dataDir, train, test, ...settings, backend, quiet, log };
}

/** The train split and the t10k split the accuracy is measured on, of the same image size. */
async function loadSplits(dir: string): Promise<{ train: ImageDataset; test: ImageDataset }> {
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
  return { train, test };
}

/** The seeded model, its optimizer and the order the images are drawn in. */
function startRun(setup: ClassifierSetup): ClassifierRun {
  const { train, numClasses, seed, epochs, batchSize, trainImages } = setup;
  const model = buildClassifier({ height: train.height, width: train.width, channels: 1, numClasses }, seed);
  const logits = tf.model({
    inputs: model.inputs,
    outputs: model.getLayer(CLASS_LOGITS_LAYER).output as tf.SymbolicTensor,
  });
  const stepsPerEpoch = Math.floor(trainImages / batchSize);
  return {
    ...setup,
    model,
    logits,
    optimizer: tf.train.adam(setup.learningRate),
    rng: new Rng(seed),
    order: Uint32Array.from({ length: trainImages }, (_, i) => i),
    stepsPerEpoch,
    bar: new ProgressBar(process.stderr, 24, setup.quiet),
    speed: new Throughput(0, batchSize, epochs * stepsPerEpoch),
  };
}

/** One pass over the training images in a new order; the mean loss of its steps. */
async function trainEpoch(run: ClassifierRun, epoch: number): Promise<number> {
  const { batchSize, stepsPerEpoch } = run;
  run.rng.shuffle(run.order);
  let lossSum = 0;
  for (let i = 0; i < stepsPerEpoch; i++) {
    const loss = await trainStep(run, run.order.subarray(i * batchSize, (i + 1) * batchSize));
    // before anything is saved: a classifier that computes NaN would score every generator as garbage
    if (!Number.isFinite(loss))
      throw new GanportError(
        `training diverged at epoch ${epoch}, step ${i + 1} (loss ${loss}); nothing was exported; try a lower --lr`,
      );
    lossSum += loss;
    const { imagesPerSecond, etaSeconds } = run.speed.at((epoch - 1) * stepsPerEpoch + i + 1);
    run.bar.update(
      { epoch, epochs: run.epochs, step: i + 1, steps: stepsPerEpoch, imagesPerSecond, etaSeconds, losses: { loss } },
      i === stepsPerEpoch - 1,
    );
  }
  return lossSum / stepsPerEpoch;
}

/** One Adam step on the images at `indices`; its softmax cross-entropy. */
async function trainStep(run: ClassifierRun, indices: Uint32Array): Promise<number> {
  const { train, numClasses } = run;
  const x = imageBatch(train, indices);
  const labels = Int32Array.from(indices, (index) => train.labels[index]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat());
  const loss = run.optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, run.logits.apply(x) as tf.Tensor), true)!;
  const value = (await loss.data())[0];
  tf.dispose([x, y, loss]);
  return value;
}

/** The epoch's test accuracy into metrics.jsonl and the log, and the tfjs model saved; returns the accuracy. */
async function finishEpoch(run: ClassifierRun, epoch: number, trainLoss: number): Promise<number> {
  const testAccuracy = accuracy(run.logits, run.test);
  const line = { epoch, trainLoss, testAccuracy, elapsedSeconds: run.speed.elapsedSeconds() };
  await appendJsonLine(run.paths.metrics, toFileFields(line, CLASSIFIER_METRICS_FILE_NAMES));
  await saveLayersModel(run.model, run.paths.tfjs, { ganport: { role: 'classifier', epoch } });
  run.log(`epoch ${epoch}: train loss ${trainLoss.toFixed(4)}, test accuracy ${(100 * testAccuracy).toFixed(2)} %`);
  return testAccuracy;
}

/** classifier.onnx (features and probabilities, for `ganport eval`) and classifier.json. */
async function exportClassifier(run: ClassifierRun, testAccuracy: number): Promise<ClassifierRecord> {
  const { model, numClasses, train } = run;
  const record: ClassifierRecord = {
    data: run.dataDir,
    dataName: basename(run.dataDir),
    numClasses,
    imageShape: [train.height, train.width, 1],
    seed: run.seed,
    epochs: run.epochs,
    batchSize: run.batchSize,
    learningRate: run.learningRate,
    backend: run.backend.name,
    trainImages: run.trainImages,
    testImages: run.test.count,
    testAccuracy,
    trainSeconds: Math.round(run.speed.elapsedSeconds()),
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
  await writeFileAtomic(run.paths.onnx, bytes);
  await writeFileAtomic(run.paths.record, `${JSON.stringify(record, null, 2)}\n`);
  return record;
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
