/**
 * Spectral normalization (Miyato et al., 2018) as tfjs layers for the discriminator: a Dense, a
 * Conv2D and an Embedding (a projection discriminator's class embedding, which Miyato & Koyama's
 * code normalizes too) whose kernel W is used as W / σ(W), σ the largest singular value of W seen as a
 * [fan-in, units] matrix, estimated by one power iteration per training forward from a stored
 * vector u (a non-trainable weight, so checkpoints carry it). The gradient flows through σ with u
 * and v held constant, as in the paper. At inference u is not advanced, so an export folds W / σ
 * into a plain kernel (see `spectralNormFolded`, used by the ONNX handlers).
 * Registered with tfjs's serialization on import.
 */
import * as tf from '@tensorflow/tfjs';
import { firstInput, firstShape, type LayerArgs, lastAxisSize } from './layer-basics.js';

/** The power iteration's ε, as PyTorch's spectral_norm uses. */
const EPSILON = 1e-12;

/** x unchanged, with no gradient flowing back: the power iteration's vectors are constants to the optimizer. */
const stopGradient = tf.customGrad((x) => ({
  value: (x as tf.Tensor).clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as (x: tf.Tensor) => tf.Tensor;

const l2Normalize = (x: tf.Tensor) => tf.div(x, tf.add(tf.norm(x), EPSILON));

interface SpectralNormArgs extends LayerArgs {
  /** Seeds the kernel's Glorot-uniform initialisation and u's. */
  seed?: number;
}

abstract class SpectralNormLayer extends tf.layers.Layer {
  readonly seed?: number;
  protected kernel?: tf.LayerVariable;
  protected bias?: tf.LayerVariable;
  private u?: tf.LayerVariable;

  constructor(args: SpectralNormArgs) {
    super(args);
    this.seed = args.seed;
  }

  /**
   * Creates the kernel of `shape` (its last axis the units; Glorot-uniform unless `initializer`, named
   * `kernelName`), the bias where `withBias`, and u.
   */
  protected addSpectralWeights(
    shape: number[],
    { kernelName = 'kernel', withBias = true, initializer = tf.initializers.glorotUniform({ seed: this.seed }) } = {},
  ): void {
    const units = shape.at(-1)!;
    this.kernel = this.addWeight(kernelName, shape, 'float32', initializer);
    if (withBias) this.bias = this.addWeight('bias', [units], 'float32', tf.initializers.zeros());
    const normal = tf.initializers.randomNormal({
      mean: 0,
      stddev: 1,
      seed: this.seed === undefined ? undefined : this.seed + 1,
    });
    this.u = this.addWeight('u', [units, 1], 'float32', normal, undefined, false);
    this.built = true;
  }

  /** W / σ(W); in training, one power-iteration step advances u first. */
  protected normalizedKernel(training: boolean): tf.Tensor {
    const kernel = this.kernel!.read();
    const matrix = kernel.reshape([-1, kernel.shape.at(-1)!]);
    const constant = stopGradient(matrix);
    let u = this.u!.read();
    const v = l2Normalize(tf.matMul(constant, u)); // [fan-in, 1]
    if (training) {
      u = stopGradient(l2Normalize(tf.matMul(constant, v, true))); // [units, 1]
      this.u!.write(u);
    }
    const sigma = tf.matMul(tf.matMul(stopGradient(v), matrix, true), u); // vᵀ W u, [1, 1]
    return tf.div(kernel, sigma.reshape([]));
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config = super.getConfig();
    if (this.seed !== undefined) config.seed = this.seed;
    return config;
  }
}

export interface SpectralNormDenseArgs extends SpectralNormArgs {
  units: number;
}

/** Dense (with bias, linear) with a spectrally normalized kernel. */
export class SpectralNormDense extends SpectralNormLayer {
  static readonly className = 'SpectralNormDense';
  readonly units: number;

  constructor(args: SpectralNormDenseArgs) {
    super(args);
    this.units = args.units;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    this.addSpectralWeights([lastAxisSize(inputShape, `${this.getClassName()} ${this.name}`), this.units]);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [...firstShape(inputShape).slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      return tf.add(tf.matMul(x, this.normalizedKernel(kwargs.training === true)), this.bias!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, useBias: true, activation: 'linear' };
  }
}

export interface SpectralNormConv2DArgs extends SpectralNormArgs {
  filters: number;
  kernelSize: number;
  strides: number;
  padding: 'same' | 'valid';
}

/** Conv2D (channels last, with bias, linear) with a spectrally normalized kernel. */
export class SpectralNormConv2D extends SpectralNormLayer {
  static readonly className = 'SpectralNormConv2D';
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: 'same' | 'valid';

  constructor(args: SpectralNormConv2DArgs) {
    super(args);
    this.filters = args.filters;
    this.kernelSize = args.kernelSize;
    this.strides = args.strides;
    this.padding = args.padding;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    this.addSpectralWeights([
      this.kernelSize,
      this.kernelSize,
      lastAxisSize(inputShape, `${this.getClassName()} ${this.name}`),
      this.filters,
    ]);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, height, width] = firstShape(inputShape);
    const side = (n: number | null) =>
      n === null
        ? null
        : this.padding === 'same'
          ? Math.ceil(n / this.strides)
          : Math.ceil((n - this.kernelSize + 1) / this.strides);
    return [batch, side(height), side(width), this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs) as tf.Tensor4D;
      const kernel = this.normalizedKernel(kwargs.training === true) as tf.Tensor4D;
      return tf.add(tf.conv2d(x, kernel, this.strides, this.padding), this.bias!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: [this.kernelSize, this.kernelSize],
      strides: [this.strides, this.strides],
      padding: this.padding,
      dataFormat: 'channelsLast',
      useBias: true,
      activation: 'linear',
    };
  }

  /** Reads back what getConfig wrote (pairs of equal sides). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const side = (v: unknown) => (Array.isArray(v) ? (v[0] as number) : (v as number));
    return new cls({ ...config, kernelSize: side(config.kernelSize), strides: side(config.strides) });
  }
}

export interface SpectralNormEmbeddingArgs extends SpectralNormArgs {
  inputDim: number;
  outputDim: number;
  /** Its table's initial values (default: Glorot-uniform from `seed`). */
  embeddingsInitializer?: ReturnType<typeof tf.initializers.randomNormal>;
}

/** Embedding (ids [batch, ...] → [batch, ..., outputDim]) whose table, [inputDim, outputDim], is spectrally normalized. */
export class SpectralNormEmbedding extends SpectralNormLayer {
  static readonly className = 'SpectralNormEmbedding';
  readonly inputDim: number;
  readonly outputDim: number;
  private readonly initializer?: SpectralNormEmbeddingArgs['embeddingsInitializer'];

  constructor(args: SpectralNormEmbeddingArgs) {
    super(args);
    this.inputDim = args.inputDim;
    this.outputDim = args.outputDim;
    this.initializer = args.embeddingsInitializer;
  }

  override build(): void {
    // named as Embedding's table, so the exporter's Embedding handler reads it once folded
    this.addSpectralWeights([this.inputDim, this.outputDim], {
      kernelName: 'embeddings',
      withBias: false,
      ...(this.initializer ? { initializer: this.initializer } : {}),
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [...firstShape(inputShape), this.outputDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    return tf.tidy(() =>
      tf.gather(this.normalizedKernel(kwargs.training === true), tf.cast(firstInput(inputs), 'int32')),
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), inputDim: this.inputDim, outputDim: this.outputDim };
  }
}

/**
 * The kernel an exported model uses: W / σ with σ = vᵀ W u, v = W u / ‖W u‖, from the stored u,
 * exactly what the layer computes at inference. `kernel` is [..., units] flattened, `u` [units].
 */
export function spectralNormFolded(kernel: Float32Array, u: Float32Array): Float32Array {
  const units = u.length;
  const fanIn = kernel.length / units;
  const wu = new Float64Array(fanIn);
  for (let i = 0; i < fanIn; i++) {
    let sum = 0;
    for (let j = 0; j < units; j++) sum += kernel[i * units + j] * u[j];
    wu[i] = sum;
  }
  const squares = wu.reduce((sum, x) => sum + x * x, 0);
  const sigma = squares / (Math.sqrt(squares) + EPSILON); // vᵀ (W u) with v = W u / ‖W u‖
  return kernel.map((w) => w / sigma);
}

tf.serialization.registerClass(SpectralNormDense);
tf.serialization.registerClass(SpectralNormConv2D);
tf.serialization.registerClass(SpectralNormEmbedding);

export const spectralNormDense = (args: SpectralNormDenseArgs) => new SpectralNormDense(args);
export const spectralNormConv2d = (args: SpectralNormConv2DArgs) => new SpectralNormConv2D(args);
export const spectralNormEmbedding = (args: SpectralNormEmbeddingArgs) => new SpectralNormEmbedding(args);

/**
 * A discriminator's Dense layer: its spectral-norm twin with `spectralNorm` (whose kernel is
 * Glorot-uniform from `seed`), otherwise a plain Dense with `kernelInitializer`.
 */
export function discriminatorDense(
  spectralNorm: boolean,
  {
    seed,
    kernelInitializer,
    ...layer
  }: SpectralNormDenseArgs & Pick<Parameters<typeof tf.layers.dense>[0], 'kernelInitializer'>,
): tf.layers.Layer {
  return spectralNorm ? spectralNormDense({ ...layer, seed }) : tf.layers.dense({ ...layer, kernelInitializer });
}
