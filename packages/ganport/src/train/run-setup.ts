/**
 * Everything a training run decides before its first step: the options and the backend checked
 * before the data loads, the run's config.json written (new run) or read back (resume: the options
 * it adjusts are recorded once its checkpoint is loaded), the models and optimizers.
 */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { GanportError, type Rng } from '@ganport/runtime';
import type * as tf from '@tensorflow/tfjs';
import { checkClusterCount } from '../datasets/clusters.js';
import { type Dataset, loadDataset } from '../datasets/dataset.js';
import { hasIdxImages } from '../datasets/fashion-mnist.js';
import { foldersListed } from '../datasets/image-folder.js';
import { checkpointDirs, loadCheckpoint } from '../formats/checkpoint.js';
import {
  changeRunFiles,
  type RunConfig,
  readBestMeasurement,
  readRunConfig,
  runPaths,
  TRAINING_DEFAULTS,
} from '../formats/run-dir.js';
import { DataType, makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import { encodeModel } from '../onnx/proto.js';
import { DEFAULT_DCGAN_WIDTH } from '../presets/dcgan.js';
import { getPreset, type Preset } from '../presets/index.js';
import { weightCountsAtWidth } from '../presets/weight-count.js';
import { type BackendChoice, selectBackend } from '../tfjs/backend.js';
import { BACKENDS, type BackendName, ONNX_BACKEND, ORT_BACKEND } from '../tfjs/backend-names.js';
import { prepareVulkan } from '../tfjs/webgpu.js';
import { isInside, packageVersion, writeFileAtomic } from '../util/files.js';
import { Adam } from './adam.js';
import { checkEvaluation, MIN_EVAL_SAMPLES } from './evaluation.js';
import type { LossName } from './loss-names.js';
import { ganLoss } from './losses.js';
import { nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from './option-checks.js';
import type { RunPosition, TrainingState } from './state.js';

export interface TrainOptions {
  /** The run directory; with `resume`, the run to continue. */
  outDir: string;
  preset?: string;
  epochs?: number;
  dataDir?: string;
  seed?: number;
  batchSize?: number;
  backend?: string;
  /** With the onnx backend: onnxruntime's execution providers, in order of preference (default: the CPU). */
  providers?: string[];
  learningRate?: number;
  /** TTUR (Heusel et al. 2017): the discriminator's own learning rate (default: `learningRate`). */
  discriminatorLearningRate?: number;
  beta1?: number;
  loss?: LossName;
  labelSmoothing?: number;
  /** PacGAN: the discriminator judges this many samples at once (default 1; must divide the batch size). */
  pack?: number;
  /** The DCGAN presets' width: channels of the last hidden layer, each earlier one doubling it (default 32). */
  width?: number;
  /** Self-conditioning (unconditional DCGAN presets): condition both models on this many k-means clusters of the images. */
  clusters?: number;
  /** Generator EMA decay (default: the preset's, else TRAINING_DEFAULTS'; 0 turns it off). */
  emaDecay?: number;
  /** Spectral normalization of the discriminator's kernels (Miyato et al. 2018). */
  spectralNorm?: boolean;
  /** R1 gradient penalty weight γ (Mescheder et al. 2018): γ/2 · E‖∇D(x)‖² on real samples (default 0: none). */
  r1Gamma?: number;
  /** Decay both learning rates linearly to 0 over the run's steps. */
  lrDecay?: boolean;
  /** Write a checkpoint every this many steps (default: TRAINING_DEFAULTS), and at every epoch's end. */
  checkpointEvery?: number;
  /** Use only the first N images of the dataset. */
  limit?: number;
  /** Append a metrics line every this many steps. */
  logEvery?: number;
  /** Measure the EMA generator every this many steps (FCD, precision/recall, … or the 2-D protocol); 0 never. */
  evalEvery?: number;
  /** Samples per measurement (default 2,000). */
  evalSamples?: number;
  /** The classifier measurements use: its .onnx or train-classifier's directory (default: the shipped one). */
  evalClassifier?: string;
  /** Continue the run in outDir from its last checkpoint (its config wins; `epochs` may extend it). */
  resume?: boolean;
  /** With `resume`: stop with an error when the newest checkpoint fails verification, rather than fall back to the previous one. */
  strict?: boolean;
  /** Replace an existing run in outDir. */
  overwrite?: boolean;
  quiet?: boolean;
  /** Informational lines (backend, data source, where files went). */
  log?: (line: string) => void;
}

export interface OpenedRun {
  config: RunConfig;
  preset: Preset;
  data: Dataset;
  backend: BackendChoice;
}

/** A new run's config from its options, every one checked; `data` and `images` are the data's, filled in once it loads. */
function newRunConfig(options: RunCheckOptions, preset: Preset): RunConfig {
  const seed = options.seed ?? TRAINING_DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new GanportError(`seed must be an integer in [0, 2^32), got ${seed}`);
  }
  const loss = options.loss ?? TRAINING_DEFAULTS.loss;
  const learningRate = positiveNumber(
    'learning rate',
    options.learningRate ?? preset.defaults?.learningRate ?? TRAINING_DEFAULTS.learningRate,
  );
  const labelSmoothing = options.labelSmoothing ?? TRAINING_DEFAULTS.labelSmoothing;
  ganLoss(loss, labelSmoothing); // checks both before anything is written
  const emaDecay = options.emaDecay ?? preset.defaults?.emaDecay ?? TRAINING_DEFAULTS.emaDecay;
  if (!(emaDecay >= 0 && emaDecay < 1)) throw new GanportError(`EMA decay must be in [0, 1), got ${emaDecay}`);
  const batchSize = positiveInt(
    'batch size',
    options.batchSize ?? preset.defaults?.batchSize ?? TRAINING_DEFAULTS.batchSize,
  );
  const beta1 = options.beta1 ?? preset.defaults?.beta1 ?? TRAINING_DEFAULTS.beta1;
  if (!(beta1 >= 0 && beta1 < 1)) throw new GanportError(`beta1 must be in [0, 1), got ${beta1}`);
  if (options.spectralNorm && preset.noSpectralNorm) throw new GanportError(preset.noSpectralNorm);
  const pack = positiveInt('pack', options.pack ?? TRAINING_DEFAULTS.pack);
  const adjustable = adjustableOptions(options); // checked with the others, before anything is written
  if (batchSize % pack !== 0) throw new GanportError(`pack ${pack} must divide the batch size ${batchSize}`);
  if (pack > 1 && preset.numClasses) {
    const conditional = options.clusters
      ? `--clusters makes ${preset.name} conditional on its clusters`
      : `preset ${preset.name} is class-conditional`;
    throw new GanportError(`${conditional}; packing (PacGAN) is for unconditional presets`);
  }
  return {
    preset: preset.name,
    ...(options.width === undefined ? {} : { width: options.width }),
    ...(options.clusters === undefined ? {} : { clusters: options.clusters }),
    latentSize: preset.latentSize,
    sampleShape: preset.sampleShape,
    valueRange: [-1, 1],
    numClasses: preset.numClasses,
    pack,
    seed,
    batchSize,
    epochs: TRAINING_DEFAULTS.epochs,
    learningRate,
    discriminatorLearningRate: positiveNumber(
      'discriminator learning rate',
      options.discriminatorLearningRate ?? learningRate,
    ),
    beta1,
    loss,
    labelSmoothing,
    emaDecay,
    spectralNorm: options.spectralNorm ?? false,
    r1Gamma: nonNegativeNumber('R1 gamma', options.r1Gamma ?? TRAINING_DEFAULTS.r1Gamma),
    lrDecay: options.lrDecay ?? false,
    checkpointEvery: TRAINING_DEFAULTS.checkpointEvery,
    logEvery: TRAINING_DEFAULTS.logEvery,
    evalEvery: TRAINING_DEFAULTS.evalEvery,
    evalSamples: TRAINING_DEFAULTS.evalSamples,
    ...(options.evalClassifier === undefined ? {} : { evalClassifier: resolve(options.evalClassifier) }),
    backend: '',
    data: '',
    images: 0,
    ganportVersion: packageVersion(),
    ...adjustable,
  };
}

/** The widest DCGAN --width taken, far past the presets' own; --width 100000 failed inside tfjs (a 3.2e11-value array). */
const MAX_WIDTH = 1024;

/** The options that define what a run learns: fixed by its config.json, so a resume cannot change them. */
const FIXED_ON_RESUME = [
  'preset',
  'seed',
  'batchSize',
  'learningRate',
  'discriminatorLearningRate',
  'beta1',
  'loss',
  'labelSmoothing',
  'pack',
  'width',
  'clusters',
  'emaDecay',
  'spectralNorm',
  'r1Gamma',
  'lrDecay',
  'evalClassifier', // measurements with another classifier would not compare with best/'s
] as const satisfies readonly (keyof TrainOptions & keyof RunConfig)[];

/**
 * Refuses a resume's options that differ from what config.json fixes; `limit` once the data's size is
 * known (`count`). A DCGAN run started without --width has the presets' width, 32.
 */
function refuseChangedOptions(options: TrainOptions, config: RunConfig, count?: number): void {
  const presetWidth = getPreset(config.preset).withWidth ? DEFAULT_DCGAN_WIDTH : undefined;
  const recorded = { ...config, width: config.width ?? presetWidth };
  const classifier = options.evalClassifier;
  const given = { ...options, evalClassifier: classifier === undefined ? undefined : resolve(classifier) };
  const changed: string[] = FIXED_ON_RESUME.filter((key) => given[key] !== undefined && given[key] !== recorded[key]);
  if (options.dataDir !== undefined && options.dataDir !== config.data && resolve(options.dataDir) !== config.data)
    changed.push('dataDir');
  // a --limit under the images the run trains on can never match, and is refused before the data loads
  const limit = options.limit;
  if (
    limit !== undefined &&
    (limit < config.images || (count !== undefined && Math.min(count, limit) !== config.images))
  )
    changed.push('limit');
  if (changed.length) throw new FixedOptionsError(options.outDir, changed);
}

/** A resume's options that config.json fixes; `options` names them (a command line names its flags instead). */
export class FixedOptionsError extends GanportError {
  constructor(
    readonly outDir: string,
    readonly options: string[],
    names: string[] = options,
  ) {
    super(
      `${outDir}/config.json fixes ${names.join(', ')} for the whole run; a resume cannot change ` +
        'them (start a new run with --out to train differently)',
    );
  }
}

/** What checkpoints record of config.json (RunPosition.trainedWith), so that a resume can tell it was edited. */
const RECORDED_IN_CHECKPOINTS = [...FIXED_ON_RESUME, 'latentSize', 'sampleShape', 'numClasses', 'images'] as const;

/** The fields of `config` that fix what the run learns, for a checkpoint to record; absent ones as null. */
export const fixedConfig = (config: RunConfig): Record<string, unknown> =>
  Object.fromEntries(RECORDED_IN_CHECKPOINTS.map((key) => [key, config[key] ?? null]));

/** Refuses a config.json whose fixed fields differ from those its checkpoint was trained with. */
function refuseEditedConfig(outDir: string, config: RunConfig, position: RunPosition): void {
  const recorded = position.trainedWith;
  if (!recorded) return; // a checkpoint from before the record
  const now = fixedConfig(config);
  const edited = Object.keys(now).filter((key) => JSON.stringify(now[key]) !== JSON.stringify(recorded[key]));
  if (edited.length === 0) return;
  const fields = edited.map(
    (key) => `${key} ${JSON.stringify(now[key])} (trained with ${JSON.stringify(recorded[key])})`,
  );
  throw new GanportError(
    `${outDir}/config.json differs from the run its checkpoint of step ${position.step} was trained in: ` +
      `${fields.join(', ')}; it was edited or damaged: restore it, or start a new run with --out`,
  );
}

/** The options a resume may change too: the run's length and how it is logged and measured. */
const ADJUSTABLE_ON_RESUME = ['epochs', 'evalEvery', 'evalSamples', 'checkpointEvery', 'logEvery'] as const;
type AdjustableOptions = Partial<Pick<RunConfig, (typeof ADJUSTABLE_ON_RESUME)[number]>>;

/** The adjustable options given, checked; those not given are left out (a new run's config has their defaults). */
function adjustableOptions(options: RunCheckOptions): AdjustableOptions {
  const adjusted: AdjustableOptions = {};
  if (options.epochs !== undefined) adjusted.epochs = positiveInt('epochs', options.epochs);
  if (options.evalEvery !== undefined) adjusted.evalEvery = nonNegativeInt('eval interval', options.evalEvery);
  if (options.evalSamples !== undefined) {
    adjusted.evalSamples = positiveInt('eval samples', options.evalSamples);
    if (adjusted.evalSamples < MIN_EVAL_SAMPLES)
      throw new GanportError(
        `eval samples must be an integer of at least ${MIN_EVAL_SAMPLES}, got ${adjusted.evalSamples}`,
      );
  }
  if (options.checkpointEvery !== undefined)
    adjusted.checkpointEvery = positiveInt('checkpoint interval', options.checkpointEvery);
  if (options.logEvery !== undefined) adjusted.logEvery = positiveInt('log interval', options.logEvery);
  return adjusted;
}

/** Fingerprint of a self-conditioned run's cluster labels: a resume must train on the same ones. */
const labelsDigest = (data: Dataset) => createHash('sha256').update(data.labels!).digest('hex');

const clusteringLine = (clusters: number, seed: number) =>
  `self-conditioning: labelling the images by ${clusters} balanced k-means clusters (seed ${seed})`;

/**
 * A resume's new --eval-samples, where best/ holds a measurement of another count: scores of different
 * counts do not compare (FCD falls as the count grows, the modes captured rise), so best/ would be kept
 * or replaced for the count, not the model.
 */
async function refuseIncomparableSamples(outDir: string, recorded: RunConfig, config: RunConfig): Promise<void> {
  const best = await readBestMeasurement(outDir, { readOnly: true }); // before the run's lock is taken, or in a dry run
  const samples = best?.samples ?? recorded.evalSamples;
  if (best && samples !== config.evalSamples)
    throw new GanportError(
      `--eval-samples ${config.evalSamples}: best/ holds a measurement of ${samples} samples (step ${best.step}), ` +
        `which one of another count does not compare with; resume with --eval-samples ${samples}, or move best/ away to choose anew`,
    );
}

/**
 * Why `outDir` may not be used with `dataDir`, a folder of images (not IDX files): it is in a folder that
 * loading the images lists (`dataDir` or a folder under it, links followed, as the walk follows them).
 */
async function insideImageFolder(outDir: string, dataDir: string): Promise<string | undefined> {
  // a missing folder, or a file: the data's own check says so
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory() || hasIdxImages(dataDir)) return undefined;
  // --out may not exist yet: its nearest existing folder's real path, and the rest as given
  let out = resolve(outDir);
  const rest: string[] = [];
  while (!existsSync(out) && dirname(out) !== out) {
    rest.unshift(basename(out));
    out = dirname(out);
  }
  out = join(realpathSync(out), ...rest);
  const [data, ...linked] = await foldersListed(dataDir); // the set keeps the walk's order: dataDir's first
  if (isInside(data, out)) return `--out ${outDir} is inside the image folder --data ${dataDir}`;
  const through = linked.find((folder) => isInside(folder, out));
  return (
    through && `--out ${outDir} is inside ${through}, which the image folder --data ${dataDir} reads through a link`
  );
}

