/**
 * The one place where Keras model configs become what tfjs's loader takes: a Keras-2-style
 * model config (snake_case keys, `class_name`/`config` objects, tfjs converts the keys itself).
 *
 * Keras 2 files (tf.keras 2.x `.h5`, and its `.keras` from 2.12 on) need little: `module`/`registered_name`/
 * `build_config` wrappers (2.13+) are dropped. Keras 3 (`.keras`) names things differently and is rewritten:
 * - every object's `module`, `registered_name`, `build_config`, `compile_config` are dropped;
 * - `dtype` as a DTypePolicy object becomes its name (`mixed_float16` → float32: the variables
 *   are float32, and the export computes in float32);
 * - InputLayer's `batch_shape` becomes `batch_input_shape`; a Sequential without an InputLayer
 *   takes its `build_input_shape`;
 * - functional `inbound_nodes` ({args: [__keras_tensor__ …], kwargs}) become Keras 2's
 *   [[[layer, node, tensor, {}], …]]; `input_layers`/`output_layers` are made lists of triples;
 *   a reference to a nested model's node counts its nodes as Keras 2 does (nestedModelShifts);
 * - BatchNormalization's one-element `axis` list (tf.keras 2 saves `[3]` once built) is a number;
 * - LeakyReLU's `negative_slope` is Keras 2's `alpha`; the `silu` activation is tfjs's `swish`;
 *   `Functional` is `Model`;
 * - initializers become Zeros, and regularizers and constraints are dropped: the saved weights
 *   replace every initial value, and neither matters at inference.
 * Older and freer forms are made regular too:
 * - Keras ≤ 2.2 wrote a Sequential's config as a bare list of layers, without its name: it becomes
 *   {name, layers}, the name taken from the layer entry that wraps it in a functional model, or, for a
 *   Sequential nested in a list-form Sequential, from the saved weights (which name every layer);
 * - Keras accepts any layer name (`label Input`); tfjs only [A-Za-z0-9][-A-Za-z0-9._/]*, so other
 *   names are sanitised (unique within their model) everywhere they are referred to, and reported;
 * - a TensorFlowOpLayer's config names it without the `tf_op_layer_` prefix its layer (and every
 *   reference to it) has: it is given its real name, and an op tfjs cannot run is refused by name.
 * - bilinear UpSampling2D, where Keras resized with half-pixel centres and tfjs does not, becomes
 *   ganport's HalfPixelUpSampling2D (tfjs/keras-layers.ts), by the version that saved the file;
 *   GlobalAveragePooling1D, which Keras averages over the unmasked steps and tfjs over all of them,
 *   ganport's KerasGlobalAveragePooling1D.
 * What cannot be expressed is refused by name: Keras 3's `hard_sigmoid` (x/6 + 1/2, where tfjs's
 * and Keras 2's is 0.2·x + 0.5), a functional call with tensors in its keyword arguments, bilinear
 * UpSampling2D from a version that ran on TensorFlows of both kinds.
 */
import { GanportError } from '@ganport/runtime';
import { MODEL_CLASSES } from '../tfjs/layers-config.js';
import { parseTfOp, tfOpProblem } from '../tfjs/tf-op-layer.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const DROPPED_KEYS = new Set(['module', 'registered_name', 'build_config', 'compile_config', 'shared_object_id']);

/** The names tfjs accepts for layers (tfjs-layers' isValidTensorName). */
const TFJS_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;

export interface KerasNormalizeOptions {
  /** 2 for files tf.keras 2.x wrote (.h5, .keras), 3 for Keras 3's (.keras, and the .h5 files it wrote). */
  kerasMajor: 2 | 3;
  /** The `keras_version` the file records (`2.12.0`, `2.2.4-tf`, `2.2.4`), where it records one. */
  kerasVersion?: string;
  /** The file, for messages. */
  source: string;
  /**
   * The names of the model's layers as its saved weights have them (`model_weights`'s `layer_names`), in
   * layer order: where a list-form Sequential nests another, the only record of the nested one's name.
   */
  savedLayerNames?: string[];
}

/** A layer given another name for tfjs: its Keras name, its tfjs name, and the models it sits in (tfjs names). */
export interface RenamedLayer {
  path: string[];
  name: string;
  kerasName: string;
}

export interface NormalizedKerasModel {
  /** The model config as tfjs's loader takes it. */
  config: JsonObject;
  /** Every layer whose Keras name tfjs refuses, with the name it has in `config`. */
  renamed: RenamedLayer[];
}

interface Normalizing {
  options: KerasNormalizeOptions;
  renamed: RenamedLayer[];
}

