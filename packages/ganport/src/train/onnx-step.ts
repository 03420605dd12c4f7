/**
 * The onnx training engine: the whole GAN step — the discriminator update on a real and a generated
 * batch, the generator update through the discriminator, Adam, the EMA generator and the losses —
 * captured once from GanStep.train as one ONNX graph (tfjs/capture.ts), and run with one
 * onnxruntime-node call per step. The gradients are tfjs's own, recorded kernel by kernel, so the
 * tfjs engine defines what is correct.
 *
 * State (weights, Adam's moments and bias corrections, batch-norm statistics, spectral-norm vectors,
 * the EMA generator) stays with onnxruntime between steps (onnx-runners.ts: arrays fed and written
 * in place, or device buffers on WebGPU). It is written into the tfjs models only when something
 * reads them (checkpoints, samples, --eval-every, exports): `sync`.
 *
 * Randomness stays the run's: latents and labels are drawn by GanStep.draw in the same order as the
 * tfjs engine draws them, and each Dropout layer's uniforms are tfjs's own (seedrandom's alea from the
 * layer's seed, alea-uniforms.ts), fed as inputs, or the mask made from them where the graph takes that
 * (dropout-masks.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { type CapturedGraph, captureGraph, type GraphTensor } from '../tfjs/capture.js';
import { size } from '../tfjs/onnx-kernels/index.js';
import type { Adam } from './adam.js';
import { dropoutMask, uniforms } from './alea-uniforms.js';
import { type DropoutMask, dropoutMasksAsInputs } from './dropout-masks.js';
import { type Buffer, createRunner, type GraphRunner } from './onnx-runners.js';
import {
  emaDecayAt,
  type GanStep,
  type StepDraws,
  type StepEngine,
  type StepLosses,
  type StepTensors,
  type StepValues,
} from './step.js';

export interface OnnxStepOptions {
  /** onnxruntime execution providers, in order of preference (default: the CPU). */
  providers?: string[];
  /** Intra-op threads of one session (default: the fastest setting in a trial; the JS thread waits while a step runs). */
  threads?: number;
  /** Run the step split over this many lanes (threads), where the graph splits (default: the trial decides). */
  lanes?: number;
  /** The big convolutions on onnxruntime's NCHWc kernels, on the CPU (default: yes; see nchwc.ts). */
  nchwc?: boolean;
  /** Adam and the EMA outside the graph, on the CPU (default: yes; see host-update.ts and split-step.ts). */
  hostUpdate?: boolean;
  /** Dropout's masks made on the host and fed to the graph (default: yes; see dropout-masks.ts). */
  hostMasks?: boolean;
  /** Reports the trial's choice (after the run's first steps). */
  log?: (line: string) => void;
  /** The cores the ways may use (default: the machine's; tests ask for more than it has). */
  cores?: number;
}

/** The step's inputs that change every step, by graph input name. */
const STEP_INPUTS = ['real', 'realLabels', 'zD', 'fakeLabelsD', 'zG', 'fakeLabelsG'] as const;
type StepInputName = (typeof STEP_INPUTS)[number];

/** Dropout layer i's uniforms are the graph input `dropout/i`. */
const DROPOUT_INPUT = /^dropout\/(\d+)/;

export class OnnxStep implements StepEngine {
  private readonly variables: Map<string, tf.Variable>;
  private readonly optimizers: Adam[];
  /** Adam's iteration count when the engine took over, and the steps run since. */
  private readonly startIterations: number;
  private stepsRun = 0;
  private synced = true;
  private readonly dropout: DropoutFeeds;

  private constructor(
    private readonly stepper: GanStep,
    private readonly train: CapturedGraph,
    private readonly runner: GraphRunner,
    masks: DropoutMask[],
  ) {
    const { state } = stepper;
    this.variables = new Map(stateVariables(stepper).map(({ name, variable }) => [name, variable]));
    this.optimizers = [state.dOptimizer, state.gOptimizer];
    this.startIterations = state.dOptimizer.iterations;
    this.dropout = new DropoutFeeds(train.inputs, masks);
  }

