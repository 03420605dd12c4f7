/**
 * The onnx training engine: the whole GAN step — the discriminator update on a real and a generated
 * batch, the generator update through the discriminator, Adam, the EMA generator and the losses —
 * captured once from GanStep.train as one ONNX graph (tfjs/capture.ts), and run with one
 * onnxruntime-node call per step. The gradients are tfjs's own, recorded kernel by kernel, so the
 * tfjs engine defines what is correct.
 *
 * State (weights, Adam's moments and bias corrections, batch-norm statistics, spectral-norm vectors,
 * the EMA generator) stays in onnxruntime's arrays between steps: each step reads one set of arrays
 * and writes the other. It is written into the tfjs models only when something reads them
 * (checkpoints, samples, --eval-every, exports): `sync`.
 *
 * Randomness stays the run's: latents and labels are drawn by GanStep.draw in the same order as the
 * tfjs engine draws them, and each Dropout layer's uniforms are tfjs's own (seedrandom's alea from the
 * layer's seed), fed as inputs.
 */
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { type CapturedGraph, captureGraph, type GraphTensor } from '../tfjs/capture.js';
import { type Feed, OrtSession } from '../tfjs/ort-session.js';
import type { Adam } from './adam.js';
import {
  emaDecayAt,
  type GanStep,
  type StepDraws,
  type StepEngine,
  type StepTensors,
  type StepValues,
} from './step.js';

export interface OnnxStepOptions {
  /** onnxruntime execution providers, in order of preference (default: the CPU). */
  providers?: string[];
  /** Intra-op threads (default: every core; the JS thread waits while a step runs). */
  threads?: number;
}

type Buffer = Float32Array | Int32Array | Uint8Array;

/** The step's inputs that change every step, by graph input name. */
const STEP_INPUTS = ['real', 'realLabels', 'zD', 'fakeLabelsD', 'zG', 'fakeLabelsG'] as const;
type StepInputName = (typeof STEP_INPUTS)[number];

/** Dropout layer i's uniforms are the graph input `dropout/i`. */
const DROPOUT_INPUT = /^dropout\/(\d+)/;

export class OnnxStep implements StepEngine {
  private readonly trainSession: OrtSession;
  private readonly measureSession: OrtSession;
  /** The state's current values, by state name; `next` receives the updated ones. */
  private current = new Map<string, Buffer>();
  private next = new Map<string, Buffer>();
  private readonly variables: Map<string, tf.Variable>;
  private readonly optimizers: Adam[];
  /** Adam's iteration count when the engine took over, and the steps run since. */
  private readonly startIterations: number;
  private stepsRun = 0;
  private synced = true;
  /** Step graph output → the state it updates. */
  private readonly stateOutput: Map<string, string>;
  /** onnxruntime's intra-op threads, as chosen (see fastestSession). */
  threads = 1;

  private constructor(
    private readonly stepper: GanStep,
    private readonly train: CapturedGraph,
    private readonly measure: CapturedGraph,
    options: OnnxStepOptions,
  ) {
    const { state } = stepper;
    this.variables = new Map(stateVariables(stepper).map(({ name, variable }) => [name, variable]));
    this.optimizers = [state.dOptimizer, state.gOptimizer];
    this.startIterations = state.dOptimizer.iterations;
    for (const [name, variable] of this.variables) {
      this.current.set(name, variable.dataSync().slice() as Buffer);
      if (train.updated.has(name)) this.next.set(name, this.current.get(name)!.slice());
    }
    this.stateOutput = new Map([...train.updated].map(([name, output]) => [output, name]));
    this.trainSession = this.fastestSession(options);
    this.measureSession = new OrtSession(measure.model, { threads: this.threads, providers: options.providers });
  }

  /**
   * Captures `capturing`'s step (and its measurement) on the active tfjs backend and loads them into
   * onnxruntime; `stepper` then draws each step's randomness from the run's RNG. Capturing runs one
   * step for real, on `real` and draws from `capturing`'s own RNG; the tfjs state is restored afterwards.
   */
  static create(
    capturing: GanStep,
    stepper: GanStep,
    real: tf.Tensor,
    realLabels: tf.Tensor | undefined,
    options: OnnxStepOptions = {},
  ): OnnxStep {
    const state = stateVariables(capturing);
    const saved = state.map(({ variable }) => variable.dataSync().slice());
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
    // the capture ran a step: put the state back as it was
    tf.tidy(() => {
      for (const [i, { variable }] of state.entries())
        variable.assign(tf.tensor(saved[i], variable.shape, variable.dtype));
    });
    for (const optimizer of [capturing.state.dOptimizer, capturing.state.gOptimizer]) optimizer.iterations = iterations;
    return new OnnxStep(stepper, train!, measure!, options);
  }

  /** Kernel calls one step makes in tfjs, all now in one graph. */
  get kernels(): number {
    return this.train.kernels;
  }

  /** The captured step graph (for profiling it). */
  get stepGraph(): CapturedGraph {
    return this.train;
  }