/** What a config value is, for messages that name what was found. */
function describe(value: unknown): string {
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (isObject(value)) return `an object with keys ${Object.keys(value).join(', ') || '(none)'}`;
  return value === null ? 'null' : `a ${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}

const invalidModel = (options: KerasNormalizeOptions, what: string) =>
  new GanportError(`${options.source}: ${what}`, 'invalid-model');

/** A Keras model config (`{class_name, config}`) as tfjs's loader takes it, and the layers it renamed. */
export function normalizeKerasConfig(modelConfig: unknown, options: KerasNormalizeOptions): NormalizedKerasModel {
  if (!isObject(modelConfig))
    throw invalidModel(
      options,
      `the model config is ${describe(modelConfig)}, not a Keras {class_name, config} object`,
    );
  const className = modelConfig.class_name;
  if (typeof className !== 'string')
    throw invalidModel(options, `the model config has no class_name (it is ${describe(modelConfig)})`);
  if (!MODEL_CLASSES.has(className))
    throw new GanportError(
      `${options.source}: the saved object is a ${className}, not a Sequential or functional model (a subclassed model has no config to rebuild it from)`,
      'unsupported',
    );
  const state: Normalizing = { options, renamed: [] };
  const [name] = tfjsNames([kerasNameOf(modelConfig)]);
  return { config: normalizeLayer(modelConfig, state, 'the model', undefined, name), renamed: state.renamed };
}

function fail(options: KerasNormalizeOptions, where: string, what: string): never {
  throw new GanportError(`${options.source}: ${where}: ${what}`, 'unsupported');
}

/**
 * A layer's name as Keras knows it: a functional model's entry names it; a Sequential's layer only in its
 * config, where a TensorFlowOpLayer leaves out the `tf_op_layer_` prefix of its real name (tf.keras's
 * TensorFlowOpLayer.get_config); a list-form Sequential nested in another has none at all.
 */
function kerasNameOf(entry: JsonObject): string | undefined {
  if (typeof entry.name === 'string') return entry.name;
  const name = isObject(entry.config) && typeof entry.config.name === 'string' ? entry.config.name : undefined;
  return name !== undefined && entry.class_name === 'TensorFlowOpLayer' ? `tf_op_layer_${name}` : name;
}

/** Names tfjs accepts, one for each Keras name: the same where valid, else sanitised and kept unique. */
function tfjsNames(kerasNames: (string | undefined)[]): (string | undefined)[] {
  const taken = new Set(kerasNames.filter((n) => n !== undefined && TFJS_NAME.test(n)));
  return kerasNames.map((kerasName) => {
    if (kerasName === undefined || TFJS_NAME.test(kerasName)) return kerasName;
    const base = kerasName.replace(/[^-A-Za-z0-9._/]/g, '_').replace(/^[^A-Za-z0-9]/, 'x$&');
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  });
}

/**
 * A layer's config as an object: Keras ≤ 2.2 wrote a Sequential's as the bare list of its layers (no
 * name, which its container gives), which becomes {layers}.
 */
function configObject(entry: JsonObject, options: KerasNormalizeOptions, here: string): JsonObject {
  const config = entry.config;
  if (isObject(config)) return config;
  if (Array.isArray(config) && entry.class_name === 'Sequential') return { layers: config };
  return fail(
    options,
    here,
    Array.isArray(config)
      ? `its config is ${describe(config)}, a form only a Sequential's config has (Keras ≤ 2.2)`
      : `its config is ${describe(config)}, not an object`,
  );
}

/**
 * One layer entry ({class_name, config, name?, inbound_nodes?}), recursively for nested models and
 * wrappers. `name` is the tfjs name its container gave it; `path` the models it sits in (undefined
 * for the model itself).
 */
