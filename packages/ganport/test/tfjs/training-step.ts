/** Seeded training steps of a preset on the active tfjs backend or the onnx engine, for comparing them kernel for kernel. */

import assert from 'node:assert/strict';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import type { Preset } from '../../src/presets/index.js';
import { ganLoss, type LossName } from '../../src/train/losses.js';
import { OnnxStep } from '../../src/train/onnx-step.js';
import { buildTrainingState, disposeTrainingState } from '../../src/train/run-setup.js';
import { GanStep, type StepConfig, type StepEngine } from '../../src/train/step.js';

export interface StepResult {
  /** D loss, G loss, mean D(x), mean D(G(z)) of the last step. */
  losses: number[];
  /** The same for every step. */
  curve: number[][];
  /** Every generator, discriminator and (with EMA on) EMA generator weight after the last step. */
  weights: Float32Array[];
}

/** The real batch oneTrainingStep trains on: N(0, 1) values from a fixed seed. */
export function realBatch(shape: number[]): tf.Tensor {
  return tf.tensor(random(shape, new Rng(4)), shape);
}

function random(shape: number[], rng: Rng): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.nextNormal());
}

export interface TrainingStepOptions extends Partial<StepConfig> {
  loss?: LossName;
  labelSmoothing?: number;
  spectralNorm?: boolean;
  learningRate?: number;
  discriminatorLearningRate?: number;
  /** Steps to run (default 1); with `lrDecay`, both rates fall linearly to 0 over them, as `--lr-decay` does. */
  steps?: number;
  lrDecay?: boolean;
  /** The tfjs engine (GanStep on the active backend, the default) or the onnx engine (captured on it). */
  engine?: 'tfjs' | 'onnx';
  /** The onnx engine's onnxruntime threads (default: its choice) and execution providers (default: the CPU). */
  threads?: number;
  providers?: string[];
}

/**
 * Fresh models (seed 1), `steps` steps (default 1) on `realBatch` of `batch` (with `options` such as
 * r1Gamma); every G, D and EMA weight after the last step, and each step's losses. Everything it made
 * is disposed.
 */
export async function oneTrainingStep(
  preset: Preset,
  batch: number,
  {
    engine = 'tfjs',
    steps = 1,
    lrDecay = false,
    loss = 'bce',
    labelSmoothing = 0,
    threads,
    providers,
    ...options
  }: TrainingStepOptions = {},
): Promise<StepResult> {
  const config = {
    seed: 1,
    emaDecay: 0,
    pack: 1,
    spectralNorm: false,
    learningRate: 2e-4,
    discriminatorLearningRate: options.learningRate ?? 2e-4,
    beta1: 0.5,
    images: 0,
    latentSize: preset.latentSize,
    batchSize: batch,
    numClasses: preset.numClasses,
    ...options,
  };
  const state = buildTrainingState(preset, config);
  const { generator, discriminator, ema } = state;
  const gan = ganLoss(loss, labelSmoothing);
  const stepper = new GanStep(state, gan, config, new Rng(3));
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
  const runner: StepEngine =
    engine === 'onnx'
      ? await OnnxStep.create(new GanStep(state, gan, config, new Rng(11)), stepper, real, labels, {
          threads,
          providers,
        })
      : stepper;
  const curve: number[][] = [];
  for (let step = 1; step <= steps; step++) {
    if (lrDecay) {
      const factor = 1 - (step - 1) / steps;
      state.dOptimizer.rate = config.discriminatorLearningRate * factor;
      state.gOptimizer.rate = config.learningRate * factor;
    }
    const values = (await runner.run(step, real, labels, true))!;
    curve.push([values.dLoss, values.gLoss, values.dReal, values.dFake]);
  }
  await runner.sync();
  const models = ema === generator ? [generator, discriminator] : [generator, discriminator, ema];
  const weights = await Promise.all(
    models.flatMap((m) => m.weights).map(async (w) => (await w.read().data()) as Float32Array),
  );
  tf.dispose([real, ...(labels ? [labels] : [])]);
  if (runner !== stepper) await runner.dispose();
  stepper.dispose();
  disposeTrainingState(state);
  return { losses: curve[steps - 1], curve, weights };
}

/** Each step's losses within `lossTolerance` (relative to max(1, |loss|)) and every weight within `weightTolerance`. */
export function assertSameSteps(
  actual: StepResult,
  expected: StepResult,
  what: string,
  { lossTolerance = 1e-4, weightTolerance = 1e-5 } = {},
): void {
  for (const [s, losses] of actual.curve.entries()) {
    for (const [i, l] of losses.entries()) {
      const e = expected.curve[s][i];
      assert.ok(
        Math.abs(l - e) <= lossTolerance * Math.max(1, Math.abs(e)),
        `${what} step ${s + 1} loss ${i}: ${l} vs ${e}`,
      );
    }
  }
  assert.equal(actual.weights.length, expected.weights.length);
  actual.weights.forEach((w, i) => {
    let worst = 0;
    for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j] - expected.weights[i][j]));
    assert.ok(worst <= weightTolerance, `${what}: weight ${i} differs by ${worst}`);
  });
}
