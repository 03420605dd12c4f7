/**
 * Keras layers that tfjs has no class for, so that Keras files using them load (and export):
 * Subtract, Cropping1D, ZeroPadding1D and SpatialDropout2D, with Keras's semantics and config
 * names (as tfjs reads them: camelCase). Registered with tfjs's serialization on import.
 */
import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

const single = (inputs: tf.Tensor | tf.Tensor[]) => (Array.isArray(inputs) ? inputs[0] : inputs);
const singleShape = (shape: tf.Shape | tf.Shape[]) => (Array.isArray(shape[0]) ? shape[0] : shape) as tf.Shape;

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
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2)
      throw new Error(`Subtract ${this.name} takes exactly 2 inputs, got ${Array.isArray(inputs) ? inputs.length : 1}`);
    return tf.sub(inputs[0], inputs[1]);
  }
}

/** Cropping1D: drops `cropping` = (begin, end) steps of [batch, steps, channels]. */
export class Cropping1D extends tf.layers.Layer {
  static readonly className = 'Cropping1D';
  readonly cropping: [number, number];

  constructor(args: LayerArgs & { cropping?: number | [number, number] }) {
    super(args);
    this.cropping = pair(args.cropping ?? 1, 'Cropping1D cropping');
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, steps, channels] = singleShape(inputShape);
    return [batch, steps === null ? null : steps - this.cropping[0] - this.cropping[1], channels];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs);
    const [begin, end] = this.cropping;
    return tf.slice(x, [0, begin, 0], [-1, x.shape[1]! - begin - end, -1]);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), cropping: this.cropping };
  }
}

/** ZeroPadding1D: adds `padding` = (begin, end) zero steps to [batch, steps, channels]. */
export class ZeroPadding1D extends tf.layers.Layer {
  static readonly className = 'ZeroPadding1D';
  readonly padding: [number, number];

  constructor(args: LayerArgs & { padding?: number | [number, number] }) {
    super(args);
    this.padding = pair(args.padding ?? 1, 'ZeroPadding1D padding');
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [batch, steps, channels] = singleShape(inputShape);
    return [batch, steps === null ? null : steps + this.padding[0] + this.padding[1], channels];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.pad(single(inputs), [[0, 0], this.padding, [0, 0]]);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), padding: this.padding };
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
    const x = single(inputs);
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

for (const layer of [Subtract, Cropping1D, ZeroPadding1D, SpatialDropout2D]) tf.serialization.registerClass(layer);
