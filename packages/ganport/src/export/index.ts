/**
 * The exporter's entry points: a whole training run (generator + discriminator
 * + the tfjs reference copies) or any single tfjs LayersModel file.
 */

import { existsSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { GanportError, META, toLayout } from '@ganport/runtime';
import type * as tf from '@tensorflow/tfjs';
import { isForeignManifest, listingDirectory } from '../formats/manifest.js';
import { exportedModelFacts, modelPaths, moveModelDir } from '../formats/model-dir.js';
import {
  type BestMeasurement,
  type RunConfig,
  readBestMeasurement,
  readRunConfig,
  runPaths,
  verifyRunFiles,
} from '../formats/run-dir.js';
import { isKerasFile, loadKerasModel } from '../keras/load.js';
import { encodeModel } from '../onnx/proto.js';
import { selectReferenceBackend } from '../tfjs/backend.js';
import { loadLayersModel, weightFiles } from '../tfjs/model-io.js';
import { isInside, makeStaging, refuseFile, refuseSpecialFile, writeFileAtomic } from '../util/files.js';
import { acquireLock } from '../util/lock.js';
import { type ConvertOptions, convertLayersModel } from './convert.js';
import { findSubmodel } from './inspect.js';
import { writeTritonModel } from './triton.js';
import { outputRange } from './value-range.js';

export { modelPaths } from '../formats/model-dir.js';
export { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from '../onnx/opsets.js';
export { decodeModel, encodeModel, type ModelProto } from '../onnx/proto.js';
export { BATCH_DIM, type ConvertOptions, convertLayersModel, EXPORT_METADATA } from './convert.js';
export { findSubmodel, formatInspection, inspectModel, type LayerReport, nestedModelPaths } from './inspect.js';
export { tritonConfig, writeTritonModel } from './triton.js';
export { findProblems } from './validate.js';

export interface ExportedFile {
  path: string;
  bytes: number;
}

export function modelToBytes(model: tf.LayersModel, options: ConvertOptions = {}): Uint8Array {
  return encodeModel(convertLayersModel(model, options));
}

/** Options for one model file: the conversion's, and which nested model to export on its own. */
export interface ModelFileExportOptions extends ConvertOptions {
  /** Export only this nested model (a layer name, or `outer/inner`), e.g. the generator of a combined GAN. */
  submodel?: string;
}

/**
 * A model file as a tfjs LayersModel: a tfjs model.json (any name) with its weight files, a
 * tf.keras 2.x `.h5` or a Keras 3 `.keras`, told apart by the file name.
 */
export async function loadModelFile(path: string): Promise<tf.LayersModel> {
  if (extname(path).toLowerCase() === '.onnx')
    throw new GanportError(`${path} is already ONNX; ganport reads tfjs model.json and Keras .h5/.keras files`);
  if (!existsSync(path)) throw new GanportError(`${path} does not exist`, 'not-found');
  if (statSync(path).isDirectory())
    throw new GanportError(`${path} is a directory; name the model.json in it, or a Keras .h5/.keras file`);
  refuseSpecialFile(path, '; name a model file');
  return isKerasFile(path) ? loadKerasModel(path) : loadLayersModel(path);
}

/** Exports a model file (tfjs model.json + weights, Keras .h5 or .keras) to one .onnx file. */
export async function exportModelFile(
  modelFile: string,
  outFile: string,
  { submodel, ...options }: ModelFileExportOptions = {},
): Promise<ExportedFile> {
  const out = resolve(outFile);
  if (out === resolve(modelFile))
    throw new GanportError(`--out ${outFile} is the model file itself; write the .onnx beside it`);
  if (!isKerasFile(modelFile) && (await weightFiles(modelFile)).includes(out))
    throw new GanportError(`--out ${outFile} is a weight file of ${modelFile}; write the .onnx beside it`);
  const owner = await listingDirectory(out);
  if (owner)
    throw new GanportError(
      `--out ${outFile} belongs to the model directory ${owner} (its manifest lists it); export its run again to replace it, or write elsewhere`,
    );
  await selectReferenceBackend('cpu');
  const model = await loadModelFile(modelFile);
  const exported = submodel === undefined ? model : findSubmodel(model, submodel);
  // an image output's layout, recorded: the runtime's guess from the shape cannot tell a [3, 3, 4] apart
  const imageOutput = exported.outputs.length === 1 && exported.outputs[0].shape.length === 4;
  const layout = toLayout(options.layout ?? 'NHWC');
  // and its range, where its activation bounds it: the runtime takes [-1, 1] otherwise (a sigmoid's images came out grey)
  const range = imageOutput ? outputRange(exported) : undefined;
  const metadata = imageOutput
    ? { [META.layout]: layout, ...(range && { [META.valueRange]: JSON.stringify(range) }), ...options.metadata }
    : options.metadata;
  const bytes = modelToBytes(exported, { ...options, metadata });
  model.dispose();
  await writeFileAtomic(outFile, bytes);
  return { path: outFile, bytes: bytes.length };
}

async function readTrainedRun(runDir: string): Promise<RunConfig> {
  const paths = runPaths(runDir);
  if (!existsSync(runDir)) throw new GanportError(`run directory ${runDir} does not exist`, 'not-found');
  if (!existsSync(paths.generatorJson) || !existsSync(paths.discriminatorJson)) {
    throw new GanportError(
      `${runDir} has no trained models (generator/model.json, discriminator/model.json); is it a training run directory?`,
      'not-found',
    );
  }
  return readRunConfig(runDir);
}

/** The conversion options a whole-run export accepts (names and metadata are set per model). */
export type RunExportOptions = Pick<ConvertOptions, 'opset' | 'layout' | 'foldBatchNorm' | 'fp16'> & {
  /** Also write a Triton Inference Server model repository for the generator here. */
  triton?: string;
  /** Export the models of the run's best `--eval-every` measurement (RUN/best/) instead of its last epoch's. */
  best?: boolean;
};

/** What `exportRun` wrote, and with `best`, the measurement whose models those are. */
export interface RunExport {
  files: ExportedFile[];
  best?: BestMeasurement;
}

/** Throws where `dir`, which `flag` names to write into, is the run or inside what it writes. */
function refuseRunOwn(runDir: string, dir: string, flag: string): void {
  const to = resolve(dir);
  if (to === resolve(runDir) || runPaths(runDir).replaceable.some((own) => isInside(resolve(own), to)))
    throw new GanportError(`${flag} ${dir} is the run ${runDir} or what it writes; export to a directory of its own`);
}

/**
 * Exports a run into the model directory `outDir`: generator.onnx (latent → image), discriminator.onnx
 * (image → probability), and tfjs/{generator,discriminator}/ as the reference for parity checks, holding
 * the run's lock (so no training writes it meanwhile). Everything is written beside `outDir` first: a
 * failure leaves an earlier export as it was.
 */
export async function exportRun(runDir: string, outDir: string, options: RunExportOptions = {}): Promise<RunExport> {
  refuseRunOwn(runDir, outDir, '--out');
  if (options.triton) refuseRunOwn(runDir, options.triton, '--triton');
  refuseFile(outDir, '--out');
  if (options.triton) refuseFile(options.triton, '--triton');
  if (await isForeignManifest(outDir))
    throw new GanportError(
      `--out ${outDir} holds a manifest.json that is not ganport's (a web app's?), which an export would replace; choose another --out`,
    );
  const lock = await acquireLock(runPaths(runDir).lock, `the run in ${runDir}`);
  try {
    return await exportLockedRun(runDir, outDir, options);
  } finally {
    await lock.release();
  }
}

async function exportLockedRun(runDir: string, outDir: string, options: RunExportOptions): Promise<RunExport> {
  await verifyRunFiles(runDir);
  const config = await readTrainedRun(runDir);
  const run = runPaths(runDir);
  await selectReferenceBackend('cpu');
  const facts = exportedModelFacts(config, toLayout(options.layout ?? 'NHWC'));
  const source = options.best
    ? { generator: run.bestGenerator, discriminator: run.bestDiscriminator }
    : { generator: run.generator, discriminator: run.discriminator };
  const best = options.best ? await readBestMeasurement(runDir) : undefined;
  if (options.best && !best)
    throw new GanportError(`${runDir} has no best measurement (best/); train it with --eval-every N`, 'not-found');
  const generator = await loadLayersModel(join(source.generator, 'model.json'));
  const discriminator = await loadLayersModel(join(source.discriminator, 'model.json'));
  const generatorBytes = modelToBytes(generator, { ...options, ...facts.generator });
  const discriminatorBytes = modelToBytes(discriminator, { ...options, ...facts.discriminator });
  generator.dispose();
  discriminator.dispose();

  const staging = await makeStaging(outDir, '--out');
  let triton: string | undefined;
  try {
    const out = modelPaths(staging);
    await writeFileAtomic(out.generator, generatorBytes);
    await writeFileAtomic(out.discriminator, discriminatorBytes);
    for (const [from, to] of [
      [source.generator, out.tfjsGenerator],
      [source.discriminator, out.tfjsDiscriminator],
    ]) {
      await writeFileAtomic(join(to, 'weights.bin'), await readFile(join(from, 'weights.bin')));
      await writeFileAtomic(join(to, 'model.json'), await readFile(join(from, 'model.json')));
    }
    await writeFileAtomic(out.trainingConfig, await readFile(run.config));
    // before the model directory moves in: a Triton repository that cannot be written leaves outDir as it was
    if (options.triton) triton = await writeTritonModel(options.triton, `${config.preset}-generator`, generatorBytes);
    await moveModelDir(staging, outDir);
  } finally {
    await rm(staging, { recursive: true, force: true }); // gone already unless something failed
  }
  const files = [
    { path: modelPaths(outDir).generator, bytes: generatorBytes.length },
    { path: modelPaths(outDir).discriminator, bytes: discriminatorBytes.length },
  ];
  if (triton) files.push({ path: triton, bytes: generatorBytes.length });
  return { files, best };
}
