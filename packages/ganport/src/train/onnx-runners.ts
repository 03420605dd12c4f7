/**
 * Where the onnx engine's state lives between steps, and how its graphs run.
 * - HostRunner (the CPU, and GPU providers onnxruntime-node cannot hand device buffers to): the state
 *   is two sets of arrays in JavaScript, fed to the step graph and written by it in place, swapped
 *   every step; the native binding's synchronous `run` (see tfjs/ort-session.ts).
 * - DeviceRunner (WebGPU): the step graph's state outputs stay on the GPU (onnxruntime-node's
 *   `preferredOutputLocation: 'gpu-buffer'`) and are fed back as the next step's inputs; only the
 *   losses come back each step, and the state is downloaded when the trainer reads it.
 */
import { cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { makeNode, makeValueInfo } from '../onnx/builder.js';
import { OnnxGraph } from '../onnx/graph.js';
import { DEFAULT_OPSET } from '../onnx/opsets.js';
import { encodeModel } from '../onnx/proto.js';
import type { CapturedGraph, GraphTensor } from '../tfjs/capture.js';
import { ONNX_DTYPE } from '../tfjs/onnx-kernels/index.js';
import { type Feed, OrtSession, type SessionOptions } from '../tfjs/ort-session.js';

export type Buffer = Float32Array | Int32Array | Uint8Array;

export interface GraphRunner {
  /** onnxruntime's intra-op threads as chosen, in words: "1 thread", "2 threads, spinning". */
  readonly threading: string;
  /** Runs the step graph on the state and `feeds` (the per-step inputs); the state moves on; returns the losses. */
  step(feeds: Map<string, Buffer>): Promise<{ dLoss: number; gLoss: number }>;
  /** Runs the measurement graph on the state and `feeds`: [mean D(x), mean D(G(z))]. */
  measure(feeds: Map<string, Buffer>): Promise<Float32Array>;
  /** The state's current values on the host, by state name. */
  read(): Promise<Map<string, Buffer>>;
  dispose(): Promise<void>;
}

export interface RunnerOptions {
  providers?: string[];
  threads?: number;
}

/** Providers whose outputs can stay on the device in onnxruntime-node 1.30. */
const DEVICE_RESIDENT = new Set(['webgpu']);

export function createRunner(
  train: CapturedGraph,
  measure: CapturedGraph,
  state: Map<string, Buffer>,
  options: RunnerOptions,
): Promise<GraphRunner> {
  const first = options.providers?.[0];
  return first && DEVICE_RESIDENT.has(first)
    ? DeviceRunner.create(train, measure, state, options)
    : Promise.resolve(new HostRunner(train, measure, state, options));
}

/** The state names the step graph's outputs update, by output name. */
const stateOutputs = (train: CapturedGraph) => new Map([...train.updated].map(([name, output]) => [output, name]));

export const zeros = (t: GraphTensor): Buffer => {
  const n = t.shape.reduce((a, b) => a * b, 1);
  return t.dtype === 'float32' ? new Float32Array(n) : t.dtype === 'int32' ? new Int32Array(n) : new Uint8Array(n);
};

class HostRunner implements GraphRunner {
  readonly threading: string;
  private readonly trainSession: OrtSession;
  private readonly measureSession: OrtSession;
  private readonly stateOutput: Map<string, string>;
  /** The state the next step reads; `next` receives what it writes. */
  private current: Map<string, Buffer>;
  private next: Map<string, Buffer>;

  constructor(
    private readonly train: CapturedGraph,
    private readonly measureGraph: CapturedGraph,
    state: Map<string, Buffer>,
    options: RunnerOptions,
  ) {
    this.current = state;
    this.next = new Map([...train.updated.keys()].map((name) => [name, state.get(name)!.slice()]));
    this.stateOutput = stateOutputs(train);
    const { session, threads, spinning } = this.fastestSession(options);
    this.trainSession = session;
    this.threading = `${threads} thread${threads > 1 ? 's' : ''}${spinning ? ', spinning' : ''}`;
    this.measureSession = new OrtSession(measureGraph.model, { threads, providers: options.providers });
  }

  async step(feeds: Map<string, Buffer>): Promise<{ dLoss: number; gLoss: number }> {
    const losses = { dLoss: new Float32Array(1), gLoss: new Float32Array(1) };
    this.trainSession.run(this.inputs(this.train, feeds), this.fetches(losses, this.next));
    for (const name of this.train.updated.keys()) {
      const updated = this.next.get(name)!;
      this.next.set(name, this.current.get(name)!);
      this.current.set(name, updated);
    }
    return { dLoss: losses.dLoss[0], gLoss: losses.gLoss[0] };
  }

  async measure(feeds: Map<string, Buffer>): Promise<Float32Array> {
    const measured = new Float32Array(2);
    this.measureSession.run(this.inputs(this.measureGraph, feeds), [{ name: 'measured', data: measured, dims: [2] }]);
    return measured;
  }

  async read(): Promise<Map<string, Buffer>> {
    return this.current;
  }

  async dispose(): Promise<void> {
    this.trainSession.dispose();
    this.measureSession.dispose();
  }

  private inputs(graph: CapturedGraph, feeds: Map<string, Buffer>): Feed[] {
    return graph.inputs.map((input) => ({
      name: input.name,
      data: this.current.get(input.name) ?? feeds.get(input.name) ?? zeros(input),
      dims: input.shape,
    }));
  }

  /** The step graph's outputs: the state's into `into`, the losses into `losses`. */
  private fetches(losses: Record<string, Float32Array>, into: Map<string, Buffer>): Feed[] {
    return this.train.outputs.map((output) => {
      const state = this.stateOutput.get(output.name);
      const data = state === undefined ? losses[output.name] : into.get(state)!;
      return { name: output.name, data, dims: output.shape };
    });
  }

  /**
   * The step graph's session on the intra-op threads that run it fastest here: every core (their
   * idle threads spinning between ops or sleeping) or one (small graphs lose more to the threads'
   * handovers than they gain), timed on the current state with the outputs going to scratch arrays.
   * The candidates take turns, round after round, and the median run decides: a burst of luck for one
   * of them, or a neighbour's load, then cannot pick a setting that is slower over a whole run (on 2
   * vCPUs the best of three runs each picked 2 threads for the cdcgan, 1.4× slower per step than 1).
   * Neither changes the results (tested).
   */
  private fastestSession(options: RunnerOptions): { session: OrtSession; threads: number; spinning: boolean } {
    const override = options.threads ?? (Number(process.env.GANPORT_ORT_THREADS) || undefined);
    const cores = cpus().length;
    const candidates: SessionOptions[] = override
      ? [{ threads: override }]
      : cores > 1
        ? [{ threads: cores }, { threads: cores, spinning: true }, { threads: 1 }]
        : [{ threads: 1 }];
    const sessions = candidates.map((c) => new OrtSession(this.train.model, { ...c, providers: options.providers }));
    const chosen = sessions.length > 1 ? fastestByMedian(this.trialTimes(sessions)) : 0;
    for (const [i, session] of sessions.entries()) if (i !== chosen) session.dispose();
    const { threads = 1, spinning = false } = candidates[chosen];
    return { session: sessions[chosen], threads, spinning };
  }

  /** Each session's times for the step graph, the sessions taking turns (after one set-up run each). */
  private trialTimes(sessions: OrtSession[]): number[][] {
    const feeds = this.inputs(this.train, new Map());
    const scratch = new Map([...this.next].map(([name, buffer]) => [name, buffer.slice()]));
    const fetches = this.fetches({ dLoss: new Float32Array(1), gLoss: new Float32Array(1) }, scratch);
    const times = sessions.map(() => [] as number[]);
    for (const session of sessions) session.run(feeds, fetches);
    for (let round = 0; round < THREAD_TRIAL_ROUNDS; round++)
      for (const [i, session] of sessions.entries()) {
        const t0 = performance.now();
        session.run(feeds, fetches);
        times[i].push(performance.now() - t0);
      }
    return times;
  }
}

/** Timed runs of each thread setting (after one set-up run). */
const THREAD_TRIAL_ROUNDS = 7;

/** Which setting's runs were fastest: the lowest median (not the single best run, which luck decides). */
export function fastestByMedian(times: number[][]): number {
  const medians = times.map((runs) => [...runs].sort((a, b) => a - b)[runs.length >> 1]);
  return medians.indexOf(Math.min(...medians));
}

type Tensors = Map<string, ort.Tensor>;

class DeviceRunner implements GraphRunner {
  readonly threading = '1 thread';

  private constructor(
    private readonly train: CapturedGraph,
    private readonly measureGraph: CapturedGraph,
    private readonly trainSession: ort.InferenceSession,
    private readonly measureSession: ort.InferenceSession,
    /** Downloads the state: a graph copying each state input to a host output. */
    private readonly downloadSession: ort.InferenceSession,
    /** The state: host tensors at first, device buffers from the first step on. */
    private state: Tensors,
  ) {}

  static async create(
    train: CapturedGraph,
    measure: CapturedGraph,
    state: Map<string, Buffer>,
    options: RunnerOptions,
  ): Promise<DeviceRunner> {
    const executionProviders = options.providers;
    const onDevice = Object.fromEntries(
      train.outputs.map((o) => [o.name, isState(train, o.name) ? 'gpu-buffer' : 'cpu']),
    );
    const tensors = new Map(
      [...state].map(([name, data]) => {
        const input = train.inputs.find((i) => i.name === name)!;
        return [name, new ort.Tensor(input.dtype, data, input.shape)];
      }),
    );
    return new DeviceRunner(
      train,
      measure,
      await ort.InferenceSession.create(train.model, {
        executionProviders,
        preferredOutputLocation: onDevice as never,
      }),
      await ort.InferenceSession.create(measure.model, { executionProviders }),
      await ort.InferenceSession.create(downloadModel(train.inputs.filter((i) => state.has(i.name))), {
        executionProviders,
      }),
      tensors,
    );
  }

  async step(feeds: Map<string, Buffer>): Promise<{ dLoss: number; gLoss: number }> {
    const results = await this.trainSession.run(this.inputs(this.train, feeds));
    const next = new Map(this.state);
    for (const [name, output] of this.train.updated) {
      this.state.get(name)!.dispose(); // the last step's device buffer (or the first host tensor)
      next.set(name, results[output]);
    }
    this.state = next;
    return { dLoss: (results.dLoss.data as Float32Array)[0], gLoss: (results.gLoss.data as Float32Array)[0] };
  }

  async measure(feeds: Map<string, Buffer>): Promise<Float32Array> {
    const results = await this.measureSession.run(this.inputs(this.measureGraph, feeds));
    return results.measured.data as Float32Array;
  }

  async read(): Promise<Map<string, Buffer>> {
    const results = await this.downloadSession.run(Object.fromEntries(this.state));
    return new Map([...this.state.keys()].map((name) => [name, results[downloaded(name)].data as Buffer]));
  }

  async dispose(): Promise<void> {
    for (const tensor of this.state.values()) tensor.dispose();
    await Promise.all([this.trainSession.release(), this.measureSession.release(), this.downloadSession.release()]);
  }

  private inputs(graph: CapturedGraph, feeds: Map<string, Buffer>): Record<string, ort.Tensor> {
    return Object.fromEntries(
      graph.inputs.map((input) => [
        input.name,
        this.state.get(input.name) ?? new ort.Tensor(input.dtype, feeds.get(input.name) ?? zeros(input), input.shape),
      ]),
    );
  }
}

const isState = (train: CapturedGraph, output: string) => [...train.updated.values()].includes(output);
const downloaded = (name: string) => `${name}/host`;

/** A graph that copies each input to a host output (a Mul by 1: an Identity would stay on the device). */
function downloadModel(inputs: GraphTensor[]): Uint8Array {
  const g = new OnnxGraph(DEFAULT_OPSET);
  for (const input of inputs) g.unique(input.name);
  for (const input of inputs) {
    const one = g.constant(
      'one',
      ONNX_DTYPE[input.dtype],
      [],
      input.dtype === 'float32' ? Float32Array.of(1) : Int32Array.of(1),
    );
    g.nodes.push(makeNode('Mul', [input.name, one], [downloaded(input.name)]));
  }
  const info = (t: GraphTensor, name = t.name) => makeValueInfo(name, ONNX_DTYPE[t.dtype], t.shape);
  return encodeModel(
    g.toModel(
      'ganport_download',
      inputs.map((t) => info(t)),
      inputs.map((t) => info(t, downloaded(t.name))),
    ),
  );
}
