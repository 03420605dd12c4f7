/** The layout of a training run directory, shared by the trainer and the exporter. */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import { PRESET_NAMES } from '../presets/names.js';
import { renameDurably } from '../util/files.js';
import { type EvalScores, scoresFromFile, scoresToFile } from './eval-scores.js';
import { hasManifest, MANIFEST, verifyManifest, writeManifest } from './manifest.js';

export type RunPaths = ReturnType<typeof runPaths>;

export const runPaths = (dir: string) => ({
  config: join(dir, 'config.json'),
  metrics: join(dir, 'metrics.jsonl'),
  generator: join(dir, 'generator'),
  discriminator: join(dir, 'discriminator'),
  generatorJson: join(dir, 'generator', 'model.json'),
  discriminatorJson: join(dir, 'discriminator', 'model.json'),
  sample: (epoch: number) => join(dir, 'samples', `epoch-${String(epoch).padStart(3, '0')}.png`),
  lossPlot: join(dir, 'loss.svg'),
  /** `train --eval-every`: the measurements against the step. */
  evalPlot: join(dir, 'eval.svg'),
  /** `train --eval-every`: the generator (EMA) and discriminator of the best measurement so far. */
  best: join(dir, 'best'),
  bestGenerator: join(dir, 'best', 'generator'),
  bestDiscriminator: join(dir, 'best', 'discriminator'),
  /** A new best/ while it is written (replaceBest). */
  bestPartial: join(dir, 'best.partial'),
  /** A new best/ written whole, before it replaces the old one (replaceBest). */
  bestStaged: join(dir, 'best.tmp'),
  /** Held by the training process writing the run (see util/lock.ts). */
  lock: join(dir, 'train.lock'),
  /** What --overwrite removes: everything a run writes, nothing else in the directory. */
  replaceable: [
    'metrics.jsonl',
    'loss.svg',
    'eval.svg',
    'best',
    'best.partial',
    'best.tmp',
    'samples',
    'generator',
    'discriminator',
    'checkpoint',
    'checkpoint.tmp',
    'checkpoint.previous',
    MANIFEST,
  ].map((f) => join(dir, f)),
});

/**
 * The training defaults, in one place: what a new run's config.json records when neither the command
 * line nor the preset says otherwise, what an older config.json without a field is read as, and what
 * the flags' help says. `evalSamples`: enough for stable FCD and precision/recall, a few seconds each.
 */
export const TRAINING_DEFAULTS = {
  preset: 'seed-mlp',
  epochs: 1,
  seed: 0,
  batchSize: 64,
  learningRate: 2e-4,
  beta1: 0.5,
  loss: 'bce',
  labelSmoothing: 0,
  emaDecay: 0.999,
  pack: 1,
  r1Gamma: 0,
  checkpointEvery: 500,
  logEvery: 50,
  evalEvery: 0,
  evalSamples: 2000,
} as const;

/** What config.json records about a run; the exporter reads it for the model's metadata. */
export interface RunConfig {
  preset: string;
  latentSize: number;
  /** Per-sample output shape: [h, w, c] images, or [2] points. */
  sampleShape: number[];
  valueRange: [number, number];
  seed: number;
  batchSize: number;
  epochs: number;
  /** Adam's learning rate for the generator, and for the discriminator unless TTUR gives it its own. */
  learningRate: number;
  discriminatorLearningRate: number;
  beta1: number;
  backend: string;
  /** Absolute path of the data directory, or the mixture's name. */
  data: string;
  images: number;
  numClasses?: number;
  /** PacGAN packing degree of the discriminator (1: none). */
  pack: number;
  /** The DCGAN presets' width when not their own (channels of the last hidden layer; each earlier one doubles it). */
  width?: number;
  /**
   * Self-conditioning: both models are conditioned on this many balanced k-means clusters of the
   * training images (then `numClasses`), drawn uniformly when sampling, as classes are.
   */
  clusters?: number;
  /** SHA-256 (hex) of the cluster labels of the images trained on, checked on resume. */
  clusterLabelsSha256?: string;
  /** SHA-256 (hex) of the images trained on (and their class labels), checked on resume; absent for 2-D mixtures. */
  dataSha256?: string;
  /** One of train/loss-names.ts's LOSSES. */
  loss: string;
  labelSmoothing: number;
  /** Decay of the generator's exponential moving average (0: none); the EMA generator is what samples and exports use. */
  emaDecay: number;
  /** Spectral normalization of the discriminator's kernels. */
  spectralNorm: boolean;
  /** Weight γ of the R1 gradient penalty on real samples, γ/2 · E‖∇D(x)‖² (0: none). */
  r1Gamma: number;
  /** Both learning rates decay linearly to 0 over the run's steps. */
  lrDecay: boolean;
  checkpointEvery: number;
  /** A metrics.jsonl line every this many steps (and at each epoch's end). */
  logEvery: number;
  /** Measure the EMA generator as `ganport eval` does every this many steps (0: never), on `evalSamples` samples. */
  evalEvery: number;
  evalSamples: number;
  /** The classifier measurements use (absolute); absent: the shipped one. */
  evalClassifier?: string;
  ganportVersion: string;
}