/** A run's options as checked before its data loads; `outDir` may be absent for a dry run of a new one. */
export type RunCheckOptions = Omit<TrainOptions, 'outDir'> & { outDir?: string };

interface CheckedRun {
  /** Without the data's fields (`data`, `images`) on a new run: those come once it loads. */
  config: RunConfig;
  backend: BackendChoice;
  /** A new run's --limit, checked. */
  limit?: number;
}

/**
 * Every check that needs no data (clustering takes a while, and a run should not stop after it on a
 * bad flag), and the backend chosen: all that `train --dry-run` does.
 */
export async function checkRun(options: RunCheckOptions): Promise<CheckedRun> {
  const { outDir } = options;
  if (options.resume) {
    if (outDir === undefined || !existsSync(runPaths(outDir).config)) {
      throw new GanportError(`${outDir} is not a training run (no config.json) to resume`, 'not-found');
    }
    // config.json changes only once the checkpoint is loaded (confirmResume)
    const recorded = await readRunConfig(outDir);
    const config = { ...recorded, ...adjustableOptions(options) };
    refuseChangedOptions({ ...options, outDir }, config);
    if (!config.evalEvery) {
      const idle = options.evalSamples !== undefined ? '--eval-samples' : options.evalClassifier && '--eval-classifier';
      if (idle) throw new GanportError(`${idle} goes with --eval-every: the run in ${outDir} measures nothing`);
    } else await checkEvaluation(config, () => {}, { withData: false });
    if (config.evalSamples !== recorded.evalSamples) await refuseIncomparableSamples(outDir, recorded, config);
    return { config, backend: await chooseBackend(options, config.backend, config.evalEvery) };
  }
  if (outDir !== undefined && existsSync(runPaths(outDir).config) && !options.overwrite) {
    // a run that stopped before its first checkpoint has nothing to resume from
    const resumable = Object.values(checkpointDirs(outDir)).some((dir) => existsSync(dir));
    throw new GanportError(
      resumable
        ? `${outDir} already holds a training run; choose another --out, pass --overwrite, or continue it with --resume`
        : `${outDir} holds a training run that stopped before its first checkpoint; pass --overwrite to start it again, or choose another --out`,
    );
  }
  const width = options.width === undefined ? undefined : positiveInt('width', options.width);
  if (width !== undefined && width > MAX_WIDTH)
    throw new GanportError(`width must be at most ${MAX_WIDTH}, got ${width}`);
  if (options.clusters !== undefined) checkClusterCount(options.clusters);
  const preset = getPreset(options.preset ?? TRAINING_DEFAULTS.preset, { width, clusters: options.clusters });
  const limit = options.limit === undefined ? undefined : positiveInt('limit', options.limit);
  const images = preset.sampleShape.length === 3; // a 2-D preset's --data names a mixture
  const inside =
    images && outDir !== undefined && options.dataDir !== undefined
      ? await insideImageFolder(outDir, options.dataDir)
      : undefined;
  if (inside)
    throw new GanportError(
      `${inside}: the run's sample grids would be read as training images; choose an --out outside it`,
    );
  const config = newRunConfig(options, preset);
  // before the data loads and clusters: a bad --eval-samples or --eval-classifier must not wait for them
  if (config.evalEvery) await checkEvaluation(config, () => {}, { withData: false });
  const backend = await chooseBackend(options, undefined, config.evalEvery);
  if (width !== undefined) refuseUnallocatableWidth(preset, config, backend.name);
  return { config, backend, limit };
}

