/**
 * Where the onnx engine's state lives between steps, and how its graphs run.
 * - HostRunner (the CPU, and GPU providers onnxruntime-node cannot hand device buffers to): the state
 *   is two sets of arrays in JavaScript, fed to the step graph and written by it in place, swapped
 *   every step; the native binding's synchronous `run` (see tfjs/ort-session.ts), on one session or
 *   split over lanes (lanes/executor.ts), whichever is faster over the run's first steps (the trial).
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
import { LaneExecutor } from './lanes/executor.js';
import { typedArray } from './lanes/program.js';

export type Buffer = Float32Array | Int32Array | Uint8Array;

export interface GraphRunner {
  /**
   * How the step runs, in words: "1 thread", "2 threads, spinning", "2 lanes (3 + 3 segments)"; "trying
   * … in turn" during the first trial, the way chosen before during a re-trial.
   */
  readonly threading: string;
  /** The step graph as this runner runs it (on the CPU, rewritten: cpu-rewrites.ts). */
  readonly stepGraph: CapturedGraph;
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
  /** Reports the trial's choice. */
  log?: (line: string) => void;
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
  if (!onCpu(options)) return HostRunner.create(train, measure, state, options);
  const nchwc = options.nchwc ?? process.env.GANPORT_ORT_NCHWC !== '0';
  const rewritten = (graph: CapturedGraph) =>
    forCpuKernels(graph, { nchwc }).catch((error: unknown) => {
      options.log?.(`onnx engine: the CPU rewrite failed, onnxruntime's own kernels run the step: ${error}`);
      return graph;
    });
  const [cpuTrain, cpuMeasure] = await Promise.all([rewritten(train), rewritten(measure)]);
  return HostRunner.create(cpuTrain, cpuMeasure, state, options);
}

const onCpu = (options: RunnerOptions) => (options.providers ?? []).every((p) => p === 'cpu');

/** The state names the step graph's outputs update, by output name. */
const stateOutputs = (train: CapturedGraph) => new Map([...train.updated].map(([name, output]) => [output, name]));

/** A graph input's zeros (the capture's dtypes: never int64). */
const zeros = (t: GraphTensor): Buffer => typedArray({ dtype: t.dtype, dims: t.shape }) as Buffer;

/** What runs the step graph: one onnxruntime session, or the lanes. */
interface StepExecutor {
  run(inputs: Feed[], outputs: Feed[], whileWaiting?: () => void): void;
  dispose(): void;
}

/** One session as a step executor: the main thread runs the whole step, so it never waits for it. */
const sessionExecutor = (session: OrtSession): StepExecutor => ({
  run(inputs, outputs, whileWaiting) {
    session.run(inputs, outputs);
    whileWaiting?.();
  },
  dispose: () => session.dispose(),
});

interface Candidate {
  executor: StepExecutor;
  /** In words: "1 thread", "2 threads, spinning", "2 lanes (3 + 3 segments)". */
  threading: string;
  /** The measurement graph's intra-op threads alongside. */
  threads: number;
}

/**
 * The trial: the run's first steps take turns on each way to run the step (its warm-up steps, then its
 * timed ones). Every way gives the same numbers bit for bit (tested), so trying them costs only the
 * slower ones' extra time, and they are timed on the run's own steps, with its JavaScript between
 * them. A trial of extra runs on made-up feeds before training, as before, took 1.7 s and, in five
 * of ten CLI dcgan runs here, picked a single session (one thread: 46–50 ms a step) over the lanes
 * (39 ms).
 */
export class Trial {
  private readonly times: number[][];
  private steps = 0;

  /** `warmUp` untimed turns of each way first; each way's timed rounds at most `maxRounds` (trialRounds). */
  constructor(
    readonly candidates: Candidate[],
    private readonly warmUp = TRIAL_WARM_UP_RUNS,
    private readonly maxRounds = TRIAL_MAX_ROUNDS,
  ) {
    this.times = candidates.map(() => []);
  }

  /**
   * Steps left as far as the times so far tell: short steps get more timed rounds (trialRounds). Never
   * negative, and 0 only after a whole round, however the times move: a way's rounds already run count.
   */
  get stepsLeft(): number {
    const needs = this.times.map((times) => Math.max(trialRounds(times, this.maxRounds), times.length));
    return this.candidates.length * (this.warmUp + Math.max(...needs)) - this.steps;
  }

  /** The candidate whose turn the next step is. */
  get turn(): Candidate {
    return this.candidates[this.steps % this.candidates.length];
  }

  /**
   * Records the step just run (on `turn`); returns the chosen candidate's index when this step ends the
   * trial (the caller then stops recording).
   */
  record(ms: number): number | undefined {
    const n = this.candidates.length;
    if (this.steps >= n * this.warmUp) this.times[this.steps % n].push(ms);
    this.steps++;
    return this.stepsLeft === 0 ? fastestByLowerQuartile(this.times) : undefined;
  }

