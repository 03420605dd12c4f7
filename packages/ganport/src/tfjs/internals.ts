/**
 * The places where ganport reaches inside TensorFlow.js, behind one module that checks the version
 * they were written against (as ort-session.ts does for onnxruntime-node's binding): a newer tfjs
 * fails here with one line saying what to check, not somewhere deep in a training step.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';

/** The @tensorflow/tfjs version whose private fields this module reads and writes. */
export const PINNED_TFJS_VERSION = '4.22.0';

const require = createRequire(import.meta.url);
let checked = false;

function checkVersion(): void {
  if (checked) return;
  const version = (require('@tensorflow/tfjs-layers/package.json') as { version: string }).version;
  if (version !== PINNED_TFJS_VERSION) {
    throw new Error(
      `ganport reads tfjs internals written for ${PINNED_TFJS_VERSION} (src/tfjs/internals.ts), but ` +
        `@tensorflow/tfjs-layers ${version} is installed: check Dropout's seed, LayersModel's nodesByDepth, ` +
        "BatchNormalization's class and weight order, and the wasm backend's makeOutput/typedArrayFromHeap/incRef " +
        'there, then update PINNED_TFJS_VERSION',
    );
  }
  checked = true;
}

/** A model's Dropout layers, in layer order. */
export function dropoutLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((layer) => layer.getClassName() === 'Dropout');
}

/**
 * tfjs seeds a Dropout layer once (its private `seed`, which K.dropout passes to randomUniform),
 * so it would draw the same mask every step: the trainer gives each step its own seed.
 */
export function setDropoutSeed(layer: tf.layers.Layer, seed: number): void {
  checkVersion();
  (layer as unknown as { seed: number }).seed = seed;
}

/**
 * A model's layer calls by depth (tfjs's private `nodesByDepth`, which its own executor walks); a
 * Sequential builds its inner model on first use.
 */
export function nodesByDepth<Call>(model: tf.LayersModel): Record<string, Call[]> {
  checkVersion();
  const container = model as unknown as { nodesByDepth?: Record<string, Call[]>; model?: unknown };
  if (model.getClassName() === 'Sequential' && !container.model) (model as tf.Sequential).build();
  return container.nodesByDepth ?? {};
}

/** The arguments of tfjs's BatchNormalization layer. */
export type BatchNormalizationArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;

/**
 * tfjs-layers' BatchNormalization class, which the package does not export by name. Its `weights` are
 * γ, β, the moving mean and the moving variance, in that order, frozen or not.
 */
export function batchNormalizationClass(): new (args?: BatchNormalizationArgs) => tf.layers.Layer {
  checkVersion();
  return tf.layers.batchNormalization().constructor as new (
    args?: BatchNormalizationArgs,
  ) => tf.layers.Layer;
}

/** What the ort backend uses of the wasm backend: outputs allocated on, and arrays viewing, the wasm heap. */
export interface WasmBackendInternals {
  makeOutput(shape: number[], dtype: 'float32' | 'bool'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Uint8Array;
  incRef(dataId: object): void;
}

export function wasmBackendInternals(backend: unknown): WasmBackendInternals {
  checkVersion();
  return backend as WasmBackendInternals;
}
