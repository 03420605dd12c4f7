/**
 * The GAN training loop: alternate a discriminator step on real + fake images
 * and a generator step through the (not updated) discriminator, with Adam and
 * everything seeded; checkpoints let a killed run resume with the same losses.
 */

import { GanportError, Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  type BestMeasurement,
  bestMeasurementMetadata,
  dropBestAfter,
  type RunPaths,
  readBestMeasurement,
  replaceBest,
  runPaths,
  writeRunManifest,
} from '../formats/run-dir.js';
import type { BackendChoice } from '../tfjs/backend.js';
import { saveLayersModel } from '../tfjs/model-io.js';
import { removeLeftovers, writeLeftoverPid } from '../util/files.js';
import { acquireLock } from '../util/lock.js';
import { CheckpointPolicy } from './checkpoints.js';
import { createStepEngine } from './engines.js';
import { evaluateGenerator, isBetter } from './evaluation.js';
import { type MetricsLine, MetricsWriter } from './metrics.js';
import { ProgressBar } from './progress.js';
import {
  buildTrainingState,
  confirmResume,
  fixedConfig,
  type OpenedRun,
  openRun,
  startPosition,
  type TrainOptions,
} from './run-setup.js';
import { SampleWriter } from './samples.js';
import type { RunPosition, TrainingState } from './state.js';
import type { StepEngine, StepLosses, StepValues } from './step.js';
import { Throughput } from './throughput.js';

export type { MetricsLine } from './metrics.js';
export { readMetrics } from './metrics.js';
export type { TrainOptions } from './run-setup.js';

export interface TrainResult {
  outDir: string;
  steps: number;
  backend: BackendChoice;
  last: MetricsLine;
}

/** Everything one run's steps share. */
interface Run {
  outDir: string;
  opened: OpenedRun;
  paths: RunPaths;
  state: TrainingState;
  rng: Rng;
  position: RunPosition;
  stepper: StepEngine;
  metrics: MetricsWriter;
  checkpoints: CheckpointPolicy;
  samples: SampleWriter;
  speed: Throughput;
  bar: ProgressBar;
  stepsPerEpoch: number;
  /** The best `--eval-every` measurement so far, whose models are in best/. */
  best?: BestMeasurement;
}

/** Trains a new run, or resumes one, holding the run directory's lock so that no other process writes it meanwhile. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const lock = await acquireLock(runPaths(options.outDir).lock, `the run in ${options.outDir}`, options.log);
  try {
    const leftovers = await removeLeftovers(options.outDir, writeLeftoverPid, true);
    if (leftovers.length > 0)
      options.log?.(`removed ${leftovers.length} temporary file(s) of writes killed midway: ${leftovers.join(', ')}`);
    return await trainLocked(options);
  } finally {
    await lock.release();
  }
}

async function trainLocked(options: TrainOptions): Promise<TrainResult> {
  const opened = await openRun(options);
  const { config, preset, data } = opened;
  const state = buildTrainingState(preset, config);
  const rng = new Rng(config.seed);
  const position = await startPosition(options, config, state, rng);
  const paths = runPaths(options.outDir);
  const metrics = new MetricsWriter(paths.metrics, paths.lossPlot, `${preset.name}, seed ${config.seed}: losses`);
  if (options.resume) {
    await confirmResume(options.outDir, config, position);
    await metrics.truncateAfter(position.step);
    const dropped = await dropBestAfter(options.outDir, position.step);
    if (dropped) options.log?.(dropped);
    options.log?.(`resuming at step ${position.step} (epoch ${position.epoch}, batch ${position.batchInEpoch})`);
  }
  position.trainedWith = fixedConfig(config);
  const stepsPerEpoch = Math.floor(config.images / config.batchSize);
  const bar = new ProgressBar(process.stderr, 24, options.quiet);
  const best = await readBestMeasurement(options.outDir); // before the engine, which holds sessions and threads
  // the onnx engine reports its choice of threads after the first steps, while the bar is showing
  const stepper = await createStepEngine(opened, state, rng, (line) => bar.interrupt(() => options.log?.(line)));
  const run: Run = {
    outDir: options.outDir,
    opened,
    paths,
    state,
    rng,
    position,
    metrics,
    stepsPerEpoch,
    stepper,
    checkpoints: new CheckpointPolicy(options.outDir, state, config.checkpointEvery, position.step, () =>
      stepper.sync(),
    ),
    samples: new SampleWriter({ ...config, modes: data.mixture?.modes }),
    speed: new Throughput(position.step, config.batchSize, config.epochs * stepsPerEpoch, position.elapsedSeconds),
    bar,
    best,
  };
  try {
    for (let epoch = position.epoch; epoch <= config.epochs; epoch++) {
      await trainEpoch(run, epoch);
      await finishEpoch(run, epoch);
    }
  } finally {
    run.bar.done();
    run.samples.dispose();
    await stepper.dispose();
  }
  const weights = state.ema !== state.generator ? 'EMA weights' : 'weights';
  options.log?.(
    `wrote ${options.outDir}: generator/ (${weights}), discriminator/, checkpoint/, metrics.jsonl, loss.svg, samples/epoch-*.png`,
  );
  if (!metrics.last) throw new GanportError(`${paths.metrics} holds no losses to report`, 'not-found');
  return { outDir: options.outDir, steps: position.step, backend: opened.backend, last: metrics.last };
}

/** The epoch's remaining batches: a D and a G update each, metrics every log interval, checkpoints every N steps. */
async function trainEpoch(run: Run, epoch: number): Promise<void> {
  const { config, data } = run.opened;
  const { position, state, stepsPerEpoch } = run;
  const firstBatch = epoch === position.epoch ? position.batchInEpoch : 0;
  if (firstBatch === 0) run.rng.shuffle(state.order);
  for (let i = firstBatch; i < stepsPerEpoch; i++) {
    const step = position.step + 1;
    const endOfEpoch = i === stepsPerEpoch - 1;
    if (config.lrDecay) decayLearningRates(run, step);
    const batch = data.batch(state.order, i * config.batchSize, config.batchSize, config.numClasses !== undefined);
    const values = await run.stepper.run(step, batch.x, batch.labels, step % config.logEvery === 0 || endOfEpoch);
    tf.dispose([batch.x, ...(batch.labels ? [batch.labels] : [])]);
    Object.assign(position, { step, epoch, batchInEpoch: i + 1, rng: run.rng.state });
    // every step, before anything (a measurement, best/, a checkpoint) keeps its weights
    refuseDivergence(values, position, run.checkpoints);
    if ('dReal' in values) await run.metrics.append(metricsLine(values, position, run.speed));
    const { imagesPerSecond, etaSeconds } = run.speed.at(step);
    const losses = { D: run.metrics.last?.dLoss, G: run.metrics.last?.gLoss };
    run.bar.update(
      { epoch, epochs: config.epochs, step: i + 1, steps: stepsPerEpoch, imagesPerSecond, etaSeconds, losses },
      endOfEpoch,
    );
    // measured before the step's checkpoint, so a resume from that checkpoint keeps the measurement
    if (config.evalEvery && step % config.evalEvery === 0) await measure(run);
    // an epoch's last step is saved by finishEpoch (at the next epoch's start); twice, it would push out the one before
    if (endOfEpoch) continue;
    position.elapsedSeconds = run.speed.elapsedSeconds(); // after the step's measurement
    await run.checkpoints.afterStep(position);
  }
}

