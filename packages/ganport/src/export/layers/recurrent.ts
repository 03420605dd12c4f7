/**
 * The recurrent layers, each as one ONNX recurrent op on [steps, batch, features]:
 * SimpleRNN → RNN, GRU → GRU, LSTM → LSTM, and Bidirectional(any of them) → the same op with
 * direction "bidirectional".
 *
 * Weights: a tfjs kernel is [features, gates·units] with the gates as column blocks, the
 * recurrent kernel [units, gates·units], the bias [gates·units]; ONNX wants W [dirs, gates·units,
 * features] and R [dirs, gates·units, units] (the transposes) and B [dirs, 2·gates·units] (input
 * bias, then recurrent bias: zeros but for reset_after GRUs). Gate order: tfjs/Keras LSTM is
 * i, f, c, o and ONNX LSTM i, o, f, c; GRU is z, r, h in both (tfjs computes the candidate with the reset gate applied
 * before the recurrent product: linear_before_reset 0; Keras's reset_after, loaded as ganport's
 * GRUResetAfter, applies it after, with separate input and recurrent biases: linear_before_reset 1).
 *
 * stateful: tfjs keeps the state in the layer from one call to the next; the export makes it explicit, as
 * graph inputs `<layer>/initial_h` (and `_c`) the op starts from and graph outputs `<layer>/final_h`
 * (`_c`) holding it after the call, for the app to feed back (zeros start a sequence afresh).
 *
 * go_backwards: tfjs runs the steps last to first and returns the outputs in that (processing)
 * order; ONNX "reverse" returns them aligned with the input steps, so the sequence is reversed
 * after the op. Bidirectional reverses its backward layer's outputs back, which is ONNX's own
 * alignment, so nothing is reversed there.
 */
import { attr, DataType, makeNode, makeTensor } from '../../onnx/builder.js';
import type { ReduceOp } from '../../onnx/opsets.js';
import type { Value } from '../graph.js';
import {
  type LayerContext,
  type LayerHandler,
  type LayerWeight,
  refuseMask,
  tfjsValue,
  unsupportedConfig,
} from './context.js';

type Kind = 'SimpleRNN' | 'GRU' | 'LSTM';

const GATES: Record<Kind, number> = { SimpleRNN: 1, GRU: 3, LSTM: 4 };
const ONNX_OP: Record<Kind, string> = { SimpleRNN: 'RNN', GRU: 'GRU', LSTM: 'LSTM' };
/** ONNX gate block k takes tfjs gate block ORDER[k]. */
const ORDER: Record<Kind, number[]> = { SimpleRNN: [0], GRU: [0, 1, 2], LSTM: [0, 3, 1, 2] };
/** Defaults of the tfjs layer classes, used where a config leaves a value out. */
const DEFAULT_RECURRENT_ACTIVATION = 'hardSigmoid';

/**
 * tfjs activations the ONNX recurrent ops can apply inside the cell (ONNX's list: Relu, Tanh,
 * Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus),
 * with the alpha and beta each one takes: tfjs's hardSigmoid is 0.2·x + 0.5 clipped to [0, 1].
 */
const RNN_ACTIVATIONS: Record<string, { op: string; alpha?: number; beta?: number }> = {
  tanh: { op: 'Tanh' },
  sigmoid: { op: 'Sigmoid' },
  hardSigmoid: { op: 'HardSigmoid', alpha: 0.2, beta: 0.5 },
  relu: { op: 'Relu' },
  linear: { op: 'Affine', alpha: 1, beta: 0 },
  elu: { op: 'Elu', alpha: 1 },
  softsign: { op: 'Softsign' },
  softplus: { op: 'Softplus' },
};

/** One tfjs recurrent layer's configuration, as the op needs it. */
interface Cell {
  kind: Kind;
  units: number;
  config: Record<string, unknown>;
  kernel: LayerWeight;
  recurrentKernel: LayerWeight;
  bias?: LayerWeight;
  /** GRU only: the reset gate after the recurrent product; bias [2, 3·units] (input row, recurrent row). */
  resetAfter: boolean;
}

