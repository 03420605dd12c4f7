/**
 * Keras model files read without Python: tf.keras 2.x HDF5 (`.h5`: the `model_config` attribute
 * and the `model_weights` groups) and Keras 3 archives (`.keras`: a zip of config.json and
 * model.weights.h5). The config is normalised into a Keras-2-style config (normalize.ts) and built
 * by tfjs; then the saved arrays are set layer by layer, in the order each format writes them.
 *
 * Keras 2 (legacy_h5_format): `model_weights` has a `layer_names` attribute; each layer's group has
 * `weight_names` (e.g. `dense/kernel:0`, `lstm/lstm_cell/kernel:0`), each a dataset at that path
 * within the group, trainable weights first, then the non-trainable ones (for a nested model:
 * all its trainable weights, then all its non-trainable ones), which is tfjs's `weights` order too.
 *
 * Keras 3 (saving_lib): each object's variables are datasets `vars/0`, `vars/1`, … under its
 * path; a model's layers are under `layers/<key>`, the key being the snake_case class name
 * (`conv2d_transpose`, then `conv2d_transpose_1`, …, not the layer name; a Sequential leaves its
 * InputLayer out); a recurrent layer's weights are its cell's (`lstm/cell/vars`), a
 * Bidirectional's its forward then backward layer's, a wrapper's its inner layer's. The `.keras`
 * archives of tf.keras before 2.15 have the layers under `_layer_checkpoint_dependencies/<key>`,
 * counted otherwise (CHECKPOINT_DEPENDENCIES).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import type * as h5 from 'h5wasm';
// Keras layers tfjs has no class for (Subtract, Cropping1D, ZeroPadding1D, SpatialDropout2D, TensorFlowOpLayer).
import '../tfjs/keras-layers.js';
import { checkTopology } from '../tfjs/topology.js';
import { kerasName, setKerasName } from './names.js';
import { type NormalizedKerasModel, normalizeKerasConfig, type RenamedLayer } from './normalize.js';
import { recordedCrcs } from './zip.js';

type H5Module = typeof h5;
let h5wasm: Promise<H5Module> | undefined;

/**
 * h5wasm's Node build (the host file system), loaded on first use, with HDF5's errors thrown
 * rather than printed to the console.
 */
function hdf5(): Promise<H5Module> {
  h5wasm ??= import('h5wasm/node').then(async (m) => {
    const mod = (m as unknown as { default?: H5Module }).default ?? (m as unknown as H5Module);
    const module = await mod.ready;
    module.activate_throwing_error_handler();
    return mod;
  });
  return h5wasm;
}

/** The informative line of an HDF5 error stack ("H5Fopen(): unable to … open file"). */
function hdf5Message(err: unknown): string {
  const message = String((err as Error)?.message ?? err);
  const line = message.split('\n').find((l) => /\w\(\): /.test(l));
  return (line ? line.replace(/^.* in /, '') : message.split('\n')[0]).trim();
}

/** Is this a Keras file (by its name): `.h5`/`.hdf5` or `.keras`? */
export const isKerasFile = (path: string): boolean => /\.(h5|hdf5|keras)$/i.test(path);

/** Loads a Keras `.h5` or `.keras` model as a tfjs LayersModel holding the saved weights. */
export async function loadKerasModel(path: string): Promise<tf.LayersModel> {
  try {
    return await (/\.keras$/i.test(path) ? loadKeras3(path) : loadKeras2(path));
  } catch (err) {
    if (err instanceof GanportError) throw err;
    throw new GanportError(
      `${path}: cannot read the model (${hdf5Message(err)}); is the file damaged?`,
      'invalid-model',
    );
  }
}

function invalid(source: string, what: string): never {
  throw new GanportError(`${source}: ${what}`, 'invalid-model');
}

async function openH5(path: string, source: string): Promise<h5.File> {
  const mod = await hdf5();
  let file: h5.File;
  try {
    file = new mod.File(path, 'r');
  } catch (err) {
    return invalid(source, `not an HDF5 file, or a damaged one (${hdf5Message(err)})`);
  }
  if (!file.file_id || file.file_id < 0n) invalid(source, 'not an HDF5 file');
  try {
    refuseExternalLinks(file, source);
  } catch (err) {
    file.close();
    throw err;
  }
  return file;
}

