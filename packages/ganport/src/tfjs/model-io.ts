/**
 * Saving and loading tfjs LayersModels as model.json + weight shards on disk,
 * the standard format `tf.io` writes, without needing tfjs-node's file:// handler.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/files.js';

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

/** The bytes a weight spec occupies: float32/int32 are 4 bytes, bool 1; quantized weights use their own dtype. */
function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const q = spec.quantization;
  if (q) return count * (q.dtype === 'uint8' ? 1 : 2);
  return count * (spec.dtype === 'bool' ? 1 : 4);
}

/** Reads a model.json and its weight shards, checking every size before tfjs sees them. */
export async function readModelArtifacts(modelJsonPath: string): Promise<tf.io.ModelArtifacts> {
  let text: string;
  try {
    text = await readFile(modelJsonPath, 'utf8');
  } catch (err) {
    throw new GanportError(
      `cannot read ${modelJsonPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'not-found',
    );
  }
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (err) {
    throw new GanportError(`${modelJsonPath} is not valid JSON (${(err as Error).message})`, 'invalid-model');
  }
  if (!json || typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest)) {
    throw new GanportError(
      `${modelJsonPath} is not a tfjs LayersModel (no modelTopology or weightsManifest)`,
      'invalid-model',
    );
  }
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    const shards: Uint8Array[] = [];
    for (const path of group.paths) {
      const file = join(dirname(modelJsonPath), path);
      try {
        shards.push(await readFile(file));
      } catch (err) {
        throw new GanportError(
          `cannot read weight file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          'not-found',
        );
      }
    }
    const groupBytes = shards.reduce((n, s) => n + s.length, 0);
    const expected = group.weights.reduce((n, spec) => n + specBytes(spec), 0);
    if (groupBytes !== expected) {
      throw new GanportError(
        `weights of ${modelJsonPath} do not match its topology: ${group.paths.join(', ')} hold ${groupBytes} bytes, the manifest needs ${expected}`,
        'invalid-model',
      );
    }
    weightSpecs.push(...group.weights);
    buffers.push(...shards);
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
    format: json.format,
    generatedBy: json.generatedBy,
    userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
  };
}

export async function loadLayersModel(modelJsonPath: string): Promise<tf.LayersModel> {
  const artifacts = await readModelArtifacts(modelJsonPath);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new GanportError(
      `cannot build the model in ${modelJsonPath}: ${(err as Error).message.split('\n')[0]}`,
      'invalid-model',
    );
  }
}
