/**
 * TensorFlowOpLayer (a raw TensorFlow op in a tf.keras 2.1–2.3 functional model; src/tfjs/tf-op-layer.ts):
 * one ONNX handler per TensorFlow op, in one table (as tf2onnx's op handlers), each giving the op's
 * TensorFlow semantics — those its tfjs kernel in tf-op-layer.ts computes. An op with no handler is
 * refused by name.
 *
 * Layout: elementwise ops, DepthToSpace/SpaceToDepth (channels-first in ONNX), padding and resizing
 * work in whichever layout the input is held; ops that index axes by number (Reshape, Transpose,
 * reductions, StridedSlice) work on the tfjs (channels-last) value.
 */
import { attr, DataType } from '../../onnx/builder.js';
import type { ReduceOp } from '../../onnx/opsets.js';
import {
  attrOf,
  castDtype,
  constantValues,
  mirrorMode,
  paddingsOf,
  parseTfOp,
  stridedSliceSpec,
  type TfConstant,
  type TfOp,
  type TfOperand,
} from '../../tfjs/tf-op-layer.js';
import { onnxAxis, TO_CHANNELS_FIRST, type Value } from '../graph.js';
import { type LayerContext, type LayerHandler, sameLayout, unsupportedConfig } from './context.js';
import { INT64_MAX } from './spatial.js';

/** Emits one TensorFlow op; returns its output value. */
type TfOpHandler = (ctx: LayerContext, op: TfOp) => Value;

const isConstant = (operand: TfOperand): operand is { constant: TfConstant } => 'constant' in operand;

/** The layer input that is the op's input `index`. */
function inputOf(ctx: LayerContext, op: TfOp, index: number): Value {
  const operand = op.inputs[index];
  if (!operand || isConstant(operand)) unsupportedConfig(ctx, `${op.op} with a constant as input ${index}`);
  return ctx.inputs[operand.input];
}

/** The output value of the op: in `layout` if it is rank 4, else in tfjs layout (the rank is tfjs's output's). */
function output(ctx: LayerContext, name: string, layout: Value['layout']): Value {
  const rank = ctx.outputShape.length;
  return { name, rank, layout: rank === 4 ? layout : 'NHWC' };
}

/** A data input as an ONNX value name: the layer input in `layout`, or the constant as a float initializer. */
function dataOperand(ctx: LayerContext, operand: TfOperand, layout: Value['layout'], base: string): string {
  if (!isConstant(operand)) return ctx.g.inLayout(ctx.inputs[operand.input], layout).name;
  const { shape, values } = operand.constant;
  return ctx.g.constFloat(base, shape, Float32Array.from(values));
}

/**
 * Where elementwise ops on these operands can run without moving data: the layout of the inputs when all
 * are rank 4 (the others follow the first) and every constant is a single value; else tfjs's own.
 */
function elementwiseLayout(ctx: LayerContext, operands: TfOperand[]): Value['layout'] {
  const values = operands.filter((o) => !isConstant(o)).map((o) => ctx.inputs[(o as { input: number }).input]);
  const singleConstants = operands.every((o) => !isConstant(o) || o.constant.values.length === 1);
  return singleConstants && values.every((v) => v.rank === 4) ? (values[0]?.layout ?? 'NHWC') : 'NHWC';
}

const unary =
  (onnxOp: string): TfOpHandler =>
  (ctx, op) => {
    const x = inputOf(ctx, op, 0);
    return sameLayout(x, ctx.g.op(onnxOp, [x.name], {}, ctx.name));
  };

/** A two-input elementwise op with numpy broadcasting (TensorFlow's and ONNX's alike). */
const binary =
  (onnxOp: string): TfOpHandler =>
  (ctx, op) => {
    const layout = elementwiseLayout(ctx, op.inputs);
    const names = op.inputs.map((o, i) => dataOperand(ctx, o, layout, `${ctx.name}/operand_${i}`));
    return output(ctx, ctx.g.op(onnxOp, names, {}, ctx.name), layout);
  };

