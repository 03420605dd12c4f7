/**
 * Feeds the same latents to the tfjs reference model and to the exported ONNX
 * generator in onnxruntime-node (cpu, and WebGPU), onnxruntime-web (wasm, in Node) and
 * onnxruntime-web in headless Chromium (wasm, and WebGPU), and compares every output with tfjs's.
 */
import { existsSync, statSync } from 'node:fs';
import * as nodeRuntime from '@ganport/runtime';
import {
  defaultLabels,
  GanportError,
  type Generator,
  type GeneratorInfo,
  generatorInfo,
  MAX_COUNT,
  readOnnxInfo,
  sampleLatents,
} from '@ganport/runtime';
import * as webRuntime from '@ganport/runtime/web';
import * as tf from '@tensorflow/tfjs';
import { resolveShippedModel } from '../assets.js';
import { classifierNote, modelPaths, verifyModelDir } from '../formats/model-dir.js';
import { selectReferenceBackend } from '../tfjs/backend.js';
import { loadLayersModel } from '../tfjs/model-io.js';
import { prepareVulkan } from '../tfjs/webgpu.js';
import { readInputFile } from '../util/files.js';
import { openBrowserSession } from './browser.js';
import {
  DEFAULT_TOLERANCE,
  DEFAULT_WEBGPU_TOLERANCE,
  RUNTIMES,
  type RuntimeName,
  WEBGPU_RUNTIMES,
} from './runtimes.js';

export interface ParityOptions {
  seed?: number;
  count?: number;
  tolerance?: number;
  /** For the WebGPU rows (default 1e-3). */
  webgpuTolerance?: number;
  /** Default: all; WebGPU rows that cannot run are then skipped rather than failing the run. */
  runtimes?: RuntimeName[];
  /** tfjs backend for the reference run (default: the fastest available except ort). */
  backend?: string;
  chromium?: string;
}

export interface ParityRow {
  runtime: RuntimeName;
  provider: string;
  /** Against tfjs; 0 for tfjs itself. */
  maxAbsError: number;
  meanAbsError: number;
  loadMs: number;
  runMs: number;
  /** The largest error this row may have. */
  tolerance: number;
  ok: boolean;
  /** Why the row did not run (a WebGPU row without an adapter, when not asked for by name). */
  skipped?: string;
  /** Why the row's runtime failed (it could not start, load the model or run it); the row is not ok. */
  failed?: string;
}

export interface ParityReport {
  model: string;
  seed: number;
  count: number;
  tolerance: number;
  webgpuTolerance: number;
  rows: ParityRow[];
  /** Whether every runtime that sampled its own latents got the same bits as Node; absent when none did. */
  latentsIdentical?: boolean;
  /** How many runtimes sampled their own latents (the Chromium rows): none, and there was nothing to compare. */
  latentsCompared: number;
  ok: boolean;
}

interface RuntimeOutput {
  provider: string;
  output: Float32Array;
  loadMs: number;
  runMs: number;
  latents?: Float32Array;
}

async function runOrt(
  runtime: { loadGenerator(source: Uint8Array, options?: { executionProviders?: string[] }): Promise<Generator> },
  bytes: Uint8Array,
  latents: Float32Array,
  executionProviders?: string[],
): Promise<RuntimeOutput> {
  const t0 = performance.now();
  const generator = await runtime.loadGenerator(bytes, { executionProviders });
  const t1 = performance.now();
  const batch = await generator.generate({ latents });
  const t2 = performance.now();
  await generator.dispose();
  return { provider: generator.provider, output: batch.data, loadMs: t1 - t0, runMs: t2 - t1 };
}

