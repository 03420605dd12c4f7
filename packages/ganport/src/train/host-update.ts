/**
 * The generator's Adam update and the EMA generator taken out of the step graph, on the CPU: the graph
 * ends at the generator's gradients, and each variable's update then runs as one WebAssembly SIMD pass
 * over its weight, moments and gradient (host-update.wat), in place.
 *
 * Why: in the graph, Adam is 12 elementwise kernels a variable, each a pass over the whole variable
 * with its own dispatch. On this project's 2-vCPU machine, Adam over mlp's variable shapes (1.09
 * million values) took 4.3–4.8 ms in onnxruntime on two threads, PyTorch's 1.2–2.6 ms, one fused pass
 * 0.69 ms on one thread. The discriminator's Adam stays in the graph, whose generator half reads its
 * result, unless the step is split in two graphs around it (split-step.ts): then the same pass runs
 * between them.
 *
 * Same values: the pass makes the graph's own float32 operations in the graph's order, and its
 * scalars (β's, the step's ε and step size, the EMA decay) are the graph's own values, handed out as
 * outputs, so the weights, moments and averages come out the same bits.
 */
import { DataType, makeNode, makeValueInfo } from '../onnx/builder.js';
import { liveNodes, nodeIndex } from '../onnx/edit.js';
import { decodeModel, encodeModel, type ModelProto, type NodeProto } from '../onnx/proto.js';
import type { CapturedGraph, GraphTensor } from '../tfjs/capture.js';
import { HOST_UPDATE_WASM } from './host-update-wasm.js';

/** One variable's Adam update: state names, and the graph output with its gradient. */
export interface AdamVariable {
  weight: string;
  firstMoment: string;
  secondMoment: string;
  gradient: string;
}

/** One EMA weight: its state name, and the state it follows (read after the step's updates). */
export interface EmaWeight {
  average: string;
  source: string;
}