const isString = (v: unknown) => typeof v === 'string';
const isBoolean = (v: unknown) => typeof v === 'boolean';
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isPositiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
const isNonNegativeInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/** What each field read back must be: the trainer and exporter rely on these. */
const FIELD_CHECKS: [keyof RunConfig, (value: unknown) => boolean, string][] = [
  // export names files and a Triton model after it
  ['preset', (v) => (PRESET_NAMES as readonly unknown[]).includes(v), `one of ${PRESET_NAMES.join(', ')}`],
  ['latentSize', isPositiveInt, 'a positive integer'],
  [
    'sampleShape',
    (v) => Array.isArray(v) && (v.length === 1 || v.length === 3) && v.every(isPositiveInt),
    '[h, w, c] or [n] in positive integers',
  ],
  ['valueRange', (v) => Array.isArray(v) && v.length === 2 && v.every(isNumber), '[low, high]'],
  ['seed', isNonNegativeInt, 'a non-negative integer'],
  ['batchSize', isPositiveInt, 'a positive integer'],
  ['epochs', isPositiveInt, 'a positive integer'],
  ['learningRate', isNumber, 'a number'],
  ['discriminatorLearningRate', isNumber, 'a number'],
  ['beta1', isNumber, 'a number'],
  ['backend', isString, 'a backend name'],
  ['data', isString, 'a data directory or mixture name'],
  ['images', isPositiveInt, 'a positive integer'],
  ['numClasses', (v) => v === undefined || isPositiveInt(v), 'a positive integer when present'],
  ['pack', isPositiveInt, 'a positive integer'],
  ['width', (v) => v === undefined || isPositiveInt(v), 'a positive integer when present'],
  ['clusters', (v) => v === undefined || isPositiveInt(v), 'a positive integer when present'],
  ...(['clusterLabelsSha256', 'dataSha256'] as const).map(
    (key): [keyof RunConfig, (value: unknown) => boolean, string] => [
      key,
      (v) => v === undefined || (isString(v) && /^[0-9a-f]{64}$/.test(v as string)),
      'a SHA-256 hex digest when present',
    ],
  ),
  ['loss', isString, 'a loss name'],
  ['labelSmoothing', isNumber, 'a number'],
  ['emaDecay', isNumber, 'a number'],
  ['spectralNorm', isBoolean, 'true or false'],
  ['r1Gamma', (v) => isNumber(v) && (v as number) >= 0, 'a non-negative number'],
  ['lrDecay', isBoolean, 'true or false'],
  ['checkpointEvery', isPositiveInt, 'a positive integer'],
  ['logEvery', isPositiveInt, 'a positive integer'],
  ['evalEvery', isNonNegativeInt, 'a non-negative integer'],
  ['evalSamples', isPositiveInt, 'a positive integer'],
  ['evalClassifier', (v) => v === undefined || isString(v), 'a path when present'],
];

/** Reads a run's config.json, filling in what older runs recorded under other names or not at all. */
export async function readRunConfig(runDir: string): Promise<RunConfig> {
  const path = runPaths(runDir).config;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new GanportError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'invalid-input',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new GanportError(`${path} does not hold a JSON object`);
  const config = parsed as RunConfig & { imageShape?: number[] };
  config.sampleShape ??= config.imageShape!; // ganport 0.1.0 runs from before the 2-D presets called it imageShape
  config.logEvery ??= TRAINING_DEFAULTS.logEvery;
  config.evalEvery ??= TRAINING_DEFAULTS.evalEvery; // runs from before --eval-every
  config.evalSamples ??= TRAINING_DEFAULTS.evalSamples;
  config.pack ??= TRAINING_DEFAULTS.pack;
  config.discriminatorLearningRate ??= config.learningRate; // runs from before TTUR
  config.spectralNorm ??= false; // runs from before these options
  config.r1Gamma ??= TRAINING_DEFAULTS.r1Gamma;
  config.lrDecay ??= false;
  for (const [field, check, expected] of FIELD_CHECKS) {
    if (!check(config[field]))
      throw new GanportError(`${path}: ${field} must be ${expected}, got ${JSON.stringify(config[field])}`);
  }
  return config;
}

/** What a run's manifest.json covers: the files `ganport export` reads (best/ once a measurement has been kept). */
const EXPORTED_FILES = ['config.json', 'generator', 'discriminator', 'best'];

/** Records config.json and the exported models in manifest.json; called after any of them is rewritten. */
export const writeRunManifest = (runDir: string): Promise<void> =>
  writeManifest(
    runDir,
    EXPORTED_FILES.filter((entry) => existsSync(join(runDir, entry))),
  );