/** DepthToSpace / SpaceToDepth: ONNX's are channels-first, with TensorFlow's (DCR) channel order. */
const blocks =
  (onnxOp: 'DepthToSpace' | 'SpaceToDepth'): TfOpHandler =>
  (ctx, op) => {
    const format = attrOf(op, 'data_format', 'NHWC');
    if (format !== 'NHWC') unsupportedConfig(ctx, `${op.op} with data_format ${format}`);
    const x = ctx.g.inLayout(inputOf(ctx, op, 0), 'NCHW');
    const attributes = {
      blocksize: attr.int(attrOf(op, 'block_size', 0)),
      ...(onnxOp === 'DepthToSpace' ? { mode: attr.string('DCR') } : {}),
    };
    return sameLayout(x, ctx.g.op(onnxOp, [x.name], attributes, ctx.name));
  };

/** ONNX pads [begin…, end…] for TensorFlow's [[begin, end] per axis], in the layout `x` is held. */
function onnxPads(x: Value, paddings: [number, number][]): number[] {
  const perAxis = x.layout === 'NCHW' ? TO_CHANNELS_FIRST.map((a) => paddings[a]) : paddings;
  return [...perAxis.map(([begin]) => begin), ...perAxis.map(([, end]) => end)];
}

const pad =
  (mode: (op: TfOp) => 'constant' | 'reflect' | 'symmetric'): TfOpHandler =>
  (ctx, op) => {
    const { g, name } = ctx;
    const x = inputOf(ctx, op, 0);
    const how = mode(op);
    if (how === 'symmetric') return symmetricPad(ctx, x, paddingsOf(op));
    const pads = g.constInt64(`${name}/pads`, onnxPads(x, paddingsOf(op)));
    return sameLayout(x, g.op('Pad', [x.name, pads], { mode: attr.string(how) }, name));
  };

/**
 * MirrorPad SYMMETRIC (the edge repeated; ONNX Pad has no such mode): along each padded axis, the
 * first `begin` and last `end` entries reversed (Slice with step −1) and concatenated around the input.
 */
function symmetricPad(ctx: LayerContext, x: Value, paddings: [number, number][]): Value {
  const { g, name } = ctx;
  let y = x.name;
  paddings.forEach(([begin, end], tfjsAxis) => {
    if (begin === 0 && end === 0) return;
    const axis = onnxAxis(x, tfjsAxis);
    const base = `${name}/axis_${tfjsAxis}`;
    const reversed = (start: number, stop: number, part: string) =>
      g.op(
        'Slice',
        [
          y,
          g.constInt64(`${base}/${part}_starts`, [start]),
          g.constInt64(`${base}/${part}_ends`, [stop]),
          g.constInt64(`${base}/${part}_axes`, [axis]),
          g.constInt64(`${base}/${part}_steps`, [-1]),
        ],
        {},
        `${base}/${part}`,
      );
    const parts = [
      ...(begin > 0 ? [reversed(begin - 1, -INT64_MAX, 'before')] : []),
      y,
      ...(end > 0 ? [reversed(-1, -1 - end, 'after')] : []),
    ];
    y = g.op('Concat', parts, { axis: attr.int(axis) }, base);
  });
  return sameLayout(x, y);
}

/** The sizes input of Resize: the batch and channels from the input's shape, the spatial sizes from the op. */
function resizeSizes(ctx: LayerContext, x: Value, size: number[]): string {
  const { g, name } = ctx;
  const shape = g.op('Shape', [x.name], {}, `${name}/input_shape`);
  const dims = (from: number, to: number) =>
    g.op(
      'Slice',
      [shape, g.constInt64(`${name}/from_${from}`, [from]), g.constInt64(`${name}/to_${to}`, [to])],
      {},
      `${name}/dims_${from}`,
    );
  const spatial = g.constInt64(`${name}/size`, size);
  const parts = x.layout === 'NCHW' ? [dims(0, 2), spatial] : [dims(0, 1), spatial, dims(3, 4)];
  return g.op('Concat', parts, { axis: attr.int(0) }, `${name}/sizes`);
}

/** The input row (or column) each output one reads in TensorFlow's nearest resize, as tfjs computes it. */
function nearestSources(size: number, out: number, alignCorners: boolean, halfPixel: boolean): number[] {
  const ratio = alignCorners && out > 1 ? (size - 1) / (out - 1) : size / out;
  return Array.from({ length: out }, (_, o) => {
    const source = halfPixel ? (o + 0.5) * ratio : o * ratio;
    return Math.max(0, Math.min(size - 1, alignCorners ? Math.round(source) : Math.floor(source)));
  });
}

