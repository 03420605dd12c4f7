/**
 * The platform-independent runtime: everything but how ONNX Runtime is imported
 * and how model bytes are fetched. `node.ts` and `web.ts` bind it to
 * onnxruntime-node and onnxruntime-web (selected by package.json `exports`).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { GanportError, integerIn } from './errors.js';
import { type GridOptions, type ImageBatch, type RgbaImage, toGrid } from './image.js';
import { type GeneratorInfo, generatorInfo, isPointGenerator } from './metadata.js';
import { readOnnxInfo } from './onnx-info.js';
import { sampleLatents } from './sampler.js';
import { scatterPlot } from './scatter.js';

/** The part of an ONNX Runtime package the core uses; both packages satisfy it. */
export interface OrtBinding {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) => Tensor;
}

export interface LoadOptions {
  /** Execution providers in order of preference, e.g. ['cuda', 'cpu'] or ['webgpu', 'wasm']. */
  executionProviders?: string[];
}

/** The most images one `generate` call makes; a guard against typos, not a runtime limit. */
export const MAX_COUNT = 4096;

export interface GenerateRequest {
  /** Sample latents from this seed (default 0) unless `latents` is given. */
  seed?: number;
  latents?: Float32Array;
  count?: number;
  /** Class labels, one per image, for conditional generators. */
  labels?: ArrayLike<number>;
  truncation?: number;
}

export interface GeneratedBatch {
  /** The raw output, batch first. */
  data: Float32Array;
  dims: number[];
  count: number;
  latents: Float32Array;
  /** The output as images, when the model produces images. */
  images?: ImageBatch;
}

export class Generator {
  constructor(
    private readonly ort: OrtBinding,
    private readonly session: InferenceSession,
    readonly info: GeneratorInfo,
    /** The execution provider the session was created with. */
    readonly provider: string,
  ) {}

  sampleLatents({ seed, count, truncation }: { seed: number; count: number; truncation?: number }): Float32Array {
    checkCount(count);
    return sampleLatents({ seed, count, dim: this.info.latentSize, truncation });
  }

  async generate(request: GenerateRequest = {}): Promise<GeneratedBatch> {
    const { latentSize, numClasses, labelInput } = this.info;
    let latents = request.latents;
    let count: number;
    if (latents) {
      if (latents.length === 0 || latents.length % latentSize !== 0) {
        throw new GanportError(
          `latents must be a multiple of the latent size ${latentSize} long, got ${latents.length}`,
        );
      }
      count = latents.length / latentSize;
      if (request.count !== undefined && request.count !== count)
        throw new GanportError(`count ${request.count} disagrees with ${count} latent vectors`);
      checkCount(count);
    } else {
      count = request.count ?? 1;
      latents = this.sampleLatents({ seed: request.seed ?? 0, count, truncation: request.truncation });
    }

    const feeds: Record<string, Tensor> = {
      [this.info.latentInput]: new this.ort.Tensor('float32', latents, [count, latentSize]),
    };
    if (labelInput)
      feeds[labelInput] = new this.ort.Tensor(
        'int64',
        labelTensor(request.labels, count, numClasses),
        this.info.labelRank === 2 ? [count, 1] : [count],
      );
    else if (request.labels) throw new GanportError('this generator is not conditional; it takes no labels');

    const results = await this.session.run(feeds);
    const out = results[this.info.output];
    const data = out.data as Float32Array;
    if (data.some((x) => !Number.isFinite(x)))
      throw new GanportError('the model computed NaN or infinite values', 'invalid-model');
    const dims = out.dims.slice();
    return { data, dims, count, latents, images: this.asImages(data, count) };
  }