/** Where the best `--eval-every` measurement of a run was taken, and what it measured. */
export interface BestMeasurement {
  step: number;
  epoch: number;
  eval: EvalScores;
  /** The samples it took (--eval-samples); best/ written before ganport recorded it took the run's. */
  samples?: number;
}

/** How the models kept for a measurement record it in their model.json (the scores under their file names). */
export const bestMeasurementMetadata = ({ step, epoch, eval: scores, samples }: BestMeasurement) => ({
  step,
  epoch,
  eval: scoresToFile(scores),
  ...(samples === undefined ? {} : { samples }),
});

/**
 * The best measurement kept in RUN/best/ (recorded in its generator's model.json), or undefined when none is.
 * A swap killed midway is finished first, unless `readOnly` (a reader without the run's lock): then best.tmp/ is read.
 */
export async function readBestMeasurement(
  runDir: string,
  { readOnly = false } = {},
): Promise<BestMeasurement | undefined> {
  const { best, bestStaged, bestGenerator } = runPaths(runDir);
  if (!readOnly) await finishBestSwap(runDir);
  const unswapped = readOnly && !existsSync(best) && existsSync(bestStaged);
  const path = join(unswapped ? join(bestStaged, 'generator') : bestGenerator, 'model.json');
  if (!existsSync(path)) return undefined;
  let json: {
    userDefinedMetadata?: { ganport?: { step?: unknown; epoch?: unknown; eval?: unknown; samples?: unknown } };
  };
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new GanportError(`${path} is not JSON (${(err as Error).message})`);
  }
  const { step, epoch, eval: recorded, samples } = json.userDefinedMetadata?.ganport ?? {};
  const scores = scoresFromFile(recorded);
  if (
    !Number.isInteger(step) ||
    !Number.isInteger(epoch) ||
    !scores ||
    (samples !== undefined && !Number.isInteger(samples))
  )
    throw new GanportError(`${path} does not record the measurement it was kept for`);
  return {
    step: step as number,
    epoch: epoch as number,
    eval: scores,
    ...(samples === undefined ? {} : { samples: samples as number }),
  };
}

/**
 * Writes a new best/ through `write` into best.partial/, renamed best.tmp/ once whole, then swaps it in:
 * best/ never pairs one measurement's generator with another's discriminator, a failed write leaves the
 * old one, and a best.tmp/ is always whole (a first best/ killed while written is not taken for one).
 */
export async function replaceBest(
  runDir: string,
  write: (dirs: { generator: string; discriminator: string }) => Promise<void>,
): Promise<void> {
  const { best, bestPartial, bestStaged } = runPaths(runDir);
  await finishBestSwap(runDir);
  for (const left of [bestPartial, bestStaged]) await rm(left, { recursive: true, force: true });
  await write({ generator: join(bestPartial, 'generator'), discriminator: join(bestPartial, 'discriminator') });
  await renameDurably(bestPartial, bestStaged);
  await rm(best, { recursive: true, force: true });
  await renameDurably(bestStaged, best);
}

/**
 * Removes best/ where it holds a measurement of a step after `step`, the checkpoint a resume starts
 * from (the resume redoes those steps, and metrics.jsonl has lost their lines), or where it cannot be
 * read (damaged: the next measurement keeps a new one). Returns a line saying why it went.
 */
export async function dropBestAfter(runDir: string, step: number): Promise<string | undefined> {
  let why: string;
  try {
    const best = await readBestMeasurement(runDir);
    if (!best || best.step <= step) return undefined;
    why = `best/ held the measurement of step ${best.step}, after the checkpoint: removed, as its metrics line was`;
  } catch (err) {
    if (!(err instanceof GanportError)) throw err;
    why = `${err.message}: best/ removed; the next measurement keeps a new one`;
  }
  await changeRunFiles(runDir, () => rm(runPaths(runDir).best, { recursive: true, force: true }));
  return why;
}

/**
 * Makes `change` to files the run's manifest covers, then records them anew, but only if they verified
 * before: a damaged generator/ stays flagged until the next epoch's end rewrites it.
 */
export async function changeRunFiles(runDir: string, change: () => Promise<void>): Promise<void> {
  const intact = await verifyRunFiles(runDir).then(
    () => true,
    () => false,
  );
  await change();
  if (intact) await writeRunManifest(runDir);
}

/** A swap killed between removing best/ and renaming best.tmp/ (complete by then) is finished. */
async function finishBestSwap(runDir: string): Promise<void> {
  const { best, bestStaged } = runPaths(runDir);
  if (!existsSync(best) && existsSync(bestStaged)) await renameDurably(bestStaged, best);
}

/** Checks config.json and the exported models against manifest.json; runs from before manifests pass unverified. */
export async function verifyRunFiles(runDir: string): Promise<void> {
  if (!hasManifest(runDir)) return;
  await verifyManifest(runDir, { listed: EXPORTED_FILES }).catch((err: Error) => {
    throw new GanportError(`${err.message} (a run stopped at an epoch's end is repaired by ganport train --resume)`);
  });
}
