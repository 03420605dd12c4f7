/** The range a model file's image output lies in, read from its final activation, for the runtime's images. */
import type * as tf from '@tensorflow/tfjs';

/** Activations that bound their output, and the bounds. */
const BOUNDED: Record<string, [number, number]> = {
  sigmoid: [0, 1],
  hard_sigmoid: [0, 1],
  hardSigmoid: [0, 1],
  tanh: [-1, 1],
};

/** Layers that move or repeat values without changing them: the activation before them bounds the output. */
const VALUE_PRESERVING = new Set(['Reshape', 'Flatten', 'Permute', 'Cropping2D', 'UpSampling2D', 'RepeatVector']);

type Layer = tf.layers.Layer;
const isModel = (layer: Layer): layer is tf.LayersModel => 'layers' in layer && Array.isArray(layer.layers);
const lastLayer = (model: tf.LayersModel): Layer | undefined => model.outputLayers?.[0] ?? model.layers.at(-1);

/**
 * The bounds of `model`'s single output (sigmoid [0, 1], tanh [-1, 1]), from the activation of the layer that
 * makes it, through nested models and layers that only move values; undefined where none bounds it.
 */
export function outputRange(model: tf.LayersModel): [number, number] | undefined {
  let layer = lastLayer(model);
  while (layer) {
    if (isModel(layer)) {
      layer = lastLayer(layer);
      continue;
    }
    const activation = (layer.getConfig() as { activation?: unknown }).activation;
    if (typeof activation === 'string' && activation !== 'linear') return BOUNDED[activation];
    if (!VALUE_PRESERVING.has(layer.getClassName())) return undefined;
    layer = layer.inboundNodes[0]?.inboundLayers[0];
  }
  return undefined;
}
