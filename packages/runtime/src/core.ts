// The platform-independent runtime: everything but how ONNX Runtime is imported
// and how model bytes are fetched. `node.ts` and `web.ts` bind it to
// onnxruntime-node and onnxruntime-web (selected by package.json `exports`).
// (The runtime's module headers are line comments: a JSDoc block before the first import is copied into
// the .d.ts, where no editor shows it, and the package's 50 kB goal pays for it.)
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { GanportError, integerIn } from './errors.js';
import { type GridOptions, type ImageBatch, type RgbaImage, toGrid } from './image.js';
import { type GeneratorInfo, generatorInfo, isPointGenerator, META, product } from './metadata.js';
import { readOnnxInfo } from './onnx-info.js';
import { sampleLatents } from './sampler.js';
import { scatterPlot } from './scatter.js';

/** The part of an ONNX Runtime package the core uses; both packages satisfy it. */
export interface OrtBinding {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (
    type: 'float32' | 'int32' | 'int64',
    data: Float32Array | Int32Array | BigInt64Array,
    dims: readonly number[],
  ) => Tensor;
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
  /** Images to make: default the latents', else the labels', else 1. */
  count?: number;
  /** Class labels for conditional generators: one per image, or fewer, repeated in turn. */
  labels?: ArrayLike<number | bigint>;
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
  // (private members' notes are line comments: a JSDoc block is copied into the .d.ts, which the 50 kB goal pays for)
  // the first dispose()'s promise, which later calls return too
  private disposed?: Promise<void>;

  // the last generate's runs queued: they go one call at a time (a WebGPU session refuses a run while another is under way)
  private lastRun: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ort: OrtBinding,
    private readonly session: InferenceSession,
    readonly info: GeneratorInfo,
    /** The session's execution provider. */
    readonly provider: string,
  ) {}

  sampleLatents({ seed, count, truncation }: { seed: number; count: number; truncation?: number }): Float32Array {
    checkCount(count);
    return sampleLatents({ seed, count, dim: this.info.latentSize, truncation });
  }

  async generate(request: GenerateRequest = {}): Promise<GeneratedBatch> {
    if (this.disposed) throw new GanportError('this generator was disposed');
    const { latentSize, numClasses, labelInput } = this.info;
    const { labels } = request;
    if (labels != null && (typeof labels.length !== 'number' || labels.length === 0))
      throw new GanportError('labels must be a non-empty list of class labels');
    let latents = request.latents;
    let count: number;
    if (latents) {
      // a copy: the runs may start after earlier calls' (queued), when the caller has refilled its array
      latents = Float32Array.from(latents as ArrayLike<number>);
      if (latents.length === 0 || latents.length % latentSize !== 0) {
        throw new GanportError(
          `latents must be a multiple of the latent size ${latentSize} long, got ${latents.length}`,
        );
      }
      if (!latents.every(Number.isFinite)) throw new GanportError('latents must be finite numbers');
      count = latents.length / latentSize;
      if (request.count !== undefined && request.count !== count)
        throw new GanportError(`count ${request.count} disagrees with ${count} latent vectors`);
      checkCount(count);
    } else {
      count = request.count ?? labels?.length ?? 1;
      latents = this.sampleLatents({ seed: request.seed ?? 0, count, truncation: request.truncation });
    }
    if (labels && labels.length > count) throw new GanportError(`${labels.length} labels for ${count} images`);
    if (!labelInput && labels) throw new GanportError('this generator is not conditional; it takes no labels');
    if (labelInput && !labels && numClasses === undefined)
      throw new GanportError(`this generator does not record its classes (${META.numClasses}): pass labels`);
    const classes = labelInput ? labelValues(labels, count, numClasses) : undefined;

    const values = count * product(this.info.outputShape);
    // 4 GiB of floats at most: one array's limit differs by engine (2^32 values in Node 20, 2^53 in 22)
    if (values > 2 ** 30) throw new GanportError(`${count} outputs are too large; generate fewer`);
    const data = new Float32Array(values);
    const batch = this.info.batchSize ?? count;
    const z = latents;
    const runs = this.lastRun.then(async () => {
      for (let start = 0; start < count; start += batch)
        data.set(
          await this.run(z, classes, start, Math.min(batch, count - start), batch),
          start * (data.length / count),
        );
    });
    this.lastRun = runs.catch(() => {});
    await runs;
    if (!data.every(Number.isFinite))
      throw new GanportError('the model computed NaN or infinite values', 'invalid-model');
    const dims = [count, ...this.info.outputShape];
    return { data, dims, count, latents, images: this.asImages(data, count) };
  }

  /** generate() as one RGBA picture: an image grid (without labels, a row per class), or a 2-D scatter plot. */
  async generateGrid(request: GenerateRequest & GridOptions = {}): Promise<RgbaImage> {
    const count = request.latents
      ? request.count
      : gridCount(this.info, request.count ?? request.labels?.length ?? 1, request.labels);
    const batch = await this.generate({ ...request, count });
    if (isPointGenerator(this.info)) return scatterPlot(batch.data);
    if (!batch.images)
      throw new GanportError(`this model's output (${this.info.outputShape.join('×')}) is not an image`, 'unsupported');
    const { numClasses, labelKind } = this.info;
    const rowPerClass = numClasses && labelKind === 'class' && !request.labels && batch.count % numClasses === 0;
    const columns = request.columns ?? (rowPerClass ? Math.ceil(batch.count / numClasses) : undefined);
    return toGrid(batch.images, { ...request, columns });
  }

  /** Releases the session once the runs under way end; a later call waits for the same. */
  dispose(): Promise<void> {
    this.disposed ??= this.lastRun.then(() => this.session.release());
    return this.disposed;
  }

  /**
   * @internal The outputs of images [start, start + n), run as a batch of `size` (a graph that fixes its
   * batch size is fed whole batches, the last one padded with zero latents and class 0).
   */
  private async run(latents: Float32Array, classes: number[] | undefined, start: number, n: number, size: number) {
    const { latentInput, latentShape, latentSize, labelInput, labelRank, labelType, output, outputShape } = this.info;
    const z = new Float32Array(size * latentSize);
    z.set(latents.subarray(start * latentSize, (start + n) * latentSize));
    const feeds: Record<string, Tensor> = { [latentInput]: new this.ort.Tensor('float32', z, [size, ...latentShape]) };
    if (labelInput && classes) {
      const values = Array.from({ length: size }, (_, i) => classes[start + i] ?? 0);
      feeds[labelInput] =
        labelType === 'int32'
          ? new this.ort.Tensor('int32', Int32Array.from(values), labelRank === 2 ? [size, 1] : [size])
          : new this.ort.Tensor('int64', BigInt64Array.from(values, BigInt), labelRank === 2 ? [size, 1] : [size]);
    }
    let data: Float32Array;
    try {
      data = (await this.session.run(feeds))[output].data as Float32Array;
    } catch (err) {
      throw new GanportError(`ONNX Runtime could not run the model: ${firstLine(err)}`, 'invalid-model');
    }
    const perImage = product(outputShape);
    if (data.length !== size * perImage)
      throw new GanportError(
        `the model's output holds ${data.length} values for ${size} images, not ${outputShape.join('×')} each`,
        'invalid-model',
      );
    return data.subarray(0, n * perImage);
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
// onnxruntime's failed checks start with the source location and the condition: keep what they say
const firstLine = (err: unknown) =>
  String((err as Error)?.message ?? err)
    .split('\n')[0]
    .replace(/^\S+\.(cc|cpp|h):\d+ .*? was false\. /, '');

/** Images generateGrid draws for `count`: without labels, each class (or cluster) equally often. */
export function gridCount(info: GeneratorInfo, count: number, labels?: ArrayLike<number | bigint>): number {
  const n = info.numClasses;
  if (!n || n > MAX_COUNT || labels != null || !Number.isInteger(count) || count < 1 || count > MAX_COUNT) return count;
  return Math.min(Math.ceil(count / n), Math.floor(MAX_COUNT / n)) * n;
}

/** Labels used when none are given: the classes in equal consecutive runs. */
export function defaultLabels(count: number, numClasses: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.floor((i * numClasses) / count));
}

