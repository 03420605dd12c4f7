/**
 * The one place where Keras model configs become what tfjs's loader takes: a Keras-2-style
 * model config (snake_case keys, `class_name`/`config` objects, tfjs converts the keys itself).
 *
 * Keras 2 files (tf.keras 2.x `.h5`) need little: `module`/`registered_name`/`build_config`
 * wrappers (2.13+) are dropped. Keras 3 (`.keras`) names things differently and is rewritten:
 * - every object's `module`, `registered_name`, `build_config`, `compile_config` are dropped;
 * - `dtype` as a DTypePolicy object becomes its name (`mixed_float16` → float32: the variables
 *   are float32, and the export computes in float32);
 * - InputLayer's `batch_shape` becomes `batch_input_shape`; a Sequential without an InputLayer
 *   takes its `build_input_shape`;
 * - functional `inbound_nodes` ({args: [__keras_tensor__ …], kwargs}) become Keras 2's
 *   [[[layer, node, tensor, {}], …]]; `input_layers`/`output_layers` are made lists of triples;
 * - BatchNormalization's one-element `axis` list (tf.keras 2 saves `[3]` once built) is a number;
 * - LeakyReLU's `negative_slope` is Keras 2's `alpha`; the `silu` activation is tfjs's `swish`;
 *   `Functional` is `Model`;
 * - initializers become Zeros, and regularizers and constraints are dropped: the saved weights
 *   replace every initial value, and neither matters at inference.
 * What cannot be expressed is refused by name: Keras 3's `hard_sigmoid` (x/6 + 1/2, where tfjs's
 * and Keras 2's is 0.2·x + 0.5), a functional call with tensors in its keyword arguments.
 */
import { GanportError } from '@ganport/runtime';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const DROPPED_KEYS = new Set(['module', 'registered_name', 'build_config', 'compile_config', 'shared_object_id']);
const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

export interface KerasNormalizeOptions {
  /** 2 for tf.keras 2.x files (.h5), 3 for Keras 3 (.keras, and .h5 files Keras 3 wrote). */
  kerasMajor: 2 | 3;
  /** The file, for messages. */
  source: string;
}

/** A Keras model config (`{class_name, config}`) as tfjs's loader takes it. */
export function normalizeKerasConfig(modelConfig: unknown, options: KerasNormalizeOptions): JsonObject {
  if (!isObject(modelConfig) || typeof modelConfig.class_name !== 'string' || !isObject(modelConfig.config))
    throw new GanportError(
      `${options.source}: the model config is not a Keras {class_name, config} object`,
      'invalid-model',
    );
  if (!MODEL_CLASSES.has(modelConfig.class_name))
    throw new GanportError(
      `${options.source}: the saved object is a ${modelConfig.class_name}, not a Sequential or functional model (a subclassed model has no config to rebuild it from)`,
      'unsupported',
    );
  return normalizeLayer(modelConfig, options, 'the model');
}

function fail(options: KerasNormalizeOptions, where: string, what: string): never {
  throw new GanportError(`${options.source}: ${where}: ${what}`, 'unsupported');
}

/** One layer entry ({class_name, config, name?, inbound_nodes?}), recursively for nested models and wrappers. */
function normalizeLayer(entry: JsonObject, options: KerasNormalizeOptions, where: string): JsonObject {
  const className = entry.class_name as string;
  const config = normalizeValue(entry.config, options, where) as JsonObject;
  const name = typeof config.name === 'string' ? config.name : where;
  const here = `layer "${name}" (${className})`;
  const out: JsonObject = { class_name: className === 'Functional' ? 'Model' : className, config };
  // tfjs's GRU cannot build reset_after (Keras's default); ganport's GRUResetAfter (tfjs/keras-layers.ts) can
  if (className === 'GRU' && config.reset_after === true) out.class_name = 'GRUResetAfter';
  if (entry.name !== undefined) out.name = entry.name;
  if (entry.inbound_nodes !== undefined) out.inbound_nodes = inboundNodes(entry.inbound_nodes, options, here);

  if (className === 'InputLayer') {
    if (config.batch_shape !== undefined) {
      config.batch_input_shape = config.batch_shape;
      delete config.batch_shape;
    }
    if (config.sparse === false) delete config.sparse;
    if (config.ragged === false) delete config.ragged;
    delete config.optional;
  }
  // tf.keras 2 saves BatchNormalization's axis as a one-element list once built ([3]); tfjs takes a number.
  if (className === 'BatchNormalization' && Array.isArray(config.axis) && config.axis.length === 1)
    config.axis = config.axis[0];
  if (className === 'LeakyReLU' && config.negative_slope !== undefined) {
    config.alpha = config.negative_slope;
    delete config.negative_slope;
  }
  for (const key of ['activation', 'recurrent_activation']) {
    const activation = config[key];
    if (activation === 'silu') config[key] = 'swish';
    if (activation === 'hard_sigmoid' && options.kerasMajor === 3)
      fail(
        options,
        here,
        `${key} "hard_sigmoid" is Keras 3's x/6 + 1/2 (clipped), not the 0.2·x + 0.5 of Keras 2 and tfjs; use "sigmoid" or export from Keras 2`,
      );
    if (isObject(activation)) fail(options, here, `${key} is a serialized function ${JSON.stringify(activation)}`);
  }
  if (isObject(config.layer)) config.layer = normalizeLayer(config.layer, options, here);
  if (className === 'Bidirectional') delete config.backward_layer; // the mirror of `layer`, as tfjs builds it
  if (Array.isArray(config.layers)) {
    config.layers = config.layers.map((layer, i) =>
      isObject(layer)
        ? normalizeLayer(layer, options, `${here} layer ${i}`)
        : fail(options, here, `layer ${i} is not an object`),
    );
    if (className === 'Sequential') sequentialInput(config, options, here);
  }
  for (const key of ['input_layers', 'output_layers'])
    if (config[key] !== undefined) config[key] = triples(config[key]);
  return out;
}

