/**
 * One GAN training step: a discriminator update on a real and a generated batch,
 * then a generator update through the discriminator (whose weights it leaves
 * alone), then the generator's moving average. Shared by `train` and the benchmark.
 */

import type { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import type { TrainingState } from '../formats/checkpoint.js';
import { LOGIT_LAYER } from '../presets/index.js';
import '../tfjs/comparison-gradients.js';
import type { GanLoss } from './losses.js';

export interface StepConfig {
  latentSize: number;
  batchSize: number;
  numClasses?: number;
  emaDecay: number;
  /** PacGAN's packing degree: the discriminator judges this many samples at once (default 1: plain GAN). */
  pack?: number;
  /** R1 penalty weight γ: the D loss adds γ/2 · E‖∇ₓD(x)‖² over real samples (0 or absent: none). */
  r1Gamma?: number;
}

export interface StepValues {
  dLoss: number;
  gLoss: number;
  /** Mean sigmoid of D's logit on the real batch and on the generated one. */
  dReal: number;
  dFake: number;
}

export class GanStep {
  private readonly logits: tf.LayersModel;
  private readonly dVars: tf.Variable[];
  private readonly gVars: tf.Variable[];

  constructor(
    private readonly state: TrainingState,
    private readonly loss: GanLoss,
    private readonly config: StepConfig,
    private readonly rng: Rng,
  ) {
    const { discriminator, generator } = state;
    this.logits = tf.model({
      inputs: discriminator.inputs,
      outputs: discriminator.getLayer(LOGIT_LAYER).output as tf.SymbolicTensor,
    });
    this.dVars = discriminator.trainableWeights.map((w) => w.read() as tf.Variable);
    this.gVars = generator.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Runs step number `step` (1-based) on a real batch; reads the losses back only when `measure` is set. */
  run(step: number, real: tf.Tensor, realLabels: tf.Tensor | undefined, measure: boolean): StepValues | undefined {
    const measured = this.update(step, real, realLabels, measure);
    if (!measured) return undefined;
    try {
      return toValues(measured.dataSync());
    } finally {
      measured.dispose();
    }
  }

  /**
   * `run`, reading the losses back asynchronously: what the webgpu backend needs, whose
   * synchronous reads rely on a browser's OffscreenCanvas (Node has none).
   */
  async runAsync(
    step: number,
    real: tf.Tensor,
    realLabels: tf.Tensor | undefined,
    measure: boolean,
  ): Promise<StepValues | undefined> {
    const measured = this.update(step, real, realLabels, measure);
    if (!measured) return undefined;
    try {
      return toValues(await measured.data());
    } finally {
      measured.dispose();
    }
  }

  /** The step's updates; when `measure`, a tensor of [D loss, G loss, D(x), D(G(z))], for the caller to read and dispose. */
  private update(step: number, real: tf.Tensor, realLabels: tf.Tensor | undefined, measure: boolean) {
    const { state, loss, config } = this;
    reseedDropout(state.discriminator, this.rng);
    return tf.tidy(() => {
      const zD = this.noise();
      const fakeLabelsD = this.randomLabels();
      const dLoss = state.dOptimizer.minimize(
        () => {
          const ganLoss = loss.discriminator(this.D(real, realLabels), this.D(this.G(zD, fakeLabelsD), fakeLabelsD));
          return config.r1Gamma ? tf.add(ganLoss, this.r1Penalty(real, realLabels, config.r1Gamma)) : ganLoss;
        },
        true,
        this.dVars,
      )!;
      const zG = this.noise();
      const fakeLabelsG = this.randomLabels();
      const gLoss = state.gOptimizer.minimize(
        () => loss.generator(this.D(this.G(zG, fakeLabelsG), fakeLabelsG)),
        true,
        this.gVars,
      )!;
      if (state.ema !== state.generator)
        updateEma(state.ema, state.generator, Math.min(config.emaDecay, (1 + step) / (10 + step)));
      if (!measure) return undefined;
      // Inference mode, so that measuring never changes batch-norm statistics (and so the run).
      const dReal = tf.sigmoid(this.D(real, realLabels, false)).mean();
      const dFake = tf.sigmoid(this.D(this.G(zG, fakeLabelsG, false), fakeLabelsG, false)).mean();
      return tf.stack([dLoss, gLoss, dReal, dFake]);
    });
  }

  /**
   * R1 (Mescheder et al. 2018): γ/2 · the mean over real samples of ‖∇ₓ D's logit‖², differentiated
   * again for D's weights (a gradient of a gradient: tfjs records the inner one on the outer tape).
   */
  private r1Penalty(real: tf.Tensor, labels: tf.Tensor | undefined, gamma: number): tf.Scalar {
    const gradient = tf.grad((x: tf.Tensor) => this.D(x, labels).sum())(real);
    const perSample = tf.sum(
      tf.square(gradient),
      gradient.shape.slice(1).map((_, i) => i + 1),
    );
    return tf.mul(tf.mean(perSample), gamma / 2);
  }

  private G(z: tf.Tensor, labels?: tf.Tensor, training = true): tf.Tensor {
    return this.state.generator.apply(labels ? [z, labels] : z, { training }) as tf.Tensor;
  }

  private D(x: tf.Tensor, labels?: tf.Tensor, training = true): tf.Tensor {
    const packed = packSamples(x, this.config.pack ?? 1);
    return this.logits.apply(labels ? [packed, labels] : packed, { training }) as tf.Tensor;
  }

  private noise(): tf.Tensor2D {
    const { batchSize, latentSize } = this.config;
    return tf.tensor2d(
      Float32Array.from({ length: batchSize * latentSize }, () => this.rng.nextNormal()),
      [batchSize, latentSize],
    );
  }

  private randomLabels(): tf.Tensor2D | undefined {
    const { batchSize, numClasses } = this.config;
    if (!numClasses) return undefined;
    return tf.tensor2d(
      Int32Array.from({ length: batchSize }, () => this.rng.nextInt(numClasses)),
      [batchSize, 1],
      'int32',
    );
  }
}

function toValues(values: ArrayLike<number>): StepValues {
  const [dLoss, gLoss, dReal, dFake] = Array.from(values);
  return { dLoss, gLoss, dReal, dFake };
}

/**
 * PacGAN's packing: consecutive groups of `pack` samples become one discriminator
 * input, their last axes joined: [B, 2] → [B/pack, 2·pack] for points,
 * [B, H, W, C] → [B/pack, H, W, C·pack] for images (sample-major within a group).
 */
export function packSamples(x: tf.Tensor, pack: number): tf.Tensor {
  if (pack === 1) return x;
  const [batch, ...sample] = x.shape;
  if (sample.length === 1) return x.reshape([batch / pack, sample[0] * pack]);
  const [h, w, c] = sample;
  return x
    .reshape([batch / pack, pack, h, w, c])
    .transpose([0, 2, 3, 1, 4])
    .reshape([batch / pack, h, w, pack * c]);
}

/** tfjs seeds a Dropout layer once, so it would draw the same mask every step; give each step its own seed from the run's RNG. */
function reseedDropout(model: tf.LayersModel, rng: Rng): void {
  for (const layer of model.layers)
    if (layer.getClassName() === 'Dropout') (layer as unknown as { seed: number }).seed = rng.nextUint32();
}

/** ema ← d·ema + (1 − d)·generator, over every weight (batch-norm statistics included). */
function updateEma(ema: tf.LayersModel, generator: tf.LayersModel, decay: number): void {
  const source = generator.weights;
  for (const [i, w] of ema.weights.entries())
    w.write(tf.add(tf.mul(w.read(), decay), tf.mul(source[i].read(), 1 - decay)));
}
