/**
 * Keras's TensorFlowOpLayer (tf.keras 2.1–2.3): a raw TensorFlow op in a functional model (e.g.
 * `tf.nn.depth_to_space` for a pixel shuffle), saved as its NodeDef — op name and attributes — and
 * the constants among its inputs. Registered with tfjs so that Keras models holding one load and
 * run. TF_OPS has one entry per TensorFlow op, computed with the tfjs op of the same semantics; the
 * exporter has one ONNX handler per op beside it (export/layers/tf-ops.ts). Any other op is refused
 * by name.
 *
 * The NodeDef is as `json_format.MessageToDict` writes it: attrs as {i: "2"}, {f: 0.5}, {b: true},
 * {s: <base64>}, {type: "DT_FLOAT"}, {list: {i: [...]}}. tfjs rewrites every key and string of a
 * config into camelCase on load (`block_size` → `blockSize`, "DT_FLOAT" → "DTFLOAT"), so names are
 * compared with underscores and case ignored.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerArgs } from './layer-basics.js';
import { isObject } from './layers-config.js';

/** An attribute value: an int, float, bool, decoded string, type name (DTFLOAT) or list of numbers. */
export type TfAttr = number | boolean | string | number[];

/** A constant input of the op, from the layer config's `constants`. */
export interface TfConstant {
  shape: number[];
  values: number[];
}

/** One input of the op: the layer input at `input`, or a constant. */
export type TfOperand = { input: number } | { constant: TfConstant };

export interface TfOp {
  /** The TensorFlow op type (DepthToSpace, AddV2, …). */
  op: string;
  /** Its attributes by TensorFlow's name (use `attrOf`). */
  attrs: Record<string, TfAttr>;
  /** Its inputs in the op's order. */
  inputs: TfOperand[];
}

/** The key a TensorFlow name is compared by: `keep_dims`, `keepDims` and `KEEP_DIMS` alike. */
const key = (name: string) => name.replace(/_/g, '').toLowerCase();

/** An attribute by its TensorFlow name (`keep_dims`), or `fallback` where the NodeDef leaves it out. */
export function attrOf<T extends TfAttr>(op: TfOp, name: string, fallback: T): T {
  const value = op.attrs[key(name)];
  return (value === undefined ? fallback : value) as T;
}

/** A constant input's values as plain numbers (shapes, axes, bounds); throws if that input is not a constant. */
export function constantValues(op: TfOp, index: number): number[] {
  const operand = op.inputs[index];
  if (!operand || !('constant' in operand))
    throw new Error(`TensorFlow op ${op.op}: input ${index} must be a constant saved with the layer`);
  return operand.constant.values;
}

function attrValue(value: unknown): TfAttr | undefined {
  if (!isObject(value)) return undefined;
  const [[kind, v] = []] = Object.entries(value);
  switch (kind) {
    case 'i':
    case 'f':
      return Number(v);
    case 'b':
      return v === true;
    case 's':
      return Buffer.from(String(v), 'base64').toString('utf8');
    case 'type':
      return key(String(v)).toUpperCase();
    case 'list': {
      const items = isObject(v) ? (Object.values(v)[0] ?? []) : [];
      return Array.isArray(items) ? items.map(Number) : undefined;
    }
    default:
      return undefined; // shapes, tensors, functions: no op here reads one
  }
}

/** A constant as json writes a numpy value: a number or nested lists of them. */
function constant(value: unknown, where: string): TfConstant {
  const shape: number[] = [];
  for (let level = value; Array.isArray(level); level = level[0]) shape.push(level.length);
  const values = (Array.isArray(value) ? value.flat(shape.length) : [value]).map(Number);
  if (values.length !== shape.reduce((a, b) => a * b, 1) || values.some(Number.isNaN))
    throw new Error(`${where}: a constant is not a numeric array (${JSON.stringify(value).slice(0, 60)})`);
  return { shape, values };
}

/** Reads a TensorFlowOpLayer config's `node_def` and `constants` (either key case). */
export function parseTfOp(config: Record<string, unknown>, where: string): TfOp {
  const nodeDef = config.nodeDef ?? config.node_def;
  if (!isObject(nodeDef) || typeof nodeDef.op !== 'string') throw new Error(`${where}: no node_def with an op`);
  const attrs: Record<string, TfAttr> = {};
  for (const [name, value] of Object.entries(isObject(nodeDef.attr) ? nodeDef.attr : {})) {
    const parsed = attrValue(value);
    if (parsed !== undefined) attrs[key(name)] = parsed;
  }
  // Control inputs (^name) only order execution; the data inputs are the op's arguments.
  const count = (Array.isArray(nodeDef.input) ? nodeDef.input : []).filter((i) => !String(i).startsWith('^')).length;
  const constants = isObject(config.constants) ? config.constants : {};
  const inputs: TfOperand[] = [];
  let next = 0;
  for (let i = 0; i < count; i++)
    inputs.push(String(i) in constants ? { constant: constant(constants[String(i)], where) } : { input: next++ });
  return { op: nodeDef.op, attrs, inputs };
}

