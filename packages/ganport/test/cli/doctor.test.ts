/** `ganport doctor` wherever the tests run, with a GPU or without: what it reports, and that its report holds together. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { BACKENDS } from '../../src/tfjs/backend-names.js';
import { assertCleanFailure, runCli } from '../helpers.js';

/** The order auto-selection tries the backends in, which doctor reports them in. */
const BACKEND_ORDER = [...BACKENDS];

interface DoctorReport {
  backends: { name: string; available: boolean; detail: string; passedOver?: boolean }[];
  train: { name: string; reason: string };
  onnxruntime: { providers: { name: string; bundled: boolean; available: boolean; detail: string }[] };
}

test('doctor --json: every backend in auto-selection order, each saying why; train takes the first it does not pass over', () => {
  const { status, stdout, stderr } = runCli(['doctor', '--json']);
  assert.equal(status, 0, stderr);
  const report = JSON.parse(stdout) as DoctorReport;
  assert.deepEqual(
    report.backends.map((b) => b.name),
    BACKEND_ORDER,
  );
  for (const backend of report.backends) assert.ok(backend.detail, `${backend.name} says why`);
  for (const name of ['onnx', 'ort', 'wasm', 'cpu']) {
    assert.equal(report.backends.find((b) => b.name === name)?.available, true, `${name} runs anywhere`);
  }
  assert.equal(report.train.name, report.backends.find((b) => b.available && !b.passedOver)?.name);
  const cpu = report.onnxruntime.providers.find((p) => p.name === 'cpu');
  assert.deepEqual(cpu, { ...cpu, available: true, detail: 'ran the seed-mlp generator' });
  // a provider whose libraries onnxruntime-node installs apart (cuda, tensorrt on Linux x64) is in the build: tried too
  for (const provider of report.onnxruntime.providers.filter((p) => !p.bundled))
    assert.match(
      provider.detail,
      provider.available
        ? /^ran the seed-mlp generator$/
        : /^its libraries are not installed \(npm install onnxruntime-node --onnxruntime-node-install=cuda12\): ./,
      provider.name,
    );
});

const notLinux = process.platform !== 'linux' && 'a Vulkan driver list only decides the adapter on Linux';
test('doctor without a WebGPU adapter: webgpu says why not, and train would use the first backend that runs', {
  skip: notLinux,
}, () => {
  const { status, stdout, stderr } = runCli(['doctor'], { env: { VK_ICD_FILENAMES: '/nonexistent/icd.json' } });
  assert.equal(status, 0, stderr);
  const rows = [...stdout.matchAll(/^ {2}(\S+) +(yes|no) +(.*)$/gm)].slice(0, BACKEND_ORDER.length);
  assert.deepEqual(
    rows.map(([, name]) => name),
    BACKEND_ORDER,
  );
  const webgpu = rows[1];
  assert.equal(webgpu[2], 'no');
  assert.match(webgpu[3], /^no WebGPU adapter \(.*drivers: VK_ICD_FILENAMES=\/nonexistent\/icd\.json\)$/);
  const first = rows.find(([, , available]) => available === 'yes')!;
  assert.match(stdout, new RegExp(`^train would use: ${first[1]} \\(fastest available`, 'm'));
  assert.match(stdout, /^ {2}cpu +yes +ran the seed-mlp generator$/m);
  // onnxruntime's WebGPU provider: what it said, without the session's wrapping ("…: No supported adapters)" before)
  const provider = /^execution providers[\s\S]*?^ {2}webgpu +no +(.*)$/m.exec(
    stdout.replace(/^onnxruntime-node \S+ /m, ''),
  );
  assert.ok(provider, stdout);
  assert.doesNotMatch(provider[1], /could not create an ONNX Runtime session|^[^(]*\)$/);
  // native messages without terminal colours (onnxruntime's log had them, and its reset code as a line of its own)
  assert.ok(!stdout.includes(String.fromCharCode(27)), stdout);
});

// tfjs-node(-gpu) are optional peers npm leaves out; where one is installed there is nothing to refuse
const nativeInstalled = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

test('train --backend tensorflow without tfjs-node names the install command', { skip: nativeInstalled }, () => {
  assertCleanFailure(
    runCli(['train', '--backend', 'tensorflow', '--dry-run']),
    /^ganport train: backend tensorflow is unavailable: @tensorflow\/tfjs-node is not installed \(npm install @tensorflow\/tfjs-node@4\.22\.0\)$/m,
  );
});