/** AttributeProto.AttributeType STRINGS (the builder has no helper for string lists). */
const STRINGS = 8;

/** The recurrent kind of a tfjs layer class (GRUResetAfter: src/tfjs/keras-layers.ts), or undefined. */
const kindOf = (className: string): Kind | undefined =>
  className === 'GRUResetAfter' ? 'GRU' : className in GATES ? (className as Kind) : undefined;

/** The options of a tfjs recurrent layer config that cannot be expressed, or change nothing at inference. */
function checkConfig(ctx: LayerContext, config: Record<string, unknown>): void {
  if (config.timeMajor === true) unsupportedConfig(ctx, 'timeMajor: true');
  // dropout and recurrentDropout are identities at inference; unroll and implementation only change how tfjs computes.
}

function cellOf(ctx: LayerContext, kind: Kind, config: Record<string, unknown>, weights: LayerWeight[]): Cell {
  checkConfig(ctx, config);
  const find = (name: string) => {
    const w = weights.find((x) => x.name === name);
    if (!w) unsupportedConfig(ctx, `a ${kind} without its "${name}" weight`);
    return w;
  };
  return {
    kind,
    units: config.units as number,
    config,
    kernel: find('kernel'),
    recurrentKernel: find('recurrent_kernel'),
    bias: config.useBias === false ? undefined : find('bias'),
    resetAfter: kind === 'GRU' && config.resetAfter === true,
  };
}

/** [rows, gates·units] with gate blocks in tfjs order → [gates·units, rows] in ONNX order (the transpose). */
function gatesTransposed(w: LayerWeight, kind: Kind, units: number): Float32Array {
  const [rows, cols] = w.shape;
  const out = new Float32Array(rows * cols);
  ORDER[kind].forEach((from, block) => {
    for (let u = 0; u < units; u++) {
      const src = from * units + u;
      const dst = (block * units + u) * rows;
      for (let r = 0; r < rows; r++) out[dst + r] = w.data[r * cols + src];
    }
  });
  return out;
}

function activationOf(
  ctx: LayerContext,
  name: unknown,
  fallback: string,
): { op: string; alpha?: number; beta?: number } {
  const key = (name as string | undefined) ?? fallback;
  const found = RNN_ACTIVATIONS[key];
  if (!found)
    unsupportedConfig(
      ctx,
      `activation "${key}" inside a recurrent cell (the ONNX recurrent ops apply only ${Object.keys(RNN_ACTIVATIONS).join(', ')})`,
    );
  return found;
}

/** The ONNX cell activations of one direction: RNN f; GRU f, g; LSTM f, g, h. */
function cellActivations(ctx: LayerContext, cell: Cell) {
  const act = activationOf(ctx, cell.config.activation, 'tanh');
  if (cell.kind === 'SimpleRNN') return [act];
  const rec = activationOf(ctx, cell.config.recurrentActivation, DEFAULT_RECURRENT_ACTIVATION);
  return cell.kind === 'GRU' ? [rec, act] : [rec, act, act];
}

interface RecurrentOutputs {
  /** Y: [steps, directions, batch, units], each direction aligned with the input steps. */
  y: string;
  /** Y_h (and Y_c for LSTM): [directions, batch, units]. */
  states: string[];
}

/**
 * Emits one ONNX recurrent op over `x` (tfjs [batch, steps, features]) for one or two cells (the
 * second runs in reverse); `initial` are the tfjs initial states, per cell: [h] or [h, c].
 */
