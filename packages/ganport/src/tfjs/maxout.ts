/**
 * Maxout (Goodfellow et al., 2013) as a tfjs layer, the hidden unit of PacGAN's discriminator
 * (Blocks' LinearMaxout): a dense layer with units × pieces outputs, then each unit is the max
 * of its pieces. Outputs are laid out unit-major, pieces adjacent ([…, units, pieces]), as Blocks
 * reshapes them. Registered with tfjs's serialization on import, so saved models load back.
 */
import * as tf from '@tensorflow/tfjs';
import { firstInput, firstShape, type LayerArgs, lastAxisSize } from './layer-basics.js';

export interface MaxoutArgs extends LayerArgs {
  units: number;
  pieces: number;
  /** Standard deviation of the kernel's normal initialisation (PacGAN: 0.02); biases start at 0. */
  stddev?: number;
  /** Seeds the kernel's initialisation. */
  seed?: number;
}

export class Maxout extends tf.layers.Layer {
  static readonly className = 'Maxout';
  readonly units: number;
  readonly pieces: number;
  readonly stddev: number;
  readonly seed?: number;
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
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const inputSize = lastAxisSize(inputShape, `Maxout ${this.name}`);
    const outputs = this.units * this.pieces;
    const init = tf.initializers.randomNormal({ mean: 0, stddev: this.stddev, seed: this.seed });
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
      return linear.reshape([...leading, this.units, this.pieces]).max(-1);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      ...super.getConfig(),
      units: this.units,
      pieces: this.pieces,
      stddev: this.stddev,
    };
    if (this.seed !== undefined) config.seed = this.seed;
    return config;
  }
}

tf.serialization.registerClass(Maxout);

export const maxout = (args: MaxoutArgs): Maxout => new Maxout(args);
