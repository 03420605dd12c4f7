/** What the checkpoint tests save and load: a seed-mlp training state and positions. */

import type { RunConfig } from '../../src/formats/run-dir.js';
import { getPreset } from '../../src/presets/index.js';
import { buildTrainingState } from '../../src/train/run-setup.js';
import type { RunPosition, TrainingState } from '../../src/train/state.js';

/** The config fields buildTrainingState reads. */
const config = {
  seed: 1,
  emaDecay: 0.9,
  pack: 1,
  learningRate: 1e-3,
  discriminatorLearningRate: 1e-3,
  beta1: 0.5,
  images: 64,
} as RunConfig;

export const freshState = (seed = 1, preset = 'seed-mlp', spectralNorm = false): TrainingState =>
  buildTrainingState(getPreset(preset), { ...config, seed, spectralNorm });

export const positionAt = (step: number): RunPosition => ({ step, epoch: 1, batchInEpoch: step, rng: [step, 0, 0, 0] });
