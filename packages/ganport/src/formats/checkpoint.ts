/**
 * Crash-safe checkpoints: generator, discriminator and EMA weights, both Adam
 * states, the data order, the RNG state and the position in the run. Written to
 * checkpoint.tmp/ and swapped into place, so a kill at any moment leaves either
 * the previous checkpoint or the new one, never a mix.
 */
import { existsSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { loadLayersModel, saveLayersModel } from '../tfjs/model-io.js';
import { writeFileAtomic } from '../util/files.js';

export interface RunPosition {
  /** Steps completed. */
  step: number;
  /** The epoch in progress (1-based) and the number of its batches already done. */
  epoch: number;
  batchInEpoch: number;
  rng: number[];
}

export interface TrainingState {
  generator: tf.LayersModel;
  discriminator: tf.LayersModel;
  ema: tf.LayersModel;
  dOptimizer: tf.Optimizer;
  gOptimizer: tf.Optimizer;
  /** The current epoch's permutation of the dataset. */
  order: Uint32Array;
}

const dirs = (runDir: string) => ({
  final: join(runDir, 'checkpoint'),
  tmp: join(runDir, 'checkpoint.tmp'),
  old: join(runDir, 'checkpoint.old'),
});

async function saveOptimizer(optimizer: tf.Optimizer, file: string): Promise<void> {
  const weights = await optimizer.getWeights();
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

async function loadOptimizer(optimizer: tf.Optimizer, file: string): Promise<void> {
  const manifest = JSON.parse(await readFile(`${file}.json`, 'utf8')) as {
    name: string;
    shape: number[];
    dtype: 'float32' | 'int32';
  }[];
  const bytes = await readFile(`${file}.bin`);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  let offset = 0; // in 4-byte elements
  const named = manifest.map(({ name, shape, dtype }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values =
      dtype === 'int32' ? new Int32Array(buffer, offset * 4, size) : new Float32Array(buffer, offset * 4, size);
    offset += size;
    return { name, tensor: tf.tensor(values, shape, dtype) };
  });
  await optimizer.setWeights(named);
}

export async function saveCheckpoint(runDir: string, state: TrainingState, position: RunPosition): Promise<void> {
  const { final, tmp, old } = dirs(runDir);
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
  await rm(old, { recursive: true, force: true });
  if (existsSync(final)) await rename(final, old);
  await rename(tmp, final);
  await rm(old, { recursive: true, force: true });
}

/** Loads the last checkpoint into freshly built models and optimizers; returns where the run stopped. */
export async function loadCheckpoint(runDir: string, state: TrainingState): Promise<RunPosition> {
  let { final } = dirs(runDir);
  // A kill between the two renames leaves only checkpoint.old, which is complete.
  if (!existsSync(join(final, 'position.json')) && existsSync(join(dirs(runDir).old, 'position.json')))
    final = dirs(runDir).old;
  if (!existsSync(join(final, 'position.json')))
    throw new GanportError(`${runDir} has no checkpoint to resume from`, 'not-found');
  for (const [name, model] of [
    ['generator', state.generator],
    ['discriminator', state.discriminator],
    ['ema', state.ema],
  ] as const) {
    const saved = await loadLayersModel(join(final, name, 'model.json'));
    model.setWeights(saved.getWeights());
    saved.dispose();
  }
  await loadOptimizer(state.dOptimizer, join(final, 'd-optimizer'));
  await loadOptimizer(state.gOptimizer, join(final, 'g-optimizer'));
  const order = await readFile(join(final, 'order.bin'));
  state.order.set(new Uint32Array(order.buffer.slice(order.byteOffset, order.byteOffset + order.byteLength)));
  return JSON.parse(await readFile(join(final, 'position.json'), 'utf8')) as RunPosition;
}