/** Values inside a config: wrappers dropped, DTypePolicy objects to names, initializers to Zeros. */
function normalizeValue(value: Json, options: KerasNormalizeOptions, where: string, key = ''): Json {
  if (Array.isArray(value)) return value.map((v) => normalizeValue(v, options, where));
  if (!isObject(value)) return value;
  if (key.endsWith('_initializer')) return { class_name: 'Zeros', config: {} };
  if (key.endsWith('_regularizer') || key.endsWith('_constraint')) return null;
  if (key === 'dtype' && typeof value.class_name === 'string' && isObject(value.config)) {
    const policy = String(value.config.name ?? 'float32');
    return policy.startsWith('mixed_') ? 'float32' : policy;
  }
  if (key === 'layer' || key === 'layers') return value; // layers are normalised as layers
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (DROPPED_KEYS.has(k)) continue;
    out[k] = k === 'layer' || k === 'layers' || k === 'backward_layer' ? v : normalizeValue(v, options, where, k);
  }
  return out;
}

/** Keras 3 `[{args, kwargs}]` or Keras 2 `[[[name, node, tensor, kwargs], …]]` → the Keras 2 form. */
function inboundNodes(nodes: Json, options: KerasNormalizeOptions, here: string): Json {
  if (!Array.isArray(nodes)) return fail(options, here, 'inbound_nodes is not a list');
  return nodes.map((node) => {
    if (Array.isArray(node)) return node; // Keras 2
    if (!isObject(node)) return fail(options, here, 'an inbound node is not an object');
    const tensors: Json[] = [];
    collectTensors(node.args ?? [], tensors);
    const kwargs = isObject(node.kwargs) ? node.kwargs : {};
    const kwargTensors: Json[] = [];
    collectTensors(kwargs, kwargTensors);
    if (kwargTensors.length > 0)
      fail(options, here, `a call with tensors in its keyword arguments (${Object.keys(kwargs).join(', ')})`);
    return tensors.map((t) => [...(t as Json[]), {}]);
  });
}

/** Every `__keras_tensor__`'s keras_history [layer, node, tensor], in order. */
function collectTensors(value: Json, into: Json[]): void {
  if (Array.isArray(value)) for (const v of value) collectTensors(v, into);
  else if (isObject(value)) {
    if (value.class_name === '__keras_tensor__' && isObject(value.config)) into.push(value.config.keras_history);
    else for (const v of Object.values(value)) collectTensors(v, into);
  }
}

/** One [layer, node, tensor] or a list (or dict) of them → a list of triples. */
function triples(value: Json): Json {
  if (Array.isArray(value) && typeof value[0] === 'string') return [value];
  if (isObject(value)) return Object.values(value).flatMap((v) => triples(v) as Json[]);
  return value;
}

/** A Sequential needs its input shape on an InputLayer or its first layer, as tfjs reads it. */
function sequentialInput(config: JsonObject, options: KerasNormalizeOptions, here: string): void {
  const layers = config.layers as JsonObject[];
  if (layers.length === 0) fail(options, here, 'an empty Sequential');
  const first = layers[0];
  const firstConfig = first.config as JsonObject;
  if (first.class_name === 'InputLayer' || firstConfig.batch_input_shape !== undefined) return;
  const shape = config.build_input_shape;
  if (Array.isArray(shape)) firstConfig.batch_input_shape = shape;
}