function emitRecurrent(
  ctx: LayerContext,
  cells: Cell[],
  initial: Value[][],
  direction: 'forward' | 'reverse' | 'bidirectional',
): RecurrentOutputs {
  const { g, name } = ctx;
  const { kind, units } = cells[0];
  const gates = GATES[kind];
  const dirs = cells.length;
  const features = cells[0].kernel.shape[0];
  const W = new Float32Array(dirs * gates * units * features);
  const R = new Float32Array(dirs * gates * units * units);
  const B = new Float32Array(dirs * 2 * gates * units);
  cells.forEach((cell, d) => {
    W.set(gatesTransposed(cell.kernel, kind, units), d * gates * units * features);
    R.set(gatesTransposed(cell.recurrentKernel, kind, units), d * gates * units * units);
    if (cell.bias) {
      // one row (input bias; ONNX's recurrent half stays 0), or Keras reset_after's two rows: input, recurrent
      const rows = cell.resetAfter ? 2 : 1;
      for (let row = 0; row < rows; row++) {
        const data = cell.bias.data.subarray(row * gates * units, (row + 1) * gates * units);
        const b = gatesTransposed({ ...cell.bias, shape: [1, gates * units], data }, kind, units);
        B.set(b, (d * 2 + row) * gates * units);
      }
    }
  });
  const x = g.op('Transpose', [g.tfjsLayout(ctx.inputs[0]).name], { perm: attr.ints([1, 0, 2]) }, `${name}/time_major`);
  const inputs = [
    x,
    g.constFloat(`${name}/W`, [dirs, gates * units, features], W),
    g.constFloat(`${name}/R`, [dirs, gates * units, units], R),
    cells.some((c) => c.bias) ? g.constFloat(`${name}/B`, [dirs, 2 * gates * units], B) : '',
  ];
  if (initial.length > 0) {
    // [batch, units] per direction → [dirs, batch, units]; sequence_lens stays empty.
    const stacked = (k: number) => {
      const parts = initial.map((states, d) =>
        g.op(
          'Unsqueeze',
          [g.tfjsLayout(states[k]).name, g.constInt64(`${name}/axes`, [0])],
          {},
          `${name}/init${k}_${d}`,
        ),
      );
      return parts.length === 1 ? parts[0] : g.op('Concat', parts, { axis: attr.int(0) }, `${name}/init${k}`);
    };
    inputs.push('', stacked(0));
    if (kind === 'LSTM') inputs.push(stacked(1));
  }
  while (inputs[inputs.length - 1] === '') inputs.pop();

  const acts = cells.flatMap((cell) => cellActivations(ctx, cell));
  const alphas = acts.flatMap((a) => (a.alpha === undefined ? [] : [a.alpha]));
  const betas = acts.flatMap((a) => (a.beta === undefined ? [] : [a.beta]));
  const attributes = {
    hidden_size: attr.int(units),
    direction: attr.string(direction),
    activations: { type: STRINGS, strings: acts.map((a) => new TextEncoder().encode(a.op)) },
    ...(alphas.length ? { activation_alpha: attr.floats(alphas) } : {}),
    ...(betas.length ? { activation_beta: attr.floats(betas) } : {}),
    ...(kind === 'GRU' ? { linear_before_reset: attr.int(cells[0].resetAfter ? 1 : 0) } : {}),
  };
  const outputs = [g.unique(`${name}/Y`), g.unique(`${name}/Y_h`)];
  if (kind === 'LSTM') outputs.push(g.unique(`${name}/Y_c`));
  g.nodes.push(
    makeNode(ONNX_OP[kind], inputs, outputs, attributes, g.unique(`${name}/${ONNX_OP[kind].toLowerCase()}`)),
  );
  return { y: outputs[0], states: outputs.slice(1) };
}

/** Reverses the steps axis (1) of a tfjs [batch, steps, units] value. */
function reverseSteps(ctx: LayerContext, x: string, base: string): string {
  const { g } = ctx;
  return g.op(
    'Slice',
    [
      x,
      g.constInt64(`${base}/starts`, [-1]),
      g.constInt64(`${base}/ends`, [-(2 ** 53)]),
      g.constInt64(`${base}/axes`, [1]),
      g.constInt64(`${base}/steps`, [-1]),
    ],
    {},
    base,
  );
}

/** The state of a one-direction op, [1, batch, units], as tfjs's [batch, units]. */
const onlyState = (ctx: LayerContext, states: string, base: string): string =>
  ctx.g.op('Squeeze', [states, ctx.g.constInt64(`${base}/axes`, [0])], {}, base);