  /** Each candidate's lower quartile, in words. */
  summary(): string {
    return this.candidates.map((c, i) => `${c.threading} ${lowerQuartile(this.times[i]).toFixed(1)} ms`).join('; ');
  }
}

class HostRunner implements GraphRunner {
  private readonly stateOutput: Map<string, string>;
  /** The state the next step reads; `next` receives what it writes. */
  private current: Map<string, Buffer>;
  private next: Map<string, Buffer>;
  /** The way the step runs outside trials (the first candidate until the first trial has chosen). */
  private chosen: Candidate;
  private trial: Trial | undefined;
  /** Trials ended so far (the first, then the re-trials), and steps since the last. */
  private trials = 0;
  private stepsSinceTrial = 0;
  /** The measurement graph (the discriminator on two batches, every few steps), on the chosen way's threads. */
  private measureSession: OrtSession;
  private measureThreads: number;
  threading: string;

  private constructor(
    readonly stepGraph: CapturedGraph,
    private readonly measureGraph: CapturedGraph,
    state: Map<string, Buffer>,
    private readonly candidates: Candidate[],
    private readonly options: RunnerOptions,
  ) {
    this.current = state;
    this.next = new Map([...stepGraph.updated.keys()].map((name) => [name, state.get(name)!.slice()]));
    this.stateOutput = stateOutputs(stepGraph);
    this.chosen = candidates[0];
    this.threading = candidates[0].threading;
    if (candidates.length > 1) {
      this.trial = new Trial(candidates);
      this.threading = `trying ${candidates.map((c) => c.threading).join('; ')} in turn`;
    }
    // one thread until the step's are chosen
    this.measureThreads = candidates.length === 1 ? candidates[0].threads : 1;
    this.measureSession = this.openMeasureSession();
  }

  static async create(
    train: CapturedGraph,
    measure: CapturedGraph,
    state: Map<string, Buffer>,
    options: RunnerOptions,
  ): Promise<HostRunner> {
    return new HostRunner(train, measure, state, await candidates(train, options), options);
  }

  get trialStepsLeft(): number {
    return this.trial?.stepsLeft ?? 0;
  }

  retry(): void {
    if (!this.trial && this.candidates.length > 1)
      this.trial = new Trial(this.candidates, RETRIAL_WARM_UP_RUNS, TRIAL_ROUNDS);
  }

