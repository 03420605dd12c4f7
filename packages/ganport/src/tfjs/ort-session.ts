/**
 * Runs tiny ONNX graphs in onnxruntime-node synchronously, as tfjs kernels must return.
 *
 * The synchronous call: onnxruntime-node's public `InferenceSession.run` is async only in
 * name — dist/backend.js wraps the native binding's synchronous `run` in setImmediate. We
 * call that native `run` directly. The alternative, the public async API in a worker thread
 * with the kernel blocked in Atomics.wait, measured 0.15 ms per call against 0.04 ms
 * (64×64 Add) and 5.4 ms against 4.9 ms (a batch-64 ConvTranspose: inputs and outputs must
 * be copied through a SharedArrayBuffer, while the direct call reads and writes the wasm heap
 * in place). A DCGAN step makes ~100 such calls. The price is an internal API, so the
 * version is pinned exactly in package.json and `ortBinding()` checks both.
 *
 * Threads: intra-op spinning is off so that ORT's idle workers never compete with the JS
 * thread (on 2 cores, spinning made whole steps slower). Measured on this project's 2-core
 * machine, shared with another build, 1 vs 2 threads: a 205-MFLOP filter gradient 4.0 vs
 * 4.0–6.2 ms and a 0.4-MFLOP one 1.0 vs 1.1 ms (best of 25), a batch-64 ConvTranspose 5.2 vs
 * 5.5 ms, a whole DCGAN step 158 vs 159–187 ms (best of 10, three runs each; medians 200 vs
 * 231–244). A second thread pays only on big ops and only with a core to spare, so ops above
 * PARALLEL_FLOPS get one thread fewer than the machine has cores (at most 4), the rest one;
 * GANPORT_ORT_THREADS overrides the former.
 *
 * Denormals: every session flushes them to zero (onnxruntime's `session.set_denormal_as_zero`), as
 * TensorFlow's CPU kernels do. Training makes them (a gradient of 1e-20 squared in Adam), and x86
 * computes them slowly: a dcgan step in `ganport train` took 49.7 ms with the flag against 54.0 ms
 * without (200 steps each, one after the other). onnxruntime applies the flag of the first session a
 * process creates to the thread that created it, for good: in a process that trains on the ort or
 * onnx backend, the main thread (its JavaScript and wasm too) then computes denormals as zero.
 */
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import type { Tensor as OrtTensor } from 'onnxruntime-common';

/** The onnxruntime-node version whose native binding this module was written against. */
export const PINNED_ORT_VERSION = '1.30.0';

/** A graph input or output on the caller's memory: float32, int32, int64, or bool as bytes. */
export interface Feed {
  name: string;
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
  dims: readonly number[];
}

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor | null>, options: object): unknown;
  dispose(): void;
}

interface NativeBinding {
  InferenceSession: new () => NativeSession;
}

const require = createRequire(import.meta.url);
let loaded: { binding: NativeBinding; Tensor: typeof OrtTensor } | undefined;

/** The native binding, after checking that it is still the internal API this module calls. */
export function ortBinding(): { binding: NativeBinding; Tensor: typeof OrtTensor } {
  if (loaded) return loaded;
  const version = (require('onnxruntime-node/package.json') as { version: string }).version;
  if (version !== PINNED_ORT_VERSION) {
    throw new Error(
      `the ort backend calls onnxruntime-node's native binding directly and was written for ${PINNED_ORT_VERSION}, ` +
        `but ${version} is installed; check its dist/binding.js and dist/backend.js, then update PINNED_ORT_VERSION`,
    );
  }
  const internal = require('onnxruntime-node/dist/binding.js') as { binding?: NativeBinding; initOrt?: () => void };
  const proto = internal.binding?.InferenceSession?.prototype as Partial<NativeSession> | undefined;
  if (
    typeof internal.initOrt !== 'function' ||
    !proto ||
    ['loadModel', 'run', 'dispose'].some((m) => typeof proto[m as keyof NativeSession] !== 'function')
  ) {
    throw new Error(
      'onnxruntime-node/dist/binding.js no longer exports initOrt and InferenceSession {loadModel, run, dispose}',
    );
  }
  internal.initOrt();
  loaded = {
    binding: internal.binding!,
    Tensor: (require('onnxruntime-common') as { Tensor: typeof OrtTensor }).Tensor,
  };
  return loaded;
}