/** Direction `d` of a [dirs, batch, units] state as tfjs's [batch, units]. */
function stateOf(ctx: LayerContext, states: string, d: number, base: string): string {
  return ctx.g.op('Gather', [states, scalar(ctx, d)], { axis: attr.int(0) }, base);
}

/** The tfjs initial-state inputs of a call (inputs after the first), split per direction. */
function initialStates(ctx: LayerContext, dirs: number): Value[][] {
  const extra = ctx.inputs.slice(1);
  if (extra.length === 0) return [];
  const per = extra.length / dirs;
  return Array.from({ length: dirs }, (_, d) => extra.slice(d * per, (d + 1) * per));
}

const STATE_NAMES: Record<Kind, string[]> = { SimpleRNN: ['h'], GRU: ['h'], LSTM: ['h', 'c'] };
const DIRECTION_SUFFIXES = [[''], ['_forward', '_backward']];

/**
 * The states a call starts from: the initial-state inputs of the call, or for a stateful layer new graph
 * inputs `<layer>/initial_<state>[_forward|_backward]` ([batch, units]); `carry` then makes the op's
 * final states the matching graph outputs `<layer>/final_…`.
 */
function startStates(ctx: LayerContext, kind: Kind, units: number, dirs: number, stateful: boolean) {
  if (!stateful) return { initial: initialStates(ctx, dirs), carry: (_states: string[]) => {} };
  if (ctx.inputs.length > 1) unsupportedConfig(ctx, 'stateful: true with initial states from other inputs');
  const { g, name } = ctx;
  const shape = [ctx.inputShapes[0][0], units];
  const suffixes = DIRECTION_SUFFIXES[dirs - 1];
  const initial = suffixes.map((suffix) =>
    STATE_NAMES[kind].map((state) => tfjsValue(g.unique(`${name}/initial_${state}${suffix}`), 2)),
  );
  const carry = (states: string[]) => {
    suffixes.forEach((suffix, d) => {
      STATE_NAMES[kind].forEach((state, k) => {
        const base = `${name}/final_${state}${suffix}`;
        const output = dirs === 1 ? onlyState(ctx, states[k], base) : stateOf(ctx, states[k], d, base);
        g.carried.push({ layer: name, state: `${state}${suffix}`, input: initial[d][k].name, output, shape });
      });
    });
  };
  return { initial, carry };
}

const MASK_EFFECT = 'tfjs skips the masked steps, holding the state; the ONNX recurrent ops take no per-step mask';

/** SimpleRNN, GRU, LSTM: [batch, steps, features] → the last output or every output, then the states if returnState. */
const recurrent =
  (kind: Kind): LayerHandler =>
  (ctx) => {
    refuseMask(ctx, MASK_EFFECT);
    const cell = cellOf(ctx, kind, ctx.config, ctx.weights);
    const { g, name } = ctx;
    const backwards = ctx.config.goBackwards === true;
    const start = startStates(ctx, kind, cell.units, 1, ctx.config.stateful === true);
    const { y, states } = emitRecurrent(ctx, [cell], start.initial, backwards ? 'reverse' : 'forward');
    start.carry(states);
    const sequences = ctx.config.returnSequences === true;
    const hLast = sequences && ctx.config.returnState !== true ? '' : onlyState(ctx, states[0], `${name}/h`);
    let output = hLast;
    if (sequences) {
      // [steps, 1, batch, units] → [batch, steps, units]
      const squeezed = g.op('Squeeze', [y, g.constInt64(`${name}/dir_axis`, [1])], {}, `${name}/squeeze`);
      output = g.op('Transpose', [squeezed], { perm: attr.ints([1, 0, 2]) }, backwards ? `${name}/aligned` : name);
      if (backwards) output = reverseSteps(ctx, output, name);
    }
    if (ctx.config.returnState !== true) return tfjsValue(output, sequences ? 3 : 2);
    const stateValues = [hLast, ...states.slice(1).map((s, i) => onlyState(ctx, s, `${name}/state${i + 1}`))];
    return [tfjsValue(output, sequences ? 3 : 2), ...stateValues.map((s) => tfjsValue(s, 2))];
  };