/** tfjs `predict` on the same latents and, for conditional models, the runtime's default labels. */
async function runTfjs(
  modelJson: string,
  latents: Float32Array,
  info: GeneratorInfo,
  backend?: string,
): Promise<RuntimeOutput> {
  const choice = await selectReferenceBackend(backend);
  const t0 = performance.now();
  const model = await loadLayersModel(modelJson);
  const t1 = performance.now();
  const count = latents.length / info.latentSize;
  const inputs = [tf.tensor2d(latents, [count, info.latentSize])];
  if (info.numClasses)
    inputs.push(tf.tensor2d(Int32Array.from(defaultLabels(count, info.numClasses)), [count, 1], 'int32'));
  let result: tf.Tensor;
  try {
    result = model.predict(inputs.length === 1 ? inputs[0] : inputs) as tf.Tensor;
  } catch (err) {
    tf.dispose(inputs);
    model.dispose();
    throw new GanportError(
      `the tfjs reference ${modelJson} does not take the generator's inputs: ${(err as Error).message.split('\n')[0]}`,
      'invalid-model',
    );
  }
  const output = (await result.data()) as Float32Array;
  const t2 = performance.now();
  // the reference decides every row: one that computes NaN compares with nothing
  if (!output.every(Number.isFinite)) {
    tf.dispose([...inputs, result]);
    model.dispose();
    throw new GanportError(`the tfjs reference ${modelJson} computed NaN or infinite values`, 'invalid-model');
  }
  tf.dispose([...inputs, result]);
  model.dispose();
  return { provider: `tfjs-${choice.name}`, output, loadMs: t1 - t0, runMs: t2 - t1 };
}

interface BrowserResult {
  latents: number[];
  output: number[];
  loadMs: number;
  runMs: number;
  provider: string;
}

async function runChromium(
  modelFile: string,
  seed: number,
  count: number,
  provider: 'wasm' | 'webgpu',
  chromium?: string,
): Promise<RuntimeOutput> {
  const session = await openBrowserSession({ modelFile, chromium, webgpu: provider === 'webgpu' }).catch((err) => {
    if (err instanceof GanportError) throw err;
    throw new GanportError(`Chromium could not open the page: ${(err as Error).message.split('\n')[0]}`, 'unavailable');
  });
  try {
    const evaluation = session.page.evaluate(
      async ({ url, seed, count, provider }) => {
        const ganport = (window as unknown as { ganport: typeof webRuntime }).ganport;
        // the one case a WebGPU row is skipped for: no adapter (a provider that is there and fails, fails)
        const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
        if (provider === 'webgpu' && !(await gpu?.requestAdapter().catch(() => null)))
          return { failed: 'adapter', message: 'Chromium has no WebGPU adapter here' } as const;
        const t0 = performance.now();
        let generator: Generator;
        try {
          generator = await ganport.loadGenerator(url, { executionProviders: [provider] });
        } catch (err) {
          return { failed: 'load', message: (err as Error).message } as const;
        }
        const t1 = performance.now();
        const latents = generator.sampleLatents({ seed, count });
        try {
          const batch = await generator.generate({ latents });
          const t2 = performance.now();
          return {
            latents: Array.from(latents),
            output: Array.from(batch.data),
            loadMs: t1 - t0,
            runMs: t2 - t1,
            provider: generator.provider,
          } satisfies BrowserResult;
        } catch (err) {
          return { failed: 'run', message: (err as Error).message } as const;
        } finally {
          await generator.dispose();
        }
      },
      { url: session.modelUrl, seed, count, provider },
    );
    const limitMs = CHROMIUM_BASE_MS + count * CHROMIUM_PER_IMAGE_MS;
    const result = await withTimeout(evaluation, limitMs, () =>
      chromiumFailure(new Error(`did not finish in ${limitMs / 1000} s`), provider, session.pageErrors),
    );
    if ('failed' in result)
      throw result.failed === 'adapter'
        ? new GanportError(result.message, 'unavailable')
        : new GanportError(
            `Chromium (${provider}) could not ${result.failed} the model: ${result.message}`,
            'invalid-model',
          );
    return {
      ...result,
      provider: `${result.provider} (Chromium)`,
      latents: Float32Array.from(result.latents),
      output: Float32Array.from(result.output),
    };
  } catch (err) {
    throw chromiumFailure(err, provider, session.pageErrors);
  } finally {
    await session.close();
  }
}

/**
 * What a Chromium row that went wrong outside the page's own checks fails with: the page or the browser
 * went away mid-run (a crash), or it never finished. A failure, never a skip (isSkippable).
 */