/** The backends whose tensors live in tfjs-backend-wasm's memory (onnx captures its step on ort). */
const WASM_MEMORY_BACKENDS: readonly BackendName[] = ['wasm', ORT_BACKEND, ONNX_BACKEND];
/** tfjs-backend-wasm's memory at its largest (WebAssembly's 32-bit addresses). */
const WASM_MEMORY_BYTES = 2 ** 32;
/**
 * The wasm backend's memory a weight takes in training: its value, gradient, Adam's moments, the EMA copy and
 * the kernels' transposed copies. Measured: dcgan-64 at batch 4 grew it to 46.5–47.7 bytes a weight (widths 128
 * and 192, on ort) and trained at width 256 (91.5 million weights) within 4 GiB; widths 400 and 512 failed in tfjs.
 */
const WASM_BYTES_PER_WEIGHT = 46;

/** A --width whose models cannot fit in the wasm backend's memory is refused before anything is written (a stack trace from inside tfjs, after config.json, before). */
function refuseUnallocatableWidth(preset: Preset, config: RunConfig, backend: BackendName): void {
  if (!WASM_MEMORY_BACKENDS.includes(backend)) return;
  const counts = weightCountsAtWidth(preset, config.width!, config.pack, { spectralNorm: config.spectralNorm });
  const weights = counts.generator + counts.discriminator;
  const bytes = weights * WASM_BYTES_PER_WEIGHT;
  if (bytes > WASM_MEMORY_BYTES)
    throw new GanportError(
      `--width ${config.width}: ${preset.name}'s models hold ${(weights / 1e6).toFixed(1)} million weights, and training ` +
        `takes about ${WASM_BYTES_PER_WEIGHT} bytes a weight of WebAssembly memory: ${(bytes / 2 ** 30).toFixed(2)} GiB, ` +
        `more than the 4 GiB the ${backend} backend trains in; choose a smaller width`,
    );
}

