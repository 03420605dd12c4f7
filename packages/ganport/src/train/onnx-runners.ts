/**
 * Where the onnx engine's state lives between steps, and how its graphs run.
 * - HostRunner (the CPU, and GPU providers onnxruntime-node cannot hand device buffers to): the state
 *   is two sets of arrays in JavaScript, fed to the step graph and written by it in place, swapped
 *   every step; the native binding's synchronous `run` (see tfjs/ort-session.ts), on one session or
 *   split over lanes (lanes/executor.ts), whichever is faster over the run's first steps (the trial:
 *   ways.ts).
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
import { forCpuKernels } from './cpu-rewrites.js';
import { detachGeneratorUpdate, HostUpdate, type HostUpdatePlan } from './host-update.js';
import { LaneExecutor } from './lanes/executor.js';
import { typedArray } from './lanes/program.js';
import { splitAtDiscriminatorUpdate, worthSplitting } from './split-step.js';
import { type Candidate, messageOf, type StepExecutor, StepNotRepeatable, Ways } from './ways.js';

export type Buffer = Float32Array | Int32Array | Uint8Array;

export interface GraphRunner {
  /**
   * How the step runs, in words: "1 thread", "2 threads, spinning", "2 lanes (3 + 3 segments)"; "trying
   * … in turn" during the first trial, the way chosen before during a re-trial.
   */
  readonly threading: string;
  /** The step graph as this runner runs it (on the CPU, rewritten: cpu-rewrites.ts). */
  readonly stepGraph: CapturedGraph;
  /** ms the last step spent on Adam and the EMA outside its graphs (host-update.ts); 0 where they are in it. */
  readonly hostUpdateMs: number;
  /** Steps left in the trial under way, the first or a re-trial (0: none, or nothing to choose). */
  readonly trialStepsLeft: number;
  /** Starts a re-trial with the next step, where there is a choice and no trial under way. */
  retry(): void;
  /**
   * Runs the step graph on the state and `feeds` (the per-step inputs); the state moves on; returns the
   * losses. `whileWaiting` is called once during the step: while the main thread waits for other
   * lanes' segments, or, where it never waits, right after running the graph.
   */
  step(feeds: Map<string, Buffer>, whileWaiting?: () => void): Promise<{ dLoss: number; gLoss: number }>;
  /** Runs the measurement graph on the state and `feeds`: [mean D(x), mean D(G(z))]. */
  measure(feeds: Map<string, Buffer>): Promise<Float32Array>;
  /** The state's current values on the host, by state name. */
  read(): Promise<Map<string, Buffer>>;
  dispose(): Promise<void>;
}

export interface RunnerOptions {
  providers?: string[];
  /** Intra-op threads of one session (GANPORT_ORT_THREADS): no trial, no lanes. */
  threads?: number;
  /** Run the step on this many lanes (GANPORT_ORT_LANES), where the graph splits; else the trial decides. */
  lanes?: number;
  /** The step graph's per-step inputs, by which the lanes split it (lanes/plan.ts). */
  sources?: readonly string[];
  /** The big convolutions on onnxruntime's NCHWc kernels (nchwc.ts), on the CPU; false (GANPORT_ORT_NCHWC=0) keeps ONNX's own. */
  nchwc?: boolean;
  /**
   * The generator's Adam and EMA (and a big discriminator's Adam, split-step.ts) outside the graph, one
   * WebAssembly pass a variable (host-update.ts), on the CPU; false (GANPORT_ORT_HOST_UPDATE=0) keeps them in it.
   */
  hostUpdate?: boolean;
  /** Reports the trial's choice. */
  log?: (line: string) => void;
  /** The cores the ways may use (default: the machine's; tests ask for more than it has). */
  cores?: number;
}

/** Providers whose outputs can stay on the device in onnxruntime-node 1.30. */
const DEVICE_RESIDENT = new Set(['webgpu']);

export async function createRunner(
  train: CapturedGraph,
  measure: CapturedGraph,
  state: Map<string, Buffer>,
  options: RunnerOptions,
): Promise<GraphRunner> {
  const first = options.providers?.[0];
  if (first && DEVICE_RESIDENT.has(first)) return DeviceRunner.create(train, measure, state, options);
  if (!onCpu(options)) return HostRunner.create({ graph: train, parts: [train] }, measure, state, options);
  const nchwc = options.nchwc ?? process.env.GANPORT_ORT_NCHWC !== '0';
  const rewritten = (graph: CapturedGraph) =>
    forCpuKernels(graph, { nchwc }).catch((error: unknown) => {
      options.log?.(`onnx engine: the CPU rewrite failed, onnxruntime's own kernels run the step: ${error}`);
      return graph;
    });
  const detached =
    (options.hostUpdate ?? process.env.GANPORT_ORT_HOST_UPDATE !== '0') ? detach(train, options) : undefined;
  const [cpuTrain, cpuMeasure] = await Promise.all([rewritten(detached?.graph ?? train), rewritten(measure)]);
  const step = detached ? await split(cpuTrain, detached.plan, options) : { graph: cpuTrain, parts: [cpuTrain] };
  return HostRunner.create(step, cpuMeasure, state, options);
}