/**
 * HDF5 follows an external link into any HDF5 file on the host, by its path: a model file must hold
 * its own weights. Keras writes no links; `depth` bounds a walk that soft links could make endless.
 */
function refuseExternalLinks(group: h5.Group, source: string, depth = 0): void {
  if (depth > 32) invalid(source, `${group.path} is nested more than 32 groups deep`);
  for (const name of group.keys()) {
    const path = `${group.path.replace(/\/$/, '')}/${name}`;
    const link = group.get_external_link(path) as { filename?: string; obj_path?: string };
    if (link.filename)
      invalid(
        source,
        `${path} links to ${link.obj_path} in another file, ${link.filename}; ganport reads only self-contained HDF5 files`,
      );
    const entity = group.get(name);
    if (entity && 'keys' in entity) refuseExternalLinks(entity as h5.Group, source, depth + 1);
  }
}

const text = (value: unknown): string =>
  typeof value === 'string' ? value : value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value);

/**
 * A string-list attribute (h5py writes fixed-length byte strings; an empty list as an empty float array).
 * Keras splits one over 64 KB into `name0`, `name1`, … (legacy_h5_format's save_attributes_to_hdf5_group).
 */
function stringList(group: h5.Group, name: string): string[] {
  const read = (attrName: string): string[] => {
    const value = group.attrs[attrName]?.value;
    if (typeof value === 'string') return [value];
    if (Array.isArray(value)) return value.map(text);
    return [];
  };
  if (group.attrs[name]) return read(name);
  const chunks: string[] = [];
  for (let i = 0; group.attrs[`${name}${i}`]; i++) chunks.push(...read(`${name}${i}`));
  return chunks;
}

/** A child entity by relative path, or null; checks each step by name (h5wasm logs misses). */
function child(group: h5.Group, path: string): h5.Group | h5.Dataset | null {
  let node: h5.Group | h5.Dataset = group;
  for (const part of path.split('/').filter((p) => p.length > 0)) {
    if (!('keys' in node) || !node.keys().includes(part)) return null;
    node = node.get(part) as h5.Group | h5.Dataset;
  }
  return node;
}

interface SavedArray {
  shape: number[];
  data: Float32Array;
}

/** HDF5's datatype class of floats (H5T_FLOAT). */
const H5T_FLOAT = 1;

/**
 * A weight dataset's values, checked before they are read: against the layer's shape where it is known
 * (`expected`), else against a bound (a small file can declare a dataset of billions): 16 times the values
 * all of the model's weights hold, at least 2²⁰; the layer's shapes are checked once its arrays are read.
 */
function floatArray(dataset: h5.Dataset, source: string, where: string, expected: number[] | number): SavedArray {
  const shape = dataset.shape ?? [];
  if (typeof expected === 'number') {
    if (shape.reduce((a, b) => a * b, 1) > Math.max(2 ** 20, 16 * expected))
      invalid(source, `${where} is saved as [${shape}], far more values than the whole model has`);
  } else if (shape.length !== expected.length || shape.some((d, k) => d !== expected[k]))
    invalid(source, `${where} is saved as [${shape}], its config builds [${expected}]`);
  const { type, size } = dataset.metadata as { type?: number; size?: number };
  if (type === H5T_FLOAT && size === 2)
    invalid(source, `${where} is float16, which ganport's HDF5 reader (h5wasm) cannot read; save the model in float32`);
  const value = dataset.value;
  if (value instanceof Float32Array) return { shape, data: value };
  if (value instanceof Float64Array || value instanceof Int32Array || value instanceof Uint8Array)
    return { shape, data: Float32Array.from(value) };
  if (typeof value === 'number') return { shape, data: Float32Array.of(value) };
  return invalid(source, `${where} is not a numeric array (dtype ${JSON.stringify(dataset.dtype)})`);
}

function rememberKerasNames(model: tf.LayersModel, renamed: RenamedLayer[]): void {
  for (const { path, name, kerasName } of renamed) {
    const container = path.reduce((m, part) => m.getLayer(part) as tf.LayersModel, model);
    setKerasName(container.getLayer(name), kerasName);
  }
}

async function buildModel({ config, renamed }: NormalizedKerasModel, source: string): Promise<tf.LayersModel> {
  checkTopology(config, source);
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: config } as unknown as tf.io.ModelJSON);
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new GanportError(`${source}: tfjs cannot build this model: ${message}`, 'unsupported');
  }
  rememberKerasNames(model, renamed);
  return model;
}