  /** generate() as one RGBA picture: an image grid (without labels, a row per class), or a 2-D scatter plot. */
  async generateGrid(request: GenerateRequest & GridOptions = {}): Promise<RgbaImage> {
    const count = request.latents ? undefined : gridCount(this.info, request.count ?? 1, request.labels);
    const batch = await this.generate({ ...request, count });
    if (isPointGenerator(this.info)) return scatterPlot(batch.data);
    if (!batch.images)
      throw new GanportError(`this model's output (${this.info.outputShape.join('×')}) is not an image`, 'unsupported');
    const { numClasses, labelKind } = this.info;
    const rowPerClass = numClasses && labelKind === 'class' && !request.labels;
    const columns = request.columns ?? (rowPerClass ? Math.ceil(batch.count / numClasses) : undefined);
    return toGrid(batch.images, { ...request, columns });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  private asImages(data: Float32Array, count: number): ImageBatch | undefined {
    const { layout, outputShape, valueRange } = this.info;
    if (layout === 'flat' || outputShape.length !== 3) return undefined;
    const [height, width, channels] =
      layout === 'NHWC' ? outputShape : [outputShape[1], outputShape[2], outputShape[0]];
    return { data, count, height, width, channels, layout, valueRange };
  }
}

const checkCount = (count: number) => integerIn('count', count, 1, MAX_COUNT);

/** Images generateGrid draws for `count`: without labels, each class (or cluster) equally often. */
export function gridCount(info: GeneratorInfo, count: number, labels?: ArrayLike<number>): number {
  const n = info.numClasses;
  if (!n || labels || !Number.isInteger(count) || count < 1 || count > MAX_COUNT) return count;
  return Math.min(Math.ceil(count / n), Math.floor(MAX_COUNT / n)) * n;
}

/** Labels used when none are given: the classes in equal consecutive runs. */
export function defaultLabels(count: number, numClasses: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.floor((i * numClasses) / count));
}

function labelTensor(
  labels: ArrayLike<number> | undefined,
  count: number,
  numClasses: number | undefined,
): BigInt64Array {
  const out = new BigInt64Array(count);
  const fallback = defaultLabels(count, numClasses ?? 1);
  for (let i = 0; i < count; i++) {
    const label = labels ? labels[i % labels.length] : fallback[i];
    if (!Number.isInteger(label) || label < 0 || (numClasses !== undefined && label >= numClasses)) {
      throw new GanportError(`label ${label} is out of range [0, ${numClasses ?? '?'})`);
    }
    out[i] = BigInt(label);
  }
  return out;
}

/** Creates a session from model bytes, trying the requested providers in order. */
export async function createGenerator(
  ort: OrtBinding,
  bytes: Uint8Array,
  options: LoadOptions,
  defaultProviders: string[],
): Promise<Generator> {
  const info = generatorInfo(readOnnxInfo(bytes));
  const providers = options.executionProviders ?? defaultProviders;
  const failures: string[] = [];
  for (const provider of providers) {
    try {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
      });
      return new Generator(ort, session, info, provider);
    } catch (err) {
      // onnxruntime's failed checks start with the source location and the condition: keep what they say
      const message = (err as Error).message.split('\n')[0].replace(/^\S+\.(cc|cpp|h):\d+ .*? was false\. /, '');
      failures.push(`${provider}: ${message}`);
    }
  }
  throw new GanportError(`could not create an ONNX Runtime session (${failures.join('; ')})`, 'invalid-model');
}

/** Fetches model bytes, turning network failures and HTTP errors into GanportError. */
export async function fetchModel(url: string | URL): Promise<Uint8Array> {
  const response = await fetch(url).catch((err: Error) => {
    throw new GanportError(`cannot fetch model ${url}: ${err.message}`, 'not-found');
  });
  if (!response.ok) throw new GanportError(`cannot fetch model ${url}: HTTP ${response.status}`, 'not-found');
  return new Uint8Array(await response.arrayBuffer());
}

export function toBytes(source: ArrayBuffer | Uint8Array): Uint8Array {
  return source instanceof Uint8Array ? source : new Uint8Array(source);
}
