/**
 * The GAN training loop: alternate a discriminator step on real + fake images
 * and a generator step through the (not updated) discriminator, with the
 * non-saturating loss, Adam, and everything seeded.
 */
import { existsSync } from 'node:fs';
import { appendFile, rm } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { LOGIT_LAYER, getPreset } from '../models/index.js';
import { GanportError } from '../runtime/errors.js';
import { toGrid } from '../runtime/image.js';
import { encodePng } from '../runtime/png.js';
import { Rng, sampleLatents } from '../runtime/sampler.js';
import { type BackendChoice, selectBackend } from '../tfjs/backend.js';
import { saveLayersModel } from '../tfjs/model-io.js';
import { packageVersion, writeFileAtomic } from '../util/files.js';
import { type ImageDataset, loadImageDataset, resolveDataDir } from './data/fashion-mnist.js';
import { ProgressBar } from './progress.js';
import { type RunConfig, runPaths } from './run-dir.js';

export interface TrainOptions {
  preset: string;
  epochs: number;
  outDir: string;
  dataDir?: string;
  seed?: number;
  batchSize?: number;
  backend?: string;
  learningRate?: number;
  beta1?: number;
  /** Use only the first N images of the dataset. */
  limit?: number;
  /** Append a metrics line every this many steps. */
  logEvery?: number;
  /** Replace an existing run in outDir. */
  overwrite?: boolean;
  quiet?: boolean;
  /** Informational lines (backend, data source, where files went). */
  log?: (line: string) => void;
}

export interface MetricsLine {
  step: number;
  epoch: number;
  d_loss: number;
  g_loss: number;
  /** Mean D(x) on the real batch and D(G(z)) on the fake one. */
  d_real: number;
  d_fake: number;
  images_per_sec: number;
  elapsed_s: number;
}

export interface TrainResult {
  outDir: string;
  steps: number;
  backend: BackendChoice;
  last: MetricsLine;
}