  /**
   * Captures `capturing`'s step (and its measurement) on the active tfjs backend and loads them into
   * onnxruntime; `stepper` then draws each step's randomness from the run's RNG. Capturing runs one
   * step for real, on `real` and draws from `capturing`'s own RNG; the tfjs state is restored afterwards.
   */
  static async create(
    capturing: GanStep,
    stepper: GanStep,
    real: tf.Tensor,
    realLabels: tf.Tensor | undefined,
    options: OnnxStepOptions = {},
  ): Promise<OnnxStep> {
    const state = stateVariables(capturing);
    const saved = state.map(({ variable }) => variable.dataSync().slice() as Buffer);
    const iterations = capturing.state.dOptimizer.iterations;
    const draws = capturing.draw();
    capturing.prepare(1, draws);
    const seeds = draws.dropoutSeeds;
    const claim = (values: ArrayLike<number>, shape: number[]) => {
      const i = seeds.findIndex((seed) => sameStart(values, uniforms(seed, 4)));
      return i < 0 ? undefined : `dropout/${i}/${shape.join('x')}`;
    };
    let train: CapturedGraph | undefined;
    let measure: CapturedGraph | undefined;
    try {
      tf.tidy(() => {
        const tensors = capturing.tensors(real, realLabels, draws);
        const inputs = [
          ...stepInputs(tensors),
          { name: 'lrD', tensor: capturing.state.dOptimizer.learningRate },
          { name: 'lrG', tensor: capturing.state.gOptimizer.learningRate },
          { name: 'emaDecay', tensor: capturing.emaDecay },
        ];
        train = captureGraph({ name: 'ganport_train_step', inputs, state, claim, fn: () => capturing.train(tensors) });
        measure = captureGraph({
          name: 'ganport_measure',
          inputs: stepInputs(tensors),
          state,
          fn: () => ({ measured: capturing.measure(tensors) }),
        });
      });
    } finally {
      // the capture ran a step (or part of one, where it failed): put the state back as it was
      tf.tidy(() => {
        for (const [i, { variable }] of state.entries())
          variable.assign(tf.tensor(saved[i], variable.shape, variable.dtype));
      });
      for (const optimizer of [capturing.state.dOptimizer, capturing.state.gOptimizer])
        optimizer.iterations = iterations;
    }
    const values = new Map(state.map(({ name }, i) => [name, saved[i].slice()]));
    const hostMasks = options.hostMasks ?? process.env.GANPORT_ORT_HOST_MASKS !== '0';
    const { graph: step, masks } = hostMasks
      ? dropoutMasksAsInputs(train!, (name) => DROPOUT_INPUT.test(name))
      : { graph: train!, masks: [] };
    const runner = await createRunner(step, measure!, values, { ...options, sources: STEP_INPUTS });
    return new OnnxStep(stepper, step, runner, masks);
  }

  /** Kernel calls one step makes in tfjs, all now in one graph. */
  get kernels(): number {
    return this.train.kernels;
  }

  /** The step graph as the engine runs it: on the CPU, rewritten for its kernels (for profiling it). */
  get stepGraph(): CapturedGraph {
    return this.runner.stepGraph;
  }

  /** How the step runs: onnxruntime's intra-op threads or the lanes, in words ("trying …" during the first trial). */
  get threading(): string {
    return this.runner.threading;
  }

  /** ms the last step spent on Adam and the EMA outside its graphs (host-update.ts); 0 where they are in it. */
  get hostUpdateMs(): number {
    return this.runner.hostUpdateMs;
  }

  /** Steps left in the trial under way (the first steps take turns on each way to run the step, and again every so often). */
  get trialStepsLeft(): number {
    return this.runner.trialStepsLeft;
  }

  /** Starts a re-trial with the next step (the runs' own come every RETRIAL_EVERY steps). */
  retry(): void {
    this.runner.retry();
  }

  async run(
    step: number,
    real: tf.Tensor,
    realLabels: tf.Tensor | undefined,
    measure: boolean,
  ): Promise<StepLosses | StepValues> {
    const { stepper } = this;
    const draws = stepper.draw();
    const feeds = stepFeeds(real, realLabels, draws);
    const { dOptimizer, gOptimizer, ema, generator } = stepper.state;
    feeds.set('lrD', Float32Array.of(dOptimizer.rate));
    feeds.set('lrG', Float32Array.of(gOptimizer.rate));
    feeds.set('emaDecay', Float32Array.of(ema !== generator ? emaDecayAt(stepper.config.emaDecay, step) : 0));
    for (const [name, uniforms] of this.dropout.take(draws.dropoutSeeds)) feeds.set(name, uniforms);
    const drawAhead = this.dropout.inputs.length ? () => this.dropout.drawAhead(stepper.nextDropoutSeeds()) : undefined;
    const { dLoss, gLoss } = await this.runner.step(feeds, drawAhead);
    this.stepsRun++;
    this.synced = false;
    if (!measure) return { dLoss, gLoss };
    const [dReal, dFake] = await this.runner.measure(feeds);
    return { dLoss, gLoss, dReal, dFake };
  }

  async sync(): Promise<void> {
    if (this.synced) return;
    const state = await this.runner.read();
    tf.tidy(() => {
      for (const [name, variable] of this.variables)
        variable.assign(tf.tensor(state.get(name)!.slice(), variable.shape, variable.dtype));
    });
    for (const optimizer of this.optimizers) optimizer.iterations = this.startIterations + this.stepsRun;
    this.synced = true;
  }

