/** The trainer's state: what a step updates and a checkpoint keeps, and where in the run it is. */
import type * as tf from '@tensorflow/tfjs';
import type { CheckpointState } from '../formats/checkpoint.js';
import type { Adam } from './adam.js';

export interface TrainingState extends CheckpointState {
  generator: tf.LayersModel;
  discriminator: tf.LayersModel;
  /** The generator's moving average (the generator itself when EMA is off). */
  ema: tf.LayersModel;
  dOptimizer: Adam;
  gOptimizer: Adam;
  /** The current epoch's permutation of the dataset. */
  order: Uint32Array;
}

export interface RunPosition {
  /** Steps completed. */
  step: number;
  /** The epoch in progress (1-based) and the number of its batches already done. */
  epoch: number;
  batchInEpoch: number;
  /** The run's RNG state after the last completed step. */
  rng: number[];
  /** Seconds spent training up to here, over every process of the run (older checkpoints lack it). */
  elapsedSeconds?: number;
  /** config.json's fields that fix what the run learns, as the run has them (older checkpoints lack them). */
  trainedWith?: Record<string, unknown>;
}
