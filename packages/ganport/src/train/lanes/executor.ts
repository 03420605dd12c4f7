/**
 * Runs a step graph on several lanes: the main thread's and worker threads', each segment of the
 * plan (plan.ts) as its own one-thread onnxruntime session. `run` takes what OrtSession's does, so the
 * engine can time it against one session and keep the faster.
 */
import { Worker } from 'node:worker_threads';
import { makeValueInfo } from '../../onnx/builder.js';
import { decodeModel, encodeModel, type ModelProto, type NodeProto } from '../../onnx/proto.js';
import type { CapturedGraph, GraphTensor } from '../../tfjs/capture.js';
import { size } from '../../tfjs/onnx-kernels/index.js';
import { type Feed, OrtSession } from '../../tfjs/ort-session.js';
import { NCHWC } from '../nchwc.js';
import { LANE_CODES, type ValueInfoSpec, valueSpecs } from '../value-specs.js';
import { awaitFlag, awaitWord, CONTROL, fail, failureText, LANE_DONE, LANE_READY, raiseFlag, STOP } from './control.js';
import { type LanePlan, type PlanNode, planLanes } from './plan.js';
import {
  byteSize,
  copy,
  type LaneProgram,
  runLane,
  type SegmentStep,
  sharedSlot,
  typedArray,
  type ValueSpec,
} from './program.js';
import type { WorkerData } from './worker.js';

/** Lanes are offered only where the plan promises at least this much off one lane's time. */
const WORTHWHILE = 0.85;
/** The cost model's rates (this project's 2-vCPU machine, onnxruntime 1.30 on one thread). */
const COSTS = {
  convFlopsPerUs: 80e3,
  /** NCHWc's convolutions (nchwc.ts): 165–205 GFLOP/s on the dcgan's. */
  nchwcConvFlopsPerUs: 170e3,
  gemmFlopsPerUs: 100e3,
  bytesPerUs: 50e3,
  perNodeUs: 1.5,
  copyBytesPerUs: 8e3,
  syncUs: 40,
  segmentUs: 40,
};
const ERROR_BYTES = 1024;
const PRODUCTS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

export class LaneExecutor {
  private step = 0;
  private broken = false;
  private readonly control: Int32Array;
  private readonly message: Uint8Array;

  private constructor(
    readonly description: string,
    private readonly main: LaneProgram,
    private readonly sessions: OrtSession[],
    /** The main lane's own arrays (graph inputs and outputs are the caller's, bound each run). */
    private readonly arrays: Map<string, Feed['data']>,
    private readonly slots: Map<string, Feed['data']>,
    private readonly workers: LaneWorker[],
    /** Graph inputs the workers read, and graph outputs they make (copied through their slots). */
    private readonly workerInputs: string[],
    private readonly workerOutputs: string[],
    /** Each worker lane's last segment: the step is done when they are. */
    private readonly lastSegments: number[],
    control: SharedArrayBuffer,
    message: SharedArrayBuffer,
  ) {
    this.control = new Int32Array(control);
    this.message = new Uint8Array(message);
  }