function checkWeightCount(layer: string, saved: number, builds: number, source: string): void {
  if (saved !== builds) invalid(source, `layer "${layer}" has ${saved} saved weights, its config builds ${builds}`);
}

/** Sets a layer's weights from arrays in tfjs/Keras order, checking count and shapes. */
function setLayerWeights(layer: tf.layers.Layer, arrays: SavedArray[], source: string): void {
  const expected = layer.weights;
  checkWeightCount(layer.name, arrays.length, expected.length, source);
  arrays.forEach((a, i) => {
    const shape = expected[i].shape as number[];
    if (a.shape.length !== shape.length || a.shape.some((d, k) => d !== shape[k]))
      invalid(
        source,
        `layer "${layer.name}" weight ${i} (${expected[i].originalName}) is saved as [${a.shape}], its config builds [${shape}]`,
      );
  });
  const tensors = arrays.map((a, i) => tf.tensor(a.data, expected[i].shape as number[], 'float32'));
  layer.setWeights(tensors);
  tf.dispose(tensors);
}

const isModel = (layer: tf.layers.Layer) => layer instanceof tf.LayersModel;

/** The major version of a `keras_version` ("2.2.4-tf", "2.13.1", "3.8.0"). */
const majorVersion = (version: string): 2 | 3 => (Number.parseInt(version, 10) >= 3 ? 3 : 2);

/** tf.keras 2.x HDF5: `model_config` + `model_weights/<layer>/<weight name>`. */
async function loadKeras2(path: string): Promise<tf.LayersModel> {
  const file = await openH5(path, path);
  try {
    const configAttr = file.attrs.model_config;
    if (!configAttr)
      invalid(
        path,
        child(file, 'layers') || child(file, 'vars')
          ? 'a Keras 3 weights-only file (.weights.h5) has no model config; export the .keras file'
          : 'no model_config attribute: a weights-only file (save_weights), not a saved model',
      );
    let modelConfig: unknown;
    try {
      modelConfig = JSON.parse(text(configAttr.value));
    } catch (err) {
      return invalid(path, `model_config is not JSON (${(err as Error).message})`);
    }
    const version = text(file.attrs.keras_version?.value ?? '2');
    if (version.startsWith('1.'))
      throw new GanportError(
        `${path}: saved by Keras ${version}; Keras 1 configs (Merge layers, Keras 1 argument names) are not supported`,
        'unsupported',
      );
    // Keras flips a Theano-saved file's convolution kernels on load (Theano convolves, TensorFlow correlates)
    if (
      text(file.attrs.backend?.value ?? '') === 'theano' &&
      /"class_name":\s*"(\w*Conv\w*)"/.test(text(configAttr.value))
    )
      invalid(
        path,
        'saved with the Theano backend, whose convolution kernels Keras flips on load; ganport reads TensorFlow-backend files: load it in Keras with TensorFlow and save it again',
      );
    const weights = child(file, 'model_weights') as h5.Group | null;
    if (!weights) invalid(path, 'no model_weights group');
    const savedLayerNames = stringList(weights, 'layer_names');
    const normalized = normalizeKerasConfig(modelConfig, {
      kerasMajor: majorVersion(version),
      kerasVersion: file.attrs.keras_version ? version : undefined,
      source: path,
      savedLayerNames,
    });
    const model = await buildModel(normalized, path);
    const tfjsName = new Map(normalized.renamed.filter((r) => r.path.length === 0).map((r) => [r.kerasName, r.name]));
    const loaded = new Set<tf.layers.Layer>();
    for (const name of savedLayerNames) {
      const group = child(weights, name) as h5.Group | null;
      if (!group) invalid(path, `model_weights has no group for layer "${name}"`);
      const names = stringList(group, 'weight_names');
      if (names.length === 0) continue;
      let layer: tf.layers.Layer;
      try {
        layer = model.getLayer(tfjsName.get(name) ?? name);
      } catch {
        const known = model.layers.map((l) => kerasName(l) ?? l.name).join(', ');
        return invalid(
          path,
          `the saved weights name layer "${name}", which the model config does not have (it has ${known})`,
        );
      }
      checkWeightCount(name, names.length, layer.weights.length, path);
      const arrays = names.map((w, i) => {
        const dataset = child(group, w);
        if (!dataset || 'keys' in dataset) return invalid(path, `layer "${name}" has no dataset "${w}"`);
        return floatArray(dataset, path, `model_weights/${name}/${w}`, layer.weights[i].shape as number[]);
      });
      setLayerWeights(layer, arrays, path);
      loaded.add(layer);
    }
    // a layer left out of layer_names, or saved without weight_names, would keep its zeros
    const unsaved = model.layers.find((layer) => layer.weights.length > 0 && !loaded.has(layer));
    if (unsaved)
      invalid(path, `layer "${kerasName(unsaved) ?? unsaved.name}" has weights in its config but none in the file`);
    return model;
  } finally {
    file.close();
  }
}

