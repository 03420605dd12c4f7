/**
 * The GAN training loop: alternate a discriminator step on real + fake images
 * and a generator step through the (not updated) discriminator, with Adam and
 * everything seeded; checkpoints let a killed run resume with the same losses.
 */
import { existsSync } from 'node:fs';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { type Preset, getPreset } from '../presets/index.js';
import { defaultLabels } from '@ganport/runtime';
import { GanportError } from '@ganport/runtime';
import { toGrid } from '@ganport/runtime';
import { scatterPlot } from '@ganport/runtime';
import { encodePng } from '@ganport/runtime';
import { Rng, sampleLatents } from '@ganport/runtime';
import { type BackendChoice, selectBackend } from '../tfjs/backend.js';
import { saveLayersModel } from '../tfjs/model-io.js';
import { packageVersion, writeFileAtomic } from '../util/files.js';
import { type RunPosition, type TrainingState, loadCheckpoint, saveCheckpoint } from '../formats/checkpoint.js';
import { type Dataset, loadDataset } from '../datasets/dataset.js';
import { LOSSES, type LossName, ganLoss } from './losses.js';
import { lossPlotSvg } from './plot.js';
import { ProgressBar } from './progress.js';
import { GanStep } from './step.js';
import { type RunConfig, readRunConfig, runPaths } from '../formats/run-dir.js';

export interface TrainOptions {
  /** The run directory; with `resume`, the run to continue. */
  outDir: string;
  preset?: string;
  epochs?: number;
  dataDir?: string;
  seed?: number;
  batchSize?: number;
  backend?: string;
  learningRate?: number;
  beta1?: number;
  loss?: LossName;
  labelSmoothing?: number;
  /** PacGAN: the discriminator judges this many samples at once (default 1; must divide the batch size). */
  pack?: number;
  /** Generator EMA decay (default 0.999; 0 turns it off). */
  emaDecay?: number;
  /** Write a checkpoint every this many steps (default 500), and at every epoch's end. */
  checkpointEvery?: number;
  /** Use only the first N images of the dataset. */
  limit?: number;
  /** Append a metrics line every this many steps. */
  logEvery?: number;
  /** Continue the run in outDir from its last checkpoint (its config wins; `epochs` may extend it). */
  resume?: boolean;
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
  /** Mean sigmoid of D's logit on the real batch and on the fake one. */
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

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new GanportError(`${name} must be a positive integer, got ${value}`);
  return value;
}

