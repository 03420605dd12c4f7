/**
 * Keras layers that tfjs has no class for, so that Keras files using them load (and export):
 * Subtract, Cropping1D, ZeroPadding1D and SpatialDropout2D, with Keras's semantics and config
 * names (as tfjs reads them: camelCase), bilinear UpSampling2D as TensorFlow 2 computes it
 * (HalfPixelUpSampling2D), GlobalAveragePooling1D over the unmasked steps, as Keras averages
 * (KerasGlobalAveragePooling1D), Keras's reset_after GRU, and TensorFlowOpLayer (raw
 * TensorFlow ops, tf-op-layer.ts). Registered with tfjs's serialization on import.
 */
import * as tf from '@tensorflow/tfjs';
import { firstInput, firstShape, type LayerArgs, lastAxisSize } from './layer-basics.js';

export { TensorFlowOpLayer } from './tf-op-layer.js';

/** Keras's (begin, end) pair from an int or a pair. */
function pair(value: unknown, name: string): [number, number] {
  const [begin, end] = Array.isArray(value) ? value : [value, value];
  if (![begin, end].every((v) => Number.isInteger(v) && v >= 0))
    throw new Error(`${name} must be a non-negative integer or a pair of them, got ${JSON.stringify(value)}`);
  return [begin, end];
}

/** Subtract: the first of two inputs minus the second. */
export class Subtract extends tf.layers.Layer {
  static readonly className = 'Subtract';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return firstShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2)
      throw new Error(`Subtract ${this.name} takes exactly 2 inputs, got ${Array.isArray(inputs) ? inputs.length : 1}`);
    return tf.sub(inputs[0], inputs[1]);
  }
}

/** Cropping1D and ZeroPadding1D: (begin, end) steps removed from, or zeros added to, [batch, steps, channels]. */
abstract class StepEdges extends tf.layers.Layer {
  readonly edges: [number, number];

  /** `key`: the config name of the pair (cropping, padding); `sign`: −1 crops, +1 pads. */
  constructor(
    args: LayerArgs & { cropping?: unknown; padding?: unknown },
    private readonly key: 'cropping' | 'padding',
    private readonly sign: 1 | -1,
  ) {
    super(args);
    this.edges = pair(args[key] ?? 1, `${new.target.name} ${key}`);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, steps, channels] = firstShape(inputShape);
    return [batch, steps === null ? null : steps + this.sign * (this.edges[0] + this.edges[1]), channels];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), [this.key]: this.edges };
  }
}

export class Cropping1D extends StepEdges {
  static readonly className = 'Cropping1D';

  constructor(args: LayerArgs & { cropping?: number | [number, number] }) {
    super(args, 'cropping', -1);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = firstInput(inputs);
    const [begin, end] = this.edges;
    return tf.slice(x, [0, begin, 0], [-1, x.shape[1]! - begin - end, -1]);
  }
}

export class ZeroPadding1D extends StepEdges {
  static readonly className = 'ZeroPadding1D';

  constructor(args: LayerArgs & { padding?: number | [number, number] }) {
    super(args, 'padding', 1);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.pad(firstInput(inputs), [[0, 0], this.edges, [0, 0]]);
  }
}

/** SpatialDropout2D (channels last): in training, whole channels dropped; at inference the identity. */
export class SpatialDropout2D extends tf.layers.Layer {
  static readonly className = 'SpatialDropout2D';
  readonly rate: number;
  readonly seed?: number;

  constructor(args: LayerArgs & { rate: number; seed?: number; dataFormat?: string }) {
    super(args);
    if (args.dataFormat !== undefined && args.dataFormat !== 'channelsLast')
      throw new Error(`SpatialDropout2D ${this.name}: dataFormat ${args.dataFormat} is not supported`);
    this.rate = args.rate;
    this.seed = args.seed;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = firstInput(inputs);
    if (kwargs.training !== true || this.rate === 0) return x.clone();
    const [batch, , , channels] = x.shape;
    return tf.dropout(x, this.rate, [batch, 1, 1, channels], this.seed);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { ...super.getConfig(), rate: this.rate };
    if (this.seed !== undefined) config.seed = this.seed;
    return config;
  }
}

/**
 * Keras's bilinear UpSampling2D where Keras resizes with half-pixel centres (tf.image.resize in
 * TensorFlow ≥ 1.15 and Keras 3): source row (out + ½)/factor − ½. tfjs's UpSampling2D samples
 * out/factor, which shifts the image by a quarter pixel at factor 2. Channels last.
 */
export class HalfPixelUpSampling2D extends tf.layers.Layer {
  static readonly className = 'HalfPixelUpSampling2D';
  readonly size: [number, number];

  constructor(args: LayerArgs & { size?: number | [number, number]; dataFormat?: string }) {
    super(args);
    if (args.dataFormat !== undefined && args.dataFormat !== 'channelsLast')
      throw new Error(`HalfPixelUpSampling2D ${this.name}: dataFormat ${args.dataFormat} is not supported`);
    const [rows, columns] = Array.isArray(args.size) ? args.size : [args.size ?? 2, args.size ?? 2];
    if (![rows, columns].every((v) => Number.isInteger(v) && v >= 1))
      throw new Error(`HalfPixelUpSampling2D ${this.name}: size must be positive integers, got ${args.size}`);
    this.size = [rows, columns];
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, height, width, channels] = firstShape(inputShape);
    const scaled = (n: number | null, factor: number) => (n === null ? null : n * factor);
    return [batch, scaled(height, this.size[0]), scaled(width, this.size[1]), channels];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = firstInput(inputs) as tf.Tensor4D;
    const [, height, width] = x.shape;
    return tf.image.resizeBilinear(x, [height * this.size[0], width * this.size[1]], false, true);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), size: this.size };
  }
}