function normalizeLayer(
  entry: JsonObject,
  state: Normalizing,
  where: string,
  path: string[] | undefined,
  name: string | undefined,
): JsonObject {
  const { options } = state;
  const className = entry.class_name as string;
  const here = `layer "${kerasNameOf(entry) ?? name ?? where}" (${className})`;
  const config = normalizeValue(configObject(entry, options, here), options, where) as JsonObject;
  if (name !== undefined) config.name = name;
  const out: JsonObject = { class_name: className === 'Functional' ? 'Model' : className, config };
  // tfjs's GRU cannot build reset_after (Keras's default); ganport's GRUResetAfter (tfjs/keras-layers.ts) can
  if (className === 'GRU' && config.reset_after === true) out.class_name = 'GRUResetAfter';
  // tfjs's averages masked steps too; ganport's, as Keras, only the unmasked ones
  if (className === 'GlobalAveragePooling1D') out.class_name = 'KerasGlobalAveragePooling1D';
  if (entry.name !== undefined) out.name = name ?? entry.name;
  if (entry.inbound_nodes !== undefined) out.inbound_nodes = inboundNodes(entry.inbound_nodes, options, here);
  if (calledInTraining(className, config, entry.inbound_nodes ?? []))
    fail(
      options,
      here,
      'called with training=True, which Keras keeps at inference (batch statistics, active dropout and noise); tfjs ignores it',
    );
  if (className === 'TensorFlowOpLayer') {
    let problem: string | undefined;
    try {
      problem = tfOpProblem(parseTfOp(config, here));
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem) fail(options, here, problem);
  }
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
  if (className === 'UpSampling2D' && config.interpolation === 'bilinear') {
    const centres = bilinearCentres(options);
    if (centres === undefined)
      fail(
        options,
        here,
        `interpolation "bilinear" saved by Keras ${options.kerasVersion ?? '(no version recorded)'}: tf.keras resized with half-pixel centres from TensorFlow 1.15 on and asymmetrically before, and this version does not say which TensorFlow it ran on; save the model again with TensorFlow ≥ 2.2 or Keras 3`,
      );
    if (centres === 'half-pixel') {
      out.class_name = 'HalfPixelUpSampling2D';
      delete config.interpolation;
    }
  }
  const ignored = optionTfjsIgnores(className, config);
  if (ignored) fail(options, here, ignored);
  // a ReLU with only a negative slope is a LeakyReLU; tfjs's ReLU reads max_value alone
  if (className === 'ReLU' && Number(config.negative_slope ?? 0) !== 0) {
    out.class_name = 'LeakyReLU';
    config.alpha = config.negative_slope;
    delete config.negative_slope;
    delete config.threshold;
    delete config.max_value;
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
  if (isObject(config.layer))
    config.layer = normalizeLayer(config.layer, state, here, path ?? [], tfjsNames([kerasNameOf(config.layer)])[0]);
  if (className === 'Bidirectional') {
    // tfjs builds the backward layer as the mirror of `layer`: one saved otherwise (Keras 2 saves it only then) is refused
    const differs = mirrorDifference(configObject(entry, options, here));
    if (differs) fail(options, here, `its backward_layer differs from its layer (${differs}); tfjs builds the mirror`);
    delete config.backward_layer;
  }
  if (Array.isArray(config.layers)) {
    const references = normalizeLayers(config, state, here, path === undefined ? [] : [...path, name ?? '']);
    if (className === 'Sequential') sequentialInput(config, options, here);
    for (const key of ['input_layers', 'output_layers'])
      if (config[key] !== undefined)
        config[key] = (triples(config[key]) as Json[]).map((t) => retargeted(t, references));
  }
  return out;
}

/**
 * Where bilinear UpSampling2D samples, by the Keras that saved the file: 'asymmetric' (out / factor, as
 * tfjs does) where Keras called TensorFlow 1's resize_bilinear, 'half-pixel' ((out + ½) / factor − ½)
 * where it called tf.image.resize (tf.keras from TensorFlow 1.15, Keras 3), undefined where the version
 * covers both. The versions: standalone Keras ≤ 2.2 called resize_bilinear; tf.keras recorded 2.1.x-tf up
 * to TensorFlow 1.12, 2.2.4-tf for TensorFlow 1.13–2.1 (1.15 switched to tf.image.resize), 2.3.0-tf for
 * 2.2–2.3, and its own version from 2.4 (standalone Keras 2.4 on is tf.keras). Standalone Keras 2.3 is
 * left undecided: which call it made was not checked.
 */
function bilinearCentres(options: KerasNormalizeOptions): 'asymmetric' | 'half-pixel' | undefined {
  if (options.kerasMajor === 3) return 'half-pixel';
  const match = /^(\d+)\.(\d+)\.(\d+)(-tf)?$/.exec(options.kerasVersion ?? '');
  if (!match) return undefined;
  const [major, minor, patch] = match.slice(1, 4).map(Number);
  const version = major * 10000 + minor * 100 + patch;
  if (version >= 20400) return 'half-pixel';
  if (match[4] === undefined) return version < 20300 ? 'asymmetric' : undefined;
  if (version >= 20300) return 'half-pixel';
  return version < 20204 ? 'asymmetric' : undefined;
}

/**
 * A Keras option that tfjs's layer would drop, changing the output (a message), or undefined: a ReLU's
 * threshold, or its negative slope beside a max value; a transposed convolution's output_padding where
 * its length is not tfjs's (tfjs ignores it); keepdims on global pooling (tfjs drops the pooled axes);
 * a convolution's groups (tfjs builds a kernel over all input channels, which the saved one is not);
 * BatchNormalization's renorm (its extra weights).
 */
function optionTfjsIgnores(className: string, config: JsonObject): string | undefined {
  if (className === 'ReLU') {
    if (Number(config.threshold ?? 0) !== 0) return `threshold ${config.threshold}: tfjs's ReLU has none`;
    if (Number(config.negative_slope ?? 0) !== 0 && config.max_value != null)
      return "negative_slope with max_value: tfjs's ReLU has no negative slope, and its LeakyReLU no max value";
  }
  if (className.endsWith('Transpose') && config.output_padding != null) {
    const axes = (list: Json) => (Array.isArray(list) ? list : [list]) as number[];
    const [kernels, strides, paddings] = [config.kernel_size, config.strides, config.output_padding].map(axes);
    // the output_padding with which Keras's length, (n − 1)·s + k − 2·pad + p, is tfjs's (n·s for same)
    const tfjsPadding = (k: number, s: number) => (config.padding === 'same' ? s - (k % 2) : Math.max(s - k, 0));
    const agrees = paddings.every((p, i) => p === tfjsPadding(kernels[i] ?? kernels[0], strides[i] ?? strides[0]));
    if (!agrees)
      return `output_padding ${JSON.stringify(config.output_padding)}: tfjs ignores it, giving another output size`;
  }
  if (className.startsWith('Global') && config.keepdims === true) return 'keepdims: tfjs drops the pooled axes';
  if (className.includes('Conv') && Number(config.groups ?? 1) !== 1)
    return `groups ${config.groups}: tfjs's convolution has no groups (each filter would see every input channel)`;
  if (className === 'BatchNormalization' && config.renorm === true)
    return "renorm: tfjs's BatchNormalization has no batch renormalization";
  if (STEPS_AXIS_1.has(className) && config.data_format === 'channels_first')
    return "data_format channels_first: tfjs's 1-D layer always works on axis 1, Keras's on axis 2";
  if (className === 'LayerNormalization' && config.rms_scaling === true)
    return 'rms_scaling: tfjs has no RMS normalization (it would subtract the mean)';
  if (RNN_CLASSES.has(className) && config.time_major === true) return 'time_major: tfjs takes the batch axis first';
  return undefined;
}

/** What a Bidirectional's saved backward_layer has that the mirror of its layer does not (by key), or undefined. */
function mirrorDifference(raw: JsonObject): string | undefined {
  const [forward, backward] = [raw.layer, raw.backward_layer];
  if (!isObject(backward) || !isObject(forward)) return undefined;
  if (backward.class_name !== forward.class_name) return `class ${String(backward.class_name)}`;
  const [f, b] = [forward.config, backward.config].map((c) => (isObject(c) ? c : {}));
  const keys = [...new Set([...Object.keys(f), ...Object.keys(b)])].filter((k) => k !== 'name' && k !== 'go_backwards');
  const differing = keys.filter((k) => canonical(f[k]) !== canonical(b[k]));
  return differing.length ? differing.join(', ') : undefined;
}

/** JSON with object keys sorted, so that equal configs compare equal whatever order they were saved in. */
function canonical(value: Json | undefined): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value ?? null);
}

