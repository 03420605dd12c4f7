/**
 * Fully connected GANs: the beginner's seed-mlp, a wider `mlp` for 28×28 images,
 * and `mlp-2d` for the 2-D mixtures (a 2-d latent as in VEEGAN / PacGAN).
 */

import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../tfjs/batch-norm.js';
import { normalSeed } from '../tfjs/layer-basics.js';
import { maxout } from '../tfjs/maxout.js';
import { discriminatorDense, spectralNormDense } from '../tfjs/spectral-norm.js';
import { LOGIT_LAYER, type Preset, packedShape } from './preset.js';

export interface MlpOptions {
  name: string;
  description: string;
  latentSize: number;
  sampleShape: number[];
  generatorUnits: number[];
  discriminatorUnits: number[];
  /** Hidden activation: relu, or LeakyReLU(0.2). */
  activation: Activation;
  /** The generator's own hidden activation, where it differs from `activation`. */
  generatorActivation?: Activation;
  /** Batch normalization before each hidden activation of the generator (as PacGAN's generator has). */
  generatorBatchNorm?: boolean;
  /** Maxout hidden units with this many pieces in the discriminator, instead of dense + activation (PacGAN's D). */
  discriminatorMaxoutPieces?: number;
  /** Kernels start from N(0, weightStd²) (PacGAN's IsotropicGaussian) rather than Glorot uniform. */
  weightStd?: number;
  /** tanh for images in [-1, 1]; linear for points. */
  output: 'tanh' | 'linear';
  defaults?: Preset['defaults'];
}

type Activation = 'relu' | 'leakyRelu';
type Init = (seed: number) => ReturnType<typeof tf.initializers.glorotUniform>;

/** One side's hidden layers. */
interface HiddenStack {
  units: number[];
  seed: number;
  batchNorm?: boolean;
  inputShape?: number[];
  maxoutPieces?: number;
  spectralNorm?: boolean;
  activation: Activation;
}

/** Why a discriminator of maxout layers is not spectrally normalized. */
const maxoutRefusal = (o: MlpOptions) => `preset ${o.name}: spectral normalization is not available for maxout layers`;

function hidden(o: MlpOptions, init: Init, stack: HiddenStack): tf.layers.Layer[] {
  const { activation, seed, batchNorm = false, maxoutPieces, spectralNorm } = stack;
  if (maxoutPieces && spectralNorm) throw new GanportError(maxoutRefusal(o));
  return stack.units.flatMap((n, i) => {
    const name = `hidden${i}`;
    const first = i === 0 && stack.inputShape ? { inputShape: stack.inputShape } : {};
    if (maxoutPieces)
      return [
        maxout({
          units: n,
          pieces: maxoutPieces,
          stddev: o.weightStd,
          seed: seed + i,
          layout: 'piece-major',
          name,
          ...first,
        }),
      ];
    const fused = activation === 'relu' && !batchNorm && !spectralNorm;
    const layers: tf.layers.Layer[] = [
      spectralNorm
        ? spectralNormDense({ units: n, seed: seed + i, name, ...first })
        : tf.layers.dense({
            units: n,
            activation: fused ? 'relu' : 'linear',
            useBias: !batchNorm,
            kernelInitializer: init(seed + i),
            name,
            ...first,
          }),
    ];
    if (batchNorm) layers.push(batchNormalization({ momentum: 0.95, name: `hidden${i}_bn` }));
    if (!fused)
      layers.push(
        activation === 'relu'
          ? tf.layers.reLU({ name: `hidden${i}_act` })
          : tf.layers.leakyReLU({ alpha: 0.2, name: `hidden${i}_act` }),
      );
    return layers;
  });
}

export function mlpGan(o: MlpOptions): Preset {
  const size = o.sampleShape.reduce((a, b) => a * b, 1);
  const init: Init = (seed) =>
    o.weightStd === undefined
      ? tf.initializers.glorotUniform({ seed })
      : tf.initializers.randomNormal({ mean: 0, stddev: o.weightStd, seed: normalSeed(seed) });
  return {
    name: o.name,
    description: o.description,
    latentSize: o.latentSize,
    sampleShape: o.sampleShape,
    defaults: o.defaults,
    ...(o.discriminatorMaxoutPieces ? { noSpectralNorm: maxoutRefusal(o) } : {}),
    buildGenerator(seed) {
      const layers = [
        ...hidden(o, init, {
          units: o.generatorUnits,
          seed,
          batchNorm: o.generatorBatchNorm,
          inputShape: [o.latentSize],
          activation: o.generatorActivation ?? o.activation,
        }),
        tf.layers.dense({ units: size, activation: o.output, kernelInitializer: init(seed + 50), name: 'output' }),
      ];
      if (o.sampleShape.length > 1) layers.push(tf.layers.reshape({ targetShape: o.sampleShape, name: 'image' }));
      return tf.sequential({ name: 'generator', layers });
    },
    buildDiscriminator(seed, pack = 1, { spectralNorm = false } = {}) {
      const inputShape = packedShape(o.sampleShape, pack);
      const flatten = o.sampleShape.length > 1 ? [tf.layers.flatten({ inputShape, name: 'flatten' })] : [];
      return tf.sequential({
        name: 'discriminator',
        layers: [
          ...flatten,
          ...hidden(o, init, {
            units: o.discriminatorUnits,
            seed: seed + 100,
            inputShape: flatten.length ? undefined : inputShape,
            maxoutPieces: o.discriminatorMaxoutPieces,
            spectralNorm,
            activation: o.activation,
          }),
          discriminatorDense(spectralNorm, {
            units: 1,
            seed: seed + 150,
            name: LOGIT_LAYER,
            kernelInitializer: init(seed + 150),
          }),
          tf.layers.activation({ activation: 'sigmoid', name: 'probability' }),
        ],
      });
    },
  };
}

