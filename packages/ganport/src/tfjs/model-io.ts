/**
 * Saving and loading tfjs LayersModels as model.json + weight shards on disk,
 * the standard format `tf.io` writes, without needing tfjs-node's file:// handler.
 */
import { type Stats, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { isInside, refuseSpecialFile, writeFileAtomic } from '../util/files.js';
import { isObject } from './layers-config.js';
import { checkTopology } from './topology.js';
// Registers the custom layers ganport's presets use, so any model saved with them loads back.
import './keras-layers.js';
import './maxout.js';
import './spectral-norm.js';

const WEIGHTS_FILE = 'weights.bin';

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

/** Writes `dir/model.json` and `dir/weights.bin` (weights first, each atomically). */
export async function saveLayersModel(
  model: tf.LayersModel,
  dir: string,
  metadata?: Record<string, unknown>,
): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData =
        artifacts.weightData instanceof ArrayBuffer
          ? artifacts.weightData
          : tf.io.concatenateArrayBuffers(artifacts.weightData ?? []);
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology as object,
        format: 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: metadata,
      };
      await writeFileAtomic(join(dir, WEIGHTS_FILE), new Uint8Array(weightData));
      await writeFileAtomic(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

const VALUE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, float16: 2, uint16: 2, uint8: 1 };

/** The bytes a weight occupies in its shard: its quantized dtype's size when quantized (dequantized on load). */
function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  return count * VALUE_BYTES[spec.quantization?.dtype ?? spec.dtype];
}

/**
 * One manifest entry checked field by field, as written by every tfjs and tensorflowjs_converter
 * version: a dtype (float32 when an old file leaves it out), a shape of non-negative integers, and
 * an optional quantization (uint8/uint16 with scale and min, or float16) that tfjs dequantizes on load.
 */
function checkSpec(entry: unknown, where: string): tf.io.WeightsManifestEntry {
  const bad = (what: string): never => {
    throw new GanportError(`${where}: ${what}`, 'invalid-model');
  };
  if (!isObject(entry)) return bad('a weight entry is not an object');
  const name = typeof entry.name === 'string' ? entry.name : bad('a weight entry has no name');
  const label = `weight "${name}"`;
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    bad(`${label} has shape ${JSON.stringify(shape)}, not a list of sizes`);
  const dtype = entry.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool')
    bad(`${label} has dtype ${JSON.stringify(dtype)} (float32, int32 or bool expected)`);
  const spec: tf.io.WeightsManifestEntry = { name, shape: shape as number[], dtype: dtype as 'float32' };
  if (entry.quantization !== undefined) {
    const q = entry.quantization;
    if (!isObject(q) || !['uint8', 'uint16', 'float16'].includes(q.dtype as string))
      bad(`${label} has quantization ${JSON.stringify(q)} (uint8, uint16 or float16 expected)`);
    const quantization = q as unknown as NonNullable<tf.io.WeightsManifestEntry['quantization']>;
    if (quantization.dtype !== 'float16' && !(Number.isFinite(quantization.scale) && Number.isFinite(quantization.min)))
      bad(`${label} is ${quantization.dtype}-quantized without a finite scale and min`);
    spec.quantization = quantization;
  }
  return spec;
}

/** The weight groups of a manifest, each a list of shard paths and the weights stored across them, in order. */
function checkManifest(manifest: unknown, where: string): { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] {
  if (!Array.isArray(manifest)) throw new GanportError(`${where}: weightsManifest is not a list`, 'invalid-model');
  return manifest.map((group, i) => {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      throw new GanportError(`${where}: weight group ${i} has no paths and weights lists`, 'invalid-model');
    if (!group.paths.every((p) => typeof p === 'string' && p.length > 0))
      throw new GanportError(`${where}: weight group ${i} has a path that is not a file name`, 'invalid-model');
    return { paths: group.paths as string[], weights: group.weights.map((w) => checkSpec(w, where)) };
  });
}

/** What the first bytes of a Keras file are: an HDF5 file's signature (`.h5`), a zip's (`.keras`). */
const KERAS_SIGNATURES: [Uint8Array, string][] = [
  [Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a), 'a Keras .h5 (HDF5) file; name it .h5'],
  [Uint8Array.of(0x50, 0x4b, 0x03, 0x04), 'a Keras .keras (zip) archive; name it .keras'],
];

