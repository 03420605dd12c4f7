/**
 * The onnx engine on onnxruntime's WebGPU execution provider: the same step as on its CPU provider.
 * Here WebGPU runs on SwiftShader (Vulkan on the CPU; .ci/run points VK_ICD_FILENAMES at it): a check
 * of correctness, not of speed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { getPreset } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { prepareVulkan, SWIFTSHADER_ICD } from '../../src/tfjs/webgpu.js';
import { ganLoss } from '../../src/train/losses.js';
import { OnnxStep } from '../../src/train/onnx-step.js';
import { buildTrainingState, disposeTrainingState } from '../../src/train/run-setup.js';
import { GanStep } from '../../src/train/step.js';
import { realBatch } from '../tfjs/training-step.js';

async function threeSteps(
  preset: string,
  providers: string[],
): Promise<{ curve: number[][]; weights: Float32Array[] }> {
  const p = getPreset(preset);
  const batch = 16;
  const config = {
    seed: 1,
    emaDecay: 0.99,
    pack: 1,
    spectralNorm: false,
    learningRate: 2e-4,
    discriminatorLearningRate: 2e-4,
    beta1: 0.5,
    images: 0,
    latentSize: p.latentSize,
    batchSize: batch,
  };
  const state = buildTrainingState(p, config);
  const real = realBatch([batch, ...p.sampleShape]);
  const stepper = new GanStep(state, ganLoss('bce'), config, new Rng(3));
  const engine = await OnnxStep.create(
    new GanStep(state, ganLoss('bce'), config, new Rng(4)),
    stepper,
    real,
    undefined,
    {
      providers,
    },
  );
  const curve: number[][] = [];
  for (let step = 1; step <= 3; step++) {
    const v = (await engine.run(step, real, undefined, true))!;
    curve.push([v.dLoss, v.gLoss, v.dReal, v.dFake]);
  }
  await engine.sync();
  const weights = [...state.generator.weights, ...state.discriminator.weights].map(
    (w) => w.read().dataSync().slice() as Float32Array,
  );
  await engine.dispose();
  stepper.dispose();
  tf.dispose(real);
  disposeTrainingState(state);
  return { curve, weights };
}

for (const preset of ['seed-mlp', 'mlp-2d']) {
  test(`three steps of ${preset} on onnxruntime's WebGPU provider equal the CPU provider's`, async (t) => {
    if (!existsSync(SWIFTSHADER_ICD) && !process.env.CI) return t.skip('no SwiftShader (Debian chromium) here');
    prepareVulkan();
    await selectBackend('wasm');
    const cpu = await threeSteps(preset, ['cpu']);
    const webgpu = await threeSteps(preset, ['webgpu']);
    for (const [s, losses] of webgpu.curve.entries()) {
      for (const [i, l] of losses.entries()) {
        const expected = cpu.curve[s][i];
        assert.ok(
          Math.abs(l - expected) <= 1e-4 * Math.max(1, Math.abs(expected)),
          `step ${s + 1} loss ${i}: ${l} vs ${expected}`,
        );
      }
    }
    webgpu.weights.forEach((w, i) => {
      let worst = 0;
      for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j] - cpu.weights[i][j]));
      assert.ok(worst <= 1e-5, `weight ${i} differs by ${worst}`);
    });
  });
}