export const simpleRnn = recurrent('SimpleRNN');
export const gru = recurrent('GRU');
export const lstm = recurrent('LSTM');

const MERGE_REDUCE: Record<string, ReduceOp> = { sum: 'ReduceSum', ave: 'ReduceMean', mul: 'ReduceProd' };

/**
 * Bidirectional(SimpleRNN | GRU | LSTM): one op with direction "bidirectional" (forward weights
 * first), its two directions merged as tfjs does: concat (forward then backward features), sum,
 * mul, ave, or none (two outputs). Its states follow: forward's, then backward's.
 */
export const bidirectional: LayerHandler = (ctx) => {
  refuseMask(ctx, MASK_EFFECT);
  const { g, name } = ctx;
  const inner = ctx.config.layer as { className: string; config: Record<string, unknown> };
  const kind = kindOf(inner.className);
  if (!kind) unsupportedConfig(ctx, `a Bidirectional ${inner.className}`);
  if (inner.config.goBackwards === true)
    unsupportedConfig(ctx, 'a Bidirectional whose forward layer has goBackwards: true');
  const half = ctx.weights.length / 2;
  const forward = cellOf(ctx, kind, inner.config, ctx.weights.slice(0, half));
  const backward = cellOf(ctx, kind, inner.config, ctx.weights.slice(half));
  const start = startStates(ctx, kind, forward.units, 2, inner.config.stateful === true);
  const { y, states } = emitRecurrent(ctx, [forward, backward], start.initial, 'bidirectional');
  start.carry(states);
  const sequences = inner.config.returnSequences === true;
  const mode = ctx.config.mergeMode as string | null | undefined;
  let merged: Value[];
  if (sequences) {
    // [steps, 2, batch, units] → [batch, steps, 2, units]
    const bt = g.op('Transpose', [y], { perm: attr.ints([2, 0, 1, 3]) }, `${name}/batch_major`);
    if (mode === 'concat' || mode === undefined)
      merged = [tfjsValue(g.op('Reshape', [bt, g.constInt64(`${name}/shape`, [0, 0, -1])], {}, name), 3)];
    else if (mode === null)
      merged = [0, 1].map((d) =>
        tfjsValue(
          g.op('Gather', [bt, scalar(ctx, d)], { axis: attr.int(2) }, `${name}/${d ? 'backward' : 'forward'}`),
          3,
        ),
      );
    else merged = [tfjsValue(g.reduce(mergeOp(ctx, mode), bt, [2], false, name), 3)];
  } else {
    // Y_h [2, batch, units] → [batch, 2, units]
    const bt = g.op('Transpose', [states[0]], { perm: attr.ints([1, 0, 2]) }, `${name}/batch_major`);
    if (mode === 'concat' || mode === undefined)
      merged = [tfjsValue(g.op('Reshape', [bt, g.constInt64(`${name}/shape`, [0, -1])], {}, name), 2)];
    else if (mode === null)
      merged = [0, 1].map((d) => tfjsValue(stateOf(ctx, states[0], d, `${name}/${d ? 'backward' : 'forward'}`), 2));
    else merged = [tfjsValue(g.reduce(mergeOp(ctx, mode), bt, [1], false, name), 2)];
  }
  if (inner.config.returnState !== true) return merged;
  const stateValues = [0, 1].flatMap((d) =>
    states.map((s, i) => tfjsValue(stateOf(ctx, s, d, `${name}/state${d}_${i}`), 2)),
  );
  return [...merged, ...stateValues];
};

function mergeOp(ctx: LayerContext, mode: string): ReduceOp {
  const op = MERGE_REDUCE[mode];
  if (!op) unsupportedConfig(ctx, `mergeMode "${mode}"`);
  return op;
}

/** A 0-d int64 constant: a Gather index that drops its axis. */
function scalar(ctx: LayerContext, d: number): string {
  const name = ctx.g.unique(`${ctx.name}/index`);
  ctx.g.initializers.push(makeTensor(name, DataType.INT64, [], BigInt64Array.of(BigInt(d))));
  return name;
}
