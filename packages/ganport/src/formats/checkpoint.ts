/**
 * Crash-safe checkpoints you can trust: generator, discriminator and EMA weights, both Adam
 * states, the data order, the RNG state and the position in the run, with a manifest (size and
 * SHA-256 of each file) written last. A new generation is written to checkpoint.tmp/ and swapped
 * into place, the one it replaces kept as checkpoint.previous/, so a kill at any moment leaves a
 * complete generation, and a newest one that fails verification can fall back to the one before.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { maxoutRelayouts, type Relayout } from '../tfjs/maxout.js';
import { loadLayersModel, saveLayersModel } from '../tfjs/model-io.js';
import { renameDurably, writeFileAtomic } from '../util/files.js';
import { hasManifest, verifyManifest, writeManifest } from './manifest.js';

/** What a checkpoint holds besides the run's position: the models, the optimizers and the data order. */
export interface CheckpointState {
  generator: tf.LayersModel;
  discriminator: tf.LayersModel;
  ema: tf.LayersModel;
  dOptimizer: tf.Optimizer;
  gOptimizer: tf.Optimizer;
  order: Uint32Array;
}

export const checkpointDirs = (runDir: string) => ({
  newest: join(runDir, 'checkpoint'),
  previous: join(runDir, 'checkpoint.previous'),
  tmp: join(runDir, 'checkpoint.tmp'),
});

/** Optimizer state beyond what tfjs's getWeights holds (ganport's Adam: βᵗ), saved after it. */
interface ExtraState {
  extraWeights(): NamedTensor[];
  setExtraWeights(weights: NamedTensor[]): void;
}

type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

const extraState = (optimizer: tf.Optimizer): ExtraState | undefined =>
  'extraWeights' in optimizer ? (optimizer as unknown as ExtraState) : undefined;

async function saveOptimizer(optimizer: tf.Optimizer, file: string): Promise<void> {
  const weights = [...(await optimizer.getWeights()), ...(extraState(optimizer)?.extraWeights() ?? [])];
  // Adam's first entry, the iteration count, is int32; the moments are float32.
  const manifest = weights.map((w) => ({ name: w.name, shape: w.tensor.shape, dtype: w.tensor.dtype }));
  const data = await Promise.all(weights.map((w) => w.tensor.data() as Promise<Float32Array | Int32Array>));
  const bytes = new Uint8Array(data.reduce((n, d) => n + d.byteLength, 0));
  let offset = 0;
  for (const d of data) {
    bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), offset);
    offset += d.byteLength;
  }
  await writeFileAtomic(`${file}.bin`, bytes);
  await writeFileAtomic(`${file}.json`, JSON.stringify(manifest));
}

/**
 * Restores an optimizer from what getWeights saved: the iteration count, then one first moment per
 * variable, then one second moment each (Adam's layout, tfjs's and ours), each regrouped by
 * `relayouts[i]` where variable i's layer changed layout; then its extra state where it has some and
 * the file holds it (a checkpoint from before has none: setWeights alone restores it as before).
 */
async function loadOptimizer(
  optimizer: tf.Optimizer,
  file: string,
  relayouts: (Relayout | undefined)[],
): Promise<void> {
  const manifest = JSON.parse(await readFile(`${file}.json`, 'utf8')) as {
    name: string;
    shape: number[];
    dtype: 'float32' | 'int32';
  }[];
  const bytes = await readFile(`${file}.bin`);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  let offset = 0; // in 4-byte elements
  const named = manifest.map(({ name, shape, dtype }, i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values =
      dtype === 'int32' ? new Int32Array(buffer, offset * 4, size) : new Float32Array(buffer, offset * 4, size);
    offset += size;
    const tensor = tf.tensor(values, shape, dtype);
    const isMoment = i > 0 && i <= 2 * relayouts.length;
    const regroup = isMoment ? relayouts[(i - 1) % relayouts.length] : undefined;
    if (!regroup) return { name, tensor };
    const regrouped = regroup(tensor);
    tensor.dispose();
    return { name, tensor: regrouped };
  });
  const extra = extraState(optimizer);
  const extraNames = new Set(extra?.extraWeights().map((w) => w.name));
  await optimizer.setWeights(named.filter((w) => !extraNames.has(w.name)));
  extra?.setExtraWeights(named.filter((w) => extraNames.has(w.name)));
  tf.dispose(named.map((w) => w.tensor)); // both Adams copy what they are given
}

/** The end of a save: checkpoint.tmp/, complete, becomes checkpoint/, which becomes checkpoint.previous/. */
async function swapIn({ newest, previous, tmp }: ReturnType<typeof checkpointDirs>): Promise<void> {
  await rm(previous, { recursive: true, force: true });
  if (existsSync(newest)) await renameDurably(newest, previous);
  await renameDurably(tmp, newest);
}

export async function saveCheckpoint(runDir: string, state: CheckpointState, position: object): Promise<void> {
  const dirs = checkpointDirs(runDir);
  const { tmp } = dirs;
  // a save killed after its manifest left the newest generation in checkpoint.tmp/ (generations()): its
  // swap is finished before anything is removed, unless it fails verification
  if (hasManifest(tmp) && (await verifies(tmp))) await swapIn(dirs);
  await rm(tmp, { recursive: true, force: true });
  await saveLayersModel(state.generator, join(tmp, 'generator'));
  await saveLayersModel(state.discriminator, join(tmp, 'discriminator'));
  await saveLayersModel(state.ema, join(tmp, 'ema'));
  await saveOptimizer(state.dOptimizer, join(tmp, 'd-optimizer'));
  await saveOptimizer(state.gOptimizer, join(tmp, 'g-optimizer'));
  await writeFileAtomic(
    join(tmp, 'order.bin'),
    new Uint8Array(state.order.buffer, state.order.byteOffset, state.order.byteLength),
  );
  await writeFileAtomic(join(tmp, 'position.json'), JSON.stringify(position));
  await writeManifest(tmp);
  await swapIn(dirs);
}