  dispose(): Promise<void> {
    return this.runner.dispose();
  }
}

/** The real batch and the draws as the graphs' inputs. */
function stepFeeds(real: tf.Tensor, realLabels: tf.Tensor | undefined, draws: StepDraws): Map<string, Buffer> {
  const values: Record<StepInputName, Buffer | undefined> = {
    real: real.dataSync() as Float32Array,
    realLabels: realLabels?.dataSync() as Int32Array | undefined,
    zD: draws.zD,
    fakeLabelsD: draws.fakeLabelsD,
    zG: draws.zG,
    fakeLabelsG: draws.fakeLabelsG,
  };
  return new Map(Object.entries(values).filter((e): e is [string, Buffer] => e[1] !== undefined));
}

/** The variables a step reads and updates, named: both models, the EMA generator, both optimizers. */
function stateVariables(stepper: GanStep): { name: string; variable: tf.Variable }[] {
  const { generator, discriminator, ema, dOptimizer, gOptimizer } = stepper.state;
  const model = (prefix: string, m: tf.LayersModel) =>
    m.weights.map((w, i) => ({ name: `${prefix}/${i}`, variable: w.read() as tf.Variable }));
  const optimizer = (prefix: string, o: Adam) => [
    { name: `${prefix}/accBeta1`, variable: o.accBeta1 },
    { name: `${prefix}/accBeta2`, variable: o.accBeta2 },
    ...o.firstMoments.map((variable, i) => ({ name: `${prefix}/m/${i}`, variable })),
    ...o.secondMoments.map((variable, i) => ({ name: `${prefix}/v/${i}`, variable })),
  ];
  return [
    ...model('generator', generator),
    ...model('discriminator', discriminator),
    ...(ema !== generator ? model('ema', ema) : []),
    ...optimizer('dOptimizer', dOptimizer),
    ...optimizer('gOptimizer', gOptimizer),
  ];
}

function stepInputs(t: StepTensors): { name: string; tensor: tf.Tensor }[] {
  return STEP_INPUTS.flatMap((name) => (t[name] ? [{ name, tensor: t[name]! }] : []));
}

/**
 * The Dropout inputs: each layer's uniforms, or its mask where the graph takes that (dropout-masks.ts).
 * Each step's are drawn while the step before runs (in the time the main thread waits for the lanes),
 * from the next step's seeds peeked from a copy of the run's RNG; a step whose seeds turn out otherwise
 * (something drew from the RNG between steps) draws its own.
 */
export class DropoutFeeds {
  readonly inputs: { name: string; layer: number; count: number; mask?: DropoutMask }[];
  /** Arrays free to fill (holding the uniforms of `aheadSeeds`, when set), and those a step is reading. */
  private free = new Map<string, Float32Array>();
  private inUse = new Map<string, Float32Array>();
  private aheadSeeds: number[] | undefined;

  constructor(graphInputs: GraphTensor[], masks: DropoutMask[] = []) {
    const maskOf = new Map(masks.map((mask) => [mask.input, mask]));
    this.inputs = graphInputs.flatMap(({ name, shape }) => {
      const layer = DROPOUT_INPUT.exec(name);
      return layer ? [{ name, layer: Number(layer[1]), count: size(shape), mask: maskOf.get(name) }] : [];
    });
    for (const { name, count } of this.inputs) {
      this.free.set(name, new Float32Array(count));
      this.inUse.set(name, new Float32Array(count));
    }
  }

  /** This step's uniforms or masks by input name, for the Dropout layers' `seeds`. */
  take(seeds: number[]): Map<string, Float32Array> {
    const ahead = this.aheadSeeds;
    for (const input of this.inputs) if (ahead?.[input.layer] !== seeds[input.layer]) this.draw(input, seeds);
    [this.free, this.inUse] = [this.inUse, this.free];
    this.aheadSeeds = undefined;
    return this.inUse;
  }

  /** Draws the next step's `seeds` into the arrays the running step does not read. */
  drawAhead(seeds: number[]): void {
    for (const input of this.inputs) this.draw(input, seeds);
    this.aheadSeeds = seeds;
  }

  private draw({ name, layer, count, mask }: DropoutFeeds['inputs'][number], seeds: number[]): void {
    const into = this.free.get(name)!;
    if (mask) dropoutMask(seeds[layer], mask.keep, mask.layout, into);
    else uniforms(seeds[layer], count, into);
  }
}

function sameStart(values: ArrayLike<number>, start: Float32Array): boolean {
  if (values.length < start.length) return false;
  for (let i = 0; i < start.length; i++) if (values[i] !== start[i]) return false;
  return true;
}