/** Reads a run to resume, or checks the options of a new one and writes its config.json. */
export async function openRun(options: TrainOptions): Promise<OpenedRun> {
  const log = options.log ?? (() => {});
  const { config, backend, limit } = await checkRun(options);
  const preset = getPreset(config.preset, config);
  const paths = runPaths(options.outDir);
  let data: Dataset;
  if (options.resume) {
    if (config.clusters !== undefined) log(clusteringLine(config.clusters, config.seed));
    data = await loadDataset(config.data, preset, config.seed, {
      images: config.images,
      clusters: config.clusters,
    });
    refuseChangedOptions(options, config, data.count);
    if (data.count < config.images)
      throw new GanportError(
        `${data.source} now holds ${data.count} images, fewer than the ${config.images} ${options.outDir} trains on`,
      );
    if (config.dataSha256 !== undefined && config.dataSha256 !== data.digest?.(config.images))
      throw new GanportError(
        `the first ${config.images} images of ${data.source} (or their labels) differ from those ${options.outDir} ` +
          "was trained on (files added, renamed or changed, or ganport's decoding changed); restore them, or start a new run with --out",
      );
    if (config.clusterLabelsSha256 !== undefined && config.clusterLabelsSha256 !== labelsDigest(data)) {
      throw new GanportError(
        `the images' clusters differ from those ${options.outDir} was trained on (its data or ganport's clustering ` +
          'changed since it began); start a new run with --out',
      );
    }
  } else {
    const k = config.clusters;
    if (k !== undefined) log(clusteringLine(k, config.seed));
    data = await loadDataset(options.dataDir, preset, config.seed, { images: limit, clusters: k });
    config.data = data.source;
    config.images = Math.min(data.count, limit ?? Number.POSITIVE_INFINITY);
    if (config.images < config.batchSize)
      throw new GanportError(`batch size ${config.batchSize} is larger than the ${config.images} images available`);
    if (k !== undefined) config.clusterLabelsSha256 = labelsDigest(data);
    const digest = data.digest?.(config.images);
    if (digest !== undefined) config.dataSha256 = digest;
  }
  if (config.evalEvery) await checkEvaluation(config, log);
  log(`backend: ${backend.name} (${backend.reason})`);
  log(`data: ${config.images} ${preset.sampleShape.length === 1 ? 'points' : 'images'} from ${data.source}`);
  config.backend = backend.name;
  if (!options.resume) {
    if (options.overwrite) for (const old of paths.replaceable) await rm(old, { recursive: true, force: true });
    await writeFileAtomic(paths.config, `${JSON.stringify(config, null, 2)}\n`);
  }
  return { config, preset, data, backend };
}