const ADAM_SCALARS = ['beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'epsilon', 'negativeStep'] as const;
type AdamScalar = (typeof ADAM_SCALARS)[number];

/** One optimizer's variables, and the graph outputs holding its scalars (each step's own: ε and the step size follow the learning rate and step count). */
export interface AdamPart {
  variables: AdamVariable[];
  scalars: Record<AdamScalar, string>;
}

export interface EmaPart {
  weights: EmaWeight[];
  /** The graph outputs holding the decay and 1 − decay. */
  decay: string;
  keep: string;
}

export interface HostUpdatePlan {
  generator: AdamPart;
  /** Where the step is two graphs (split-step.ts): the discriminator's Adam, run between them. */
  discriminator?: AdamPart;
  ema?: EmaPart;
}

/** The optimizers' state names, as OnnxStep captures them. */
const OPTIMIZER_STATE = { generator: 'gOptimizer', discriminator: 'dOptimizer' } as const;
const EMA = /^ema\/\d+$/;

/** A graph's producers, readers and constants, and the forms its updates are matched against. */
class UpdateForms {
  private readonly producer: Map<string, NodeProto>;
  private readonly readers: Map<string, NodeProto[]>;
  private readonly constant: Set<string>;

  constructor(
    model: ModelProto,
    private readonly graph: CapturedGraph,
  ) {
    ({ producer: this.producer, readers: this.readers } = nodeIndex(model.graph.node));
    this.constant = new Set(model.graph.initializer.map((t) => t.name));
  }

  /**
   * The optimizer's variables, each with the value holding its updated weight, and the values of its
   * scalars; throws where an update does not have the form adam.ts writes.
   */
  adam(optimizer: keyof typeof OPTIMIZER_STATE): {
    variables: (AdamVariable & { updatedWeight: string })[];
    scalars: Record<AdamScalar, string>;
  } {
    const prefix = OPTIMIZER_STATE[optimizer];
    const moment = new RegExp(`^${prefix}/m/(\\d+)$`);
    const scalars: Partial<Record<AdamScalar, string>> = {};
    const variables = [];
    for (const firstMoment of this.graph.updated.keys()) {
      const index = moment.exec(firstMoment)?.[1];
      if (index === undefined) continue;
      const secondMoment = `${prefix}/v/${index}`;
      const [mDecayed, mStep] = this.node(this.updated(firstMoment), 'Add').input.map((v) => this.node(v, 'Mul'));
      const [gradient, oneMinusBeta1] = this.byConstant(mStep);
      const [m, beta1] = this.byConstant(mDecayed);
      if (m !== firstMoment) throw new Error(`${firstMoment}'s update does not read it`);
      const [vDecayed, vStep] = this.node(this.updated(secondMoment), 'Add').input.map((v) => this.node(v, 'Mul'));
      const [square, oneMinusBeta2] = this.byConstant(vStep);
      const [v, beta2] = this.byConstant(vDecayed);
      if (v !== secondMoment || this.node(square, 'Mul').input.some((x) => x !== gradient))
        throw new Error(`${secondMoment}'s update differs`);
      const ratio = this.reader(this.updated(firstMoment), 'Div', 0);
      const denominator = this.node(ratio.input[1], 'Add');
      if (this.node(denominator.input[0], 'Sqrt').input[0] !== this.updated(secondMoment))
        throw new Error('√v is not the denominator');
      const step = this.reader(ratio.output[0], 'Mul', 0);
      const sum = this.reader(step.output[0], 'Add', 0);
      // a weight kept in another shape than its update's (spectral norm's kernel) is read through Reshapes
      // and written back through them: the same values in the same order
      let weight = sum.input[1];
      for (let r = this.producer.get(weight); r?.opType === 'Reshape'; r = this.producer.get(weight))
        weight = r.input[0];
      const updatedWeight = this.graph.updated.get(weight);
      let written = sum.output[0];
      while (written !== updatedWeight) {
        const reshape = (this.readers.get(written) ?? []).find((n) => n.opType === 'Reshape');
        if (!reshape || updatedWeight === undefined) throw new Error(`${firstMoment}'s weight is not updated by it`);
        written = reshape.output[0];
      }
      if (!this.producer.has(gradient)) throw new Error(`${weight}'s gradient is not computed`);
      const values = [beta1, oneMinusBeta1, beta2, oneMinusBeta2, denominator.input[1], step.input[1]];
      for (const [i, role] of ADAM_SCALARS.entries()) same(scalars, role, values[i]);
      variables.push({ weight, firstMoment, secondMoment, gradient, updatedWeight: written });
    }
    if (variables.length === 0) throw new Error(`no ${optimizer} variables found`);
    return { variables, scalars: scalars as Record<AdamScalar, string> };
  }

  /** The EMA generator's update (undefined where there is none); throws where it does not have step.ts's form. */
  ema(): { weights: EmaWeight[]; decay: string; keep: string } | undefined {
    const stateOf = new Map([...this.graph.updated].map(([state, output]) => [output, state]));
    const inputs = new Set(this.graph.inputs.map((input) => input.name));
    const scalars: Partial<Record<'decay' | 'keep', string>> = {};
    const weights: EmaWeight[] = [];
    for (const average of this.graph.updated.keys()) {
      if (!EMA.test(average)) continue;
      const [decayed, added] = this.node(this.updated(average), 'Add').input.map((v) => this.node(v, 'Mul'));
      if (decayed.input[0] !== average) throw new Error(`${average}'s update does not read it`);
      same(scalars, 'decay', decayed.input[1]);
      same(scalars, 'keep', added.input[1]);
      const source = stateOf.get(added.input[0]) ?? added.input[0];
      if (!inputs.has(source)) throw new Error(`${average} follows ${added.input[0]}, not a state`);
      weights.push({ average, source });
    }
    return weights.length ? { weights, decay: scalars.decay!, keep: scalars.keep! } : undefined;
  }

  private updated(state: string): string {
    const value = this.graph.updated.get(state);
    if (value === undefined) throw new Error(`${state} is not updated`);
    return value;
  }

  private node(value: string, opType: string): NodeProto {
    const found = this.producer.get(value);
    if (found?.opType !== opType) throw new Error(`${value} is not made by ${opType}`);
    return found;
  }

  private reader(value: string, opType: string, at: number): NodeProto {
    const found = (this.readers.get(value) ?? []).filter((n) => n.opType === opType && n.input[at] === value);
    if (found.length !== 1) throw new Error(`${value} is not read by one ${opType}`);
    return found[0];
  }

  /** The operands of a Mul by a constant: [the other one, the constant]. */
  private byConstant(mul: NodeProto): [string, string] {
    const [a, b] = mul.input;
    if (this.constant.has(b)) return [a, b];
    if (this.constant.has(a)) return [b, a];
    throw new Error(`${mul.output[0]} is not a product with a constant`);
  }
}

/** Records a scalar's value for `role`, which every variable must share. */
function same<Role extends string>(scalars: Partial<Record<Role, string>>, role: Role, value: string): void {
  scalars[role] ??= value;
  if (scalars[role] !== value) throw new Error(`the variables' ${role} differ`);
}

/**
 * `graph` without the generator's Adam update and EMA, and what they were; throws where the graph's
 * update does not have the form adam.ts and step.ts write (a bug: the caller keeps the whole graph).
 */
export function detachGeneratorUpdate(graph: CapturedGraph): { graph: CapturedGraph; plan: HostUpdatePlan } {
  const model = decodeModel(graph.model);
  const forms = new UpdateForms(model, graph);
  const adam = forms.adam('generator');
  const ema = forms.ema();
  const onHost = [
    ...adam.variables.flatMap((v) => [v.weight, v.firstMoment, v.secondMoment]),
    ...(ema?.weights.map((w) => w.average) ?? []),
  ];
  const outputs = handOut(model, graph, onHost, adam.variables, {
    ...prefixed('generator', adam.scalars),
    ...(ema ? prefixed('ema', { decay: ema.decay, keep: ema.keep }) : {}),
  });
  const plan: HostUpdatePlan = {
    generator: { variables: adam.variables.map(withoutUpdated), scalars: adamScalars(outputs.scalars) },
    ema: ema && { weights: ema.weights, decay: outputs.scalars.decay, keep: outputs.scalars.keep },
  };
  return { graph: outputs.graph, plan };
}

/**
 * `graph` without the discriminator's Adam update: it ends at the discriminator's gradients, and what
 * read an updated weight reads the input `<weight>/updated` instead, which the step feeds after
 * running the update (split-step.ts then cuts the graph in two there).
 */
export function detachDiscriminatorUpdate(graph: CapturedGraph): {
  graph: CapturedGraph;
  part: AdamPart;
  /** The inputs holding the updated weights, by weight. */
  updatedInputs: Map<string, string>;
} {
  const model = decodeModel(graph.model);
  const adam = new UpdateForms(model, graph).adam('discriminator');
  const updatedInputs = new Map(adam.variables.map((v) => [v.weight, `${v.weight}/updated`]));
  const rename = new Map(adam.variables.map((v) => [v.updatedWeight, updatedInputs.get(v.weight)!]));
  const weights = new Map(graph.inputs.map((input) => [input.name, input]));
  for (const node of model.graph.node) node.input = node.input.map((name) => rename.get(name) ?? name);
  const onHost = adam.variables.flatMap((v) => [v.weight, v.firstMoment, v.secondMoment]);
  const withInputs: CapturedGraph = {
    ...graph,
    inputs: [...graph.inputs, ...[...updatedInputs].map(([weight, name]) => ({ ...weights.get(weight)!, name }))],
  };
  model.graph.input.push(
    ...[...updatedInputs].map(([weight, name]) => makeValueInfo(name, DataType.FLOAT, weights.get(weight)!.shape)),
  );
  const outputs = handOut(model, withInputs, onHost, adam.variables, prefixed('discriminator', adam.scalars));
  // what still read a moment would read it after the host updated it in place
  const moments = new Set(adam.variables.flatMap((v) => [v.firstMoment, v.secondMoment]));
  const stillRead = outputs.graph.inputs.find((input) => moments.has(input.name));
  if (stillRead) throw new Error(`${stillRead.name} is read by more than its update`);
  return {
    graph: outputs.graph,
    part: { variables: adam.variables.map(withoutUpdated), scalars: adamScalars(outputs.scalars) },
    updatedInputs,
  };
}

const adamScalars = (scalars: Record<string, string>) =>
  Object.fromEntries(ADAM_SCALARS.map((role) => [role, scalars[role]])) as Record<AdamScalar, string>;

const withoutUpdated = ({ updatedWeight: _, ...variable }: AdamVariable & { updatedWeight: string }): AdamVariable =>
  variable;

/** Scalars by role, each to be handed out as the output `hostUpdate/<prefix>/<role>`. */
const prefixed = (prefix: string, scalars: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(scalars).map(([role, value]) => [role, { output: `hostUpdate/${prefix}/${role}`, value }]),
  );

/**
 * `model` (decoded from `graph`, edited in place) without the updates of the `onHost` states: their
 * outputs dropped, the gradients and scalars handed out (the scalars through Identity), and what then
 * computes nothing any output needs pruned (the updates themselves, and inputs no node reads).
 */
function handOut(
  model: ModelProto,
  graph: CapturedGraph,
  onHost: string[],
  variables: AdamVariable[],
  scalars: Record<string, { output: string; value: string }>,
): { graph: CapturedGraph; scalars: Record<string, string> } {
  const detached = new Set(onHost.map((state) => graph.updated.get(state)!));
  const kept = graph.outputs.filter((output) => !detached.has(output.name));
  const shape = new Map(graph.inputs.map((input) => [input.name, input.shape]));
  const tensor = (name: string, dims: number[]): GraphTensor => ({ name, shape: dims, dtype: 'float32' });
  const gradients = variables.map((v) => tensor(v.gradient, shape.get(v.weight)!));
  for (const { output, value } of Object.values(scalars))
    model.graph.node.push(makeNode('Identity', [value], [output]));
  const scalarOutputs = Object.values(scalars).map(({ output }) => tensor(output, []));
  const outputs: GraphTensor[] = [...kept, ...gradients, ...scalarOutputs];
  const pruned = prune(model, outputs);
  pruned.graph.output = [
    ...model.graph.output.filter((o) => !detached.has(o.name)),
    ...[...gradients, ...scalarOutputs].map((o) => makeValueInfo(o.name, DataType.FLOAT, o.shape)),
  ];
  const read = new Set(pruned.graph.node.flatMap((n) => n.input));
  const onHostStates = new Set(onHost);
  return {
    graph: {
      ...graph,
      model: encodeModel(pruned),
      inputs: graph.inputs.filter((input) => read.has(input.name)),
      outputs,
      updated: new Map([...graph.updated].filter(([state]) => !onHostStates.has(state))),
    },
    scalars: Object.fromEntries(Object.entries(scalars).map(([role, { output }]) => [role, output])),
  };
}

/** `model` computing only `outputs`: nodes nothing needs, inputs and initializers nothing reads, dropped. */
function prune(model: ModelProto, outputs: GraphTensor[]): ModelProto & { graph: NonNullable<ModelProto['graph']> } {
  const nodes = liveNodes(
    model.graph.node,
    outputs.map((o) => o.name),
  );
  const read = new Set(nodes.flatMap((node) => node.input));
  return {
    ...model,
    graph: {
      ...model.graph,
      node: nodes,
      input: model.graph.input.filter((i) => read.has(i.name)),
      initializer: model.graph.initializer.filter((t) => read.has(t.name)),
    },
  };
}

let compiled: WebAssembly.Module | undefined;

interface Kernels {
  adam(
    weight: number,
    firstMoment: number,
    secondMoment: number,
    gradient: number,
    count: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    epsilon: number,
    negativeStep: number,
  ): void;
  ema(average: number, source: number, count: number, decay: number, keep: number): void;
}

type StateArrays = Map<string, Float32Array | Int32Array | Uint8Array>;

/**
 * Runs a plan's passes, on arrays in its WebAssembly memory: it moves the states they update (and the
 * EMA's sources) there when made, as views the runner then feeds to onnxruntime like any other array.
 */
export class HostUpdate {
  private readonly kernels: Kernels;
  private readonly memory: WebAssembly.Memory;
  private used = 0;
  /** The graph outputs the passes read (gradients, scalars), by name. */
  private readonly outputs = new Map<string, Float32Array>();

  /** `current` and `next`: the runner's two sets of state arrays (`next` only has those the graph updates). */
  constructor(
    readonly plan: HostUpdatePlan,
    current: StateArrays,
    next: StateArrays,
  ) {
    const parts = [plan.generator, ...(plan.discriminator ? [plan.discriminator] : [])];
    const variables = parts.flatMap((part) => part.variables);
    const held = new Set([
      ...variables.flatMap((v) => [v.weight, v.firstMoment, v.secondMoment]),
      ...(plan.ema?.weights.flatMap((w) => [w.average, w.source]) ?? []),
    ]);
    const arrays = [...held].flatMap((state) =>
      (next.has(state) ? [current, next] : [current]).map((map) => ({ map, state })),
    );
    const count = (state: string) => current.get(state)?.length ?? 0;
    const bytes =
      arrays.reduce((total, { state }) => total + padded(count(state)), 0) +
      variables.reduce((total, { weight }) => total + padded(count(weight)), 0);
    this.memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    compiled ??= new WebAssembly.Module(Buffer.from(HOST_UPDATE_WASM, 'base64'));
    this.kernels = new WebAssembly.Instance(compiled, { host: { memory: this.memory } }).exports as unknown as Kernels;
    for (const { map, state } of arrays) {
      const values = map.get(state);
      if (!(values instanceof Float32Array))
        throw new Error(`internal error: the host update's ${state} is not float32`);
      const view = this.allocate(values.length);
      view.set(values);
      map.set(state, view);
    }
    for (const { weight, gradient } of variables) this.outputs.set(gradient, this.allocate(count(weight)));
    const scalars = [
      ...parts.flatMap((part) => Object.values(part.scalars)),
      ...(plan.ema ? [plan.ema.decay, plan.ema.keep] : []),
    ];
    for (const output of scalars) this.outputs.set(output, new Float32Array(1));
  }

  /** The array a graph output of the update's (a gradient, a scalar) is written to; undefined for others. */
  output(name: string): Float32Array | undefined {
    return this.outputs.get(name);
  }

  /** The discriminator's Adam, between the step's two graphs, on the weights in `current`. */
  applyDiscriminator(current: StateArrays): void {
    if (this.plan.discriminator) this.adam(this.plan.discriminator, current);
  }

  /** The generator's Adam, then the EMA, on the state the step left in `current` (the graph's updates swapped in). */
  applyGenerator(current: StateArrays): void {
    this.adam(this.plan.generator, current);
    const ema = this.plan.ema;
    if (!ema) return;
    const [decay, keep] = [ema.decay, ema.keep].map((output) => this.outputs.get(output)![0]);
    for (const { average, source } of ema.weights) {
      this.kernels.ema(at(current, average), at(current, source), current.get(average)!.length, decay, keep);
    }
  }

  private adam({ variables, scalars }: AdamPart, current: StateArrays): void {
    const [beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon, negativeStep] = ADAM_SCALARS.map(
      (role) => this.outputs.get(scalars[role])![0],
    );
    for (const { weight, firstMoment, secondMoment, gradient } of variables) {
      const g = this.outputs.get(gradient)!;
      this.kernels.adam(
        at(current, weight),
        at(current, firstMoment),
        at(current, secondMoment),
        g.byteOffset,
        g.length,
        beta1,
        oneMinusBeta1,
        beta2,
        oneMinusBeta2,
        epsilon,
        negativeStep,
      );
    }
  }

  private allocate(count: number): Float32Array {
    const view = new Float32Array(this.memory.buffer, this.used, count);
    this.used += padded(count);
    return view;
  }
}

/** A state's byte offset in the update's memory. */
const at = (current: StateArrays, state: string) => current.get(state)!.byteOffset;

/** Bytes for `count` float32 values, rounded up to the 16 of a SIMD vector. */
const padded = (count: number) => Math.ceil(count / 4) * 16;