/** A TensorFlow op computed in tfjs: `inputs` in the op's order, constants already tensors. */
type TfKernel = (inputs: tf.Tensor[], op: TfOp) => tf.Tensor;

/** How each TensorFlow op computes (its TensorFlow semantics, through tfjs ops), and which inputs must be constant. */
interface TfOpDefinition {
  /** Inputs that must be constants saved with the layer (shapes, axes, bounds, paddings); -1 is the last. */
  constantInputs?: number[];
  run: TfKernel;
}

const unary = (f: (x: tf.Tensor) => tf.Tensor): TfOpDefinition => ({ run: ([x]) => f(x) });
const binary = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): TfOpDefinition => ({ run: ([a, b]) => f(a, b) });

/** Requires NHWC, TensorFlow's default and the only layout its CPU kernels take for these ops. */
function channelsLast(op: TfOp): void {
  const format = attrOf(op, 'data_format', 'NHWC');
  if (format !== 'NHWC') throw new Error(`TensorFlow op ${op.op}: data_format ${format} is not supported (only NHWC)`);
}

/** Paddings [[before, after] per axis] from the op's constant input 1. */
export const paddingsOf = (op: TfOp): [number, number][] => {
  const flat = constantValues(op, 1);
  return Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]);
};

const reduction = (f: (x: tf.Tensor, axes: number[], keepDims: boolean) => tf.Tensor): TfOpDefinition => ({
  constantInputs: [1],
  run: ([x], op) => f(x, constantValues(op, 1), attrOf(op, 'keep_dims', false)),
});

const resize = (f: typeof tf.image.resizeBilinear): TfOpDefinition => ({
  constantInputs: [1],
  run: ([x], op) =>
    f(
      x as tf.Tensor4D,
      constantValues(op, 1) as [number, number],
      attrOf(op, 'align_corners', false),
      attrOf(op, 'half_pixel_centers', false),
    ),
});

/** The tfjs dtype of a TensorFlow DstT: floats are float32, integers int32 (tfjs has no int64). */
export function castDtype(op: TfOp): 'float32' | 'int32' {
  const type = attrOf(op, 'DstT', 'DTFLOAT');
  if (['DTFLOAT', 'DTHALF', 'DTDOUBLE', 'DTBFLOAT16'].includes(type)) return 'float32';
  if (['DTINT32', 'DTINT64', 'DTINT16', 'DTINT8', 'DTUINT8'].includes(type)) return 'int32';
  throw new Error(`TensorFlow op Cast: DstT ${type} is not supported (floats and integers only)`);
}

/** TensorFlow's SpaceToDepth (NHWC): each block×block patch becomes block²·C channels, row-major within the patch. */
function spaceToDepth(x: tf.Tensor, block: number): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const patches = tf.reshape(x, [n, h / block, block, w / block, block, c]);
  return tf.reshape(tf.transpose(patches, [0, 1, 3, 2, 4, 5]), [n, h / block, w / block, block * block * c]);
}

/** MirrorPad's mode: REFLECT (the edge not repeated) or SYMMETRIC (repeated). */
export function mirrorMode(op: TfOp): 'reflect' | 'symmetric' {
  const mode = String(attrOf(op, 'mode', '')).toLowerCase();
  if (mode !== 'reflect' && mode !== 'symmetric') throw new Error(`TensorFlow op MirrorPad: mode "${mode}" is unknown`);
  return mode;
}

/** A slice's "to the end" (an index beyond any axis; negated, before the start for a negative step). */
export const TO_END = Number.MAX_SAFE_INTEGER;

/** A StridedSlice as the ranges it takes, the axes it drops and the axes it inserts. */
export interface StridedSliceSpec {
  /** [start, stop) by step over input axis `axis`, for each axis not taken whole. */
  ranges: { axis: number; start: number; stop: number; step: number }[];
  /** Input axes (numbered as in the input) reduced to one entry and dropped. */
  squeeze: number[];
  /** Where new axes of size 1 stand in the output. */
  unsqueeze: number[];
}

