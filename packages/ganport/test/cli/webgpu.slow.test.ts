/**
 * WebGPU outside training: onnxruntime-node's WebGPU execution provider through the Node runtime,
 * `generate --provider webgpu`, `doctor`, `train --dry-run`, and the one-line errors where there
 * is no adapter. On this machine the adapter is Chromium's SwiftShader. Tests that need one skip,
 * saying why, only where plain Dawn finds none and CI expects none (webgpu-expected.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadGenerator } from '@ganport/runtime';
import { BACKENDS } from '../../src/tfjs/backend-names.js';
import { prepareVulkan } from '../../src/tfjs/webgpu.js';
import { maxAbsDiff, runCli, SHIPPED_MODELS, tempDir } from '../helpers.js';
import { skipUnlessWebGpuExpected } from '../webgpu-expected.js';

// decided without ganport's WebGPU code (so before prepareVulkan sets VK_ICD_FILENAMES): where an adapter
// is expected, a failure to use it fails the test
const skip = skipUnlessWebGpuExpected();

// the Vulkan loader and, where no driver is installed or configured, SwiftShader: for onnxruntime's own Dawn
// here and for the CLI processes the tests start (they inherit the environment)
prepareVulkan();

const DCGAN = join(SHIPPED_MODELS, 'dcgan', 'generator.onnx');

test("loadGenerator with ['webgpu', 'cpu'] runs on WebGPU, within 1e-5 of cpu", { skip }, async () => {
  const gpu = await loadGenerator(DCGAN, { executionProviders: ['webgpu', 'cpu'] });
  const cpu = await loadGenerator(DCGAN);
  try {
    assert.equal(gpu.provider, 'webgpu');
    const [a, b] = [await gpu.generate({ seed: 3, count: 4 }), await cpu.generate({ seed: 3, count: 4 })];
    assert.deepEqual(a.dims, [4, 28, 28, 1]);
    const error = maxAbsDiff(a.data, b.data);
    assert.ok(error <= 1e-5, `differs by ${error}`); // measured on SwiftShader: 6e-7
  } finally {
    await gpu.dispose();
    await cpu.dispose();
  }
});

test('generate --provider webgpu writes the same PNG as cpu', { skip }, () => {
  const dir = tempDir();
  const gpu = runCli(['generate', 'dcgan', '--count', '4', '--provider', 'webgpu', '--out', join(dir, 'gpu.png')]);
  assert.equal(gpu.status, 0, gpu.stderr);
  assert.match(gpu.stdout, /, webgpu, /);
  const cpu = runCli(['generate', 'dcgan', '--count', '4', '--out', join(dir, 'cpu.png')]);
  assert.equal(cpu.status, 0, cpu.stderr);
  assert.deepEqual(readFileSync(join(dir, 'gpu.png')), readFileSync(join(dir, 'cpu.png')));
});

test('doctor names every backend, the adapter, the Vulkan setup and the onnxruntime providers', { skip }, () => {
  const { status, stdout, stderr } = runCli(['doctor', '--json']);
  assert.equal(status, 0, stderr);
  const d = JSON.parse(stdout);
  assert.deepEqual(
    d.backends.map((b: { name: string }) => b.name),
    [...BACKENDS],
  );
  const webgpu = d.backends.find((b: { name: string }) => b.name === 'webgpu');
  assert.equal(webgpu.available, true, webgpu.detail);
  assert.ok(d.webgpu.adapter.architecture, JSON.stringify(d.webgpu.adapter));
  // a software adapter works when asked for, and auto-selection passes it over
  if (d.webgpu.adapter.software) {
    assert.equal(webgpu.passedOver, true);
    assert.notEqual(d.train.name, 'webgpu');
    assert.match(d.train.reason, /webgpu: only a software adapter/);
  }
  const providers = Object.fromEntries(d.onnxruntime.providers.map((p: { name: string }) => [p.name, p]));
  assert.equal(providers.cpu.available, true);
  assert.equal(providers.webgpu.available, true, providers.webgpu.detail);
  const text = runCli(['doctor']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^ {2}adapter: vendor \S+, architecture \S+/m);
  assert.match(text.stdout, /^train would use: /m);
});

test('train --backend webgpu --dry-run names the adapter and trains nothing', { skip }, () => {
  const { status, stdout, stderr } = runCli(['train', '--backend', 'webgpu', '--dry-run']);
  assert.equal(status, 0, stderr);
  assert.match(stdout, /^backend: webgpu \(requested with --backend; adapter \S+ \S+ \(/m);
  assert.match(stdout, /^dry run: nothing trained$/m);
});

const notLinux = process.platform !== 'linux' && 'a Vulkan driver list only decides the adapter on Linux';
test('without a Vulkan driver, --backend webgpu and --provider webgpu fail in one line', { skip: notLinux }, () => {
  const env = { VK_ICD_FILENAMES: '/nonexistent/icd.json' };
  const train = runCli(['train', '--backend', 'webgpu', '--dry-run'], { env });
  assert.equal(train.status, 1);
  // Dawn's own warnings come first, from native code; ganport's message is the last line, and one line
  assert.match(
    train.stderr.trim().split('\n').at(-1)!,
    /^ganport train: backend webgpu is unavailable: no WebGPU adapter \(.*drivers: VK_ICD_FILENAMES=\/nonexistent/,
  );
  const generate = runCli(['generate', '--provider', 'webgpu', '--out', join(tempDir(), 'x.png')], { env });
  assert.equal(generate.status, 1);
  assert.match(
    generate.stderr.trim().split('\n').at(-1)!,
    /^ganport generate: .*generator\.onnx: could not create an ONNX Runtime session \(webgpu: Failed to get a WebGPU adapter/,
  );
});