/** The class of each image: `labels` in turn, or the classes in equal runs; each checked against the range. */
function labelValues(
  labels: ArrayLike<number | bigint> | undefined,
  count: number,
  numClasses: number | undefined,
): number[] {
  const fallback = defaultLabels(count, numClasses ?? 1);
  return Array.from({ length: count }, (_, i) => {
    const raw = labels ? labels[i % labels.length] : fallback[i];
    const label = typeof raw === 'bigint' ? Number(raw) : raw; // only bigints: Number('7') or Number(null) is no class
    // no embedding table has 2^31 rows; past int32 (or 2^53) a label would wrap (or round) to another
    const end = numClasses ?? 2 ** 31;
    if (!Number.isInteger(label) || label < 0 || label >= end)
      throw new GanportError(`label ${typeof raw === 'string' ? `"${raw}"` : raw} is out of range [0, ${end})`);
    return label;
  });
}

/** @internal Creates a session from model bytes, trying the requested providers in order. */
export async function createGenerator(
  ort: OrtBinding,
  bytes: Uint8Array,
  options: LoadOptions,
  defaultProviders: string[],
): Promise<Generator> {
  const info = generatorInfo(readOnnxInfo(bytes));
  const providers = options.executionProviders ?? defaultProviders;
  if (!Array.isArray(providers) || providers.length === 0)
    throw new GanportError('executionProviders must be a list of at least one name');
  const failures: string[] = [];
  for (const provider of providers) {
    try {
      // a copy: onnxruntime-web's proxy worker takes the buffer it is given, and the next provider needs it
      const session = await ort.InferenceSession.create(bytes.slice(), {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
      });
      return new Generator(ort, session, info, provider);
    } catch (err) {
      failures.push(`${provider}: ${firstLine(err)}`);
    }
  }
  // the CPU providers run every model that parses: where only accelerators were tried, they are what failed
  const cpuTried = providers.some((p) => p === 'cpu' || p === 'wasm');
  throw new GanportError(
    `could not create an ONNX Runtime session (${failures.join('; ')})`,
    cpuTried ? 'invalid-model' : 'unavailable',
  );
}

/** @internal Fetches model bytes, turning network failures and HTTP errors into GanportError. */
export async function fetchModel(url: string | URL): Promise<Uint8Array> {
  const failed = (why: string) => new GanportError(`cannot fetch model ${url}: ${why}`, 'not-found');
  try {
    const response = await fetch(url);
    if (!response.ok) throw failed(`HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer()); // a connection cut off mid-body fails here
  } catch (err) {
    throw err instanceof GanportError ? err : failed((err as Error).message);
  }
}

/** @internal */
export function toBytes(source: ArrayBuffer | Uint8Array): Uint8Array {
  return source instanceof Uint8Array ? source : new Uint8Array(source);
}