function detach(train: CapturedGraph, options: RunnerOptions) {
  try {
    return detachGeneratorUpdate(train);
  } catch (error) {
    options.log?.(`onnx engine: the host update's rewrite failed, the generator's Adam stays in the graph: ${error}`);
    return undefined;
  }
}

/** How a HostRunner runs the step: one graph, or two around the discriminator's update (split-step.ts). */
interface HostStep {
  /** The step's inputs, outputs and state. */
  graph: CapturedGraph;
  /** What runs, in turn. */
  parts: CapturedGraph[];
  plan?: HostUpdatePlan;
  crossing?: GraphTensor[];
  /** The second graph's inputs holding updated weights, by weight. */
  updatedInputs?: Map<string, string>;
}

/** `train` split where that pays (split-step.ts), unless the lanes are forced: they run one graph. */
async function split(train: CapturedGraph, plan: HostUpdatePlan, options: RunnerOptions): Promise<HostStep> {
  const whole = { graph: train, parts: [train], plan };
  if (fixedLanes(options) || !worthSplitting(train)) return whole;
  try {
    const { step, parts, crossing, discriminator, updatedInputs } = await splitAtDiscriminatorUpdate(train);
    return { graph: step, parts, plan: { ...plan, discriminator }, crossing, updatedInputs };
  } catch (error) {
    options.log?.(
      `onnx engine: the split step's rewrite failed, the discriminator's Adam stays in the graph: ${error}`,
    );
    return whole;
  }
}

const onCpu = (options: RunnerOptions) => (options.providers ?? []).every((p) => p === 'cpu');

/** The state names the step graph's outputs update, by output name. */
const stateOutputs = (train: CapturedGraph) => new Map([...train.updated].map(([name, output]) => [output, name]));

/** A session's threads in words: "1 thread", "2 threads, spinning". */
const threadingOf = (c: SessionOptions) =>
  `${c.threads} thread${c.threads! > 1 ? 's' : ''}${c.spinning ? ', spinning' : ''}`;

/** A per-step input's value; one missing is the engine's own error (it would train on zeros). */
function fed(feeds: Map<string, Buffer>, input: GraphTensor): Buffer {
  const value = feeds.get(input.name);
  if (value === undefined) throw new Error(`internal: the step graph's input ${input.name} was not fed`);
  return value;
}

/** A graph input's zeros (the capture's dtypes: never int64). */
const zeros = (t: GraphTensor): Buffer => typedArray({ dtype: t.dtype, dims: t.shape }) as Buffer;

/** One session as a step executor: the main thread runs the whole step, so it never waits for it. */
const sessionExecutor = (session: OrtSession): StepExecutor => ({
  run(inputs, outputs, whileWaiting) {
    session.run(inputs, outputs);
    whileWaiting?.();
  },
  dispose: () => session.dispose(),
});

class HostRunner implements GraphRunner {
  readonly stepGraph: CapturedGraph;
  private readonly stateOutput: Map<string, string>;
  /** The state the next step reads; `next` receives what it writes. */
  private current: Map<string, Buffer>;
  private next: Map<string, Buffer>;
  /**
   * The measurement graph (the discriminator on two batches, every few steps), on one thread whatever
   * way runs the step: on more its sums could take another order, and D(x) follow the trial's choice.
   */
  private readonly measureSession: OrtSession;
  private readonly hostUpdate?: HostUpdate;
  /** The weight each input holding an updated weight reads (the split step's second graph's). */
  private readonly updatedWeight: Map<string, string>;
  hostUpdateMs = 0;

  private constructor(
    step: HostStep,
    private readonly measureGraph: CapturedGraph,
    state: Map<string, Buffer>,
    private readonly ways: Ways,
    options: RunnerOptions,
  ) {
    this.stepGraph = step.graph;
    this.current = new Map(state);
    this.next = new Map([...step.graph.updated.keys()].map((name) => [name, state.get(name)!.slice()]));
    if (step.plan) this.hostUpdate = new HostUpdate(step.plan, this.current, this.next);
    this.updatedWeight = new Map([...(step.updatedInputs ?? [])].map(([weight, input]) => [input, weight]));
    this.stateOutput = stateOutputs(step.graph);
    this.measureSession = new OrtSession(measureGraph.model, { threads: 1, providers: options.providers });
  }

