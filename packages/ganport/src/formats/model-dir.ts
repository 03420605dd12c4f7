/**
 * The exported model directory (`ganport export RUN_DIR --out MODEL_DIR`): generator.onnx,
 * discriminator.onnx, the tfjs reference copies under tfjs/, training-config.json, and
 * manifest.json over them all (written last; checked whenever ganport loads the directory).
 * The metadata it writes into each ONNX file sits here, beside the paths; the runtime's
 * `generatorInfo` (packages/runtime/src/metadata.ts) is its reader.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { GanportError, type Layout, META } from '@ganport/runtime';
import { resolveShippedModel } from '../assets.js';
import { packedShape } from '../presets/preset.js';
import { refuseSpecialFile } from '../util/files.js';
import { classifierPaths } from './classifier-dir.js';
import { hasManifest, isForeignManifest, moveInWithManifest, verifyManifest } from './manifest.js';
import type { RunConfig } from './run-dir.js';

export const modelPaths = (dir: string) => ({
  generator: join(dir, 'generator.onnx'),
  discriminator: join(dir, 'discriminator.onnx'),
  tfjsGenerator: join(dir, 'tfjs', 'generator'),
  tfjsDiscriminator: join(dir, 'tfjs', 'discriminator'),
  tfjsGeneratorJson: join(dir, 'tfjs', 'generator', 'model.json'),
  tfjsDiscriminatorJson: join(dir, 'tfjs', 'discriminator', 'model.json'),
  trainingConfig: join(dir, 'training-config.json'),
});

/** What `exportRun` writes into MODEL_DIR besides the manifest, relative to it. */
const EXPORTED_ENTRIES = (() => {
  const paths = modelPaths('.');
  return [paths.generator, paths.discriminator, paths.tfjsGenerator, paths.tfjsDiscriminator, paths.trainingConfig];
})();

/** Puts an export written into `staging` in place as `dir` (moveInWithManifest); any other files in `dir` stay. */
export const moveModelDir = (staging: string, dir: string): Promise<void> =>
  moveInWithManifest(staging, dir, EXPORTED_ENTRIES);

/**
 * Checks a model directory against its manifest.json (only the files of `only`, where given);
 * directories without one of ganport's (older exports, hand-made, a web app's folder) pass unverified.
 */
export async function verifyModelDir(dir: string, only?: readonly string[]): Promise<void> {
  // what ganport exported and the reader reads must be listed (a manifest emptied by hand is not a pass)
  const listed = only === undefined ? EXPORTED_ENTRIES : only.filter((path) => EXPORTED_ENTRIES.includes(path));
  if (hasManifest(dir) && !(await isForeignManifest(dir))) await verifyManifest(dir, { only, listed });
}

/**
 * The generator file MODEL names: a .onnx file, a model directory holding generator.onnx, or the
 * name of a shipped model (`dcgan`, `seed-mlp`, …) when no such path exists. It is verified against
 * its directory's manifest first (where that lists it).
 */
export async function resolveGeneratorFile(model: string): Promise<string> {
  const file = generatorFile(model);
  await verifyModelDir(dirname(file), [basename(file)]);
  return file;
}

function generatorFile(model: string): string {
  const path = resolveShippedModel(model);
  refuseSpecialFile(path, '; name a model file');
  if (!statSync(path).isDirectory()) return path;
  const file = modelPaths(path).generator;
  if (!existsSync(file))
    throw new GanportError(`${path} is a directory without generator.onnx${classifierNote(path)}`, 'not-found');
  refuseSpecialFile(file);
  return file;
}

/** Where `dir` holds a classifier (the shipped one, or one train-classifier wrote), a note saying so. */
export const classifierNote = (dir: string): string =>
  existsSync(classifierPaths(dir).onnx)
    ? ': it holds a classifier (classifier.onnx), which eval measures with, not a generator'
    : '';

/** Graph names, doc string and metadata of one exported model. */
export interface ModelFacts {
  inputNames: string[];
  outputNames: string[];
  docString: string;
  metadata: Record<string, string>;
}

/** What the generator and discriminator of a run are described with when exported in `layout`. */
export function exportedModelFacts(
  config: RunConfig,
  layout: Layout,
): { generator: ModelFacts; discriminator: ModelFacts } {
  const images = config.sampleShape.length === 3;
  const [h, w, c] = config.sampleShape;
  const nchw = images && layout === 'NCHW';
  const sampleShape = nchw ? [c, h, w] : config.sampleShape;
  const packedInput = nchw ? [c * config.pack, h, w] : packedShape(config.sampleShape, config.pack);
  const layoutName = images ? layout : 'flat';
  const sample = images ? 'image' : 'point';
  const range = `[${config.valueRange.join(', ')}]`;
  const labels = config.numClasses ? ['label'] : [];
  const common: Record<string, string> = {
    [META.preset]: config.preset,
    [META.valueRange]: JSON.stringify(config.valueRange),
    [META.data]: basename(config.data),
  };
  if (config.numClasses) common[META.numClasses] = String(config.numClasses);
  if (config.clusters) common[META.labelKind] = 'cluster';
  const packing = config.pack > 1 ? `; each input joins ${config.pack} samples along the last axis (PacGAN)` : '';
  return {
    generator: {
      inputNames: ['latent', ...labels],
      outputNames: [sample],
      docString:
        `ganport ${config.preset} generator: latent [batch, ${config.latentSize}] ~ N(0, 1) → ` +
        `${sample} [batch, ${sampleShape.join(', ')}] (${layoutName}) in ${range}`,
      metadata: {
        ...common,
        [META.role]: 'generator',
        [META.latentSize]: String(config.latentSize),
        [META.outputShape]: JSON.stringify(sampleShape),
        [META.layout]: layoutName,
      },
    },
    discriminator: {
      inputNames: [sample, ...labels],
      outputNames: ['probability'],
      docString:
        `ganport ${config.preset} discriminator: ${sample} [batch, ${packedInput.join(', ')}] (${layoutName}) in ${range}` +
        ` → probability that it is real${packing}`,
      metadata: {
        ...common,
        [META.role]: 'discriminator',
        [META.outputShape]: '[1]',
        [META.layout]: 'flat',
        [META.pack]: String(config.pack),
      },
    },
  };
}