/** The beginner's MLP GAN: G: 64-d noise → Dense 64 relu → Dense 784 tanh → 28×28×1; D: flatten → Dense 64 relu → Dense 1. */
export const seedMlp = mlpGan({
  name: 'seed-mlp',
  description: "the beginner's MLP GAN (64-d noise, one hidden layer of 64 on each side), 28×28 grayscale",
  latentSize: 64,
  sampleShape: [28, 28, 1],
  generatorUnits: [64],
  discriminatorUnits: [64],
  activation: 'relu',
  output: 'tanh',
});

export const mlp = mlpGan({
  name: 'mlp',
  description: 'a wider MLP GAN (100-d noise, 256-512 hidden units, LeakyReLU), 28×28 grayscale',
  latentSize: 100,
  sampleShape: [28, 28, 1],
  generatorUnits: [256, 512],
  discriminatorUnits: [512, 256],
  activation: 'leakyRelu',
  output: 'tanh',
});

const mlp2dOptions: MlpOptions = {
  name: 'mlp-2d',
  description:
    'MLP GAN for the 2-D mixtures (--data ring or grid): 2-d noise, G 3×128 with batch norm, D 3×128, LeakyReLU',
  latentSize: 2,
  sampleShape: [2],
  generatorUnits: [128, 128, 128],
  generatorBatchNorm: true,
  discriminatorUnits: [128, 128, 128],
  activation: 'leakyRelu',
  output: 'linear',
  // PacGAN's G (4×400, batch norm) and maxout D need ~400k steps at lr 1e-4; this smaller pair at lr 1e-3
  // and batch 256 runs ~11 steps/s on one wasm thread. No EMA: averaging the weights of a generator
  // that moves between modes puts its samples between them.
  defaults: { learningRate: 1e-3, batchSize: 256, emaDecay: 0 },
};

export const mlp2d = mlpGan(mlp2dOptions);

/**
 * mlp-2d with a deeper generator in ReLU, as PacGAN's generator is (4 hidden layers, batch norm, ReLU).
 * A ReLU unit can switch off, so the generator can map a whole region of the latent plane onto one
 * point, where LeakyReLU's 0.2 slope keeps every region moving; one more layer lets it fold the plane
 * once more. Both leave fewer samples on the lines between the grid's modes (README: 2-D mixtures).
 */
export const mlp2dDeep = mlpGan({
  ...mlp2dOptions,
  name: 'mlp-2d-deep',
  description:
    'mlp-2d with a deeper ReLU generator (--data ring or grid): G 4×128 with batch norm and ReLU, D 3×128 LeakyReLU',
  generatorUnits: [128, 128, 128, 128],
  generatorActivation: 'relu',
});

/**
 * PacGAN's 2-D architecture (Lin et al. 2018, synthetic_data_experiments in fjxmlzn/PacGAN): G 2-d noise →
 * 4 × (400, batch norm, ReLU) → 2; D 3 × Maxout(200 units, 5 pieces) → 1; kernels N(0, 0.02²); Adam lr 1e-4,
 * β1 0.8, batch 100 (the paper trains 400 epochs of 100,000 points).
 */
export const pacgan2d = mlpGan({
  name: 'pacgan-2d',
  description: "PacGAN's 2-D pair (--data ring or grid): G 4×400 with batch norm and ReLU, D 3×200 maxout (5 pieces)",
  latentSize: 2,
  sampleShape: [2],
  generatorUnits: [400, 400, 400, 400],
  generatorBatchNorm: true,
  discriminatorUnits: [200, 200, 200],
  discriminatorMaxoutPieces: 5,
  weightStd: 0.02,
  activation: 'relu',
  output: 'linear',
  defaults: { learningRate: 1e-4, beta1: 0.8, batchSize: 100, emaDecay: 0 },
});