/**
 * The backend a run trains on (--backend, else the one a resumed run started on, else the fastest),
 * checked against --provider and --eval-every.
 */
export async function chooseBackend(
  options: Pick<TrainOptions, 'backend' | 'providers'>,
  startedOn: string | undefined,
  evalEvery: number | undefined,
): Promise<BackendChoice> {
  // the fastest present that can do what was asked: --provider is the onnx engine's, --eval-every not webgpu's
  const order: readonly BackendName[] = options.providers
    ? [ONNX_BACKEND]
    : BACKENDS.filter((b) => !(evalEvery && b === 'webgpu'));
  const backend = await selectBackend(options.backend ?? startedOn, order);
  if (options.backend === undefined && startedOn !== undefined) backend.reason = 'the backend the run started on';
  if (options.providers) {
    if (backend.name !== ONNX_BACKEND)
      throw new GanportError(`--provider goes with the onnx backend (this run trains on ${backend.name})`);
    const { working, dropped } = await workingProviders(options.providers);
    backend.providers = working;
    backend.reason += `; onnxruntime providers ${working.join(', ')}`;
    if (dropped.length) backend.reason += ` (passed over: ${dropped.join('; ')})`;
  }
  if (evalEvery && backend.name === 'webgpu') {
    // converting the generator reads its weights synchronously, which tfjs-backend-webgpu cannot do in Node
    throw new GanportError(
      '--eval-every does not run on the webgpu backend; evaluate exported epochs with ganport eval',
    );
  }
  return backend;
}

