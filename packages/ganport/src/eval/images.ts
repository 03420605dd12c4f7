/**
 * Image metrics for a generator, measured through the runtime on what users see
 * (outputs quantized to 8-bit pixels, as PNGs store them), against the real
 * test split, with the same numbers for real train images as the floor:
 * Fréchet classifier distance, k-NN precision/recall, class-histogram KL and,
 * for conditional generators, how often the classifier sees the requested class.
 */
import { resolve } from 'node:path';
import { defaultLabels, GanportError, type Generator, MAX_COUNT, Rng, sampleLatents, toRgba } from '@ganport/runtime';
import { type ImageDataset, imagesAsFloats, loadImageDataset, resolveDataDir } from '../datasets/fashion-mnist.js';
import { Classifier, classHistogramKl, type Embeddings, predictedClasses } from './classifier.js';
import { PairwiseDistances } from './distances.js';
import { frechetDistance, type GaussianStats, gaussianStats } from './linalg.js';
import { DEFAULT_K, type Manifold, manifold, precisionRecall } from './precision-recall.js';

export const DEFAULT_IMAGE_SAMPLES = 10_000;
/**
 * The most images per side. Measured on a 2-core, 24 GiB machine: peak memory is about 0.4 GB plus
 * 23 KB per sample (floats of three image sets, features, distance blocks), so memory would run out
 * near 950,000; time grows with N² (20 s at 10,000, 80 s at 20,000), about 35 minutes at this cap.
 */
export const MAX_IMAGE_SAMPLES = 100_000;

export interface ImageEvalOptions {
  /** Images on each side (generated, real test, real train): N, default 10,000. */
  samples?: number;
  /** Seeds the latents and which real images are drawn. */
  seed?: number;
  /** IDX directory with train and t10k splits (default: Debian's Fashion-MNIST, else the shipped sample). */
  dataDir?: string;
  classifier?: string;
  k?: number;
  log?: (line: string) => void;
}

export interface ImageScores {
  /** Fréchet distance between classifier features of these images and of the real test images. */
  fcd: number;
  precision: number;
  recall: number;
  /** KL(predicted-class histogram ‖ uniform). */
  classKl: number;
  classHistogram: number[];
  /** Generated: share classified as the requested class (conditional generators). Real: the classifier's accuracy on the test images. */
  classAccuracy?: number;
}

export interface ImageEvalReport {
  samples: number;
  seed: number;
  k: number;
  data: string;
  classifier: { path: string; data: string; testAccuracy: number };
  generated: ImageScores;
  /** Real train images scored against the real test images: the best a generator can expect. */
  realFloor: ImageScores;
  /** What makes these numbers less meaningful than they look (too few samples). */
  warnings: string[];
}

/** N indices out of `count`, seeded: all of them in order when N = count. */
function draw(count: number, n: number, rng: Rng): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  if (n < count) rng.shuffle(order);
  return order.subarray(0, n);
}

/** Generates N images from `seed` in runtime-sized chunks, quantized to bytes as a PNG would hold them, as NHWC floats in [-1, 1]. */
async function generatedImages(
  generator: Generator,
  n: number,
  seed: number,
  labels: number[] | undefined,
  shape: number[],
): Promise<Float32Array> {
  const [height, width, channels] = shape;
  const size = height * width * channels;
  const latents = sampleLatents({ seed, count: n, dim: generator.info.latentSize });
  const out = new Float32Array(n * size);
  for (let from = 0; from < n; from += MAX_COUNT) {
    const count = Math.min(MAX_COUNT, n - from);
    const batch = await generator.generate({
      latents: latents.subarray(from * generator.info.latentSize, (from + count) * generator.info.latentSize),
      labels: labels?.slice(from, from + count),
    });
    const images = batch.images!;
    for (let i = 0; i < count; i++) {
      const rgba = toRgba(images, i).pixels;
      const at = (from + i) * size;
      for (let p = 0; p < height * width; p++)
        for (let c = 0; c < channels; c++) out[at + p * channels + c] = rgba[p * 4 + c] / 127.5 - 1;
    }
  }
  return out;
}

async function score(
  candidate: Embeddings,
  testStats: GaussianStats,
  test: Manifold,
  classifier: Classifier,
  k: number,
  distances: PairwiseDistances,
  expected?: ArrayLike<number>,
): Promise<ImageScores> {
  const fcd = frechetDistance(gaussianStats(candidate.features, classifier.featureSize), testStats);
  const { precision, recall } = await precisionRecall(
    test,
    await manifold(candidate.features, classifier.featureSize, k, distances),
    distances,
  );
  const classes = predictedClasses(candidate, classifier.numClasses);
  const { histogram, kl } = classHistogramKl(classes, classifier.numClasses);
  const scores: ImageScores = { fcd, precision, recall, classKl: kl, classHistogram: histogram };
  if (expected) scores.classAccuracy = agreement(classes, expected);
  return scores;
}