  async step(feeds: Map<string, Buffer>, whileWaiting?: () => void): Promise<{ dLoss: number; gLoss: number }> {
    const losses = { dLoss: new Float32Array(1), gLoss: new Float32Array(1) };
    if (!this.trial && ++this.stepsSinceTrial > RETRIAL_EVERY) this.retry();
    const executor = (this.trial?.turn ?? this.chosen).executor;
    const t0 = performance.now();
    executor.run(this.inputs(this.stepGraph, feeds), this.fetches(losses, this.next), whileWaiting);
    if (this.trial) this.recordTrialStep(performance.now() - t0);
    for (const name of this.stepGraph.updated.keys()) {
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
    for (const { executor } of this.candidates) executor.dispose();
    this.measureSession.dispose();
  }

  /** Times the step just run in the trial; at its end, runs the rest on the chosen way (the others stay loaded for the re-trials). */
  private recordTrialStep(ms: number): void {
    const trial = this.trial!;
    const index = trial.record(ms);
    if (index === undefined) return;
    const first = this.trials++ === 0;
    const previous = this.chosen;
    this.chosen = trial.candidates[index];
    this.threading = this.chosen.threading;
    this.trial = undefined;
    this.stepsSinceTrial = 0;
    if (this.chosen.threads !== this.measureThreads) {
      this.measureSession.dispose();
      this.measureThreads = this.chosen.threads;
      this.measureSession = this.openMeasureSession();
    }
    this.options.log?.(trialReport(first ? undefined : previous.threading, this.threading, trial.summary()));
  }

  private openMeasureSession(): OrtSession {
    return new OrtSession(this.measureGraph.model, { threads: this.measureThreads, providers: this.options.providers });
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
    return this.stepGraph.outputs.map((output) => {
      const state = this.stateOutput.get(output.name);
      const data = state === undefined ? losses[output.name] : into.get(state)!;
      return { name: output.name, data, dims: output.shape };
    });
  }
}

/** The trial's log line: the way `chosen`, and whether it was the way before (`previous`; none after the first). */
export function trialReport(previous: string | undefined, chosen: string, summary: string): string {
  if (previous === undefined) return `onnx engine: ${chosen} chosen; lower quartiles of the first steps: ${summary}`;
  const outcome = chosen === previous ? 'kept' : `chosen over ${previous}`;
  return `onnx engine: ${chosen} ${outcome}; lower quartiles of the re-trial: ${summary}`;
}

/**
 * The ways to run the step graph that the trial compares: one session on every core (its idle
 * threads spinning between ops) or on one (small graphs lose more to the threads' handovers than
 * they gain), and the step split over two lanes where its plan promises a gain.
 * GANPORT_ORT_THREADS or GANPORT_ORT_LANES (or the options) fix the choice instead.
 */
async function candidates(train: CapturedGraph, options: RunnerOptions): Promise<Candidate[]> {
  const threads = options.threads ?? (Number(process.env.GANPORT_ORT_THREADS) || undefined);
  const lanes = options.lanes ?? (Number(process.env.GANPORT_ORT_LANES) || undefined);
  const cores = cpus().length;
  const session = (c: SessionOptions): Candidate => ({
    executor: sessionExecutor(new OrtSession(train.model, { ...c, providers: options.providers })),
    threading: `${c.threads} thread${c.threads! > 1 ? 's' : ''}${c.spinning ? ', spinning' : ''}`,
    threads: c.threads!,
  });
  if (threads) return [session({ threads })];
  const laneCount = lanes ?? (cores > 1 ? 2 : 0);
  // forced (GANPORT_ORT_LANES), the lanes fail loudly; offered, a failure to set them up leaves the others
  const split =
    laneCount > 1 && onCpu(options)
      ? await LaneExecutor.create(train, {
          lanes: laneCount,
          sources: options.sources ?? [],
          always: !!lanes,
        }).catch((error: unknown) => {
          if (lanes) throw error;
          return undefined;
        })
      : undefined;
  const onLanes: Candidate[] = split ? [{ executor: split, threading: split.description, threads: 1 }] : [];
  if (lanes && onLanes.length) return onLanes;
  // every core with its idle threads sleeping lost to them spinning in every trial here (dcgan 68 against
  // 56 ms, cdcgan 76 against 64, PacGAN 35 against 32): not a candidate
  const sessions = cores > 1 ? [{ threads: cores, spinning: true }, { threads: 1 }] : [{ threads: 1 }];
  return [...sessions.map(session), ...onLanes];
}

/**
 * Steps of each way before its timed ones: the first runs of a session (more so of the lanes, whose
 * worker thread allocates its own memory) are slower, a dcgan step's first five 330 → 51 ms.
 */
const TRIAL_WARM_UP_RUNS = 5;
/**
 * Timed steps of each way: at least TRIAL_ROUNDS, and, where steps are short, enough for about
 * TRIAL_TIMED_MS of the way's time, at most TRIAL_MAX_ROUNDS. A burst of the machine's other work
 * then spoils a smaller share of them: in one bench run of 9 rounds here, the mlp (9.5 ms a step on
 * two spinning threads) was left on one thread at 13.9 ms.
 */
const TRIAL_ROUNDS = 9;
const TRIAL_TIMED_MS = 600;
const TRIAL_MAX_ROUNDS = 60;

/** The timed rounds a way needs, judged by its `times` so far (TRIAL_ROUNDS before it has any). */
export function trialRounds(times: number[], maxRounds = TRIAL_MAX_ROUNDS): number {
  if (times.length === 0) return TRIAL_ROUNDS;
  const rounds = Math.ceil(TRIAL_TIMED_MS / lowerQuartile(times));
  return Math.min(maxRounds, Math.max(TRIAL_ROUNDS, rounds));
}

/**
 * Steps between re-trials. The machine's other work comes and goes: on this project's VM, two spinning
 * threads won one CLI trial at 30.8 ms a step and lost the next two at 45.1–63.6 ms to the lanes'
 * 36.3–52.4, so a choice made once would hold a whole run to the machine's state in its first steps.
 * A re-trial gives each way one warm-up turn and TRIAL_ROUNDS timed ones (about 30 of each 1,000
 * steps; the sessions stay loaded in between).
 */
export const RETRIAL_EVERY = 1000;
const RETRIAL_WARM_UP_RUNS = 1;

/**
 * Which setting's runs were fastest: the lowest lower quartile (of 9 runs, the third fastest). Not
 * the single best run, which one burst of luck decides; nor the median, because the lanes' runs in
 * the trial are bimodal (the dcgan's: 33–37 ms, or 45–80 ms when a turn finds the other core busy,
 * in a trial of extra runs before training: two or three runs in seven), and over a run of steps they
 * keep to the fast mode: there the median picked one thread (42 ms a step) over the lanes (34 ms) in
 * one trial in four.
 */
export function fastestByLowerQuartile(times: number[][]): number {
  const quartiles = times.map(lowerQuartile);
  return quartiles.indexOf(Math.min(...quartiles));
}

const lowerQuartile = (runs: number[]): number => [...runs].sort((a, b) => a - b)[runs.length >> 2];

type Tensors = Map<string, ort.Tensor>;

class DeviceRunner implements GraphRunner {
  readonly threading = '1 thread';
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
