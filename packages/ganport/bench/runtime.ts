/**
 * Generator inference benchmark, side by side in one run: onnxruntime-node (cpu, and WebGPU
 * where there is an adapter), tfjs `predict` on each available backend, onnxruntime-web (wasm)
 * in Node and in headless Chromium (wasm, and WebGPU) — ms per call at batch 1 and 64, and the cold
 * start: loading the model and its first batch-1 call, which is where tfjs compiles its kernels (the
 * same for every row). WebGPU rows name the adapter; on a software one (SwiftShader)
 * they are correctness-only, not speed figures.
 * Run: npm run bench:runtime [-- MODEL_DIR]   (default: the shipped models/seed-mlp)
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Generator } from '@ganport/runtime';
import * as nodeRuntime from '@ganport/runtime';
import * as webRuntime from '@ganport/runtime/web';
import * as tf from '@tensorflow/tfjs';
import { shippedModelsDir } from '../src/assets.js';
import { modelPaths } from '../src/export/index.js';
import { openBrowserSession } from '../src/parity/browser.js';
import { selectBackend } from '../src/tfjs/backend.js';
import { BACKENDS, ONNX_BACKEND } from '../src/tfjs/backend-names.js';
import { loadLayersModel } from '../src/tfjs/model-io.js';
import { describeAdapter, prepareVulkan, setUpWebGpu } from '../src/tfjs/webgpu.js';
import { median } from './stats.js';

const modelDir = process.argv[2] ?? join(shippedModelsDir(), 'seed-mlp');
const paths = modelPaths(modelDir);
if (modelDir.startsWith('-') || !existsSync(paths.generator) || !existsSync(paths.tfjsGeneratorJson)) {
  console.error(
    `bench:runtime: ${modelDir} is not a model directory with generator.onnx and tfjs/generator/model.json\n` +
      'usage: npm run bench:runtime [-- MODEL_DIR]   (default: the shipped seed-mlp)',
  );
  process.exit(2);
}
const BATCHES = [1, 64];
const REPEATS = 30;

interface Row {
  runtime: string;
  coldMs: number;
  ms: Record<number, number>;
}

async function time(run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function ortRow(name: string, load: () => Promise<Generator>): Promise<Row> {
  const t0 = performance.now();
  const generator = await load();
  await generator.generate({ latents: generator.sampleLatents({ seed: 1, count: 1 }) });
  const coldMs = performance.now() - t0;
  const ms: Record<number, number> = {};
  for (const batch of BATCHES) {
    const latents = generator.sampleLatents({ seed: 1, count: batch });
    ms[batch] = await time(() => generator.generate({ latents }));
  }
  await generator.dispose();
  return { runtime: `${name} (${generator.provider})`, coldMs, ms };
}

/** "google swiftshader (…; software), correctness only": what the WebGPU rows ran on. */
async function adapterLabel(): Promise<string | undefined> {
  prepareVulkan();
  try {
    const { adapter } = await setUpWebGpu();
    return `${describeAdapter(adapter)}${adapter.software ? ', correctness only' : ''}`;
  } catch {
    return undefined;
  }
}

// every row's first image includes reading the model's files, as tfjs's loadLayersModel does
const rows: Row[] = [];
rows.push(await ortRow('onnxruntime-node', () => nodeRuntime.loadGenerator(paths.generator)));
const adapter = await adapterLabel();
try {
  const row = await ortRow('onnxruntime-node', () =>
    nodeRuntime.loadGenerator(paths.generator, { executionProviders: ['webgpu'] }),
  );
  // onnxruntime's Dawn does not name its adapter: this is the one tfjs's Dawn (the webgpu package) finds
  const label = adapter ? `the adapter tfjs's Dawn finds: ${adapter}` : "onnxruntime's own adapter";
  rows.push({ ...row, runtime: `${row.runtime} [${label}]` });
} catch (err) {
  console.log(`onnxruntime-node on webgpu: ${(err as Error).message.split('\n')[0]}`);
}
rows.push(
  await ortRow('onnxruntime-web in Node', async () => webRuntime.loadGenerator(await readFile(paths.generator))),
);