export async function evaluateImages(generator: Generator, options: ImageEvalOptions = {}): Promise<ImageEvalReport> {
  const log = options.log ?? (() => {});
  const requested = options.samples ?? DEFAULT_IMAGE_SAMPLES;
  const seed = options.seed ?? 0;
  const k = options.k ?? DEFAULT_K;
  const checkSamples = (n: number) => {
    if (!Number.isInteger(n) || n <= k)
      throw new GanportError(`the sample count must be an integer above k = ${k}, got ${n}`);
  };
  checkSamples(requested);
  if (requested > MAX_IMAGE_SAMPLES)
    throw new GanportError(
      `the sample count is capped at ${MAX_IMAGE_SAMPLES} images per side (about 2.7 GB and 35 minutes; ` +
        `time grows with its square), got ${requested}`,
    );
  if (!Number.isInteger(k) || k < 1) throw new GanportError(`k must be a positive integer, got ${k}`);
  const { info } = generator;
  if (info.layout === 'flat')
    throw new GanportError(`the model makes ${info.outputShape.join('×')} outputs, not images`, 'unsupported');
  const shape =
    info.layout === 'NHWC' ? info.outputShape : [info.outputShape[1], info.outputShape[2], info.outputShape[0]];

  const classifier = await Classifier.load(options.classifier);
  let distances: PairwiseDistances | undefined;
  try {
    distances = await PairwiseDistances.create();
    const hasClassLabels = info.labelKind === 'class';
    const classes = hasClassLabels ? info.numClasses : undefined;
    // without --samples, data with fewer images (the shipped sample's 2,000) is measured whole
    const given = options.samples !== undefined;
    const { dir, train, test } = await realImages(classifier, shape, classes, given ? requested : 0, options.dataDir);
    const n = given ? requested : Math.min(requested, train.count, test.count);
    checkSamples(n);
    const rng = new Rng(seed);
    const testIndices = draw(test.count, n, rng);
    log(`embedding ${n} real test and ${n} real train images from ${dir}`);
    const testEmbeddings = await classifier.embed(imagesAsFloats(test, testIndices), n);
    const trainEmbeddings = await classifier.embed(imagesAsFloats(train, draw(train.count, n, rng)), n);
    const labels = info.numClasses ? defaultLabels(n, info.numClasses) : undefined;
    log(`generating and embedding ${n} images (seed ${seed})`);
    const generated = await classifier.embed(await generatedImages(generator, n, seed, labels, shape), n);

    log(`k-NN manifolds (k = ${k}) and Fréchet distances`);
    const testStats = gaussianStats(testEmbeddings.features, classifier.featureSize);
    const testManifold = await manifold(testEmbeddings.features, classifier.featureSize, k, distances);
    const trueTestLabels = Array.from(testIndices, (i) => test.labels[i]);
    const warnings = [
      n < requested
        ? `${dir} holds ${Math.min(train.count, test.count)} images in a split, so ${n} samples were measured, not ${requested}: FCD and precision/recall are not comparable with the README's`
        : undefined,
      fewSamplesWarning(n, classifier.featureSize),
      n < 10 * k
        ? `${n} samples for k = ${k}: each k-NN ball spans much of the set, so precision and recall run to 1 (use 10·k samples or more)`
        : undefined,
    ].filter((w) => w !== undefined);
    return {
      samples: n,
      seed,
      k,
      data: dir,
      warnings,
      classifier: { path: classifier.path, data: classifier.dataName, testAccuracy: classifier.testAccuracy },
      // cluster labels name no class, so only class labels have an accuracy to check
      generated: await score(
        generated,
        testStats,
        testManifold,
        classifier,
        k,
        distances,
        hasClassLabels ? labels : undefined,
      ),
      realFloor: {
        ...(await score(trainEmbeddings, testStats, testManifold, classifier, k, distances)),
        classAccuracy: agreement(predictedClasses(testEmbeddings, classifier.numClasses), trueTestLabels),
      },
    };
  } finally {
    await distances?.dispose();
    await classifier.dispose();
  }
}

/** The warning for a measurement of `n` samples where they are too few for the classifier's features, or undefined. */
export const fewSamplesWarning = (n: number, featureSize: number): string | undefined =>
  n <= featureSize
    ? `${n} samples are no more than the classifier's ${featureSize} features: the covariances are ` +
      'singular and the FCD mostly bias (the README uses 10,000)'
    : undefined;

/** Refuses a classifier that cannot measure `shape` images conditioned on `classes`. */
export function checkClassifierFits(classifier: Classifier, shape: number[], classes: number | undefined): void {
  if (shape.join() !== classifier.imageShape.join()) {
    throw new GanportError(
      `the generator makes ${shape.join('×')} images but the classifier ${classifier.path} takes ${classifier.imageShape.join('×')}`,
    );
  }
  if (classes !== undefined && classes !== classifier.numClasses) {
    throw new GanportError(
      `the generator is conditioned on ${classes} classes but the classifier knows ${classifier.numClasses}`,
    );
  }
}

/**
 * The real images an evaluation of `shape` images (conditioned on `classes`) draws `samples` of from
 * each split of `dataDir`, checked against the classifier first; `samplesFlag` is the option to lower.
 */
export async function realImages(
  classifier: Classifier,
  shape: number[],
  classes: number | undefined,
  samples: number,
  dataDir: string | undefined,
  samplesFlag = '--samples',
): Promise<{ dir: string; train: ImageDataset; test: ImageDataset }> {
  checkClassifierFits(classifier, shape, classes);
  const dir = resolve(resolveDataDir(dataDir));
  const train = await loadImageDataset(dir, 'train');
  const test = await loadImageDataset(dir, 't10k');
  const [height, width, channels] = classifier.imageShape;
  for (const split of [train, test])
    if (split.height !== height || split.width !== width || channels !== 1)
      throw new GanportError(
        `${split.source} holds ${split.height}×${split.width}×1 images but the classifier ${classifier.path} takes ${classifier.imageShape.join('×')}`,
      );
  const available = Math.min(train.count, test.count);
  if (available < samples)
    throw new GanportError(
      `${samples} samples need ${samples} images in each split, but ${dir} holds ${train.count} train and ${test.count} t10k images; pass ${samplesFlag} ${available} or a fuller --data`,
    );
  return { dir, train, test };
}

/** The share of predicted classes that equal the expected ones. */
function agreement(classes: Uint8Array, expected: ArrayLike<number>): number {
  return classes.reduce((hits, c, i) => hits + Number(c === expected[i]), 0) / classes.length;
}
