/** Which engine runs a run's steps: the onnx engine on the `onnx` backend, tfjs's eager kernels on the others. */
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { ONNX_BACKEND } from '../tfjs/backend-names.js';
import { prepareVulkan } from '../tfjs/webgpu.js';
import { ganLoss } from './losses.js';
import { OnnxStep } from './onnx-step.js';
import type { OpenedRun } from './run-setup.js';
import type { TrainingState } from './state.js';
import { GanStep, type StepEngine } from './step.js';

export async function createStepEngine(
  opened: OpenedRun,
  state: TrainingState,
  rng: Rng,
  log: (line: string) => void = () => {},
): Promise<StepEngine> {
  const { config, data, backend } = opened;
  const loss = ganLoss(config.loss, config.labelSmoothing);
  const stepper = new GanStep(state, loss, config, rng);
  if (backend.name !== ONNX_BACKEND) return stepper;
  // capturing runs one step on a real batch, drawing from an RNG of its own: the run's stays untouched
  const capturing = new GanStep(state, loss, config, new Rng(config.seed));
  // onnxruntime's WebGPU provider carries its own Dawn, which needs a Vulkan loader and driver on Linux
  if (backend.providers?.includes('webgpu')) prepareVulkan();
  const batch = data.batch(state.order, 0, config.batchSize, config.numClasses !== undefined);
  try {
    const t0 = performance.now();
    const engine = await OnnxStep.create(capturing, stepper, batch.x, batch.labels, {
      providers: backend.providers,
      log,
    });
    const ms = Math.round(performance.now() - t0);
    const threads = engine.trialStepsLeft
      ? `${engine.threading} over at least the first ${engine.trialStepsLeft} steps`
      : `on ${engine.threading}`;
    log(
      `onnx engine: one step's ${engine.kernels} tfjs kernel calls captured as one graph (${ms} ms), onnxruntime ${threads}`,
    );
    return engine;
  } finally {
    tf.dispose([batch.x, ...(batch.labels ? [batch.labels] : [])]);
    capturing.dispose();
  }
}