  async run(
    step: number,
    real: tf.Tensor,
    realLabels: tf.Tensor | undefined,
    measure: boolean,
  ): Promise<StepValues | undefined> {
    const { stepper } = this;
    const draws = stepper.draw();
    const batch = this.stepFeeds(real, realLabels, draws);
    const scalars: Record<string, number> = {
      lrD: stepper.state.dOptimizer.rate,
      lrG: stepper.state.gOptimizer.rate,
      emaDecay: stepper.state.ema !== stepper.state.generator ? emaDecayAt(stepper.config.emaDecay, step) : 0,
    };
    const feeds: Feed[] = this.train.inputs.map((input) => {
      const data =
        this.current.get(input.name) ??
        batch.get(input.name) ??
        (input.name in scalars ? Float32Array.of(scalars[input.name]) : undefined) ??
        dropoutUniforms(input, draws);
      return { name: input.name, data, dims: input.shape };
    });
    const losses = { dLoss: new Float32Array(1), gLoss: new Float32Array(1) };
    this.trainSession.run(feeds, this.fetches(losses, this.next));
    for (const name of this.train.updated.keys()) {
      const updated = this.next.get(name)!;
      this.next.set(name, this.current.get(name)!);
      this.current.set(name, updated);
    }
    this.stepsRun++;
    this.synced = false;
    if (!measure) return undefined;
    const measured = new Float32Array(2);
    const measureFeeds = this.measure.inputs.map((input) => ({
      name: input.name,
      data: this.current.get(input.name) ?? batch.get(input.name)!,
      dims: input.shape,
    }));
    this.measureSession.run(measureFeeds, [{ name: 'measured', data: measured, dims: [2] }]);
    return { dLoss: losses.dLoss[0], gLoss: losses.gLoss[0], dReal: measured[0], dFake: measured[1] };
  }

  sync(): void {
    if (this.synced) return;
    tf.tidy(() => {
      for (const [name, variable] of this.variables)
        variable.assign(tf.tensor(this.current.get(name)!.slice(), variable.shape, variable.dtype));
    });
    for (const optimizer of this.optimizers) optimizer.iterations = this.startIterations + this.stepsRun;
    this.synced = true;
  }

  dispose(): void {
    this.trainSession.dispose();
    this.measureSession.dispose();
  }

  /** The step graph's outputs: the state's into `into`, the losses into `losses`. */
  private fetches(losses: Record<string, Float32Array>, into: Map<string, Buffer>): Feed[] {
    return this.train.outputs.map((output) => {
      const state = this.stateOutput.get(output.name);
      return {
        name: output.name,
        data: state === undefined ? losses[output.name] : into.get(state)!,
        dims: output.shape,
      };
    });
  }

  /**
   * The step graph's session on the intra-op threads that run it fastest here: every core, or one
   * (small graphs lose more to the threads' handovers than they gain), timed on the current state
   * with the outputs going to scratch arrays. The thread count does not change the results (tested).
   */
  private fastestSession(options: OnnxStepOptions): OrtSession {
    const override = options.threads ?? (Number(process.env.GANPORT_ORT_THREADS) || undefined);
    const candidates = override ? [override] : [...new Set([cpus().length, 1])];
    const feeds = this.train.inputs.map((input) => ({
      name: input.name,
      data: this.current.get(input.name) ?? zeros(input),
      dims: input.shape,
    }));
    const scratch = new Map([...this.next].map(([name, buffer]) => [name, buffer.slice()]));
    const fetches = this.fetches({ dLoss: new Float32Array(1), gLoss: new Float32Array(1) }, scratch);
    let best: { session: OrtSession; ms: number; threads: number } | undefined;
    for (const threads of candidates) {
      const session = new OrtSession(this.train.model, { threads, providers: options.providers });
      let ms = Infinity;
      for (let run = 0; candidates.length > 1 && run < 4; run++) {
        const t0 = performance.now();
        session.run(feeds, fetches);
        if (run > 0) ms = Math.min(ms, performance.now() - t0); // the first run sets up
      }
      if (best === undefined || ms < best.ms) {
        best?.session.dispose();
        best = { session, ms, threads };
      } else session.dispose();
    }
    this.threads = best!.threads;
    return best!.session;
  }

  /** The real batch and the draws as the graphs' inputs. */
  private stepFeeds(real: tf.Tensor, realLabels: tf.Tensor | undefined, draws: StepDraws): Map<string, Buffer> {
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

/** tfjs's randomUniform(shape, 0, 1, 'float32', seed): seedrandom's alea, seeded with the seed's string. */
function uniforms(seed: number, count: number): Float32Array {
  const random = seedrandom.alea(String(seed));
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = random();
  return values;
}

const zeros = (t: GraphTensor): Buffer => {
  const n = t.shape.reduce((a, b) => a * b, 1);
  return t.dtype === 'float32' ? new Float32Array(n) : t.dtype === 'int32' ? new Int32Array(n) : new Uint8Array(n);
};

function sameStart(values: ArrayLike<number>, start: Float32Array): boolean {
  if (values.length < start.length) return false;
  for (let i = 0; i < start.length; i++) if (values[i] !== start[i]) return false;
  return true;
}

function dropoutUniforms(input: GraphTensor, draws: StepDraws): Float32Array {
  const match = DROPOUT_INPUT.exec(input.name);
  if (!match) throw new Error(`internal error: no value for the step graph's input ${input.name}`);
  return uniforms(
    draws.dropoutSeeds[Number(match[1])],
    input.shape.reduce((a, b) => a * b, 1),
  );
}