/** The Keras class of the tfjs classes keras/normalize.ts renames. */
const KERAS_CLASS: Record<string, string> = { Model: 'Functional', GRUResetAfter: 'GRU' };

/** Keras's naming.to_snake_case. */
export function snakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

const KERAS_ARCHIVE_ENTRIES = ['metadata.json', 'config.json', 'model.weights.h5', 'model.weights.npz'];

function archiveJson(entries: Record<string, Uint8Array>, name: string, path: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(entries[name]));
  } catch (err) {
    return invalid(path, `${name} is not JSON (${(err as Error).message})`);
  }
}

/**
 * The `keras_version` an archive's metadata.json records, where it does: tf.keras 2.12–2.15 wrote `.keras`
 * archives too, with Keras 2 configs (Keras 2's hard_sigmoid, …).
 */
function archiveKerasVersion(entries: Record<string, Uint8Array>, path: string): string | undefined {
  if (!entries['metadata.json']) return undefined;
  const version = (archiveJson(entries, 'metadata.json', path) as { keras_version?: unknown } | null)?.keras_version;
  return typeof version === 'string' ? version : undefined;
}

/** The entries of a `.keras` archive that are read, each checked against the CRC-32 the archive records. */
async function archiveEntries(path: string): Promise<Record<string, Uint8Array>> {
  let zip: Uint8Array;
  let entries: Record<string, Uint8Array>;
  try {
    zip = await readFile(path);
    // only what is read: an archive may hold assets, or a bomb
    entries = unzipSync(zip, { filter: (entry) => KERAS_ARCHIVE_ENTRIES.includes(entry.name) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GanportError(`cannot read ${path}: ENOENT`, 'not-found');
    return invalid(path, `not a .keras (zip) archive (${(err as Error).message})`);
  }
  const recorded = recordedCrcs(zip);
  for (const [name, bytes] of Object.entries(entries))
    if (crc32(bytes) !== recorded.get(name))
      invalid(path, `${name} is damaged: its bytes do not match the CRC-32 the archive records`);
  return entries;
}

/** Keras 3 archive: metadata.json, config.json, model.weights.h5 (layers/<snake class>/vars/<i>). */
async function loadKeras3(path: string): Promise<tf.LayersModel> {
  const entries = await archiveEntries(path);
  if (!entries['config.json']) invalid(path, 'the archive has no config.json');
  if (!entries['model.weights.h5'])
    invalid(
      path,
      entries['model.weights.npz']
        ? 'weights saved as model.weights.npz are not supported (only the default .h5)'
        : 'the archive has no model.weights.h5',
    );
  const modelConfig = archiveJson(entries, 'config.json', path);
  const kerasVersion = archiveKerasVersion(entries, path);
  const normalized = normalizeKerasConfig(modelConfig, {
    kerasMajor: majorVersion(kerasVersion ?? '3'),
    kerasVersion,
    source: path,
  });
  const model = await buildModel(normalized, path);
  const dir = await mkdtemp(join(tmpdir(), 'ganport-keras-'));
  try {
    const weightsPath = join(dir, 'model.weights.h5');
    await writeFile(weightsPath, entries['model.weights.h5']);
    const file = await openH5(weightsPath, `${path} (model.weights.h5)`);
    try {
      const modelSize = model.weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
      const weights = { file, source: `${path} (model.weights.h5)`, modelSize };
      loadKeras3Container(model, normalized.config as unknown as LayerEntry, weights, '');
    } finally {
      file.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return model;
}

/** The weights file of a .keras archive, for messages, and how many values its model's weights hold in all. */
interface WeightsFile {
  file: h5.Group;
  source: string;
  modelSize: number;
}

/** The variables at `<path>/vars/0…n-1`, in order. */
function vars({ file, source, modelSize }: WeightsFile, path: string): SavedArray[] {
  const group = child(file, `${path}/vars`) as h5.Group | null;
  if (!group || !('keys' in group)) return [];
  const keys = group.keys().sort((a, b) => Number(a) - Number(b));
  return keys.map((k) => floatArray(group.get(k) as h5.Dataset, source, `${path}/vars/${k}`, modelSize));
}

/** A layer's weights: its own variables, then its cell's, forward/backward layers', or wrapped layer's. */
function layerVars(weights: WeightsFile, path: string, className: string): SavedArray[] {
  const own = vars(weights, path);
  if (className === 'Bidirectional')
    return [
      ...own,
      ...layerVars(weights, `${path}/forward_layer`, 'RNN'),
      ...layerVars(weights, `${path}/backward_layer`, 'RNN'),
    ];
  return [
    ...own,
    ...vars(weights, `${path}/cell`),
    ...(child(weights.file, `${path}/layer`) ? vars(weights, `${path}/layer`) : []),
  ];
}

interface LayerEntry {
  class_name: string;
  config: { name?: string; layers?: LayerEntry[] };
}

/**
 * The key saving_lib gives the next object of a class in one container: its snake_case class name,
 * then `_1`, `_2`, … (`used` counts the listings so far, by class); `listings`: how many times the
 * container lists the object, each counted.
 */
function nextKey(used: Map<string, number>, className: string, listings: number): string {
  const base = snakeCase(className);
  const count = used.get(base) ?? 0;
  used.set(base, count + listings);
  return count === 0 ? base : `${base}_${count}`;
}

/**
 * Where tf.keras before 2.15 saved a model's layers (Keras 3 and tf.keras 2.15: `layers`). Read in tf.keras
 * 2.13.1's keras/saving/saving_lib.py and keras/engine/functional.py: `_save_state` walks `dir(model)`
 * in sorted order (2.15 reversed it), reaching this property first, an OrderedDict that lists every
 * layer whose `weights` are not empty twice in a row (`layer_with_weights-i`, then `layer-j`), a nested
 * model too, and every other layer once; `_save_container_state` counts each listing's class name before
 * `_save_state` skips the already-visited duplicate, so the weights are under the first listing's key
 * and the next Dense is `dense_2` (Keras issue #18830).
 */
const CHECKPOINT_DEPENDENCIES = '_layer_checkpoint_dependencies';

/**
 * Sets the weights of one model's layers from `<path>/layers/<key>`, walking the layers in the
 * config's order (Keras's own), which is what the keys are counted in.
 */
function loadKeras3Container(model: tf.LayersModel, entry: LayerEntry, weights: WeightsFile, path: string): void {
  const { file, source } = weights;
  const layersKey = child(file, `${path}/layers`) ? 'layers' : CHECKPOINT_DEPENDENCIES;
  const used = new Map<string, number>();
  for (const layerEntry of entry.config.layers ?? []) {
    // the class Keras saved it as (the normalizer renamed Functional and reset_after GRUs)
    const className = KERAS_CLASS[layerEntry.class_name] ?? layerEntry.class_name;
    // Keras's Sequential.layers leaves the InputLayer out; a functional model's layers include it.
    if (className === 'InputLayer' && entry.class_name === 'Sequential') continue;
    const layer = model.getLayer(layerEntry.config.name as string);
    const listings = layersKey === CHECKPOINT_DEPENDENCIES && layer.weights.length > 0 ? 2 : 1;
    const layerPath = `${path ? `${path}/` : ''}${layersKey}/${nextKey(used, className, listings)}`;
    if (isModel(layer)) {
      loadKeras3Container(layer as tf.LayersModel, layerEntry, weights, layerPath);
      continue;
    }
    const arrays = layerVars(weights, layerPath, className);
    if (arrays.length === 0 && layer.weights.length === 0) continue;
    if (arrays.length === 0 && !child(file, layerPath))
      invalid(source, `no weights for layer "${layer.name}" (expected under ${layerPath})`);
    setLayerWeights(layer, arrays, source);
  }
}