const SAMPLE_GRID = 64;

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new GanportError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const preset = getPreset(options.preset);
  const epochs = positiveInt('epochs', options.epochs);
  const batchSize = positiveInt('batch size', options.batchSize ?? 64);
  const seed = options.seed ?? 0;
  const logEvery = positiveInt('log interval', options.logEvery ?? 50);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new GanportError(`seed must be an integer in [0, 2^32), got ${seed}`);
  const log = options.log ?? (() => {});
  const paths = runPaths(options.outDir);
  if (existsSync(paths.config) && !options.overwrite) {
    throw new GanportError(`${options.outDir} already holds a training run; choose another --out or pass --overwrite`);
  }

  const data = await loadImageDataset(resolveDataDir(options.dataDir));
  const [height, width, channels] = preset.imageShape;
  if (data.height !== height || data.width !== width || channels !== 1) {
    throw new GanportError(`preset ${preset.name} needs ${height}×${width}×${channels} images; ${data.source} has ${data.height}×${data.width}×1`);
  }
  const count = Math.min(data.count, options.limit === undefined ? Infinity : positiveInt('limit', options.limit));
  if (count < batchSize) throw new GanportError(`batch size ${batchSize} is larger than the ${count} images available`);

  const backend = await selectBackend(options.backend);
  log(`backend: ${backend.name} (${backend.reason})`);
  log(`data: ${count} images from ${data.source}`);

  const config: RunConfig = {
    preset: preset.name,
    latentSize: preset.latentSize,
    imageShape: preset.imageShape,
    valueRange: [-1, 1],
    seed,
    batchSize,
    epochs,
    learningRate: options.learningRate ?? 2e-4,
    beta1: options.beta1 ?? 0.5,
    backend: backend.name,
    data: data.source,
    images: count,
    ganportVersion: packageVersion(),
  };
  if (options.overwrite) await rm(paths.metrics, { force: true });
  await writeFileAtomic(paths.config, JSON.stringify(config, null, 2) + '\n');

  const generator = preset.buildGenerator(seed);
  const discriminator = preset.buildDiscriminator(seed);
  const logits = tf.model({ inputs: discriminator.inputs, outputs: discriminator.getLayer(LOGIT_LAYER).output as tf.SymbolicTensor });
  const dOptimizer = tf.train.adam(config.learningRate, config.beta1);
  const gOptimizer = tf.train.adam(config.learningRate, config.beta1);
  const dVars = discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
  const gVars = generator.trainableWeights.map((w) => w.read() as tf.Variable);

  const rng = new Rng(seed);
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  const stepsPerEpoch = Math.floor(count / batchSize);
  const fixedLatents = tf.tensor2d(sampleLatents({ seed, count: SAMPLE_GRID, dim: preset.latentSize }), [SAMPLE_GRID, preset.latentSize]);
  const bar = new ProgressBar(process.stderr, 24, options.quiet);
  const bce = (target: 0 | 1, logit: tf.Tensor) => tf.losses.sigmoidCrossEntropy(target ? tf.onesLike(logit) : tf.zerosLike(logit), logit);
  const noise = () => {
    const z = new Float32Array(batchSize * preset.latentSize);
    for (let i = 0; i < z.length; i++) z[i] = rng.nextNormal();
    return tf.tensor2d(z, [batchSize, preset.latentSize]);
  };

  const start = Date.now();
  let step = 0;
  let last: MetricsLine | undefined;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      rng.shuffle(order);
      for (let i = 0; i < stepsPerEpoch; i++) {
        step++;
        const logging = step % logEvery === 0 || i === stepsPerEpoch - 1;
        const values = tf.tidy(() => {
          const real = realBatch(data, order, i * batchSize, batchSize);
          const zD = noise();
          const dLoss = dOptimizer.minimize(() => {
            const fake = generator.apply(zD) as tf.Tensor;
            return bce(1, logits.apply(real) as tf.Tensor).add(bce(0, logits.apply(fake) as tf.Tensor)) as tf.Scalar;
          }, true, dVars)!;
          const zG = noise();
          const gLoss = gOptimizer.minimize(() => bce(1, logits.apply(generator.apply(zG)) as tf.Tensor) as tf.Scalar, true, gVars)!;
          if (!logging) return undefined;
          const dReal = tf.sigmoid(logits.apply(real) as tf.Tensor).mean();
          const dFake = tf.sigmoid(logits.apply(generator.apply(zG)) as tf.Tensor).mean();
          return tf.stack([dLoss, gLoss, dReal, dFake]).dataSync();
        });
        const elapsed = (Date.now() - start) / 1000;
        const imagesPerSecond = (step * batchSize) / Math.max(elapsed, 1e-3);
        if (values) {
          const [dLoss, gLoss, dReal, dFake] = Array.from(values);
          if (!Number.isFinite(dLoss) || !Number.isFinite(gLoss)) {
            throw new GanportError(
              `training diverged at step ${step} (D loss ${dLoss}, G loss ${gLoss}); the models saved after the last finished epoch are in ${options.outDir}`,
            );
          }
          last = { step, epoch, d_loss: dLoss, g_loss: gLoss, d_real: dReal, d_fake: dFake, images_per_sec: round(imagesPerSecond), elapsed_s: round(elapsed) };
          await appendFile(paths.metrics, JSON.stringify(last) + '\n');
        }
        const remaining = epochs * stepsPerEpoch - step;
        bar.update({ epoch, epochs, step: i + 1, steps: stepsPerEpoch, imagesPerSecond, dLoss: last?.d_loss, gLoss: last?.g_loss, etaSeconds: (remaining * batchSize) / imagesPerSecond }, i === stepsPerEpoch - 1);
      }
      await writeSampleGrid(generator, fixedLatents, preset.imageShape, paths.sample(epoch));
      await saveLayersModel(generator, paths.generator, { ganport: { role: 'generator', preset: preset.name, epoch, step } });
      await saveLayersModel(discriminator, paths.discriminator, { ganport: { role: 'discriminator', preset: preset.name, epoch, step } });
    }
  } finally {
    bar.done();
    fixedLatents.dispose();
  }
  log(`wrote ${options.outDir}: generator/, discriminator/, metrics.jsonl, samples/epoch-*.png`);
  return { outDir: options.outDir, steps: step, backend, last: last! };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Images `order[from .. from+size)` scaled from bytes to [-1, 1], as [size, H, W, 1]. */
function realBatch(data: ImageDataset, order: Uint32Array, from: number, size: number): tf.Tensor4D {
  const pixels = data.height * data.width;
  const out = new Float32Array(size * pixels);
  for (let b = 0; b < size; b++) {
    const src = order[from + b] * pixels;
    for (let p = 0; p < pixels; p++) out[b * pixels + p] = data.images[src + p] / 127.5 - 1;
  }
  return tf.tensor4d(out, [size, data.height, data.width, 1]);
}

async function writeSampleGrid(generator: tf.LayersModel, latents: tf.Tensor2D, shape: [number, number, number], path: string): Promise<void> {
  const images = tf.tidy(() => generator.predict(latents) as tf.Tensor);
  const data = (await images.data()) as Float32Array;
  images.dispose();
  const [height, width, channels] = shape;
  const grid = toGrid({ data, count: latents.shape[0], height, width, channels, layout: 'NHWC', valueRange: [-1, 1] });
  await writeFileAtomic(path, encodePng(grid));
}
