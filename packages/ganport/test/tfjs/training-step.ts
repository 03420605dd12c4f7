/** One seeded training step of a preset on the active tfjs backend, for comparing backends kernel for kernel. */
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import type { Preset } from '../../src/presets/index.js';
import { ganLoss } from '../../src/train/losses.js';
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
  const generator = preset.buildGenerator(1);
  const discriminator = preset.buildDiscriminator(1);
  const state = {
    generator,
    discriminator,
    ema: generator,
    dOptimizer: tf.train.adam(2e-4, 0.5),
    gOptimizer: tf.train.adam(2e-4, 0.5),
    order: new Uint32Array(0),
  };
  const config = {
    latentSize: preset.latentSize,
    batchSize: batch,
    numClasses: preset.numClasses,
    emaDecay: 0,
    ...options,
  };
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
  const values = (await stepper.runAsync(1, real, labels, true))!;
  const weights = await Promise.all(
    [...generator.weights, ...discriminator.weights].map(async (w) => (await w.read().data()) as Float32Array),
  );
  tf.dispose([real, ...(labels ? [labels] : [])]);
  generator.dispose();
  discriminator.dispose();
  state.dOptimizer.dispose();
  state.gOptimizer.dispose();
  return { losses: [values.dLoss, values.gLoss, values.dReal, values.dFake], weights };
}