  static async create(
    step: HostStep,
    measure: CapturedGraph,
    state: Map<string, Buffer>,
    options: RunnerOptions,
  ): Promise<HostRunner> {
    let runner: HostRunner | undefined;
    const [first, second] = step.parts;
    const ways = new Ways(
      second
        ? splitCandidates([first, second], step.crossing ?? [], () => runner!.updateDiscriminator(), options)
        : await candidates(first, options),
      options.log,
    );
    try {
      runner = new HostRunner(step, measure, state, ways, options);
    } catch (error) {
      ways.dispose(); // the ways hold sessions and, on the lanes, worker threads
      throw error;
    }
    return runner;
  }

  get threading(): string {
    return this.ways.threading;
  }

  get trialStepsLeft(): number {
    return this.ways.trialStepsLeft;
  }

  retry(): void {
    this.ways.retry();
  }

  async step(feeds: Map<string, Buffer>, whileWaiting?: () => void): Promise<{ dLoss: number; gLoss: number }> {
    const losses = { dLoss: new Float32Array(1), gLoss: new Float32Array(1) };
    this.hostUpdateMs = 0;
    this.ways.run(this.inputs(this.stepGraph, feeds), this.fetches(losses, this.next), whileWaiting);
    for (const name of this.stepGraph.updated.keys()) {
      const updated = this.next.get(name)!;
      this.next.set(name, this.current.get(name)!);
      this.current.set(name, updated);
    }
    if (this.hostUpdate) {
      const start = performance.now();
      this.hostUpdate.applyGenerator(this.current);
      this.hostUpdateMs += performance.now() - start;
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
    try {
      this.ways.dispose();
    } finally {
      this.measureSession.dispose();
    }
  }

  /** The split step's discriminator update, between its two graphs. */
  private updateDiscriminator(): void {
    const start = performance.now();
    this.hostUpdate!.applyDiscriminator(this.current);
    this.hostUpdateMs += performance.now() - start;
  }

  private inputs(graph: CapturedGraph, feeds: Map<string, Buffer>): Feed[] {
    return graph.inputs.map((input) => ({
      name: input.name,
      data:
        this.current.get(input.name) ?? this.current.get(this.updatedWeight.get(input.name) ?? '') ?? fed(feeds, input),
      dims: input.shape,
    }));
  }

  /** The step graph's outputs: the state's into `into`, the losses into `losses`. */
  private fetches(losses: Record<string, Float32Array>, into: Map<string, Buffer>): Feed[] {
    return this.stepGraph.outputs.map((output) => {
      const state = this.stateOutput.get(output.name);
      const data =
        state === undefined ? (losses[output.name] ?? this.hostUpdate?.output(output.name)) : into.get(state)!;
      return { name: output.name, data, dims: output.shape };
    });
  }
}

/**
 * The ways to run the step graph that the trial compares: one session on every core (its idle
 * threads spinning between ops) or on one (small graphs lose more to the threads' handovers than
 * they gain), and the step split over two lanes where its plan promises a gain.
 * GANPORT_ORT_THREADS or GANPORT_ORT_LANES (or the options) fix the choice instead.
 */
async function candidates(train: CapturedGraph, options: RunnerOptions): Promise<Candidate[]> {
  const lanes = fixedLanes(options);
  const cores = options.cores ?? cpus().length;
  const session = (c: SessionOptions): Candidate => ({
    executor: sessionExecutor(new OrtSession(train.model, { ...c, providers: options.providers })),
    threading: threadingOf(c),
  });
  if (fixedThreads(options) || !onCpu(options)) return sessionWays([train], options).map(session);
  // one thread's outputs, which the lanes and the spinning threads must both give
  let oneThread: Uint8Array[] | undefined;
  const reference = () => {
    oneThread ??= outputsOnThreads(train, 1, options);
    return oneThread;
  };
  const laneCount = lanes ?? (cores > 1 ? 2 : 0);
  // forced (GANPORT_ORT_LANES), the lanes fail loudly; offered, a failure to set them up leaves the others
  const split =
    laneCount > 1
      ? await LaneExecutor.create(train, {
          lanes: laneCount,
          sources: options.sources ?? [],
          always: !!lanes,
        }).catch((error: unknown) => {
          if (lanes) throw error;
          options.log?.(`onnx engine: the lanes could not start (${messageOf(error)}); the trial leaves them out`);
          return undefined;
        })
      : undefined;
  // the ways stand in for each other: offered lanes that sum in another order (a cut can change
  // onnxruntime's fusions) would make a run's bits follow the trial's timing
  const agreeing = split && !lanes && !lanesAgree(train, split, reference()) ? undefined : split;
  if (split && !agreeing) {
    split.dispose();
    options.log?.('onnx engine: the lanes give other bits than one thread for this step; the trial leaves them out');
  }
  const onLanes: Candidate[] = agreeing ? [{ executor: agreeing, threading: agreeing.description }] : [];
  if (lanes && onLanes.length) return onLanes;
  if (lanes)
    options.log?.(
      'onnx engine: GANPORT_ORT_LANES asks for lanes, but this step cannot run on them; the trial runs sessions',
    );
  const made: Candidate[] = [];
  try {
    for (const way of sessionWays([train], options, () => [reference()])) made.push(session(way));
    return [...made, ...onLanes];
  } catch (error) {
    // what was made holds sessions, and the lanes' worker threads would wait on
    for (const way of made) way.executor.dispose();
    agreeing?.dispose();
    throw error;
  }
}

const fixedThreads = (options: RunnerOptions) =>
  options.threads ?? (Number(process.env.GANPORT_ORT_THREADS) || undefined);
const fixedLanes = (options: RunnerOptions) => options.lanes ?? (Number(process.env.GANPORT_ORT_LANES) || undefined);

/**
 * One session's ways: on every core, idle threads spinning, and on one; the fixed threads alone; on a
 * GPU provider one session (below). The
 * ways take turns and stand in for each other, so they must give the same bits: onnxruntime's matrix
 * products sum in another order on 4 threads or more, and on 2 for some shapes (seed-mlp at batch 16;
 * measured here), so the spinning way's threads are the most that agree with one thread on `graphs`
 * (threadsAgreeing).
 */
export function sessionWays(
  graphs: CapturedGraph[],
  options: RunnerOptions,
  oneThread = () => graphs.map((graph) => outputsOnThreads(graph, 1, options)),
): SessionOptions[] {
  const threads = fixedThreads(options);
  if (threads) return [{ threads }];
  // a GPU provider (CUDA) runs the step on the device, where threads mean nothing; two sessions would each
  // choose their own kernels (cuDNN's timed search), which need not give the same bits
  if (!onCpu(options)) return [{ threads: 1 }];
  const cores = options.cores ?? cpus().length;
  // every core with its idle threads sleeping lost to them spinning in every trial here (dcgan 68 against
  // 56 ms, cdcgan 76 against 64, PacGAN 35 against 32): not a candidate
  const spinning = cores > 1 ? threadsAgreeing(graphs, cores, options, oneThread()) : 1;
  return spinning > 1 ? [{ threads: spinning, spinning: true }, { threads: 1 }] : [{ threads: 1 }];
}

/**
 * The most threads, `cores` or else 2, on which every graph of `graphs` gives the same outputs, bit
 * for bit, as on one thread (`references`), from the same made-up inputs; 1 where neither does.
 */
function threadsAgreeing(
  graphs: CapturedGraph[],
  cores: number,
  options: RunnerOptions,
  references: Uint8Array[][],
): number {
  const agrees = (threads: number) =>
    graphs.every((graph, g) => sameBytes(outputsOnThreads(graph, threads, options), references[g]));
  const threads = [...new Set([cores, 2])].find(agrees) ?? 1;
  if (threads < cores)
    options.log?.(
      `onnx engine: ${cores} onnxruntime threads sum the step's products in another order than one thread, ` +
        `and the ways must give the same bits to stand in for each other: ${threads === 1 ? 'one thread only' : `${threads} threads, which agree`}`,
    );
  return threads;
}

/** What the agreement checks read of a graph. */
type GraphShape = Pick<CapturedGraph, 'model' | 'inputs' | 'outputs'>;

/** A graph's outputs, as bytes, from its made-up inputs (madeUp) through `run`. */
function madeUpOutputs(graph: GraphShape, run: (inputs: Feed[], outputs: Feed[]) => void): Uint8Array[] {
  const outputs = graph.outputs.map((t) => ({ name: t.name, data: zeros(t), dims: t.shape }));
  run(
    graph.inputs.map((t, i) => ({ name: t.name, data: madeUp(t, i), dims: t.shape })),
    outputs,
  );
  return outputs.map((o) => new Uint8Array(o.data.buffer, o.data.byteOffset, o.data.byteLength));
}

/** madeUpOutputs of a session of its own on `threads` threads. */
function outputsOnThreads(graph: GraphShape, threads: number, options: RunnerOptions): Uint8Array[] {
  const session = new OrtSession(graph.model, { threads, providers: options.providers });
  try {
    return madeUpOutputs(graph, (inputs, outputs) => session.run(inputs, outputs));
  } finally {
    session.dispose();
  }
}

const sameBytes = (a: Uint8Array[], b: Uint8Array[]) => a.every((bytes, i) => Buffer.compare(bytes, b[i]) === 0);

/** Whether `executor` (the lanes) gives `graph`'s outputs bit for bit as one thread does (`oneThread`), from the same made-up inputs. */
export function lanesAgree(
  graph: GraphShape,
  executor: StepExecutor,
  oneThread = outputsOnThreads(graph, 1, {}),
): boolean {
  return sameBytes(
    madeUpOutputs(graph, (inputs, outputs) => executor.run(inputs, outputs)),
    oneThread,
  );
}

/** A graph input's made-up values for threadsAgreeing: floats in [0, 1) from a fixed sequence; zeros (valid indices) otherwise. */
function madeUp(t: GraphTensor, seed: number): Buffer {
  const values = zeros(t);
  if (values instanceof Float32Array) {
    let x = seed + 1;
    for (let i = 0; i < values.length; i++) {
      x = (x * 48271) % 2147483647;
      values[i] = x / 2147483647;
    }
  }
  return values;
}

/**
 * The split step's ways (split-step.ts): its two graphs on sessions of the same threads, the host's
 * update of the discriminator between them. Not on the lanes, which run one graph.
 */
function splitCandidates(
  parts: [CapturedGraph, CapturedGraph],
  crossing: GraphTensor[],
  between: () => void,
  options: RunnerOptions,
): Candidate[] {
  const handedOver = crossing.map((t) => ({ name: t.name, data: zeros(t), dims: t.shape }));
  const made: OrtSession[] = [];
  const session = (graph: CapturedGraph, c: SessionOptions) => {
    made.push(new OrtSession(graph.model, { ...c, stopSpinning: c.spinning, providers: options.providers }));
    return made.at(-1)!;
  };
  try {
    return sessionWays(parts, options).map((c) => ({
      executor: new SplitExecutor(parts, [session(parts[0], c), session(parts[1], c)], handedOver, between),
      threading: threadingOf(c),
    }));
  } catch (error) {
    for (const s of made) s.dispose(); // one that failed to open leaves those before it
    throw error;
  }
}

/** The step as two graphs, each on its own session, and the host's work between them. */
class SplitExecutor implements StepExecutor {
  constructor(
    private readonly parts: [CapturedGraph, CapturedGraph],
    private readonly sessions: OrtSession[],
    /** The values the first graph hands the second that are not the step's own outputs. */
    private readonly handedOver: Feed[],
    private readonly between: () => void,
  ) {}