/** Ops with more floating-point operations than this may use more than one ORT thread. */
export const PARALLEL_FLOPS = 50e6;
const PARALLEL_THREADS = Math.max(1, Number(process.env.GANPORT_ORT_THREADS) || Math.min(4, cpus().length - 1));

export function intraOpThreads(flops: number): number {
  return flops > PARALLEL_FLOPS ? PARALLEL_THREADS : 1;
}

export interface SessionOptions {
  /** Intra-op threads (default 1). */
  threads?: number;
  /** Let idle intra-op threads spin (default off: they would compete with the JS thread between calls). */
  spinning?: boolean;
  /**
   * Stop the spinning when a run returns (onnxruntime's `session.force_spinning_stop`): for sessions run
   * one after another, whose idle threads would otherwise spin through the next one's run.
   */
  stopSpinning?: boolean;
  /** Execution providers in order of preference (default: onnxruntime's, the CPU). */
  providers?: string[];
}

const feedType = (data: Feed['data']) =>
  data instanceof Float32Array
    ? 'float32'
    : data instanceof Int32Array
      ? 'int32'
      : data instanceof BigInt64Array
        ? 'int64'
        : 'bool';

/** One loaded graph; `run` writes every output into the caller's arrays. */
export class OrtSession {
  private readonly native: NativeSession;

  constructor(model: Uint8Array, options: SessionOptions = {}) {
    const { binding } = ortBinding();
    this.native = new binding.InferenceSession();
    this.native.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
      intraOpNumThreads: options.threads ?? 1,
      logSeverityLevel: 3, // errors only: ganport reports what matters itself
      ...(options.providers ? { executionProviders: options.providers } : {}),
      extra: {
        session: {
          intra_op: { allow_spinning: options.spinning ? '1' : '0' },
          set_denormal_as_zero: '1',
          ...(options.stopSpinning ? { force_spinning_stop: '1' } : {}),
        },
      },
    });
  }

  run(inputs: Feed[], outputs: Feed[]): void {
    const { Tensor } = ortBinding();
    const tensor = ({ data, dims }: Feed) => new Tensor(feedType(data), data, dims);
    const feeds = Object.fromEntries(inputs.map((i) => [i.name, tensor(i)]));
    const fetches = Object.fromEntries(outputs.map((o) => [o.name, tensor(o)]));
    this.native.run(feeds, fetches, {});
  }

  dispose(): void {
    this.native.dispose();
  }
}

/**
 * Sessions by key (op, shapes, attributes, threads), least recently used evicted first:
 * a short last batch or a changing shape adds sessions, and each holds native memory.
 */
export class SessionCache {
  private readonly sessions = new Map<string, OrtSession>();

  constructor(public capacity: number) {}

  get size(): number {
    return this.sessions.size;
  }

  keys(): string[] {
    return [...this.sessions.keys()];
  }

  get(key: string, create: () => OrtSession): OrtSession {
    let session = this.sessions.get(key);
    if (session) {
      this.sessions.delete(key); // re-inserted below: Map order is recency order
    } else {
      session = create();
      while (this.sessions.size >= this.capacity) this.evictOldest();
    }
    this.sessions.set(key, session);
    return session;
  }

  clear(): void {
    while (this.sessions.size) this.evictOldest();
  }

  private evictOldest(): void {
    const [key, session] = this.sessions.entries().next().value as [string, OrtSession];
    this.sessions.delete(key);
    session.dispose();
  }
}