  /**
   * The executor for `graph` on `lanes` lanes, split by `sources` (plan.ts); undefined where a value
   * between segments has a type the lanes do not carry, or, unless `always`, where the plan would
   * not be worth its hand-overs (small graphs).
   */
  static async create(
    { model, inputs, outputs }: Pick<CapturedGraph, 'model' | 'inputs' | 'outputs'>,
    {
      lanes,
      sources,
      always = false,
      lane = WORKER_LANE,
    }: {
      lanes: number;
      sources: readonly string[];
      always?: boolean;
      /** The module each worker thread runs (tests give one that fails). */
      lane?: URL;
    },
  ): Promise<LaneExecutor | undefined> {
    const decoded = decodeModel(model);
    const values = await valueSpecs(decoded, inputs);
    if (!values) return undefined;
    const nodes = decoded.graph.node;
    const bytes = (name: string) => {
      const spec = values.get(name);
      return spec?.dtype ? byteSize(spec as ValueSpec) : 0;
    };
    const dims = new Map([...values].map(([name, spec]) => [name, spec.dims]));
    for (const t of decoded.graph.initializer) dims.set(t.name, t.dims.map(Number));
    const planNodes: PlanNode[] = nodes.map((n) => ({
      inputs: n.input.filter((name) => name !== ''),
      outputs: n.output,
      cost: nodeCost(n, dims),
      product: PRODUCTS.has(n.opType),
    }));
    const plan = planLanes(planNodes, {
      lanes,
      sources,
      copyCost: (name) => bytes(name) / COSTS.copyBytesPerUs,
      syncCost: COSTS.syncUs,
      segmentCost: COSTS.segmentUs,
      graphOutputs: new Set(outputs.map((o) => o.name)),
    });
    if (!always && plan.estimate > WORTHWHILE * plan.serial) return undefined;
    return LaneExecutor.start(decoded, plan, values, inputs, outputs, lanes, lane);
  }