export function chromiumFailure(err: unknown, provider: string, pageErrors: readonly string[]): GanportError {
  if (err instanceof GanportError) return err;
  const seen = pageErrors.length > 0 ? `; page errors: ${pageErrors.join('; ')}` : '';
  return new GanportError(`Chromium (${provider}) failed: ${(err as Error).message.split('\n')[0]}${seen}`);
}

/** How long a Chromium row may take: a minute, and a fifth of a second an image (SwiftShader's WebGPU is slow). */
const CHROMIUM_BASE_MS = 60_000;
const CHROMIUM_PER_IMAGE_MS = 200;

/** `pending`, or a rejection with `error()` after `ms`: Playwright's evaluate has no timeout of its own. */
export async function withTimeout<T>(pending: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  try {
    return await Promise.race([pending, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function compare(reference: Float32Array, output: Float32Array): { max: number; mean: number } {
  if (reference.length !== output.length) return { max: Infinity, mean: Infinity };
  let max = 0;
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(reference[i] - output[i]);
    max = Math.max(max, d); // a NaN stays: NaN <= tolerance is false
    sum += d;
  }
  return { max, mean: sum / reference.length };
}

function toChannelsFirst(data: Float32Array, count: number, [height, width, channels]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  const size = height * width * channels;
  for (let n = 0; n < count; n++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        for (let c = 0; c < channels; c++)
          out[n * size + (c * height + y) * width + x] = data[n * size + (y * width + x) * channels + c];
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.every((v, i) => v === ub[i]);
}

/** What a parity run compares: the exported generator, the latents every runtime is fed, and the rows to run. */
interface ParityPlan {
  paths: ReturnType<typeof modelPaths>;
  /** generator.onnx */
  bytes: Uint8Array;
  info: GeneratorInfo;
  latents: Float32Array;
  seed: number;
  count: number;
  tolerance: number;
  webgpuTolerance: number;
  runtimes: RuntimeName[];
  /** Rows named by the caller must run; by default a WebGPU row that cannot is skipped instead. */
  runtimesNamed: boolean;
  backend?: string;
  chromium?: string;
}

/** What the runtimes computed, and why the WebGPU rows that did not run were skipped. */
interface RuntimeOutputs {
  outputs: Map<RuntimeName, RuntimeOutput>;
  skipped: Map<RuntimeName, string>;
  failed: Map<RuntimeName, string>;
}

/** The execution provider a row's runtime uses, for a row that did not run. */
const runtimeProvider = (runtime: RuntimeName) =>
  WEBGPU_RUNTIMES.includes(runtime) ? 'webgpu' : runtime === 'ort-node' ? 'cpu' : 'wasm';

/** Compares the runtimes on MODEL: an exported model directory, or the name of a shipped model. */
export async function runParity(model: string, options: ParityOptions = {}): Promise<ParityReport> {
  const plan = await resolveParity(model, options);
  return reportParity(plan, await runRuntimes(plan));
}

/** The settings with their defaults, and the model directory checked and read. */
async function resolveParity(model: string, options: ParityOptions): Promise<ParityPlan> {
  const modelDir = resolveShippedModel(model);
  const seed = options.seed ?? 0;
  const count = options.count ?? 16;
  // before the reference runs on them: 10^8 latents took minutes, then threw a RangeError
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT)
    throw new GanportError(`count must be an integer from 1 to ${MAX_COUNT}, got ${count}`);
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const webgpuTolerance = options.webgpuTolerance ?? Math.max(tolerance, DEFAULT_WEBGPU_TOLERANCE);
  if (!(tolerance > 0)) throw new GanportError(`tolerance must be > 0, got ${tolerance}`);
  if (!(webgpuTolerance > 0)) throw new GanportError(`the WebGPU tolerance must be > 0, got ${webgpuTolerance}`);
  // the verdict needs a row to compare with tfjs's, the reference, for parity to pass
  if (options.runtimes && !options.runtimes.some((runtime) => runtime !== 'tfjs'))
    throw new GanportError(
      `--runtimes names nothing to compare with tfjs; choose from ${RUNTIMES.slice(1).join(', ')}`,
    );
  if (!statSync(modelDir).isDirectory())
    throw new GanportError(
      `parity compares a model directory (generator.onnx and its tfjs reference, as ganport export writes them), not the file ${modelDir}`,
    );
  const paths = modelPaths(modelDir);
  if (!existsSync(paths.generator)) {
    const advice = classifierNote(modelDir) || `; export a run first (ganport export RUN_DIR --out ${modelDir})`;
    throw new GanportError(`${modelDir} has no generator.onnx${advice}`, 'not-found');
  }
  await verifyModelDir(modelDir);
  if (!existsSync(paths.tfjsGeneratorJson)) {
    throw new GanportError(
      `${modelDir} has no tfjs reference (tfjs/generator/model.json); parity needs a model directory written by ganport export`,
      'not-found',
    );
  }
  const bytes = await readInputFile(paths.generator);
  const info = generatorInfo(readOnnxInfo(bytes));
  // the labels fed to every runtime are the runtime's default ones, which need the class count
  if (info.labelInput !== undefined && info.numClasses === undefined)
    throw new GanportError(
      `${paths.generator} takes labels (${info.labelInput}) but does not record its classes (ganport.num_classes), so parity cannot choose labels for it`,
      'unsupported',
    );
  return {
    paths,
    bytes,
    info,
    latents: sampleLatents({ seed, count, dim: info.latentSize }),
    seed,
    count,
    tolerance,
    webgpuTolerance,
    runtimes: options.runtimes ?? [...RUNTIMES],
    runtimesNamed: options.runtimes !== undefined,
    backend: options.backend,
    chromium: options.chromium,
  };
}

/** The tfjs reference, then each runtime asked for, one at a time. */
async function runRuntimes(plan: ParityPlan): Promise<RuntimeOutputs> {
  const { paths, bytes, latents, seed, count, chromium } = plan;
  const outputs = new Map<RuntimeName, RuntimeOutput>();
  const skipped = new Map<RuntimeName, string>();
  const failed = new Map<RuntimeName, string>();
  /** Runs one row; one that fails (its runtime's fault, not the input's) is a failed row, unless isSkippable. */
  const run = async (runtime: RuntimeName, compute: () => Promise<RuntimeOutput>) => {
    if (!plan.runtimes.includes(runtime)) return;
    try {
      outputs.set(runtime, await compute());
    } catch (err) {
      if (!(err instanceof GanportError)) throw err;
      (isSkippable(runtime, err, plan.runtimesNamed) ? skipped : failed).set(runtime, err.message.split('\n')[0]);
    }
  };
  outputs.set('tfjs', await runTfjs(paths.tfjsGeneratorJson, latents, plan.info, plan.backend));
  await run('ort-node', () => runOrt(nodeRuntime, bytes, latents));
  await run('ort-node-webgpu', () => {
    prepareVulkan(); // onnxruntime-node's own Dawn needs a Vulkan loader and driver on Linux
    return runOrt(nodeRuntime, bytes, latents, ['webgpu']);
  });
  await run('ort-web', () => runOrt(webRuntime, bytes, latents));
  await run('ort-web-chromium', () => runChromium(paths.generator, seed, count, 'wasm', chromium));
  await run('ort-web-chromium-webgpu', () => runChromium(paths.generator, seed, count, 'webgpu', chromium));
  return { outputs, skipped, failed };
}

/**
 * Whether a row that failed with `err` is skipped rather than failing the run: a WebGPU row not asked
 * for by name, whose provider is unavailable here (no adapter). A provider that loads and then fails is a failure.
 */
export function isSkippable(runtime: RuntimeName, err: unknown, runtimesNamed: boolean): boolean {
  const unavailable = err instanceof GanportError && err.code === 'unavailable';
  return WEBGPU_RUNTIMES.includes(runtime) && !runtimesNamed && unavailable;
}

/** Every row against tfjs's output, and the verdict: each row within its tolerance, the latents the same bits. */
function reportParity(plan: ParityPlan, { outputs, skipped, failed }: RuntimeOutputs): ParityReport {
  const { count, tolerance, webgpuTolerance } = plan;
  const { layout, outputShape } = plan.info;
  // tfjs is channels-last; a model exported with --layout nchw is compared in its own layout.
  const tfjsRaw = outputs.get('tfjs')!.output;
  const tfjsOutput =
    layout === 'NCHW' ? toChannelsFirst(tfjsRaw, count, [outputShape[1], outputShape[2], outputShape[0]]) : tfjsRaw;
  const rows = RUNTIMES.flatMap((runtime): ParityRow[] => {
    const rowTolerance = WEBGPU_RUNTIMES.includes(runtime) ? webgpuTolerance : tolerance;
    const reason = skipped.get(runtime);
    if (reason !== undefined) return [unrunRow(runtime, rowTolerance, { skipped: reason })];
    const failure = failed.get(runtime);
    if (failure !== undefined) return [unrunRow(runtime, rowTolerance, { failed: failure })];
    const out = outputs.get(runtime);
    if (!out) return [];
    // the tfjs row is the reference itself, in the exported layout
    const compared = runtime === 'tfjs' ? { ...out, output: tfjsOutput } : out;
    return [comparedRow(runtime, compared, tfjsOutput, rowTolerance)];
  });
  const sampled = [...outputs.values()].filter((o) => o.latents !== undefined);
  const latentsIdentical = sampled.length > 0 ? sampled.every((o) => sameBits(o.latents!, plan.latents)) : undefined;
  return {
    model: plan.paths.generator,
    seed: plan.seed,
    count,
    tolerance,
    webgpuTolerance,
    rows,
    latentsIdentical,
    latentsCompared: sampled.length,
    ok: latentsIdentical !== false && rows.every((r) => r.ok),
  };
}

function comparedRow(runtime: RuntimeName, out: RuntimeOutput, reference: Float32Array, tolerance: number): ParityRow {
  const { max, mean } = compare(reference, out.output);
  return {
    runtime,
    provider: out.provider,
    maxAbsError: max,
    meanAbsError: mean,
    loadMs: out.loadMs,
    runMs: out.runMs,
    tolerance,
    ok: max <= tolerance,
  };
}

/** A row that did not run: skipped (ok), or failed (not). */
const unrunRow = (
  runtime: RuntimeName,
  tolerance: number,
  why: { skipped: string } | { failed: string },
): ParityRow => ({
  runtime,
  provider: runtimeProvider(runtime),
  maxAbsError: Number.NaN,
  meanAbsError: Number.NaN,
  loadMs: 0,
  runMs: 0,
  tolerance,
  ok: 'skipped' in why,
  ...why,
});

export function formatParity(report: ParityReport): string {
  const header = ['runtime', 'provider', 'max abs err', 'mean abs err', 'load ms', 'run ms', 'tolerance', 'status'];
  const body = report.rows.map((r) =>
    r.skipped !== undefined || r.failed !== undefined
      ? [r.runtime, r.provider, '-', '-', '-', '-', '-', r.failed ? `FAIL: ${r.failed}` : `skipped: ${r.skipped}`]
      : [
          r.runtime,
          r.provider,
          r.maxAbsError.toExponential(2),
          r.meanAbsError.toExponential(2),
          r.loadMs.toFixed(1),
          r.runMs.toFixed(1),
          r.runtime === 'tfjs' ? '-' : String(r.tolerance),
          r.runtime === 'tfjs' ? 'reference' : r.ok ? 'ok' : 'FAIL',
        ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    `parity of ${report.model}: ${report.count} images from seed ${report.seed}, ` +
      `tolerance ${report.tolerance} (WebGPU rows ${report.webgpuTolerance})`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    `latents bit-identical across runtimes: ${report.latentsCompared === 0 ? 'n/a (no Chromium row, which samples its own)' : report.latentsIdentical ? 'yes' : 'NO'}`,
    report.ok ? 'PASS' : 'FAIL',
  ].join('\n');
}
