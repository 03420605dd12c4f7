/**
 * The names layers have in the Keras file they were loaded from, where tfjs knows them by another:
 * Keras accepts any layer name (`label Input`), tfjs only [A-Za-z0-9][-A-Za-z0-9._/]* (normalize.ts
 * sanitises the others). The exporter keeps the Keras names in the ONNX metadata, and inspect shows them.
 */
import type * as tf from '@tensorflow/tfjs';

const kerasNames = new WeakMap<tf.layers.Layer, string>();

/** The layer's name in its Keras file, where tfjs's name for it differs; otherwise undefined. */
export const kerasName = (layer: tf.layers.Layer): string | undefined => kerasNames.get(layer);

export function setKerasName(layer: tf.layers.Layer, name: string): void {
  kerasNames.set(layer, name);
}
