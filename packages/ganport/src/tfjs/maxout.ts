/**
 * Maxout (Goodfellow et al., 2013) as a tfjs layer, the hidden unit of PacGAN's discriminator
 * (Blocks' LinearMaxout): a dense layer with units × pieces outputs, then each unit is the max
 * of its pieces. Registered with tfjs's serialization on import, so saved models load back.
 *
 * Two layouts of the dense outputs (and so of the kernel's columns):
 * - unit-major, pieces adjacent ([…, units, pieces]), as Blocks reshapes them: the default, and how a
 *   file saved without a layout reads;
 * - piece-major ([…, pieces, units]), which the presets use: the max runs over a middle axis, and
 *   its gradient (dy · (x == max)) broadcasts max and dy over spans of `units` values, not of `pieces`.
 *   onnxruntime's CPU broadcast pays a call per span; spreading max and dy out first (Concats) cost as
 *   much. PacGAN's onnx step side by side, lower quartiles of 300 steps, unit-major with the spreads
 *   against piece-major: 20.4–20.9 → 18.8–19.6 ms.
 */
import * as tf from '@tensorflow/tfjs';
import { firstInput, firstShape, type LayerArgs, lastAxisSize, normalSeed } from './layer-basics.js';

export type MaxoutLayout = 'unit-major' | 'piece-major';

export interface MaxoutArgs extends LayerArgs {
  units: number;
  pieces: number;
  /** Standard deviation of the kernel's normal initialisation (PacGAN: 0.02); biases start at 0. */
  stddev?: number;
  /** Seeds the kernel's initialisation. */
  seed?: number;
  /** How the dense outputs are grouped (above); unit-major unless given. */
  layout?: MaxoutLayout;
}

export class Maxout extends tf.layers.Layer {
  static readonly className = 'Maxout';
  readonly units: number;
  readonly pieces: number;
  readonly stddev: number;
  readonly seed?: number;
  readonly layout: MaxoutLayout;
  private kernel?: tf.LayerVariable;
  private bias?: tf.LayerVariable;

  constructor(args: MaxoutArgs) {
    super(args);
    for (const key of ['units', 'pieces'] as const)
      if (!Number.isInteger(args[key]) || args[key] < 1)
        throw new Error(`Maxout: ${key} must be a positive integer, got ${args[key]}`);
    this.units = args.units;
    this.pieces = args.pieces;
    this.stddev = args.stddev ?? 0.02;
    this.seed = args.seed;
    this.layout = args.layout ?? 'unit-major';
    if (this.layout !== 'unit-major' && this.layout !== 'piece-major')
      throw new Error(`Maxout: layout must be unit-major or piece-major, got ${args.layout}`);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const inputSize = lastAxisSize(inputShape, `Maxout ${this.name}`);
    const outputs = this.units * this.pieces;
    const init = tf.initializers.randomNormal({ mean: 0, stddev: this.stddev, seed: normalSeed(this.seed) });
    this.kernel = this.addWeight('kernel', [inputSize, outputs], 'float32', init);
    this.bias = this.addWeight('bias', [outputs], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [...firstShape(inputShape).slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      const leading = x.shape.slice(0, -1);
      const flat = x.reshape([-1, x.shape.at(-1)!]);
      const linear = tf.add(tf.matMul(flat, this.kernel!.read()), this.bias!.read());
      return this.layout === 'piece-major'
        ? linear.reshape([...leading, this.pieces, this.units]).max(-2)
        : linear.reshape([...leading, this.units, this.pieces]).max(-1);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      ...super.getConfig(),
      units: this.units,
      pieces: this.pieces,
      stddev: this.stddev,
      layout: this.layout,
    };
    if (this.seed !== undefined) config.seed = this.seed;
    return config;
  }
}

tf.serialization.registerClass(Maxout);

/** A Maxout weight's values (kernel [in, units·pieces] or bias [units·pieces]) regrouped from one layout to the other. */
export function relayoutMaxoutWeight(weight: tf.Tensor, units: number, pieces: number, from: MaxoutLayout): tf.Tensor {
  return tf.tidy(() => {
    const leading = weight.shape.slice(0, -1);
    const grouped = from === 'unit-major' ? [units, pieces] : [pieces, units];
    const axes = leading.map((_, i) => i);
    return weight
      .reshape([...leading, ...grouped])
      .transpose([...axes, leading.length + 1, leading.length])
      .reshape(weight.shape);
  });
}

/** How values saved for a Maxout weight are regrouped for the layer that now holds it. */
export type Relayout = (values: tf.Tensor) => tf.Tensor;

/**
 * Where `model` (as the presets build it now) has a Maxout layer whose layout differs from the same layer
 * of `saved` (a checkpoint's model, written before the presets' maxouts were piece-major): each of
 * the layer's weights, and how to regroup values saved for it (the weight itself, its Adam moments).
 */
export function maxoutRelayouts(saved: tf.LayersModel, model: tf.LayersModel): Map<tf.LayerVariable, Relayout> {
  const relayouts = new Map<tf.LayerVariable, Relayout>();
  for (const [i, layer] of model.layers.entries()) {
    const before = saved.layers[i];
    if (!(layer instanceof Maxout) || !(before instanceof Maxout) || before.layout === layer.layout) continue;
    for (const weight of layer.weights)
      relayouts.set(weight, (values) => relayoutMaxoutWeight(values, layer.units, layer.pieces, before.layout));
  }
  return relayouts;
}

export const maxout = (args: MaxoutArgs): Maxout => new Maxout(args);