async function newRunConfig(options: TrainOptions, data: Dataset, preset: Preset): Promise<RunConfig> {
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new GanportError(`seed must be an integer in [0, 2^32), got ${seed}`);
  const loss = options.loss ?? 'bce';
  if (!LOSSES.includes(loss)) throw new GanportError(`unknown loss "${loss}"; choose one of ${LOSSES.join(', ')}`);
  const emaDecay = options.emaDecay ?? preset.defaults?.emaDecay ?? 0.999;
  if (!(emaDecay >= 0 && emaDecay < 1)) throw new GanportError(`EMA decay must be in [0, 1), got ${emaDecay}`);
  const images = Math.min(data.count, options.limit === undefined ? Infinity : positiveInt('limit', options.limit));
  const batchSize = positiveInt('batch size', options.batchSize ?? preset.defaults?.batchSize ?? 64);
  if (images < batchSize) throw new GanportError(`batch size ${batchSize} is larger than the ${images} images available`);
  const pack = positiveInt('pack', options.pack ?? 1);
  if (batchSize % pack !== 0) throw new GanportError(`pack ${pack} must divide the batch size ${batchSize}`);
  if (pack > 1 && preset.numClasses) throw new GanportError(`preset ${preset.name} is class-conditional; packing (PacGAN) is for unconditional presets`);
  return {
    preset: preset.name,
    latentSize: preset.latentSize,
    sampleShape: preset.sampleShape,
    valueRange: [-1, 1],
    numClasses: preset.numClasses,
    pack,
    seed,
    batchSize,
    epochs: positiveInt('epochs', options.epochs ?? 1),
    learningRate: options.learningRate ?? preset.defaults?.learningRate ?? 2e-4,
    beta1: options.beta1 ?? 0.5,
    loss,
    labelSmoothing: options.labelSmoothing ?? 0,
    emaDecay,
    checkpointEvery: positiveInt('checkpoint interval', options.checkpointEvery ?? 500),
    logEvery: positiveInt('log interval', options.logEvery ?? 50),
    backend: '',
    data: data.source,
    images,
    ganportVersion: packageVersion(),
  };
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const log = options.log ?? (() => {});
  const paths = runPaths(options.outDir);
  let config: RunConfig;
  let data: Dataset;
  if (options.resume) {
    if (!existsSync(paths.config)) throw new GanportError(`${options.outDir} is not a training run (no config.json) to resume`, 'not-found');
    config = await readRunConfig(options.outDir);
    if (options.epochs !== undefined) config.epochs = positiveInt('epochs', options.epochs);
    data = await loadDataset(config.data, getPreset(config.preset), config.seed);
  } else {
    if (existsSync(paths.config) && !options.overwrite) {
      throw new GanportError(`${options.outDir} already holds a training run; choose another --out, pass --overwrite, or continue it with --resume`);
    }
    const preset = getPreset(options.preset ?? 'seed-mlp');
    data = await loadDataset(options.dataDir, preset, options.seed ?? 0);
    config = await newRunConfig(options, data, preset);
  }
  const preset = getPreset(config.preset);

  const backend = await selectBackend(options.backend ?? (options.resume ? config.backend : undefined));
  if (options.resume && options.backend === undefined) backend.reason = 'the backend the run started on';
  log(`backend: ${backend.name} (${backend.reason})`);
  const points = preset.sampleShape.length === 1;
  log(`data: ${config.images} ${points ? 'points' : 'images'} from ${data.source}`);
  config.backend = backend.name;
  if (!options.resume) {
    if (options.overwrite) for (const old of paths.replaceable) await rm(old, { recursive: true, force: true });
    await writeFileAtomic(paths.config, JSON.stringify(config, null, 2) + '\n');
  }

  const { seed, batchSize, latentSize, numClasses } = config;
  const generator = preset.buildGenerator(seed);
  const discriminator = preset.buildDiscriminator(seed, config.pack);
  const ema = config.emaDecay > 0 ? preset.buildGenerator(seed) : generator;
  const state: TrainingState = {
    generator,
    discriminator,
    ema,
    dOptimizer: tf.train.adam(config.learningRate, config.beta1),
    gOptimizer: tf.train.adam(config.learningRate, config.beta1),
    order: Uint32Array.from({ length: config.images }, (_, i) => i),
  };
  const rng = new Rng(seed);
  let position: RunPosition = { step: 0, epoch: 1, batchInEpoch: 0, rng: rng.state };
  if (options.resume) {
    position = await loadCheckpoint(options.outDir, state);
    rng.state = position.rng;
    const kept = (await readMetrics(paths.metrics)).filter((m) => m.step <= position.step);
    await writeFile(paths.metrics, kept.map((m) => JSON.stringify(m) + '\n').join(''));
    log(`resuming at step ${position.step} (epoch ${position.epoch}, batch ${position.batchInEpoch})`);
  } else if (ema !== generator) ema.setWeights(generator.getWeights());

  const stepper = new GanStep(state, ganLoss(config.loss, config.labelSmoothing), config, rng);
  const stepsPerEpoch = Math.floor(config.images / batchSize);
  const sampleCount = points ? 2500 : numClasses ? numClasses * 8 : 64;
  const fixedLatents = tf.tensor2d(sampleLatents({ seed, count: sampleCount, dim: latentSize }), [sampleCount, latentSize]);
  const fixedLabels = numClasses ? tf.tensor2d(Int32Array.from(defaultLabels(sampleCount, numClasses)), [sampleCount, 1], 'int32') : undefined;
  const bar = new ProgressBar(process.stderr, 24, options.quiet);

  const start = Date.now();
  const startStep = position.step;
  let step = position.step;
  let last: MetricsLine | undefined;
  let lastCheckpoint = options.resume ? position.step : 0;
  try {
    for (let epoch = position.epoch; epoch <= config.epochs; epoch++) {
      const firstBatch = epoch === position.epoch ? position.batchInEpoch : 0;
      if (firstBatch === 0) rng.shuffle(state.order);
      for (let i = firstBatch; i < stepsPerEpoch; i++) {
        step++;
        const logging = step % config.logEvery === 0 || i === stepsPerEpoch - 1;
        const batch = data.batch(state.order, i * batchSize, batchSize, numClasses !== undefined);
        const values = stepper.run(step, batch.x, batch.labels, logging);
        tf.dispose([batch.x, ...(batch.labels ? [batch.labels] : [])]);
        const elapsed = (Date.now() - start) / 1000;
        const imagesPerSecond = ((step - startStep) * batchSize) / Math.max(elapsed, 1e-3);
        if (values) {
          const { dLoss, gLoss, dReal, dFake } = values;
          if (!Number.isFinite(dLoss) || !Number.isFinite(gLoss) || Math.abs(dLoss) > 1e4 || Math.abs(gLoss) > 1e4) {
            const kept = lastCheckpoint ? `the checkpoint of step ${lastCheckpoint} is kept in ${options.outDir}` : 'no checkpoint had been written yet';
            throw new GanportError(`training diverged at step ${step} (D loss ${dLoss}, G loss ${gLoss}); ${kept}; try a lower --lr`);
          }
          last = { step, epoch, d_loss: dLoss, g_loss: gLoss, d_real: dReal, d_fake: dFake, images_per_sec: round(imagesPerSecond), elapsed_s: round(elapsed) };
          await appendFile(paths.metrics, JSON.stringify(last) + '\n');
        }
        const remaining = config.epochs * stepsPerEpoch - step;
        bar.update({ epoch, epochs: config.epochs, step: i + 1, steps: stepsPerEpoch, imagesPerSecond, losses: { D: last?.d_loss, G: last?.g_loss }, etaSeconds: (remaining * batchSize) / imagesPerSecond }, i === stepsPerEpoch - 1);
        if (step % config.checkpointEvery === 0) {
          await saveCheckpoint(options.outDir, state, { step, epoch, batchInEpoch: i + 1, rng: rng.state });
          lastCheckpoint = step;
        }
      }
      await writeSamples(ema, fixedLatents, fixedLabels, preset.sampleShape, paths.sample(epoch), { columns: numClasses ? 8 : undefined, modes: data.mixture?.modes });
      await saveLayersModel(ema, paths.generator, { ganport: { role: 'generator', preset: preset.name, epoch, step, ema: config.emaDecay } });
      await saveLayersModel(discriminator, paths.discriminator, { ganport: { role: 'discriminator', preset: preset.name, epoch, step } });
      await saveCheckpoint(options.outDir, state, { step, epoch: epoch + 1, batchInEpoch: 0, rng: rng.state });
      lastCheckpoint = step;
      await writeFileAtomic(paths.lossPlot, lossPlotSvg(await readMetrics(paths.metrics), `${preset.name}, seed ${seed}: losses`));
    }
  } finally {
    bar.done();
    tf.dispose([fixedLatents, ...(fixedLabels ? [fixedLabels] : [])]);
  }
  log(`wrote ${options.outDir}: generator/ (${ema !== generator ? 'EMA weights' : 'weights'}), discriminator/, checkpoint/, metrics.jsonl, loss.svg, samples/epoch-*.png`);
  if (!last) throw new GanportError(`the run in ${options.outDir} had already finished its ${config.epochs} epochs; pass --epochs to extend it`);
  return { outDir: options.outDir, steps: step, backend, last };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export async function readMetrics(path: string): Promise<MetricsLine[]> {
  if (!existsSync(path)) return [];
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as MetricsLine);
}

/** The epoch's picture: a grid of images, or a scatter plot of points over the mixture's modes. */
async function writeSamples(
  generator: tf.LayersModel,
  latents: tf.Tensor2D,
  labels: tf.Tensor2D | undefined,
  shape: number[],
  path: string,
  options: { columns?: number; modes?: [number, number][] },
): Promise<void> {
  const output = tf.tidy(() => generator.predict(labels ? [latents, labels] : latents) as tf.Tensor);
  const data = (await output.data()) as Float32Array;
  output.dispose();
  const picture =
    shape.length === 1
      ? scatterPlot(data, { modes: options.modes })
      : toGrid({ data, count: latents.shape[0], height: shape[0], width: shape[1], channels: shape[2], layout: 'NHWC', valueRange: [-1, 1] }, { columns: options.columns });
  await writeFileAtomic(path, encodePng(picture));
}