/**
 * How TensorFlow reads a StridedSlice's sparse spec (begin, end, strides and the five masks) on an input
 * of rank `rank`: an ellipsis stands for the axes the spec does not name, and the axes after the spec
 * are taken whole; a new axis inserts a 1; a shrunk axis takes the one entry at begin (its end and
 * stride ignored) and is dropped; a masked bound runs to the end in the stride's direction.
 */
export function stridedSliceSpec(op: TfOp, rank: number): StridedSliceSpec {
  const [begin, end, strides] = [1, 2, 3].map((i) => constantValues(op, i));
  const mask = (name: string) => {
    const bits = attrOf(op, name, 0);
    return (i: number) => ((bits >> i) & 1) === 1;
  };
  const [beginMasked, endMasked, ellipsis, newAxis, shrunk] = [
    'begin_mask',
    'end_mask',
    'ellipsis_mask',
    'new_axis_mask',
    'shrink_axis_mask',
  ].map(mask);
  const named = begin.filter((_, i) => !ellipsis(i) && !newAxis(i)).length;
  const spec: StridedSliceSpec = { ranges: [], squeeze: [], unsqueeze: [] };
  let axis = 0; // the input axis the spec entry reads
  let outAxis = 0; // the output axis it writes
  begin.forEach((b, i) => {
    if (ellipsis(i)) {
      axis += rank - named;
      outAxis += rank - named;
    } else if (newAxis(i)) spec.unsqueeze.push(outAxis++);
    else if (shrunk(i)) {
      spec.ranges.push({ axis, start: b, stop: b === -1 ? TO_END : b + 1, step: 1 });
      spec.squeeze.push(axis++);
    } else {
      const step = strides[i];
      const start = beginMasked(i) ? (step > 0 ? 0 : TO_END) : b;
      const stop = endMasked(i) ? (step > 0 ? TO_END : -TO_END) : end[i];
      if (start !== 0 || stop !== TO_END || step !== 1) spec.ranges.push({ axis, start, stop, step });
      axis++;
      outAxis++;
    }
  });
  return spec;
}

/**
 * A StridedSlice in tfjs from its spec: tfjs's stridedSlice with plain bounds, then squeeze and
 * expandDims (tfjs's own shrink-axis handling slices wrongly with other axes' strides, and applies the
 * stride TensorFlow ignores on a shrunk axis).
 */
function stridedSlice(x: tf.Tensor, { ranges, squeeze, unsqueeze }: StridedSliceSpec): tf.Tensor {
  const begin = x.shape.map(() => 0);
  const end = [...x.shape];
  const strides = x.shape.map(() => 1);
  let endMask = 0;
  for (const { axis, start, stop, step } of ranges) {
    const size = x.shape[axis];
    // Python's slice bounds, as TensorFlow clamps them: [0, size] forwards, [-1, size - 1] backwards
    const [low, high] = step > 0 ? [0, size] : [-1, size - 1];
    const bound = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, low), high);
    begin[axis] = bound(start);
    strides[axis] = step;
    if (step < 0 && bound(stop) === -1)
      endMask |= 1 << axis; // before index 0, which tfjs reads as size − 1
    else end[axis] = bound(stop);
  }
  let y = tf.stridedSlice(x, begin, end, strides, 0, endMask);
  if (squeeze.length > 0) y = tf.squeeze(y, squeeze);
  for (const axis of unsqueeze) y = tf.expandDims(y, axis);
  return y;
}

/** Every TensorFlow op a TensorFlowOpLayer may hold, by its op type. */
export const TF_OPS: Readonly<Record<string, TfOpDefinition>> = {
  DepthToSpace: {
    run: ([x], op) => {
      channelsLast(op);
      return tf.depthToSpace(x as tf.Tensor4D, attrOf(op, 'block_size', 0));
    },
  },
  SpaceToDepth: {
    run: ([x], op) => {
      channelsLast(op);
      return spaceToDepth(x, attrOf(op, 'block_size', 0));
    },
  },
  Add: binary(tf.add),
  AddV2: binary(tf.add),
  Sub: binary(tf.sub),
  Mul: binary(tf.mul),
  RealDiv: binary(tf.div),
  Maximum: binary(tf.maximum),
  Minimum: binary(tf.minimum),
  Relu6: unary(tf.relu6),
  Square: unary(tf.square),
  Sqrt: unary(tf.sqrt),
  Rsqrt: unary(tf.rsqrt),
  Sigmoid: unary(tf.sigmoid),
  Tanh: unary(tf.tanh),
  Cast: { run: ([x], op) => tf.cast(x, castDtype(op)) },
  Pad: { constantInputs: [1], run: ([x], op) => tf.pad(x, paddingsOf(op)) },
  MirrorPad: {
    constantInputs: [1],
    run: ([x], op) => tf.mirrorPad(x, paddingsOf(op), mirrorMode(op)),
  },
  ResizeBilinear: resize(tf.image.resizeBilinear),
  ResizeNearestNeighbor: resize(tf.image.resizeNearestNeighbor),
  ConcatV2: {
    constantInputs: [-1],
    run: (inputs, op) => tf.concat(inputs.slice(0, -1), constantValues(op, inputs.length - 1)[0]),
  },
  Reshape: { constantInputs: [1], run: ([x], op) => tf.reshape(x, constantValues(op, 1)) },
  Transpose: { constantInputs: [1], run: ([x], op) => tf.transpose(x, constantValues(op, 1)) },
  Mean: reduction(tf.mean),
  Sum: reduction(tf.sum),
  Max: reduction(tf.max),
  StridedSlice: { constantInputs: [1, 2, 3], run: ([x], op) => stridedSlice(x, stridedSliceSpec(op, x.rank)) },
};