/** A one-node graph that every execution provider can open a session on (made when --provider is given). */
const probeModel = () =>
  encodeModel(
    makeModel(
      makeGraph(
        [makeNode('Identity', ['x'], ['y'])],
        'probe',
        [makeValueInfo('x', DataType.FLOAT, [1])],
        [makeValueInfo('y', DataType.FLOAT, [1])],
        [],
      ),
      { opset: 17, producerName: 'ganport', producerVersion: '' },
    ),
  );

/**
 * The providers of --provider that open an onnxruntime session here, in order, as generate tries them:
 * one that fails is passed over (named, with why) while another follows; none working is refused.
 */
async function workingProviders(providers: string[]): Promise<{ working: string[]; dropped: string[] }> {
  const ort = await import('onnxruntime-node');
  const known = ort.listSupportedBackends().map((b) => b.name);
  const unknown = providers.find((p) => !known.includes(p));
  if (unknown) throw new GanportError(`--provider ${unknown}: onnxruntime-node here has ${known.join(', ')}`);
  if (providers.includes('webgpu')) prepareVulkan(); // its own Dawn needs a Vulkan loader and driver on Linux
  const model = probeModel();
  const working: string[] = [];
  const dropped: string[] = [];
  for (const provider of providers) {
    try {
      const session = await ort.InferenceSession.create(model, { executionProviders: [provider] });
      await session.release();
      working.push(provider);
    } catch (err) {
      dropped.push(`${provider}: ${String((err as Error).message ?? err).split('\n')[0]}`);
    }
  }
  if (working.length === 0)
    throw new GanportError(`no --provider opens an onnxruntime session here (${dropped.join('; ')})`, 'unavailable');
  return { working, dropped };
}