/** A generation against its manifest, which must list every file in it: a generation holds nothing else. */
const verifyGeneration = (dir: string) => verifyManifest(dir, { listed: [''] });

async function verifies(dir: string): Promise<boolean> {
  try {
    await verifyGeneration(dir);
    return true;
  } catch (err) {
    if (err instanceof GanportError) return false;
    throw err;
  }
}

export interface LoadCheckpointOptions<Position> {
  /** Refuse to fall back to the previous generation when the newest fails verification. */
  strict?: boolean;
  /** Where the one line about a fallback goes. */
  log?: (line: string) => void;
  /** Sees the verified generation's position before its weights are read, and may refuse it by throwing. */
  check?: (position: Position) => void;
}

/**
 * The generations on disk, newest first. checkpoint.tmp/ counts once its manifest is written (a save
 * killed during its swap, swapIn), and is then the newest: a save removes it before writing it again.
 */
function generations(runDir: string): string[] {
  const { newest, previous, tmp } = checkpointDirs(runDir);
  return [hasManifest(tmp) ? tmp : undefined, newest, previous].filter(
    (dir): dir is string => dir !== undefined && existsSync(dir),
  );
}

/**
 * Loads the newest checkpoint that passes verification into freshly built models and optimizers
 * and returns where the run stopped; falls back to the previous generation (one line to `log`)
 * unless `strict`.
 */
/** Restores `state` from the newest verified generation; returns the position it was saved at (position.json). */
export async function loadCheckpoint<Position>(
  runDir: string,
  state: CheckpointState,
  options: LoadCheckpointOptions<Position> = {},
): Promise<Position> {
  const candidates = generations(runDir);
  if (candidates.length === 0) throw new GanportError(`${runDir} has no checkpoint to resume from`, 'not-found');
  // only ganport 0.1 wrote checkpoints without a manifest: beside any generation with one, one without lost its own
  return loadFirstVerified(candidates, state, options, candidates.some(hasManifest));
}

async function loadFirstVerified<Position>(
  [dir, fallback, ...older]: string[],
  state: CheckpointState,
  options: LoadCheckpointOptions<Position>,
  manifests: boolean,
): Promise<Position> {
  const { strict = false, log = () => {} } = options;
  if (!manifests) {
    const why = `${dir} has no manifest (written before ganport 0.2)`;
    if (strict) throw new GanportError(`${why}; --strict refuses to resume it unverified`);
    log(`${why}; resuming it unverified`);
    try {
      return await readGeneration(dir, state, options.check);
    } catch (err) {
      // unverified, its files may be damaged in any way: a parse failure is the input's, in one line
      if (err instanceof GanportError) throw err;
      throw new GanportError(`${dir} cannot be read: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  try {
    if (!hasManifest(dir)) throw new GanportError(`${dir} has lost its manifest (another checkpoint has one)`);
    await verifyGeneration(dir);
  } catch (err) {
    if (!(err instanceof GanportError)) throw err;
    if (fallback === undefined)
      throw new GanportError(`${err.message}; there is no earlier checkpoint to fall back to`);
    if (strict) throw new GanportError(`${err.message}; --strict refuses to fall back to ${basename(fallback)}/`);
    log(`${err.message}; falling back to ${basename(fallback)}/`);
    return loadFirstVerified<Position>([fallback, ...older], state, options, manifests);
  }
  return readGeneration(dir, state, options.check);
}

async function readGeneration<Position>(
  dir: string,
  state: CheckpointState,
  check?: (position: Position) => void,
): Promise<Position> {
  const position = JSON.parse(await readFile(join(dir, 'position.json'), 'utf8')) as Position;
  check?.(position);
  const relayouts = new Map<tf.LayerVariable, Relayout>();
  for (const [name, model] of [
    ['generator', state.generator],
    ['discriminator', state.discriminator],
    ['ema', state.ema],
  ] as const) {
    const saved = await loadLayersModel(join(dir, name, 'model.json'));
    try {
      model.setWeights(saved.getWeights());
    } catch (err) {
      saved.dispose();
      // e.g. a projection discriminator saved before --spectral-norm normalized its class embedding
      throw new GanportError(
        `${join(dir, name)} holds other weights than the ${name} this ganport builds for the run ` +
          `(${(err as Error).message.split('\n')[0].replace(/\. Provided weights:.*$/, '')}); it was saved by a ganport whose ${name} differed: start a new run with --out`,
      );
    }
    for (const [variable, regroup] of maxoutRelayouts(saved, model)) {
      const values = regroup(variable.read());
      variable.write(values);
      values.dispose();
      relayouts.set(variable, regroup);
    }
    saved.dispose();
  }
  /** Per trainable weight (the optimizer's order), how to regroup its moments; none where the layout holds. */
  const momentRelayouts = (model: tf.LayersModel) => model.trainableWeights.map((w) => relayouts.get(w));
  await loadOptimizer(state.dOptimizer, join(dir, 'd-optimizer'), momentRelayouts(state.discriminator));
  await loadOptimizer(state.gOptimizer, join(dir, 'g-optimizer'), momentRelayouts(state.generator));
  const order = await readFile(join(dir, 'order.bin'));
  state.order.set(new Uint32Array(order.buffer.slice(order.byteOffset, order.byteOffset + order.byteLength)));
  return position;
}