/** Why `op` cannot be computed, or undefined: an op not in TF_OPS, or a bound, shape or axis that is not constant. */
export function tfOpProblem(op: TfOp): string | undefined {
  const definition = TF_OPS[op.op];
  if (!definition)
    return `the TensorFlow op "${op.op}" is not supported (supported: ${Object.keys(TF_OPS).join(', ')})`;
  const computed = (definition.constantInputs ?? [])
    .map((i) => (i < 0 ? op.inputs.length + i : i))
    .filter((i) => !(op.inputs[i] && 'constant' in op.inputs[i]));
  if (computed.length > 0) return `TensorFlow op ${op.op}: input ${computed.join(', ')} is computed, not a constant`;
  return undefined;
}

/** Sizes an unknown dimension is probed at to find the output shape: two, so a dimension that follows the input shows. */
const PROBE_SIZES = [
  [1, 12],
  [2, 24],
] as const;

/** Keras's TensorFlowOpLayer: one TensorFlow op (TF_OPS) on the layer's inputs and the saved constants. */
export class TensorFlowOpLayer extends tf.layers.Layer {
  static readonly className = 'TensorFlowOpLayer';
  readonly op: TfOp;
  private readonly nodeDef: unknown;
  private readonly constants: unknown;

  constructor(args: LayerArgs & { nodeDef?: unknown; constants?: unknown }) {
    super(args);
    this.nodeDef = args.nodeDef;
    this.constants = args.constants ?? {};
    this.op = parseTfOp({ nodeDef: this.nodeDef, constants: this.constants }, `TensorFlowOpLayer ${this.name}`);
    const problem = tfOpProblem(this.op);
    if (problem) throw new Error(`TensorFlowOpLayer ${this.name}: ${problem}`);
  }

  /** The op's inputs in its order: the layer's inputs with the saved constants in their places. */
  private operands(inputs: tf.Tensor[]): tf.Tensor[] {
    return this.op.inputs.map((operand) =>
      'input' in operand ? inputs[operand.input] : tf.tensor(operand.constant.values, operand.constant.shape),
    );
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => TF_OPS[this.op.op].run(this.operands(Array.isArray(inputs) ? inputs : [inputs]), this.op));
  }

  /** tfjs gives a symbolic output its first input's dtype; a Cast's is its DstT (the exporter reads it). */
  override apply(
    inputs: tf.Tensor | tf.Tensor[] | tf.SymbolicTensor | tf.SymbolicTensor[],
    kwargs?: Record<string, unknown>,
  ): ReturnType<tf.layers.Layer['apply']> {
    const output = super.apply(inputs, kwargs);
    if (this.op.op === 'Cast' && output instanceof tf.SymbolicTensor)
      (output as { dtype: tf.DataType }).dtype = castDtype(this.op);
    return output;
  }

  /**
   * The output shape, found by running the op on zeros: each unknown dimension (the batch, or a free size) at
   * two probe sizes; an output dimension that differs between the two runs is unknown too.
   */
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shapes = (Array.isArray(inputShape[0]) ? inputShape : [inputShape]) as tf.Shape[];
    const [a, b] = PROBE_SIZES.map(([batch, free]) =>
      tf.tidy(() => {
        const zeros = shapes.map((s) => tf.zeros(s.map((d, i) => d ?? (i === 0 ? batch : free))));
        return TF_OPS[this.op.op].run(this.operands(zeros), this.op).shape;
      }),
    );
    return a.map((d, i) => (d === b[i] ? d : null));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), nodeDef: this.nodeDef, constants: this.constants } as tf.serialization.ConfigDict;
  }
}

tf.serialization.registerClass(TensorFlowOpLayer);