/**
 * Checks a resume against how far its checkpoint got, before any work: a finished run, or an --epochs
 * short of where it got, is refused. Then records the options it adjusts (--epochs, --eval-every, …)
 * in config.json.
 */
export async function confirmResume(outDir: string, config: RunConfig, position: RunPosition): Promise<void> {
  const reached = position.batchInEpoch > 0 ? position.epoch : position.epoch - 1;
  if (config.epochs < reached)
    throw new GanportError(
      `the run in ${outDir} has reached epoch ${reached}; --epochs ${config.epochs} would end it before that`,
    );
  if (position.epoch > config.epochs)
    throw new GanportError(
      `the run in ${outDir} had already finished its ${config.epochs} epochs; pass --epochs to extend it`,
    );
  const saved = await readRunConfig(outDir);
  const adjusted = { ...saved };
  for (const key of ADJUSTABLE_ON_RESUME) Object.assign(adjusted, { [key]: config[key] });
  if (JSON.stringify(adjusted) === JSON.stringify(saved)) return;
  await changeRunFiles(outDir, () =>
    writeFileAtomic(runPaths(outDir).config, `${JSON.stringify(adjusted, null, 2)}\n`),
  );
}

/** Fresh models and optimizers, seeded; the EMA generator starts as a copy (or is the generator when EMA is off). */
export function buildTrainingState(
  preset: Preset,
  config: Pick<
    RunConfig,
    'seed' | 'emaDecay' | 'pack' | 'spectralNorm' | 'learningRate' | 'discriminatorLearningRate' | 'beta1' | 'images'
  >,
): TrainingState {
  const generator = preset.buildGenerator(config.seed);
  const ema = config.emaDecay > 0 ? preset.buildGenerator(config.seed) : generator;
  if (ema !== generator) ema.setWeights(generator.getWeights());
  const discriminator = preset.buildDiscriminator(config.seed, config.pack, { spectralNorm: config.spectralNorm });
  const trainable = (model: tf.LayersModel) => model.trainableWeights.map((w) => w.read() as tf.Variable);
  return {
    generator,
    discriminator,
    ema,
    dOptimizer: new Adam(trainable(discriminator), config.discriminatorLearningRate, config.beta1),
    gOptimizer: new Adam(trainable(generator), config.learningRate, config.beta1),
    order: Uint32Array.from({ length: config.images }, (_, i) => i),
  };
}

/** Disposes the models and optimizers of a state. */
export function disposeTrainingState(state: TrainingState): void {
  for (const model of new Set([state.generator, state.ema, state.discriminator])) model.dispose();
  state.dOptimizer.dispose();
  state.gOptimizer.dispose();
}

/**
 * Where the run starts: step 0, or the position of the newest checkpoint that passes verification
 * (its weights, optimizers, order and RNG restored; see formats/checkpoint.ts for the fallback).
 */
export async function startPosition(
  { outDir, resume, strict, log }: TrainOptions,
  config: RunConfig,
  state: TrainingState,
  rng: Rng,
): Promise<RunPosition> {
  if (!resume) return { step: 0, epoch: 1, batchInEpoch: 0, rng: rng.state };
  const check = (position: RunPosition) => refuseEditedConfig(outDir, config, position);
  const position = await loadCheckpoint<RunPosition>(outDir, state, { strict, log, check });
  rng.state = position.rng;
  return position;
}