/** A model.json's top level, checked to be a tfjs LayersModel's. */
async function readModelJson(modelJsonPath: string): Promise<ModelJson> {
  refuseSpecialFile(modelJsonPath);
  let bytes: Buffer;
  try {
    bytes = await readFile(modelJsonPath);
  } catch (err) {
    throw new GanportError(
      `cannot read ${modelJsonPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'not-found',
    );
  }
  const notModelJson = (what: string) =>
    new GanportError(`${modelJsonPath} is not a tfjs model.json: ${what}`, 'invalid-model');
  const keras = KERAS_SIGNATURES.find(([signature]) => bytes.subarray(0, signature.length).equals(signature));
  if (keras) throw notModelJson(`it looks like ${keras[1]}`);
  // not strict: a Latin-1 name in its metadata is text tfjs reads; the decoder drops a byte-order mark, as Windows editors save
  const text = new TextDecoder('utf-8').decode(bytes);
  if (text.includes('\0')) throw notModelJson('it is binary, not text');
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (err) {
    // V8 quotes the text around the error, which may span lines or hold control characters
    const reason = (err as Error).message.replace(/[\s\p{Cc}]+/gu, ' ');
    throw new GanportError(`${modelJsonPath} is not valid JSON (${reason}); is the file truncated?`, 'invalid-model');
  }
  if (isObject(json) && json.format === 'graph-model')
    throw new GanportError(
      `${modelJsonPath} is a tfjs graph model (a converted SavedModel or frozen graph); ganport reads layers models (tf.LayersModel's model.json)`,
      'unsupported',
    );
  if (!isObject(json) || !isObject(json.modelTopology) || json.weightsManifest === undefined) {
    throw new GanportError(
      `${modelJsonPath} is not a tfjs LayersModel (no modelTopology or weightsManifest)`,
      'invalid-model',
    );
  }
  return json;
}

/** The weight files a model.json names, resolved; none where it cannot be read (loading it says why). */
export async function weightFiles(modelJsonPath: string): Promise<string[]> {
  try {
    const json = await readModelJson(modelJsonPath);
    const groups = checkManifest(json.weightsManifest, modelJsonPath);
    return groups.flatMap((group) => group.paths.map((path) => resolve(dirname(modelJsonPath), path)));
  } catch {
    return [];
  }
}

/**
 * Reads a model.json (any file name) and its weight shards, checking every size before tfjs sees
 * them. Accepts what tfjs and tensorflowjs_converter have written over the years: old 0.x files
 * (no `format`, shards named without .bin, `./` paths), Keras-converted files (`keras_version`,
 * a `model_config` wrapper) and bare model configs as the topology, weights in several groups,
 * float16- and uint8/uint16-quantized weights (dequantized by tfjs on load).
 */
export async function readModelArtifacts(modelJsonPath: string): Promise<tf.io.ModelArtifacts> {
  const json = await readModelJson(modelJsonPath);
  checkTopology(json.modelTopology, modelJsonPath);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  const modelDir = dirname(modelJsonPath);
  for (const group of checkManifest(json.weightsManifest, modelJsonPath)) {
    // sizes first: a shard path may name anything (a device, a pipe, a file elsewhere) that must not be read
    const files = group.paths.map((path) => {
      const file = join(modelDir, path);
      if (!isInside(modelDir, file))
        throw new GanportError(`${modelJsonPath} names a weight file outside its folder: ${path}`, 'invalid-model');
      let info: Stats;
      try {
        info = statSync(file);
      } catch (err) {
        throw new GanportError(
          `cannot read weight file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          'not-found',
        );
      }
      if (!info.isFile()) throw new GanportError(`weight file ${file} is not a file`, 'invalid-model');
      return { file, bytes: info.size };
    });
    const groupBytes = files.reduce((n, f) => n + f.bytes, 0);
    const expected = group.weights.reduce((n, spec) => n + specBytes(spec), 0);
    if (groupBytes !== expected) {
      throw new GanportError(
        `weights of ${modelJsonPath} do not match its topology: ${group.paths.join(', ')} hold ${groupBytes} bytes, the manifest needs ${expected}${groupBytes < expected ? ' (a truncated download?)' : ''}`,
        'invalid-model',
      );
    }
    weightSpecs.push(...group.weights);
    for (const { file } of files) buffers.push(await readFile(file));
  }
  const seen = new Set<string>();
  for (const { name } of weightSpecs) {
    // tfjs keeps the last of a name's values and drops the others without a word
    if (seen.has(name))
      throw new GanportError(`${modelJsonPath} lists the weight ${name} twice in its weightsManifest`, 'invalid-model');
    seen.add(name);
  }
  const weightData = new Uint8Array(buffers.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.length;
  }
  return {
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData: weightData.buffer,
    format: typeof json.format === 'string' ? json.format : undefined,
    generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : undefined,
    userDefinedMetadata: isObject(json.userDefinedMetadata)
      ? (json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'])
      : undefined,
  };
}

export async function loadLayersModel(modelJsonPath: string): Promise<tf.LayersModel> {
  const artifacts = await readModelArtifacts(modelJsonPath);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new GanportError(`cannot build the model in ${modelJsonPath}: ${message.split('\n')[0]}`, 'invalid-model');
  }
}
