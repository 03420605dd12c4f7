/**
 * The onnx engine on onnxruntime's WebGPU execution provider (its state kept on the device): the same
 * steps as on its CPU provider. Here WebGPU runs on SwiftShader (Vulkan on the CPU; .ci/run points
 * VK_ICD_FILENAMES at it): a check of correctness, not of speed.
 */
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { getPreset } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { prepareVulkan, SWIFTSHADER_ICD } from '../../src/tfjs/webgpu.js';
import { assertSameSteps, oneTrainingStep, type TrainingStepOptions } from '../tfjs/training-step.js';

for (const preset of ['seed-mlp', 'mlp-2d']) {
  test(`three steps of ${preset} on onnxruntime's WebGPU provider equal the CPU provider's`, async (t) => {
    if (!existsSync(SWIFTSHADER_ICD) && !process.env.CI) return t.skip('no SwiftShader (Debian chromium) here');
    prepareVulkan();
    await selectBackend('wasm');
    const options: TrainingStepOptions = { engine: 'onnx', steps: 3, emaDecay: 0.99 };
    const cpu = await oneTrainingStep(getPreset(preset), 16, { ...options, providers: ['cpu'] });
    const webgpu = await oneTrainingStep(getPreset(preset), 16, { ...options, providers: ['webgpu'] });
    // measured on SwiftShader: losses 1.3e-7 and 1.7e-7 (relative) apart, weights 4.6e-7 and 2.7e-7
    assertSameSteps(webgpu, cpu, `${preset} on webgpu`, { lossTolerance: 1e-6, weightTolerance: 2e-6 });
  });
}
