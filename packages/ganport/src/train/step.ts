/**
 * One GAN training step: a discriminator update on a real and a generated batch, then a
 * generator update through the discriminator (whose weights it leaves alone), then the
 * generator's moving average.
 *
 * The step is a function of tensors (`GanStep.train`): the real batch, what the step draws from
 * the run's RNG (latents, labels, dropout seeds) and the model and optimizer variables it updates;
 * the learning rates and the EMA decay are scalar variables too. The tfjs engine runs it eagerly;
 * the onnx engine (onnx-step.ts) records it once as ONNX graphs and runs those.
 */

import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { LOGIT_LAYER } from '../presets/index.js';
import '../tfjs/comparison-gradients.js';
import { dropoutLayers, setDropoutSeed } from '../tfjs/internals.js';
import type { GanLoss } from './losses.js';
import type { TrainingState } from './state.js';

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

/** A step's losses, read back every step (the divergence guard checks each one). */
export interface StepLosses {
  dLoss: number;
  gLoss: number;
}

export interface StepValues extends StepLosses {
  /** Mean sigmoid of D's logit on the real batch and on the generated one. */
  dReal: number;
  dFake: number;
}

/** What one step draws from the run's RNG, in the order runs have always drawn it. */
export interface StepDraws {
  /** One per Dropout layer of the discriminator: tfjs seeds the layer's mask with it. */
  dropoutSeeds: number[];
  /** Latents and (conditional presets) labels of the discriminator's fake batch, then the generator's. */
  zD: Float32Array;
  fakeLabelsD?: Int32Array;
  zG: Float32Array;
  fakeLabelsG?: Int32Array;
}

/** A step's tensors: the real batch and the draws, as `train` and `measure` read them. */
export interface StepTensors {
  real: tf.Tensor;
  realLabels?: tf.Tensor;
  zD: tf.Tensor;
  fakeLabelsD?: tf.Tensor;
  zG: tf.Tensor;
  fakeLabelsG?: tf.Tensor;
}

/** What runs steps: the tfjs engine (GanStep) or the onnx engine. */
export interface StepEngine {
  /** Runs step number `step` (1-based) on a real batch: its losses, and D(x), D(G(z)) when `measure` is set. */
  run(
    step: number,
    real: tf.Tensor,
    realLabels: tf.Tensor | undefined,
    measure: boolean,
  ): Promise<StepLosses | StepValues>;
  /** Makes the tfjs models and optimizers hold the engine's current state (before checkpoints, samples, exports). */
  sync(): Promise<void>;
  dispose(): void | Promise<void>;
}

/** The EMA decay of step `step`: warmed up as min(decay, (1 + t)/(10 + t)). */
export const emaDecayAt = (decay: number, step: number): number => Math.min(decay, (1 + step) / (10 + step));

export class GanStep implements StepEngine {
  private readonly logits: tf.LayersModel;
  private readonly dVars: tf.Variable[];
  private readonly gVars: tf.Variable[];
  /** The EMA decay the step applies, set before each step. */
  readonly emaDecay = tf.variable(tf.scalar(0), false);

  constructor(
    readonly state: TrainingState,
    private readonly loss: GanLoss,
    readonly config: StepConfig,
    private readonly rng: Rng,
  ) {
    const { discriminator } = state;
    this.logits = tf.model({
      inputs: discriminator.inputs,
      outputs: discriminator.getLayer(LOGIT_LAYER).output as tf.SymbolicTensor,
    });
    this.dVars = state.dOptimizer.variables;
    this.gVars = state.gOptimizer.variables;
  }

  /** Draws the step's randomness from the run's RNG: dropout seeds, then the D batch's latents and labels, then G's. */
  draw(): StepDraws {
    const dropoutSeeds = this.dropoutSeeds(this.rng);
    const zD = this.noise();
    const fakeLabelsD = this.randomLabels();
    const zG = this.noise();
    const fakeLabelsG = this.randomLabels();
    return { dropoutSeeds, zD, fakeLabelsD, zG, fakeLabelsG };
  }

  /** The dropout seeds the next `draw` will draw (drawn from a copy of the run's RNG, which stays as it is). */
  nextDropoutSeeds(): number[] {
    const copy = new Rng(0);
    copy.state = this.rng.state;
    return this.dropoutSeeds(copy);
  }

  /** One seed per Dropout layer of the discriminator, drawn from `rng`: the first draws of a step. */
  private dropoutSeeds(rng: Rng): number[] {
    return dropoutLayers(this.state.discriminator).map(() => rng.nextUint32());
  }

  /** Sets the Dropout layers' seeds and the EMA decay of step `step` before the step runs. */
  prepare(step: number, draws: StepDraws): void {
    for (const [i, layer] of dropoutLayers(this.state.discriminator).entries())
      setDropoutSeed(layer, draws.dropoutSeeds[i]);
    const decay = this.state.ema !== this.state.generator ? emaDecayAt(this.config.emaDecay, step) : 0;
    tf.tidy(() => this.emaDecay.assign(tf.scalar(decay)));
  }

  /** The tensors of a real batch and the draws. */
  tensors(real: tf.Tensor, realLabels: tf.Tensor | undefined, draws: StepDraws): StepTensors {
    const { batchSize, latentSize } = this.config;
    const labels = (values?: Int32Array) => (values ? tf.tensor2d(values, [batchSize, 1], 'int32') : undefined);
    return {
      real,
      realLabels,
      zD: tf.tensor2d(draws.zD, [batchSize, latentSize]),
      fakeLabelsD: labels(draws.fakeLabelsD),
      zG: tf.tensor2d(draws.zG, [batchSize, latentSize]),
      fakeLabelsG: labels(draws.fakeLabelsG),
    };
  }

