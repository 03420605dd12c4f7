/**
 * No training step leaks tensors, on any engine (as tfjs-examples' gan_test.js checks): after the
 * first step has made whatever a step keeps, tf.memory().numTensors stays where it is.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { getPreset } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { ganLoss } from '../../src/train/losses.js';
import { OnnxStep } from '../../src/train/onnx-step.js';
import { buildTrainingState, disposeTrainingState } from '../../src/train/run-setup.js';
import { GanStep, type StepEngine } from '../../src/train/step.js';
import { realBatch } from '../tfjs/training-step.js';

// seed-mlp: dense layers; mlp-2d: batch norm; cdcgan: convolutions, batch norm, dropout, the label embedding
const EVERY_KIND = ['seed-mlp', 'mlp-2d', 'cdcgan'];

/** Makes an engine's steps from the tfjs engine's (GanStep) and a real batch, as train does. */
type MakeEngine = (stepper: GanStep, real: tf.Tensor, labels: tf.Tensor | undefined) => Promise<StepEngine>;

/** The tfjs engine: GanStep on the active backend. */
const tfjsEngine: MakeEngine = async (stepper) => stepper;

/** The onnx engine: one step captured from a GanStep drawing from an RNG of its own, as train does. */
const onnxEngine: MakeEngine = async (stepper, real, labels) => {
  const capturing = new GanStep(stepper.state, ganLoss('bce'), stepper.config, new Rng(9));
  try {
    return await OnnxStep.create(capturing, stepper, real, labels);
  } finally {
    capturing.dispose();
  }
};

/** Every engine training runs on: the backend it selects, how its steps are made, the presets it steps. One entry each. */
const ENGINES: { backend: string; engine: MakeEngine; presets: string[] }[] = [
  { backend: 'cpu', engine: tfjsEngine, presets: ['seed-mlp', 'mlp-2d'] }, // pure-JS convolutions: seconds a step
  { backend: 'wasm', engine: tfjsEngine, presets: EVERY_KIND },
  { backend: 'ort', engine: tfjsEngine, presets: EVERY_KIND },
  { backend: 'onnx', engine: onnxEngine, presets: EVERY_KIND },
];

for (const { backend, engine, presets } of ENGINES) {
  for (const name of presets) {
    test(`training steps of ${name} on ${backend} leave tf.memory().numTensors unchanged`, async () => {
      await selectBackend(backend);
      const preset = getPreset(name);
      const batch = 8; // enough for the ort backend to send cdcgan's convolutions to ORT
      const config = {
        seed: 1,
        emaDecay: 0.9,
        pack: 1,
        spectralNorm: false,
        learningRate: 2e-4,
        discriminatorLearningRate: 2e-4,
        beta1: 0.5,
        images: batch,
        latentSize: preset.latentSize,
        batchSize: batch,
        numClasses: preset.numClasses,
      };
      const state = buildTrainingState(preset, config);
      const stepper = new GanStep(state, ganLoss('bce'), config, new Rng(2));
      const real = realBatch([batch, ...preset.sampleShape]);
      const classes = Int32Array.from({ length: batch }, (_, i) => i % (preset.numClasses ?? 1));
      const labels = preset.numClasses ? tf.tensor2d(classes, [batch, 1], 'int32') : undefined;
      const steps = await engine(stepper, real, labels);
      await steps.run(1, real, labels, true);
      const tensors = tf.memory().numTensors;
      await steps.run(2, real, labels, true); // measured and unmeasured steps
      await steps.run(3, real, labels, false);
      assert.equal(tf.memory().numTensors, tensors, `${name} on ${backend}`);
      tf.dispose([real, ...(labels ? [labels] : [])]);
      if (steps !== stepper) await steps.dispose();
      stepper.dispose();
      disposeTrainingState(state);
    });
  }
}