/** `--lr-decay`: step n of N trains at (1 − (n − 1)/N) of each configured rate (Adam reads its rate at every update). */
function decayLearningRates(run: Run, step: number): void {
  const { config } = run.opened;
  const factor = 1 - (step - 1) / (config.epochs * run.stepsPerEpoch);
  run.state.dOptimizer.rate = config.discriminatorLearningRate * factor;
  run.state.gOptimizer.rate = config.learningRate * factor;
}

/**
 * `--eval-every`: the EMA generator measured as `ganport eval` measures it, into metrics.jsonl and
 * eval.svg; the best measurement's models are kept in best/ for `ganport export --best`.
 */
async function measure(run: Run): Promise<void> {
  const { config } = run.opened;
  const { step, epoch } = run.position;
  await run.stepper.sync();
  const scores = await evaluateGenerator(run.state.ema, config);
  await run.metrics.appendEval({ step, epoch, eval: scores }, run.paths.evalPlot);
  if (!isBetter(scores, run.best?.eval)) return;
  run.best = { step, epoch, eval: scores, samples: config.evalSamples };
  const metadata = bestMeasurementMetadata(run.best);
  await replaceBest(run.outDir, (dirs) => saveModels(run, dirs, metadata));
  await writeRunManifest(run.outDir);
}

/** The epoch's picture, the exportable generator (EMA) and discriminator, a checkpoint and the loss plot. */
async function finishEpoch(run: Run, epoch: number): Promise<void> {
  const { paths, state, position } = run;
  await run.stepper.sync();
  await run.checkpoints.refuseNonFiniteWeights(position.step);
  await run.samples.write(state.ema, paths.sample(epoch));
  await saveModels(run, paths, { epoch, step: position.step });
  await writeRunManifest(run.outDir);
  Object.assign(position, {
    epoch: epoch + 1,
    batchInEpoch: 0,
    rng: run.rng.state,
    elapsedSeconds: run.speed.elapsedSeconds(),
  });
  await run.checkpoints.save(position);
  await run.metrics.writePlot();
}

/** The EMA generator and the discriminator into `dirs`, each model.json recording its role, the preset and `facts`. */
async function saveModels(
  run: Run,
  dirs: { generator: string; discriminator: string },
  facts: { epoch: number; step: number },
): Promise<void> {
  const { config, preset } = run.opened;
  const common = { preset: preset.name, ...facts };
  await saveLayersModel(run.state.ema, dirs.generator, {
    ganport: { role: 'generator', ...common, ema: config.emaDecay },
  });
  await saveLayersModel(run.state.discriminator, dirs.discriminator, { ganport: { role: 'discriminator', ...common } });
}

/** A NaN or exploding loss (|loss| > 1e4) stops the run, naming the checkpoint it leaves. */
function refuseDivergence({ dLoss, gLoss }: StepLosses, position: RunPosition, checkpoints: CheckpointPolicy): void {
  if (![dLoss, gLoss].every((loss) => Number.isFinite(loss) && Math.abs(loss) <= 1e4)) {
    throw new GanportError(
      `training diverged at step ${position.step} (D loss ${dLoss}, G loss ${gLoss}); ${checkpoints.describe()}; try a lower --lr`,
    );
  }
}

/** The metrics line of a measured step. */
function metricsLine(values: StepValues, position: RunPosition, speed: Throughput): MetricsLine {
  const { dLoss, gLoss, dReal, dFake } = values;
  const { imagesPerSecond, elapsedSeconds } = speed.at(position.step);
  return {
    step: position.step,
    epoch: position.epoch,
    dLoss,
    gLoss,
    dReal,
    dFake,
    imagesPerSecond: round(imagesPerSecond),
    elapsedSeconds: round(elapsedSeconds),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