  private static start(
    model: ModelProto,
    plan: LanePlan,
    values: Map<string, ValueInfoSpec>,
    inputs: GraphTensor[],
    outputs: GraphTensor[],
    lanes: number,
    lane: URL,
  ): LaneExecutor | undefined {
    const { segments } = plan;
    const nodes = model.graph.node;
    const initializers = new Map(model.graph.initializer.map((t) => [t.name, t]));
    const graphInputs = new Set(inputs.map((i) => i.name));
    const graphOutputs = new Set(outputs.map((o) => o.name));
    // where each value is made: by the segment whose own (not copied) node makes it
    const madeIn = new Map<string, number>();
    const makes = segments.map((s) => new Set(s.nodes.flatMap((i) => nodes[i].output)));
    for (const [k, s] of segments.entries()) {
      const replicas = new Set(s.replicas);
      for (const i of s.nodes) if (!replicas.has(i)) for (const o of nodes[i].output) madeIn.set(o, k);
    }
    const laneOf = (name: string) => (graphInputs.has(name) ? 0 : segments[madeIn.get(name)!].lane);
    // the segments that read each value without making it
    const readers = new Map<string, number[]>();
    for (const [k, s] of segments.entries())
      for (const name of new Set(s.nodes.flatMap((i) => nodes[i].input)))
        if (name && !initializers.has(name) && !makes[k].has(name))
          readers.set(name, [...(readers.get(name) ?? []), k]);

    const crossing = new Set<string>();
    const steps: SegmentStep[][] = Array.from({ length: lanes }, () => []);
    for (const [k, s] of segments.entries()) {
      const members = s.nodes.map((i) => nodes[i]);
      const read = [...new Set(members.flatMap((n) => n.input))].filter((name) => name && !makes[k].has(name));
      const segmentInputs = read.filter((name) => !initializers.has(name));
      const segmentOutputs = [...makes[k]].filter(
        (name) => madeIn.get(name) === k && (graphOutputs.has(name) || readers.has(name)),
      );
      const copyIn = segmentInputs.filter((name) => laneOf(name) !== s.lane);
      const copyOut = segmentOutputs.filter(
        (name) =>
          (graphOutputs.has(name) && s.lane !== 0) ||
          (readers.get(name) ?? []).some((r) => segments[r].lane !== s.lane),
      );
      for (const name of [...copyIn, ...copyOut]) crossing.add(name);
      // a value crossing segments must have a type the lanes carry
      if ([...segmentInputs, ...segmentOutputs].some((name) => !values.get(name)!.dtype)) return undefined;
      const info = (name: string) => {
        const spec = values.get(name)!;
        return makeValueInfo(name, LANE_CODES[spec.dtype!], spec.dims);
      };
      const sub: ModelProto = {
        ...model,
        graph: {
          name: `${model.graph.name}_segment_${k}`,
          node: members,
          initializer: read.filter((name) => initializers.has(name)).map((name) => initializers.get(name)!),
          input: segmentInputs.map(info),
          output: segmentOutputs.map(info),
        },
      };
      steps[s.lane].push({
        index: k,
        model: encodeModel(sub),
        waits: s.waits,
        inputs: segmentInputs,
        outputs: segmentOutputs,
        copyIn,
        copyOut,
      });
    }
    // every value below is a segment's input or output: of a type the lanes carry (checked above)
    const spec = (name: string) => values.get(name) as ValueSpec;
    const programs = steps.map((laneSteps, lane): LaneProgram => {
      const names = new Set(laneSteps.flatMap((s) => [...s.inputs, ...s.outputs]));
      return {
        lane,
        steps: laneSteps,
        values: Object.fromEntries([...names].map((n) => [n, spec(n)])),
      };
    });
    const slotBuffers = new Map([...crossing].map((name) => [name, sharedSlot(spec(name))]));
    const control = new SharedArrayBuffer(4 * (CONTROL.firstSegment + segments.length + lanes));
    const message = new SharedArrayBuffer(ERROR_BYTES);
    const controlWords = new Int32Array(control);
    const stateWord = (lane: number) => CONTROL.firstSegment + segments.length + lane;
    const workers = programs.slice(1).map((program): LaneWorker => {
      const slots = Object.fromEntries(
        [...crossing]
          .filter((name) => name in program.values)
          .map((name) => [name, { buffer: slotBuffers.get(name)!.buffer as SharedArrayBuffer, spec: spec(name) }]),
      );
      const state = stateWord(program.lane);
      const data: WorkerData = { program, slots, control, message, state, lane: lane.href };
      // a worker thread starts with its creator's floating-point flags: denormals are zero there too
      const thread = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
      thread.unref(); // an executor nobody disposed must not keep the process alive
      // a worker's failure reaches the main thread through the control words (worker.ts): the event,
      // which comes only once the main thread is free again, would otherwise end the process
      thread.on('error', () => {});
      return { thread, state };
    });
    const main = programs[0];
    const messageView = new Uint8Array(message);
    const sessions: OrtSession[] = [];
    try {
      for (const s of main.steps) sessions.push(new OrtSession(s.model, { threads: 1 }));
      // a worker that never runs its entry (its thread failing to start) raises nothing: a deadline
      for (const { state } of workers)
        if (!awaitWord(controlWords, state, LANE_READY, WORKER_START_MS))
          throw new Error(`a training lane's worker thread did not start within ${WORKER_START_MS / 1000} s`);
      // a worker that ended at once is past ready too (LANE_DONE), with its failure recorded
      if (Atomics.load(controlWords, CONTROL.failed) !== 0) throw new Error(failureText(messageView));
    } catch (error) {
      stopWorkers(controlWords, workers);
      for (const s of sessions) s.dispose();
      throw error;
    }
    const arrays = new Map(
      Object.entries(main.values)
        .filter(([name]) => !graphInputs.has(name) && !graphOutputs.has(name))
        .map(([name, spec]) => [name, typedArray(spec)]),
    );
    const workerInputs = [...crossing].filter((name) => graphInputs.has(name));
    const workerOutputs = [...crossing].filter((name) => graphOutputs.has(name) && laneOf(name) !== 0);
    const lastSegments = programs.slice(1).flatMap((p) => (p.steps.length ? [p.steps[p.steps.length - 1].index] : []));
    const counts = programs.map((p) => p.steps.length).join(' + ');
    const description = `${lanes} lanes (${counts} segments)`;
    return new LaneExecutor(
      description,
      main,
      sessions,
      arrays,
      slotBuffers,
      workers,
      workerInputs,
      workerOutputs,
      lastSegments,
      control,
      message,
    );
  }