/**
 * Keras's GlobalAveragePooling1D: [batch, steps, features] → [batch, features], the mean over the steps
 * an input mask keeps (Keras: sum(x · mask) / sum(mask); a row with every step masked is 0 / 0), over all
 * of them without one. tfjs's own GlobalAveragePooling1D ignores the mask.
 */
export class KerasGlobalAveragePooling1D extends tf.layers.Layer {
  static readonly className = 'KerasGlobalAveragePooling1D';

  constructor(args: LayerArgs & { dataFormat?: string }) {
    super(args);
    if (args.dataFormat !== undefined && args.dataFormat !== 'channelsLast')
      throw new Error(`GlobalAveragePooling1D ${this.name}: dataFormat ${args.dataFormat} is not supported`);
    this.supportsMasking = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, , features] = firstShape(inputShape);
    return [batch, features];
  }

  // the steps are gone: no mask passes on (tfjs's typing has no null, its executor takes one)
  override computeMask(): tf.Tensor {
    return null as unknown as tf.Tensor;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { mask?: tf.Tensor }): tf.Tensor {
    const x = firstInput(inputs);
    if (!kwargs.mask) return tf.mean(x, 1);
    return tf.tidy(() => {
      const keep = tf.expandDims(tf.cast(kwargs.mask!, x.dtype), 2);
      return tf.div(tf.sum(tf.mul(x, keep), 1), tf.sum(keep, 1));
    });
  }
}

for (const layer of [
  Subtract,
  Cropping1D,
  ZeroPadding1D,
  SpatialDropout2D,
  HalfPixelUpSampling2D,
  KerasGlobalAveragePooling1D,
])
  tf.serialization.registerClass(layer);

type ActivationName = Parameters<typeof tf.layers.activation>[0]['activation'];

export interface GruResetAfterArgs extends LayerArgs {
  units: number;
  activation?: string;
  recurrentActivation?: string;
  useBias?: boolean;
}

/**
 * Keras's GRU cell with reset_after=True (its default; tfjs's GRUCell refuses it): the reset gate
 * applies after the recurrent product, and input and recurrent biases are separate rows of a
 * [2, 3·units] bias. Gates z, r, h:
 *   x·W + b₀ = [x_z, x_r, x_h];  h·U + b₁ = [u_z, u_r, u_h]
 *   z = σ(x_z + u_z);  r = σ(x_r + u_r);  h̃ = tanh(x_h + r ⊙ u_h);  h' = z ⊙ h + (1 − z) ⊙ h̃
 * (ONNX GRU with linear_before_reset = 1). For loading trained Keras models: no dropout.
 */
class GruResetAfterCell extends tf.layers.RNNCell {
  static readonly className = 'GRUResetAfterCell';
  readonly units: number;
  readonly stateSize: number;
  readonly useBias: boolean;
  /** tfjs's own activations (Activation layers applied to tensors), so they compute as tfjs's GRU's do. */
  private readonly activation: tf.layers.Layer;
  private readonly recurrentActivation: tf.layers.Layer;
  private kernel?: tf.LayerVariable;
  private recurrentKernel?: tf.LayerVariable;
  private bias?: tf.LayerVariable;

  constructor(args: GruResetAfterArgs) {
    super(args);
    this.units = args.units;
    this.stateSize = args.units;
    this.useBias = args.useBias ?? true;
    this.activation = tf.layers.activation({ activation: (args.activation ?? 'tanh') as ActivationName });
    this.recurrentActivation = tf.layers.activation({
      activation: (args.recurrentActivation ?? 'hardSigmoid') as ActivationName,
    });
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const features = lastAxisSize(inputShape, `GRU ${this.name}`);
    const gates = 3 * this.units;
    this.kernel = this.addWeight('kernel', [features, gates], 'float32', tf.initializers.glorotUniform({}));
    this.recurrentKernel = this.addWeight(
      'recurrent_kernel',
      [this.units, gates],
      'float32',
      tf.initializers.orthogonal({}),
    );
    if (this.useBias) this.bias = this.addWeight('bias', [2, gates], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      const [x, h] = inputs as tf.Tensor[];
      let fromInput = tf.matMul(x, this.kernel!.read());
      let fromState = tf.matMul(h, this.recurrentKernel!.read());
      if (this.bias) {
        const [inputBias, recurrentBias] = tf.unstack(this.bias.read());
        fromInput = tf.add(fromInput, inputBias);
        fromState = tf.add(fromState, recurrentBias);
      }
      const [xz, xr, xh] = tf.split(fromInput, 3, -1);
      const [uz, ur, uh] = tf.split(fromState, 3, -1);
      const gate = (x: tf.Tensor) => this.recurrentActivation.apply(x) as tf.Tensor;
      const z = gate(tf.add(xz, uz));
      const r = gate(tf.add(xr, ur));
      const candidate = this.activation.apply(tf.add(xh, tf.mul(r, uh))) as tf.Tensor;
      const next = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), candidate));
      return [next, next];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      units: this.units,
      activation: this.activation.getConfig().activation,
      recurrentActivation: this.recurrentActivation.getConfig().activation,
      useBias: this.useBias,
      resetAfter: true,
    };
  }
}

/** Keras's GRU with reset_after=True as a tfjs RNN layer (the Keras loader maps such GRUs to it). */
export class GRUResetAfter extends tf.RNN {
  static readonly className = 'GRUResetAfter';

  constructor(args: GruResetAfterArgs & Omit<ConstructorParameters<typeof tf.RNN>[0], 'cell'>) {
    super({ ...args, cell: new GruResetAfterCell(args) });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { cell: _, ...config } = super.getConfig();
    return { ...this.cell.getConfig(), ...config };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }
}

tf.serialization.registerClass(GRUResetAfter);