  async run(
    step: number,
    real: tf.Tensor,
    realLabels: tf.Tensor | undefined,
    measure: boolean,
  ): Promise<StepLosses | StepValues> {
    const draws = this.draw();
    this.prepare(step, draws);
    const read = tf.tidy(() => {
      const inputs = this.tensors(real, realLabels, draws);
      const { dLoss, gLoss } = this.train(inputs);
      const losses = tf.stack([dLoss, gLoss]);
      return measure ? tf.concat([losses, this.measure(inputs)]) : losses;
    });
    try {
      // data(), not dataSync(): the webgpu backend's synchronous reads rely on a browser's OffscreenCanvas
      return toValues(await read.data());
    } finally {
      read.dispose();
    }
  }

  /** The update: D on real and fake, G through D, then the EMA generator; returns the two losses. */
  train(t: StepTensors): { dLoss: tf.Scalar; gLoss: tf.Scalar } {
    const { state, loss, config } = this;
    const dLoss = state.dOptimizer.minimize(
      () => {
        const ganLoss = loss.discriminator(
          this.D(t.real, t.realLabels),
          this.D(this.G(t.zD, t.fakeLabelsD), t.fakeLabelsD),
        );
        return config.r1Gamma ? tf.add(ganLoss, this.r1Penalty(t.real, t.realLabels, config.r1Gamma)) : ganLoss;
      },
      true,
      this.dVars,
    )!;
    const gLoss = state.gOptimizer.minimize(
      () => loss.generator(this.D(this.G(t.zG, t.fakeLabelsG), t.fakeLabelsG)),
      true,
      this.gVars,
    )!;
    if (state.ema !== state.generator) updateEma(state.ema, state.generator, this.emaDecay);
    return { dLoss, gLoss };
  }

  /**
   * [mean D(x), mean D(G(z))] over the real batch and the generator's batch, in inference mode, so
   * that measuring never changes batch-norm statistics (and so the run).
   */
  measure(t: StepTensors): tf.Tensor1D {
    const dReal = tf.sigmoid(this.D(t.real, t.realLabels, false)).mean();
    const dFake = tf.sigmoid(this.D(this.G(t.zG, t.fakeLabelsG, false), t.fakeLabelsG, false)).mean();
    return tf.stack([dReal, dFake]) as tf.Tensor1D;
  }

  /** The tfjs models and optimizers are the state: nothing to write back. */
  async sync(): Promise<void> {}

  dispose(): void {
    this.emaDecay.dispose();
  }

  /**
   * R1 (Mescheder et al. 2018): γ/2 · the mean over D's real inputs of ‖∇ₓ D's logit‖², differentiated
   * again for D's weights (a gradient of a gradient: tfjs records the inner one on the outer tape). With
   * --pack M an input is M samples, its squared norm theirs summed: M times the mean over the samples.
   */
  private r1Penalty(real: tf.Tensor, labels: tf.Tensor | undefined, gamma: number): tf.Scalar {
    const gradient = tf.grad((x: tf.Tensor) => this.D(x, labels).sum())(real);
    const perSample = tf.sum(
      tf.square(gradient),
      gradient.shape.slice(1).map((_, i) => i + 1),
    );
    return tf.mul(tf.mean(perSample), (gamma / 2) * (this.config.pack ?? 1));
  }

  private G(z: tf.Tensor, labels?: tf.Tensor, training = true): tf.Tensor {
    return this.state.generator.apply(labels ? [z, labels] : z, { training }) as tf.Tensor;
  }

  private D(x: tf.Tensor, labels?: tf.Tensor, training = true): tf.Tensor {
    const packed = packSamples(x, this.config.pack ?? 1);
    return this.logits.apply(labels ? [packed, labels] : packed, { training }) as tf.Tensor;
  }

  private noise(): Float32Array {
    const { batchSize, latentSize } = this.config;
    return standardNormals(this.rng, batchSize * latentSize);
  }

  private randomLabels(): Int32Array | undefined {
    const { batchSize, numClasses } = this.config;
    if (!numClasses) return undefined;
    return Int32Array.from({ length: batchSize }, () => this.rng.nextInt(numClasses));
  }
}

/**
 * `count` standard normals from the run's RNG by Box–Muller on its uniforms. Training runs in Node,
 * whose Math.log and Math.cos are V8's own and deterministic, so this needs none of the runtime
 * sampler's exactly rounded arithmetic (which keeps latents bit-identical across browsers): 0.2 ms
 * rather than 0.67 for a seed-mlp step's 8,192 latents, a third of its whole step.
 */
export function standardNormals(rng: Rng, count: number): Float32Array {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(rng.nextUniform()));
    const angle = 2 * Math.PI * rng.nextUniform();
    values[i] = radius * Math.cos(angle);
    if (i + 1 < count) values[i + 1] = radius * Math.sin(angle);
  }
  return values;
}

function toValues(values: ArrayLike<number>): StepLosses | StepValues {
  const [dLoss, gLoss, dReal, dFake] = Array.from(values);
  return values.length > 2 ? { dLoss, gLoss, dReal, dFake } : { dLoss, gLoss };
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

/** ema ← d·ema + (1 − d)·generator, over every weight (batch-norm statistics included). */
function updateEma(ema: tf.LayersModel, generator: tf.LayersModel, decay: tf.Variable): void {
  const source = generator.weights;
  const keep = tf.sub(1, decay);
  for (const [i, w] of ema.weights.entries()) w.write(tf.add(tf.mul(w.read(), decay), tf.mul(source[i].read(), keep)));
}