  /**
   * Runs the step; `whileWaiting` is called once the main thread's own segments are done, while it
   * would otherwise wait for the other lanes' (in a GAN step, the generator's update). Its error is
   * the caller's, not the lanes': it goes on after the step, and the lanes run on.
   */
  run(inputs: Feed[], outputs: Feed[], whileWaiting?: () => void): void {
    if (this.broken) throw new Error('the training lanes stopped after an error');
    const failure = () => failureText(this.message);
    const arrays = new Map(this.arrays);
    for (const f of [...inputs, ...outputs]) arrays.set(f.name, f.data);
    const step = ++this.step;
    let callback: { error: unknown } | undefined;
    try {
      for (const name of this.workerInputs) copy(arrays.get(name)!, this.slots.get(name)!);
      raiseFlag(this.control, CONTROL.step, step);
      runLane(this.main, this.sessions, arrays, this.slots, this.control, step, failure);
      try {
        whileWaiting?.();
      } catch (error) {
        callback = { error };
      }
      for (const k of this.lastSegments) awaitFlag(this.control, CONTROL.firstSegment + k, step, failure);
      for (const name of this.workerOutputs) copy(this.slots.get(name)!, arrays.get(name)!);
    } catch (error) {
      // the other lanes give up at their next wait; they end before the error goes on (a process
      // that exits while a worker is inside onnxruntime aborts)
      this.broken = true;
      fail(this.control, this.message, error);
      stopWorkers(this.control, this.workers);
      throw error;
    }
    if (callback) throw callback.error;
  }

  /** Stops the workers and waits for them to release their sessions; releases the main lane's. */
  dispose(): void {
    stopWorkers(this.control, this.workers);
    for (const s of this.sessions) s.dispose();
  }
}

/** How long a worker may take to load its lane's sessions (a few seconds for the biggest step graphs here). */
const WORKER_START_MS = 120_000;
/** How long stopping waits for a worker to end (it may be finishing a segment). */
const WORKER_STOP_MS = 10_000;
/** The module a worker lane runs. */
const WORKER_LANE = new URL('./worker-lane.js', import.meta.url);

interface LaneWorker {
  thread: Worker;
  /** Its lane's state word (LANE_READY, LANE_DONE). */
  state: number;
}

/**
 * Tells the workers to stop and waits until each has released its sessions. They end by themselves:
 * `Worker.terminate` while a worker is inside onnxruntime's native code aborts the whole process, and
 * so does the process exiting under one, so a worker not done in time keeps the process alive until it is.
 */
function stopWorkers(control: Int32Array, workers: LaneWorker[]): void {
  Atomics.store(control, CONTROL.step, STOP);
  Atomics.notify(control, CONTROL.step);
  for (const { thread, state } of workers) if (!awaitWord(control, state, LANE_DONE, WORKER_STOP_MS)) thread.ref();
}

/** About how many µs `node` takes on one thread: multiply-adds for the matrix products, bytes for the rest. */
function nodeCost(node: NodeProto, dims: Map<string, number[]>): number {
  const shape = (name: string) => dims.get(name) ?? [1];
  const out = size(shape(node.output[0]));
  const w = shape(node.input[1] ?? '');
  switch (node.opType) {
    case 'Conv':
      return (2 * out * size(w.slice(1))) / (node.domain === NCHWC ? COSTS.nchwcConvFlopsPerUs : COSTS.convFlopsPerUs);
    case 'ConvTranspose':
      return (2 * size(shape(node.input[0])) * size(w.slice(1))) / COSTS.convFlopsPerUs;
    case 'Gemm':
    case 'MatMul': {
      const a = shape(node.input[0]);
      const transA = node.attribute.some((at) => at.name === 'transA' && Number(at.i) === 1);
      const k = node.opType === 'Gemm' && transA ? a[0] : a[a.length - 1];
      return (2 * out * k) / COSTS.gemmFlopsPerUs;
    }
    default: {
      const elements = [...node.input, ...node.output].reduce((sum, name) => sum + (name ? size(shape(name)) : 0), 0);
      return (4 * elements) / COSTS.bytesPerUs + COSTS.perNodeUs;
    }
  }
}