  run(inputs: Feed[], outputs: Feed[], whileWaiting?: () => void): void {
    const feeds = new Map([...inputs, ...outputs, ...this.handedOver].map((feed) => [feed.name, feed]));
    const named = (tensors: GraphTensor[]) => tensors.map((t) => feeds.get(t.name)!);
    const [first, second] = this.parts;
    this.sessions[0].run(named(first.inputs), named(first.outputs));
    try {
      // updates the discriminator's weights and moments in the inputs: no repeating the step once it began
      this.between();
      this.sessions[1].run(named(second.inputs), named(second.outputs));
    } catch (error) {
      throw new StepNotRepeatable(error);
    }
    whileWaiting?.();
  }

  dispose(): void {
    for (const session of this.sessions) session.dispose();
  }
}

type Tensors = Map<string, ort.Tensor>;

class DeviceRunner implements GraphRunner {
  readonly threading = '1 thread';
  readonly hostUpdateMs = 0;
  readonly trialStepsLeft = 0;

  retry(): void {} // one way only

  private constructor(
    readonly stepGraph: CapturedGraph,
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

  async step(feeds: Map<string, Buffer>, whileWaiting?: () => void): Promise<{ dLoss: number; gLoss: number }> {
    // onnxruntime-node's run is synchronous on this thread (after a setImmediate): nothing to overlap
    const results = await this.trainSession.run(this.inputs(this.stepGraph, feeds));
    whileWaiting?.();
    const next = new Map(this.state);
    for (const [name, output] of this.stepGraph.updated) {
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
        this.state.get(input.name) ?? new ort.Tensor(input.dtype, fed(feeds, input), input.shape),
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