/** 1-D layers tfjs runs on axis 1 whatever the data_format (Keras 2.x and 3 take channels_first). */
const STEPS_AXIS_1 = new Set(['MaxPooling1D', 'AveragePooling1D', 'GlobalMaxPooling1D', 'ZeroPadding1D']);
const RNN_CLASSES = new Set(['LSTM', 'GRU', 'SimpleRNN', 'RNN']);

/** Layers that compute otherwise in training; a Keras 2 call with training=True keeps them so at inference. */
const TRAINING_MODE = new Set([
  'BatchNormalization',
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'SpatialDropout3D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  ...MODEL_CLASSES,
]);

/**
 * Whether a Keras 2 layer was called with training=True (saved in its inbound nodes' kwargs), which
 * Keras honours at inference too; tfjs ignores it. A frozen BatchNormalization runs in inference mode anyway.
 */
function calledInTraining(className: string, config: JsonObject, nodes: Json): boolean {
  if (!TRAINING_MODE.has(className) || (className === 'BatchNormalization' && config.trainable === false)) return false;
  const kwargs = (Array.isArray(nodes) ? nodes : []).flatMap((node) =>
    (Array.isArray(node) ? node : []).map((input) => (Array.isArray(input) ? input[3] : undefined)),
  );
  return kwargs.some((k) => isObject(k) && k.training === true);
}