// (the onnx engine trains; for inference, selectBackend('onnx') would pick tfjs's ort backend again)
for (const backend of BACKENDS.filter((b) => b !== ONNX_BACKEND)) {
  try {
    await selectBackend(backend);
  } catch (err) {
    console.log(`tfjs ${backend}: ${(err as Error).message.split('\n')[0]}`);
    continue;
  }
  // webgpu cannot read synchronously in Node, and its kernels run asynchronously: read with data()
  const t0 = performance.now();
  const model = await loadLayersModel(paths.tfjsGeneratorJson);
  const latentSize = model.inputs[0].shape[1] as number;
  // a conditional generator's second input: label 0 for every sample (the time does not depend on it)
  const withLabels = (z: tf.Tensor) => (model.inputs.length > 1 ? [z, tf.zeros([z.shape[0], 1], 'int32')] : [z]);
  await predict(model, withLabels(tf.zeros([1, latentSize])));
  const coldMs = performance.now() - t0;
  const ms: Record<number, number> = {};
  for (const batch of BATCHES) {
    const inputs = withLabels(tf.randomNormal([batch, latentSize], 0, 1, 'float32', 1));
    ms[batch] = await time(() => predict(model, inputs));
    tf.dispose(inputs);
  }
  model.dispose();
  const label = backend === 'webgpu' ? `webgpu [${adapter}]` : backend;
  rows.push({ runtime: `tfjs predict (${label})`, coldMs, ms });
}

async function predict(model: tf.LayersModel, inputs: tf.Tensor[]): Promise<void> {
  const y = model.predict(inputs.length === 1 ? inputs[0] : inputs) as tf.Tensor;
  await y.data();
  y.dispose();
}

for (const provider of ['wasm', 'webgpu'] as const) {
  try {
    rows.push(await chromiumRow(provider));
  } catch (err) {
    console.log(`onnxruntime-web in Chromium on ${provider}: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function chromiumRow(provider: 'wasm' | 'webgpu'): Promise<Row> {
  const session = await openBrowserSession({ modelFile: paths.generator, webgpu: provider === 'webgpu' });
  try {
    return await chromiumRun(session, provider);
  } finally {
    await session.close();
  }
}

async function chromiumRun(session: Awaited<ReturnType<typeof openBrowserSession>>, provider: string): Promise<Row> {
  const result = await session.page.evaluate(
    async ({ url, batches, repeats, provider }) => {
      const { ganport } = window as unknown as { ganport: typeof webRuntime };
      type Adapter = { info: { vendor: string; architecture: string; isFallbackAdapter?: boolean } };
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu;
      const info = provider === 'webgpu' ? (await gpu?.requestAdapter())?.info : undefined;
      const adapter = info && `${info.vendor} ${info.architecture}${info.isFallbackAdapter ? ', fallback' : ''}`;
      const t0 = performance.now();
      const generator = await ganport.loadGenerator(url, { executionProviders: [provider] });
      await generator.generate({ latents: generator.sampleLatents({ seed: 1, count: 1 }) });
      const coldMs = performance.now() - t0;
      const ms: Record<number, number> = {};
      for (const batch of batches) {
        const latents = generator.sampleLatents({ seed: 1, count: batch });
        await generator.generate({ latents });
        const times: number[] = [];
        for (let i = 0; i < repeats; i++) {
          const s = performance.now();
          await generator.generate({ latents });
          times.push(performance.now() - s);
        }
        const [sorted, mid] = [times.sort((a, b) => a - b), times.length >> 1];
        ms[batch] = times.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
      }
      return { coldMs, ms, provider: generator.provider, isolated: crossOriginIsolated, adapter };
    },
    { url: session.modelUrl, batches: BATCHES, repeats: REPEATS, provider },
  );
  const software = result.adapter && /swiftshader|fallback/i.test(result.adapter) ? ', correctness only' : '';
  const on = result.adapter ? ` [${result.adapter}${software}]` : '';
  return {
    runtime: `onnxruntime-web in Chromium (${result.provider}${result.isolated ? ', isolated' : ''})${on}`,
    coldMs: result.coldMs,
    ms: result.ms,
  };
}

const ortNode = rows[0];
console.log(`generator ${paths.generator}: median of ${REPEATS} calls`);
const header = ['runtime', 'first image ms', ...BATCHES.flatMap((b) => [`batch ${b} ms`, `img/s`, `vs ort-node`])];
const body = rows.map((r) => [
  r.runtime,
  r.coldMs.toFixed(1),
  ...BATCHES.flatMap((b) => [
    r.ms[b].toFixed(2),
    String(Math.round((b * 1000) / r.ms[b])),
    `${(r.ms[b] / ortNode.ms[b]).toFixed(1)}×`,
  ]),
]);
const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
for (const row of [header, ...body])
  console.log(row.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  '));
