/** The real browser: onnxruntime-web in headless Chromium (Debian's chromium, driven by playwright-core). */
import assert from 'node:assert/strict';
import { cpSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadGenerator, sampleLatents } from '@ganport/runtime';
import type * as web from '@ganport/runtime/web';
import { exportRun } from '../../src/export/index.js';
import { type BrowserSession, openBrowserSession } from '../../src/parity/browser.js';
import { runParity } from '../../src/parity/parity.js';
import { train } from '../../src/train/train.js';
import { maxAbsDiff, SAMPLE_DATA, SHIPPED_MODELS, seedMlpGeneratorBytes, tempDir } from '../helpers.js';
import { skipUnlessWebGpuExpected } from '../webgpu-expected.js';

let session: BrowserSession;
let modelFile: string;

before(async () => {
  modelFile = join(tempDir(), 'generator.onnx');
  writeFileSync(modelFile, await seedMlpGeneratorBytes());
  session = await openBrowserSession({ modelFile });
});

after(async () => {
  await session?.close();
});

type Window = { ganport: typeof web };

test('the page is cross-origin isolated, so onnxruntime-web may use wasm threads', async () => {
  assert.equal(await session.page.evaluate(() => crossOriginIsolated), true);
});

test('a generator.onnx linked from outside its model directory (git-annex, DVC) runs in Chromium too, and the page logs no error', async () => {
  const dir = join(tempDir(), 'linked');
  cpSync(join(SHIPPED_MODELS, 'seed-mlp'), dir, { recursive: true });
  const store = join(tempDir(), 'store.onnx');
  renameSync(join(dir, 'generator.onnx'), store);
  symlinkSync(store, join(dir, 'generator.onnx'));
  const report = await runParity(dir, { runtimes: ['tfjs', 'ort-node', 'ort-web-chromium'], count: 4 });
  assert.deepEqual(
    report.rows.map((row) => [row.runtime, row.ok, row.failed]),
    [
      ['tfjs', true, undefined],
      ['ort-node', true, undefined],
      ['ort-web-chromium', true, undefined],
    ],
  );
  assert.equal(report.latentsIdentical, true);
  assert.deepEqual(session.pageErrors, [], 'no 404 for a favicon, nor anything else');
});

test('latents are bit-identical in Node and Chromium', async () => {
  const cases = [
    { seed: 0, count: 4, dim: 64 },
    { seed: 1, count: 1, dim: 7 },
    { seed: 42, count: 16, dim: 128 },
    { seed: 0xffffffff, count: 3, dim: 100 },
    { seed: 5, count: 8, dim: 64, truncation: 0.7 },
  ];
  for (const request of cases) {
    const inBrowser = await session.page.evaluate(
      (r) => Array.from((window as unknown as Window).ganport.sampleLatents(r)),
      request,
    );
    const inNode = sampleLatents(request);
    const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
    assert.deepEqual(bits(inBrowser), bits(inNode), JSON.stringify(request));
  }
});

test('the browser runtime generates images and rejects bad input with GanportError', async () => {
  const result = await session.page.evaluate(async (url) => {
    const { ganport } = window as unknown as Window;
    const g = await ganport.loadGenerator(url);
    const batch = await g.generate({ seed: 2, count: 3 });
    const errors: string[] = [];
    for (const bad of [
      () => g.generate({ count: 0 }),
      () => g.generate({ latents: new Float32Array(3) }),
      () => ganport.loadGenerator(new Uint8Array([1, 2, 3])),
      () => ganport.loadGenerator('/model/missing.onnx'),
    ]) {
      try {
        await bad();
        errors.push('no error');
      } catch (err) {
        errors.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
    }
    await g.dispose();
    return { dims: batch.dims, provider: g.provider, errors };
  }, session.modelUrl);
  assert.deepEqual(result.dims, [3, 28, 28, 1]);
  assert.equal(result.provider, 'wasm');
  assert.match(result.errors[0], /^GanportError: count must be/);
  assert.match(result.errors[1], /^GanportError: latents must be a multiple/);
  assert.match(result.errors[2], /^GanportError: not a valid ONNX model/);
  assert.match(result.errors[3], /^GanportError: cannot fetch model .*HTTP 404/);
});

test('with WebGPU on, the browser runtime prefers it, and its images match onnxruntime-node within 1e-5', async (t) => {
  const gpuSession = await openBrowserSession({ modelFile, webgpu: true });
  try {
    const result = await gpuSession.page.evaluate(async (url) => {
      type Adapter = { info: { vendor: string; architecture: string } };
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu;
      const adapter = await gpu?.requestAdapter();
      if (!adapter) return undefined;
      const g = await (window as unknown as Window).ganport.loadGenerator(url); // default: ['webgpu', 'wasm']
      const batch = await g.generate({ seed: 4, count: 8 });
      await g.dispose();
      const { vendor, architecture } = adapter.info;
      return { adapter: `${vendor} ${architecture}`, provider: g.provider, data: Array.from(batch.data) };
    }, gpuSession.modelUrl);
    if (!result) {
      // where one is expected, a page without an adapter is a regression, not a reason to skip
      const skip = skipUnlessWebGpuExpected();
      assert.ok(skip, 'a WebGPU adapter is expected here (VK_ICD_FILENAMES, or Dawn finds one), yet Chromium has none');
      t.skip(`Chromium has no WebGPU adapter here (${skip})`);
      return;
    }
    assert.equal(result.provider, 'webgpu', `adapter ${result.adapter}`);
    const node = await loadGenerator(modelFile);
    const expected = await node.generate({ seed: 4, count: 8 });
    await node.dispose();
    const error = maxAbsDiff(result.data, expected.data);
    assert.ok(error <= 1e-5, `differs by ${error} on ${result.adapter}`); // measured on SwiftShader: about 6e-7
  } finally {
    await gpuSession.close();
  }
});

test('parity in all six runtimes (WebGPU ones where there is an adapter) on a freshly trained and exported model', async () => {
  const runDir = tempDir();
  const modelDir = tempDir();
  await train({
    preset: 'seed-mlp',
    epochs: 1,
    outDir: runDir,
    dataDir: SAMPLE_DATA,
    limit: 640,
    seed: 1,
    quiet: true,
  });
  await exportRun(runDir, modelDir);
  const report = await runParity(modelDir, { seed: 3, count: 16 });
  assert.deepEqual(
    report.rows.map((r) => r.runtime),
    ['tfjs', 'ort-node', 'ort-node-webgpu', 'ort-web', 'ort-web-chromium', 'ort-web-chromium-webgpu'],
  );
  const webgpuExpected = !skipUnlessWebGpuExpected();
  for (const row of report.rows) {
    if (row.skipped !== undefined) {
      assert.match(row.runtime, /webgpu$/, `${row.runtime} skipped: ${row.skipped}`);
      assert.ok(!webgpuExpected, `${row.runtime} skipped where an adapter is expected: ${row.skipped}`);
    } else assert.ok(row.maxAbsError <= 1e-5, `${row.runtime}: ${row.maxAbsError}`);
  }
  const webgpuRows = report.rows.filter((r) => r.runtime.endsWith('webgpu'));
  for (const row of webgpuRows) assert.equal(row.tolerance, 1e-3);
  for (const row of webgpuRows.filter((r) => r.skipped === undefined)) assert.match(row.provider, /^webgpu/);
  assert.ok(report.latentsIdentical);
  assert.ok(report.ok);
});