/** How references to a model's layers ([layer, node, tensor, …]) become tfjs's, by the layer's Keras name. */
interface References {
  /** The tfjs name, where it differs. */
  renames: Map<string, string>;
  /** What to add to the node index (nestedModelShifts). */
  nodeShifts: Map<string, number>;
}

/**
 * A model's layers (`config.layers`, replaced), each given a name tfjs accepts and normalised, with
 * their references to each other made tfjs's; returns how to make the model's input_layers and
 * output_layers references tfjs's.
 */
function normalizeLayers(config: JsonObject, state: Normalizing, here: string, inside: string[]): References {
  const layers = (config.layers as Json[]).map((layer, i) =>
    isObject(layer) ? layer : fail(state.options, here, `layer ${i} is not an object`),
  );
  const kerasNames = layers.map(kerasNameOf);
  if (inside.length === 0) withSavedNames(layers, kerasNames, state.options.savedLayerNames);
  const names = tfjsNames(kerasNames);
  const renames = new Map<string, string>();
  names.forEach((name, i) => {
    const kerasName = kerasNames[i];
    if (name === undefined || kerasName === undefined || name === kerasName) return;
    renames.set(kerasName, name);
    // (inside a nested model that has no name at all, tfjs names it, and the rename is not reported)
    if (!inside.includes('')) state.renamed.push({ path: inside, name, kerasName });
  });
  const shifts = nestedModelShifts(layers, kerasNames, state.options);
  const inbound: References = { renames, nodeShifts: shifts.inbound };
  config.layers = layers.map((layer, i) => {
    const out = normalizeLayer(layer, state, `${here} layer ${i}`, inside, names[i]);
    if (Array.isArray(out.inbound_nodes))
      out.inbound_nodes = out.inbound_nodes.map((node) =>
        Array.isArray(node) ? node.map((t) => retargeted(t, inbound)) : node,
      );
    return out;
  });
  return { renames, nodeShifts: shifts.outputs };
}

/**
 * What to add to the node index of a reference to each nested model (by Keras name): in the layers'
 * calls (`inbound`), and in input_layers/output_layers (`outputs`). Keras 2 and tfjs count first the
 * node a model makes when built, so a nested model's first call is its node 1; Keras 3 makes none. Read
 * in Keras 3.0, 3.8 and 3.15's keras/src/models/functional.py: get_config writes a call's inputs as
 * serialize_node does, with the model's own index (from 0), and input_layers/output_layers by
 * node_reindexing_map, which counts from 1 for a Functional (`kept_nodes = 1`) but from 0 for
 * anything else, a Sequential (a Model, not a Functional) included.
 */
function nestedModelShifts(
  layers: JsonObject[],
  kerasNames: (string | undefined)[],
  options: KerasNormalizeOptions,
): { inbound: Map<string, number>; outputs: Map<string, number> } {
  const inbound = new Map<string, number>();
  const outputs = new Map<string, number>();
  if (options.kerasMajor === 3)
    layers.forEach((layer, i) => {
      const name = kerasNames[i];
      if (name === undefined || !MODEL_CLASSES.has(layer.class_name as string)) return;
      inbound.set(name, 1);
      if (layer.class_name === 'Sequential') outputs.set(name, 1);
    });
  return { inbound, outputs };
}

/**
 * Fills in the names a list-form Sequential (Keras ≤ 2.2) leaves out, those of the models nested in it,
 * from the saved weights' layer names: one per layer, in order, InputLayers aside (Keras's
 * Sequential.layers leaves out its InputLayer).
 */
function withSavedNames(layers: JsonObject[], kerasNames: (string | undefined)[], saved?: string[]): void {
  const indices = layers.flatMap((layer, i) => (layer.class_name === 'InputLayer' ? [] : [i]));
  if (saved?.length !== indices.length) return;
  indices.forEach((i, k) => {
    kerasNames[i] ??= saved[k];
  });
}

/** A [layer, node, tensor, …] reference with its layer renamed and its node index shifted. */
function retargeted(reference: Json, { renames, nodeShifts }: References): Json {
  if (!Array.isArray(reference) || typeof reference[0] !== 'string') return reference;
  const [layer, ...rest] = reference as [string, ...Json[]];
  const shift = nodeShifts.get(layer) ?? 0;
  return [renames.get(layer) ?? layer, ...rest.map((v, i) => (i === 0 && typeof v === 'number' ? v + shift : v))];
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
