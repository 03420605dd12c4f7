/**
 * Generator inference benchmark, side by side in one run: onnxruntime-node, tfjs
 * `predict` on each available backend, onnxruntime-web (wasm) in Node and in
 * headless Chromium — ms per call at batch 1 and 64, and session creation (cold start).
 * Run: npm run bench:runtime [-- MODEL_DIR]   (default: the shipped models/seed-mlp)
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Generator } from '@ganport/runtime';
import * as nodeRuntime from '@ganport/runtime';
import * as webRuntime from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { shippedModelsDir } from '../src/assets.js';
import { modelPaths } from '../src/export/index.js';
import { openBrowserSession } from '../src/parity/browser.js';
import { BACKENDS, selectBackend } from '../src/tfjs/backend.js';
import { loadLayersModel } from '../src/tfjs/model-io.js';

const modelDir = process.argv[2] ?? join(shippedModelsDir(), 'seed-mlp');
const paths = modelPaths(modelDir);
const BATCHES = [1, 64];
const REPEATS = 30;

interface Row {
  runtime: string;
  coldMs: number;
  ms: Record<number, number>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
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
  const coldMs = performance.now() - t0;
  const ms: Record<number, number> = {};
  for (const batch of BATCHES) {
    const latents = generator.sampleLatents({ seed: 1, count: batch });
    ms[batch] = await time(() => generator.generate({ latents }));
  }
  await generator.dispose();
  return { runtime: `${name} (${generator.provider})`, coldMs, ms };
}

const bytes = await readFile(paths.generator);
const rows: Row[] = [];
rows.push(await ortRow('onnxruntime-node', () => nodeRuntime.loadGenerator(bytes)));
rows.push(await ortRow('onnxruntime-web in Node', () => webRuntime.loadGenerator(bytes)));

for (const backend of BACKENDS) {
  try {
    await selectBackend(backend);
  } catch {
    continue;
  }
  const t0 = performance.now();
  const model = await loadLayersModel(paths.tfjsGeneratorJson);
  const latentSize = model.inputs[0].shape[1] as number;
  tf.tidy(() => (model.predict(tf.zeros([1, latentSize])) as tf.Tensor).dataSync());
  const coldMs = performance.now() - t0;
  const ms: Record<number, number> = {};
  for (const batch of BATCHES) {
    const z = tf.randomNormal([batch, latentSize], 0, 1, 'float32', 1);
    ms[batch] = await time(async () => tf.tidy(() => (model.predict(z) as tf.Tensor).dataSync()));
    z.dispose();
  }
  model.dispose();
  rows.push({ runtime: `tfjs predict (${backend})`, coldMs, ms });
}

const session = await openBrowserSession({ modelFile: paths.generator });
try {
  const result = await session.page.evaluate(
    async ({ url, batches, repeats }) => {
      const { ganport } = window as unknown as { ganport: typeof webRuntime };
      const t0 = performance.now();
      const generator = await ganport.loadGenerator(url);
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
        ms[batch] = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
      }
      return { coldMs, ms, provider: generator.provider, isolated: crossOriginIsolated };
    },
    { url: session.modelUrl, batches: BATCHES, repeats: REPEATS },
  );
  rows.push({
    runtime: `onnxruntime-web in Chromium (${result.provider}${result.isolated ? ', isolated' : ''})`,
    coldMs: result.coldMs,
    ms: result.ms,
  });
} finally {
  await session.close();
}

const ortNode = rows[0];
console.log(`generator ${paths.generator}: median of ${REPEATS} calls`);
const header = ['runtime', 'session ms', ...BATCHES.flatMap((b) => [`batch ${b} ms`, `img/s`, `vs ort-node`])];
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