/**
 * ResizeBilinear / ResizeNearestNeighbor with TensorFlow's coordinates: align_corners maps corner to
 * corner, half_pixel_centers samples at pixel centres ((out + ½)·in/out − ½), neither is ONNX's
 * 'asymmetric' (out·in/out).
 * - Nearest, the input size known: a Gather of the rows, then of the columns, TensorFlow picks
 *   (ONNX Runtime's nearest divides by a float32 scale, and floors 7 − ε where TensorFlow has 2 · 3.5).
 * - Bilinear: Resize channels-first, as UpSampling2D's (spatial.ts: ONNX Runtime's layout optimizer).
 * - Otherwise Resize with sizes from the input's shape; nearest rounds down, or where TensorFlow rounds
 *   (align_corners) or floors the half-pixel coordinate plus ½, ONNX's round_prefer_ceil.
 */
const resize =
  (mode: 'linear' | 'nearest'): TfOpHandler =>
  (ctx, op) => {
    const { g, name } = ctx;
    const alignCorners = attrOf(op, 'align_corners', false);
    const halfPixel = attrOf(op, 'half_pixel_centers', false);
    if (alignCorners && halfPixel) unsupportedConfig(ctx, `${op.op} with both align_corners and half_pixel_centers`);
    const size = constantValues(op, 1);
    const [, height, width] = ctx.inputShapes[0];
    const known = height !== null && width !== null;
    if (mode === 'nearest' && known) {
      const x = inputOf(ctx, op, 0);
      const rows = nearestSources(height, size[0], alignCorners, halfPixel);
      const columns = nearestSources(width, size[1], alignCorners, halfPixel);
      const picked = g.op(
        'Gather',
        [x.name, g.constInt64(`${name}/rows`, rows)],
        { axis: attr.int(onnxAxis(x, 1)) },
        `${name}/rows`,
      );
      return sameLayout(
        x,
        g.op('Gather', [picked, g.constInt64(`${name}/columns`, columns)], { axis: attr.int(onnxAxis(x, 2)) }, name),
      );
    }
    const x = mode === 'linear' ? g.inLayout(inputOf(ctx, op, 0), 'NCHW') : inputOf(ctx, op, 0);
    const transform = alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric';
    const attributes = {
      mode: attr.string(mode),
      coordinate_transformation_mode: attr.string(transform),
      ...(mode === 'nearest'
        ? { nearest_mode: attr.string(transform === 'asymmetric' ? 'floor' : 'round_prefer_ceil') }
        : {}),
    };
    return sameLayout(x, g.op('Resize', [x.name, '', '', resizeSizes(ctx, x, size)], attributes, name));
  };

/** ConcatV2: the values (all but the last input, which is the axis), in the layout elementwise ops would use. */
const concatV2: TfOpHandler = (ctx, op) => {
  const operands = op.inputs.slice(0, -1);
  const layout = elementwiseLayout(ctx, operands);
  const names = operands.map((o, i) => dataOperand(ctx, o, layout, `${ctx.name}/value_${i}`));
  const rank = ctx.outputShape.length;
  const axis = onnxAxis(
    { name: '', rank, layout: rank === 4 ? layout : 'NHWC' },
    constantValues(op, op.inputs.length - 1)[0],
  );
  return output(ctx, ctx.g.op('Concat', names, { axis: attr.int(axis) }, ctx.name), layout);
};

/** Reshape of the tfjs-layout value (TensorFlow's shape includes the batch; -1 is inferred in both). */
const reshape: TfOpHandler = (ctx, op) => {
  const x = ctx.g.tfjsLayout(inputOf(ctx, op, 0));
  const shape = ctx.g.constInt64(`${ctx.name}/shape`, constantValues(op, 1));
  return output(ctx, ctx.g.op('Reshape', [x.name, shape], {}, ctx.name), 'NHWC');
};

const transpose: TfOpHandler = (ctx, op) => {
  const x = ctx.g.tfjsLayout(inputOf(ctx, op, 0));
  return output(ctx, ctx.g.op('Transpose', [x.name], { perm: attr.ints(constantValues(op, 1)) }, ctx.name), 'NHWC');
};

