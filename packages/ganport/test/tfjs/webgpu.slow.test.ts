/**
 * The webgpu training backend (tfjs-backend-webgpu on Dawn's Node bindings) against the pure-JS
 * cpu backend: one training step of the presets that use every kernel kind (dense, batch norm,
 * convolutions and their gradients, dropout, the embedding's segment sum); a short seed-mlp run
 * that exports and passes parity; and a run started on webgpu that resumes on wasm.
 * Here there is no GPU: the adapter is Chromium's SwiftShader (Vulkan on the CPU), correct but
 * slow, so batches are tiny. Every test skips, saying why, only where plain Dawn finds no adapter and
 * CI expects none (webgpu-expected.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportRun } from '../../src/export/index.js';
import { runParity } from '../../src/parity/parity.js';
import { PRESETS, type Preset } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { train } from '../../src/train/train.js';
import { SAMPLE_DATA, tempDir } from '../helpers.js';
import { skipUnlessWebGpuExpected } from '../webgpu-expected.js';
import { oneTrainingStep, type StepResult } from './training-step.js';

// decided without ganport's WebGPU code: where an adapter is expected, a failure to use it fails the test
const skip = skipUnlessWebGpuExpected();

/**
 * Losses relative to their size; weights absolute, after one Adam step of 2e-4 (as the ort backend's
 * test). Measured on SwiftShader: losses within 1.2e-7, weights within 4.6e-6 (cdcgan). Adam's first
 * step is lr·g/(|g|+ε), so gradients near zero turn rounding differences into weight differences of
 * up to 2·lr: a GPU that rounds differently may need more.
 */
const LOSS_TOLERANCE = 1e-4;
const WEIGHT_TOLERANCE = 1e-5;

/** One training step of `preset` (batch 2) on `backend`: the losses and every weight afterwards. */
async function trainingStep(preset: Preset, backend: string): Promise<StepResult> {
  await selectBackend(backend);
  return oneTrainingStep(preset, 2);
}

// seed-mlp: dense; mlp-2d: batch norm; dcgan: (transposed) convolutions, their gradients, dropout;
// cdcgan: the label embedding (Gather, UnsortedSegmentSum) and concatenation. The rest repeat these kernels.
for (const name of ['seed-mlp', 'mlp-2d', 'dcgan', 'cdcgan']) {
  test(`one training step of ${name}: webgpu and cpu within ${LOSS_TOLERANCE} (losses), ${WEIGHT_TOLERANCE} (weights)`, {
    skip,
  }, async () => {
    const preset = PRESETS[name];
    const cpu = await trainingStep(preset, 'cpu');
    const gpu = await trainingStep(preset, 'webgpu');
    for (const [i, l] of gpu.losses.entries()) {
      const expected = cpu.losses[i];
      assert.ok(
        Math.abs(l - expected) <= LOSS_TOLERANCE * Math.max(1, Math.abs(expected)),
        `loss ${i}: ${l} vs ${expected}`,
      );
    }
    let worst = 0;
    gpu.weights.forEach((w, i) => {
      for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j] - cpu.weights[i][j]));
    });
    assert.ok(worst <= WEIGHT_TOLERANCE, `weights differ by up to ${worst}`);
  });
}

test('a seed-mlp run on webgpu exports and passes parity (ort-node on cpu and on WebGPU), then resumes on wasm', {
  skip,
}, async () => {
  const runDir = join(tempDir(), 'run');
  const common = { preset: 'seed-mlp', outDir: runDir, dataDir: SAMPLE_DATA, limit: 64, batchSize: 16, seed: 2 };
  const first = await train({ ...common, epochs: 1, backend: 'webgpu', quiet: true, log: () => {} });
  assert.equal(first.backend.name, 'webgpu');
  assert.equal(first.steps, 4);
  assert.ok(Number.isFinite(first.last.dLoss) && Number.isFinite(first.last.gLoss));

  const modelDir = join(tempDir(), 'model');
  await exportRun(runDir, modelDir);
  const report = await runParity(modelDir, { runtimes: ['tfjs', 'ort-node', 'ort-node-webgpu'], count: 8, seed: 5 });
  assert.deepEqual(
    report.rows.map((r) => [r.runtime, r.provider]),
    [
      ['tfjs', 'tfjs-wasm'],
      ['ort-node', 'cpu'],
      ['ort-node-webgpu', 'webgpu'],
    ],
  );
  assert.ok(report.ok, JSON.stringify(report.rows));

  // the checkpoint written on webgpu, read by wasm
  const resumed = await train({ outDir: runDir, resume: true, epochs: 2, backend: 'wasm', quiet: true, log: () => {} });
  assert.equal(resumed.backend.name, 'wasm');
  assert.equal(resumed.steps, 8);
  const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.step),
    [4, 8],
  );
  assert.ok(lines.every((l) => Number.isFinite(l.d_loss)));
});
