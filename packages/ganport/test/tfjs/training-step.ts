/** One seeded training step of a preset on the active tfjs backend, for comparing backends kernel for kernel. */
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import type { Preset } from '../../src/presets/index.js';
import { ganLoss } from '../../src/train/losses.js';
import { buildTrainingState, disposeTrainingState } from '../../src/train/run-setup.js';
import { GanStep, type StepConfig } from '../../src/train/step.js';

export interface StepResult {
  /** D loss, G loss, mean D(x), mean D(G(z)). */
  losses: number[];
  /** Every generator and discriminator weight after the step. */
  weights: Float32Array[];
}

/** The real batch oneTrainingStep trains on: N(0, 1) values from a fixed seed. */
export function realBatch(shape: number[]): tf.Tensor {
  return tf.tensor(random(shape, new Rng(4)), shape);
}

function random(shape: number[], rng: Rng): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.nextNormal());
}

/**
 * Fresh models (seed 1), one step on `realBatch` of `batch` (with `options` such as r1Gamma);
 * everything it made is disposed.
 */
export async function oneTrainingStep(
  preset: Preset,
  batch: number,
  options: Partial<StepConfig> = {},
): Promise<StepResult> {
  const config = {
    seed: 1,
    emaDecay: 0,
    pack: options.pack ?? 1,
    spectralNorm: false,
    learningRate: 2e-4,
    discriminatorLearningRate: 2e-4,
    beta1: 0.5,
    images: 0,
    latentSize: preset.latentSize,
    batchSize: batch,
    numClasses: preset.numClasses,
    ...options,
  };
  const state = buildTrainingState(preset, config);
  const { generator, discriminator } = state;
  const stepper = new GanStep(state, ganLoss('bce'), config, new Rng(3));
  const shape = [batch, ...preset.sampleShape];
  const real = realBatch(shape);
  const classes = preset.numClasses;
  const labels = classes
    ? tf.tensor2d(
        Int32Array.from({ length: batch }, (_, i) => (3 * i + 1) % classes),
        [batch, 1],
        'int32',
      )
    : undefined;
  const values = (await stepper.run(1, real, labels, true))!;
  const weights = await Promise.all(
    [...generator.weights, ...discriminator.weights].map(async (w) => (await w.read().data()) as Float32Array),
  );
  tf.dispose([real, ...(labels ? [labels] : [])]);
  stepper.dispose();
  disposeTrainingState(state);
  return { losses: [values.dLoss, values.gLoss, values.dReal, values.dFake], weights };
}