/** Mean / Sum / Max over the constant axes (TensorFlow reduces nothing for an empty list; ONNX would reduce all). */
const reduction =
  (onnxOp: ReduceOp): TfOpHandler =>
  (ctx, op) => {
    const x = ctx.g.tfjsLayout(inputOf(ctx, op, 0));
    const axes = [...new Set(constantValues(op, 1).map((a) => (a < 0 ? a + x.rank : a)))];
    if (axes.length === 0) return x;
    return output(ctx, ctx.g.reduce(onnxOp, x.name, axes, attrOf(op, 'keep_dims', false), ctx.name), 'NHWC');
  };

const cast: TfOpHandler = (ctx, op) => {
  const x = inputOf(ctx, op, 0);
  const to = castDtype(op) === 'float32' ? DataType.FLOAT : DataType.INT64; // ganport's integers are int64
  return sameLayout(x, ctx.g.op('Cast', [x.name], { to: attr.int(to) }, ctx.name));
};

const relu6: TfOpHandler = (ctx, op) => {
  const { g, name } = ctx;
  const x = inputOf(ctx, op, 0);
  const bounds = [0, 6].map((v, i) => g.constFloat(`${name}/${i ? 'max' : 'min'}`, [], Float32Array.of(v)));
  return sameLayout(x, g.op('Clip', [x.name, ...bounds], {}, name));
};

const square: TfOpHandler = (ctx, op) => {
  const x = inputOf(ctx, op, 0);
  return sameLayout(x, ctx.g.op('Mul', [x.name, x.name], {}, ctx.name));
};

const rsqrt: TfOpHandler = (ctx, op) => {
  const x = inputOf(ctx, op, 0);
  const root = ctx.g.op('Sqrt', [x.name], {}, `${ctx.name}/sqrt`);
  return sameLayout(x, ctx.g.op('Reciprocal', [root], {}, ctx.name));
};

/**
 * StridedSlice with constant bounds, as TensorFlow reads its spec (stridedSliceSpec): one Slice over the
 * axes it ranges over, then Squeeze (shrunk axes) and Unsqueeze (new axes, at their places in the output).
 */
const stridedSlice: TfOpHandler = (ctx, op) => {
  const { g, name } = ctx;
  const x = g.tfjsLayout(inputOf(ctx, op, 0));
  const { ranges, squeeze, unsqueeze } = stridedSliceSpec(op, x.rank);
  let y = x.name;
  if (ranges.length > 0) {
    const ints = (key: keyof (typeof ranges)[number]) =>
      g.constInt64(
        `${name}/${key}s`,
        ranges.map((r) => r[key]),
      );
    const last = squeeze.length === 0 && unsqueeze.length === 0;
    y = g.op('Slice', [y, ints('start'), ints('stop'), ints('axis'), ints('step')], {}, last ? name : `${name}/slice`);
  }
  if (squeeze.length > 0)
    y = g.op(
      'Squeeze',
      [y, g.constInt64(`${name}/squeeze_axes`, squeeze)],
      {},
      unsqueeze.length ? `${name}/squeeze` : name,
    );
  if (unsqueeze.length > 0) y = g.op('Unsqueeze', [y, g.constInt64(`${name}/unsqueeze_axes`, unsqueeze)], {}, name);
  return output(ctx, y, 'NHWC');
};

/** One handler per TensorFlow op (the ops of TF_OPS in src/tfjs/tf-op-layer.ts). */
export const TF_OP_HANDLERS: Readonly<Record<string, TfOpHandler>> = {
  DepthToSpace: blocks('DepthToSpace'),
  SpaceToDepth: blocks('SpaceToDepth'),
  Add: binary('Add'),
  AddV2: binary('Add'),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Relu6: relu6,
  Square: square,
  Sqrt: unary('Sqrt'),
  Rsqrt: rsqrt,
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Cast: cast,
  Pad: pad(() => 'constant'),
  MirrorPad: pad(mirrorMode),
  ResizeBilinear: resize('linear'),
  ResizeNearestNeighbor: resize('nearest'),
  ConcatV2: concatV2,
  Reshape: reshape,
  Transpose: transpose,
  Mean: reduction('ReduceMean'),
  Sum: reduction('ReduceSum'),
  Max: reduction('ReduceMax'),
  StridedSlice: stridedSlice,
};

export const tensorFlowOpLayer: LayerHandler = (ctx) => {
  const op = parseTfOp(ctx.config, ctx.name);
  const handler = TF_OP_HANDLERS[op.op];
  if (!handler) unsupportedConfig(ctx, `the TensorFlow op "${op.op}"`);
  return handler(ctx, op);
};
