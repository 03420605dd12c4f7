/**
 * Adam with tfjs's AdamOptimizer's moments — the same operations in the same order, so the same values
 * — and the same weights for checkpoints (the iteration count, then each variable's `name/m`, then its
 * `name/v`), with three differences:
 * - the update takes PyTorch's form, the bias corrections folded into two scalars:
 *   m̂ / (√v̂ + ε) = (√c2 / c1) · m / (√v + ε√c2), with c = 1 − βᵗ. The same value to a few float32
 *   roundings, in 12 kernels a variable where tfjs's form takes 14 (two divisions over the whole
 *   variable fewer): 3–5 % of an mlp or PacGAN step on the onnx engine (measured; docs/training-engine.md);
 * - the learning rate is a scalar variable, so `--lr-decay` changes a tensor, not a number the step
 *   would otherwise bake into its graph (the onnx engine captures it as an input);
 * - the moments exist from the start (zeros), for the variables given at construction, so the first
 *   step creates no variables.
 */
import * as tf from '@tensorflow/tfjs';

/** A weight as optimizers save them (tfjs-core does not export its NamedTensor type). */
type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

/** The names of βᵗ's entries in getWeights. */
const ACC_BETA1 = 'adam/accBeta1';
const ACC_BETA2 = 'adam/accBeta2';

export class Adam extends tf.Optimizer {
  static get className(): string {
    return 'Adam';
  }

  /** The learning rate as the step reads it; `rate` is the same value as a number. */
  readonly learningRate: tf.Variable;
  readonly accBeta1: tf.Variable;
  readonly accBeta2: tf.Variable;
  /** Per variable, in `variables`' order (the order tfjs's Adam records them in too). */
  readonly firstMoments: tf.Variable[];
  readonly secondMoments: tf.Variable[];
  private readonly epsilon: number;
  private currentRate: number;

  constructor(
    readonly variables: tf.Variable[],
    rate: number,
    readonly beta1: number,
    readonly beta2 = 0.999,
  ) {
    super();
    this.currentRate = rate;
    this.epsilon = tf.backend().epsilon();
    this.learningRate = tf.variable(tf.scalar(rate), false);
    this.accBeta1 = tf.variable(tf.scalar(beta1), false);
    this.accBeta2 = tf.variable(tf.scalar(beta2), false);
    this.firstMoments = variables.map((v) => tf.variable(tf.zerosLike(v), false));
    this.secondMoments = variables.map((v) => tf.variable(tf.zerosLike(v), false));
  }

  get rate(): number {
    return this.currentRate;
  }

  set rate(value: number) {
    this.currentRate = value;
    tf.tidy(() => this.learningRate.assign(tf.scalar(value)));
  }

  /** The step count the bias correction has reached (kept by whoever ran steps outside applyGradients). */
  set iterations(count: number) {
    this.iterations_ = count;
  }

  get iterations(): number {
    return this.iterations_ ?? 0;
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const gradients = new Map(
      Array.isArray(variableGradients)
        ? variableGradients.map((g) => [g.name, g.tensor] as const)
        : Object.entries(variableGradients),
    );
    tf.tidy(() => {
      const correction1 = tf.sub(1, this.accBeta1);
      const correction2Root = tf.sqrt(tf.sub(1, this.accBeta2));
      const epsilon = tf.mul(correction2Root, this.epsilon);
      const negativeStepSize = tf.neg(tf.div(tf.mul(this.learningRate, correction2Root), correction1));
      for (const [i, value] of this.variables.entries()) {
        const gradient = gradients.get(value.name);
        if (gradient === undefined) continue;
        const firstMoment = this.firstMoments[i];
        const secondMoment = this.secondMoments[i];
        const newFirstMoment = tf.add(tf.mul(firstMoment, this.beta1), tf.mul(gradient, 1 - this.beta1));
        const newSecondMoment = tf.add(tf.mul(secondMoment, this.beta2), tf.mul(tf.square(gradient), 1 - this.beta2));
        firstMoment.assign(newFirstMoment);
        secondMoment.assign(newSecondMoment);
        const step = tf.div(newFirstMoment, tf.add(tf.sqrt(newSecondMoment), epsilon));
        value.assign(tf.add(tf.mul(step, negativeStepSize), value));
      }
      this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
      this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
    });
    this.incrementIterations();
  }

  /** The iteration count, then the first moments, then the second, named as tfjs's Adam names them. */
  async getWeights(): Promise<NamedTensor[]> {
    const moments = [
      ...this.firstMoments.map((tensor, i) => ({ name: `${this.variables[i].name}/m`, tensor })),
      ...this.secondMoments.map((tensor, i) => ({ name: `${this.variables[i].name}/v`, tensor })),
    ];
    return [await this.saveIterations(), ...moments];
  }

  /** Restores what getWeights saved (also tfjs's own Adam's checkpoints), by position as tfjs's Adam does. */
  async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const moments = await this.extractIterations(weightValues);
    const count = this.variables.length;
    if (moments.length !== 2 * count) {
      throw new Error(`the optimizer state holds ${moments.length / 2} variables' moments, the model has ${count}`);
    }
    tf.tidy(() => {
      this.accBeta1.assign(tf.pow(this.beta1, this.iterations_ + 1));
      this.accBeta2.assign(tf.pow(this.beta2, this.iterations_ + 1));
      for (const [i, { tensor }] of moments.entries())
        (i < count ? this.firstMoments[i] : this.secondMoments[i - count]).assign(tensor);
    });
  }

  /**
   * βᵗ of both betas as the updates multiplied them up, which checkpoints keep beside getWeights (kept as
   * tfjs's, so that either Adam reads the other's): from the iteration count alone, setWeights gives them as
   * powers, which differ from that product in the last bits (after 5 steps for β2 0.999).
   */
  extraWeights(): NamedTensor[] {
    return [
      { name: ACC_BETA1, tensor: this.accBeta1 },
      { name: ACC_BETA2, tensor: this.accBeta2 },
    ];
  }

  /** Restores what extraWeights saved, after setWeights. */
  setExtraWeights(weights: NamedTensor[]): void {
    for (const { name, tensor } of weights) (name === ACC_BETA1 ? this.accBeta1 : this.accBeta2).assign(tensor);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.currentRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  dispose(): void {
    tf.dispose([this.learningRate, this.accBeta1, this.accBeta2, ...this.firstMoments, ...this.secondMoments]);
  }
}
