import { TRAINING_DEFAULTS } from '../../formats/run-dir.js';
import { PRESET_NAMES } from '../../presets/names.js';
import { LOSSES, type LossName } from '../../train/loss-names.js';
import { defineCommand, flagFor, UsageError } from '../flags.js';
import { backendFlag, dataFlag, providerFlag, providerList, quietFlag } from '../shared-flags.js';

/** The flag that feeds a train() option (`batchSize` → `--batch`), for messages. */
const flagName = (option: string): string => {
  try {
    return flagFor(trainCommand.flags, option);
  } catch {
    return option; // an option no flag sets (a library caller's)
  }
};

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train a GAN in Node with TensorFlow.js',
  flags: {
    out: { type: 'string', value: 'RUN_DIR', help: 'the directory of a new run (or give --resume)' },
    resume: {
      type: 'string',
      value: 'RUN_DIR',
      help: 'continue the run in RUN_DIR from its last checkpoint (--epochs, --eval-every, --eval-samples, --checkpoint-every, --log-every may change)',
    },
    preset: {
      type: 'string',
      value: 'NAME',
      help: `the architecture: ${PRESET_NAMES.join(', ')} (default ${TRAINING_DEFAULTS.preset})`,
    },
    width: {
      type: 'int',
      value: 'W',
      help: "the DCGAN presets' width: channels of the last hidden layer, each earlier one doubling it (default 32)",
    },
    clusters: {
      type: 'int',
      value: 'K',
      help: 'self-conditioning (dcgan, dcgan-32, dcgan-64): label the images by K balanced k-means clusters and condition both models on them, with no class labels',
    },
    epochs: {
      type: 'int',
      value: 'N',
      help: `epochs to train (default ${TRAINING_DEFAULTS.epochs}); with --resume, the new total`,
    },
    data: dataFlag(
      'IDX files, a folder of PNG/JPEG images, or a 2-D mixture: ring, grid (default: Fashion-MNIST; ring for 2-D presets)',
    ),
    seed: {
      type: 'int',
      value: 'S',
      help: `seeds weights, noise, shuffling and dropout (default ${TRAINING_DEFAULTS.seed})`,
    },
    batch: {
      type: 'int',
      value: 'B',
      option: 'batchSize',
      help: `batch size (default: the preset's, else ${TRAINING_DEFAULTS.batchSize})`,
    },
    backend: backendFlag,
    provider: { ...providerFlag, help: `with the onnx backend: ${providerFlag.help}` },
    lr: {
      type: 'number',
      value: 'LR',
      option: 'learningRate',
      help: `Adam learning rate (default: the preset's, else ${TRAINING_DEFAULTS.learningRate})`,
    },
    'lr-d': {
      type: 'number',
      value: 'LR',
      option: 'discriminatorLearningRate',
      help: "TTUR: the discriminator's own learning rate (default: --lr)",
    },
    loss: {
      type: 'string',
      value: LOSSES.join('|'),
      help: `the GAN loss (default ${TRAINING_DEFAULTS.loss}, non-saturating)`,
    },
    'label-smoothing': {
      type: 'number',
      value: 'S',
      option: 'labelSmoothing',
      help: `real targets are 1 - S, for bce and lsgan (default ${TRAINING_DEFAULTS.labelSmoothing})`,
    },
    ema: {
      type: 'number',
      value: 'DECAY',
      option: 'emaDecay',
      help: `EMA decay of the generator's weights (default: the preset's, else ${TRAINING_DEFAULTS.emaDecay}; 0 turns it off)`,
    },
    pack: {
      type: 'int',
      value: 'M',
      help: `PacGAN: the discriminator judges M samples at once (default ${TRAINING_DEFAULTS.pack})`,
    },
    'spectral-norm': {
      type: 'boolean',
      option: 'spectralNorm',
      help: "spectral normalization of the discriminator's kernels (folded into plain weights on export)",
    },
    r1: {
      type: 'number',
      value: 'GAMMA',
      option: 'r1Gamma',
      help: `R1 gradient penalty on real samples, GAMMA/2 · E‖∇D(x)‖² (default ${TRAINING_DEFAULTS.r1Gamma}: none)`,
    },
    'lr-decay': {
      type: 'boolean',
      option: 'lrDecay',
      help: 'decay both learning rates linearly to 0 over the run',
    },
    'checkpoint-every': {
      type: 'int',
      value: 'N',
      option: 'checkpointEvery',
      help: `write a checkpoint every N steps (default ${TRAINING_DEFAULTS.checkpointEvery}) and at each epoch's end`,
    },
    limit: { type: 'int', value: 'N', help: 'use only the first N images' },
    'log-every': {
      type: 'int',
      value: 'N',
      option: 'logEvery',
      help: `append a metrics line every N steps (default ${TRAINING_DEFAULTS.logEvery})`,
    },
    'eval-every': {
      type: 'int',
      value: 'N',
      option: 'evalEvery',
      help: 'every N steps, measure the generator as ganport eval does (FCD, precision/recall, …) into metrics.jsonl',
    },
    'eval-samples': {
      type: 'int',
      value: 'N',
      option: 'evalSamples',
      help: `samples per --eval-every measurement (default ${TRAINING_DEFAULTS.evalSamples})`,
    },
    'eval-classifier': {
      type: 'string',
      value: 'PATH',
      option: 'evalClassifier',
      help: 'the classifier --eval-every measures with, as ganport eval --classifier takes it (default: the shipped Fashion-MNIST one); fixed for the run',
    },
    strict: {
      type: 'boolean',
      help: 'with --resume: stop if the newest checkpoint fails verification, rather than fall back to the previous one',
    },
    overwrite: { type: 'boolean', help: 'replace a run already in --out' },
    quiet: quietFlag,
    'dry-run': {
      type: 'boolean',
      option: 'dryRun',
      help: 'check every option that needs no data, print the backend that would be chosen (and its GPU adapter), and train nothing',
    },
  },
  examples: [
    'ganport train --preset dcgan --epochs 5 --out runs/dcgan',
    'ganport train --resume runs/dcgan --epochs 8',
    'ganport train --preset dcgan --clusters 100 --epochs 68 --lr-decay --out runs/dcgan-clusters',
    'ganport train --preset mlp-2d --data grid --epochs 150 --pack 4 --out runs/grid',
    'ganport train --backend webgpu --dry-run',
    'ganport train --preset dcgan --backend onnx --provider cuda --out runs/dcgan-cuda',
  ],
  async run({ out, resume, loss, dryRun, spectralNorm, lrDecay, provider, ...options }) {
    if (out !== undefined && resume !== undefined)
      throw new UsageError('give either --out RUN_DIR (a new run) or --resume RUN_DIR');
    // options that would do nothing are refused rather than ignored
    if (options.strict && resume === undefined) throw new UsageError('--strict goes with --resume');
    if (options.overwrite && resume !== undefined)
      throw new UsageError('--overwrite replaces a run; --resume continues one: give one of them');
    for (const [flag, value] of [
      ['--eval-samples', options.evalSamples],
      ['--eval-classifier', options.evalClassifier],
    ] as const)
      if (value !== undefined && options.evalEvery === undefined && resume === undefined)
        throw new UsageError(`${flag} goes with --eval-every`);
    const runOptions = {
      ...options,
      outDir: out ?? resume,
      resume: resume !== undefined,
      loss: loss as LossName | undefined, // checked with the other options
      // absent switches stay undefined, so that a resume keeps what the run recorded
      spectralNorm: spectralNorm || undefined,
      lrDecay: lrDecay || undefined,
      providers: providerList(provider),
      log: (line: string) => console.log(line),
    };
    const { FixedOptionsError } = await import('../../train/run-setup.js');
    const namingFlags = (err: unknown) => {
      if (!(err instanceof FixedOptionsError)) throw err;
      throw new FixedOptionsError(err.outDir, err.options, err.options.map(flagName));
    };
    if (dryRun) {
      // every check train() makes before the data loads, and the backend it would choose
      const { checkRun } = await import('../../train/run-setup.js');
      const { backend } = await checkRun(runOptions).catch(namingFlags);
      console.log(`backend: ${backend.name} (${backend.reason})`);
      console.log('dry run: nothing trained');
      return 0;
    }
    const { outDir } = runOptions;
    if (outDir === undefined) throw new UsageError('give either --out RUN_DIR (a new run) or --resume RUN_DIR');
    const { train } = await import('../../train/train.js');
    const result = await train({ ...runOptions, outDir }).catch(namingFlags);
    const { last } = result;
    console.log(
      `trained to step ${result.steps}: D loss ${last.dLoss.toFixed(4)}, G loss ${last.gLoss.toFixed(4)}, ` +
        `${last.imagesPerSecond} img/s`,
    );
    return 0;
  },
});
