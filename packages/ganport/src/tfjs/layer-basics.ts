/** What ganport's own tfjs layers (maxout.ts, spectral-norm.ts, keras-layers.ts) share. */
import type * as tf from '@tensorflow/tfjs';

/** The arguments every tfjs layer takes (name, inputShape, …). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** A single-input layer's input, however tfjs hands it over. */
export const firstInput = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);

/** A single-input layer's input shape, however tfjs hands it over. */
export const firstShape = (inputShape: tf.Shape | tf.Shape[]): tf.Shape =>
  (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;

/** The size of the input's last axis, which a layer's weights depend on: it must be known. */
export function lastAxisSize(inputShape: tf.Shape | tf.Shape[], layer: string): number {
  const size = firstShape(inputShape).at(-1);
  if (typeof size !== 'number') throw new Error(`${layer} needs the last axis of its input known`);
  return size;
}

/**
 * A seed for tfjs's normal initializers (randomNormal, truncatedNormal, heNormal, …), which take 0 for
 * none and draw from Math.random: 0 becomes -1, which no seed ganport passes otherwise gives.
 */
export const normalSeed = (seed: number | undefined): number | undefined => (seed === 0 ? -1 : seed);
