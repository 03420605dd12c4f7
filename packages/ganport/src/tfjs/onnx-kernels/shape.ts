/** Kernels that move values around: reshapes, transposes, joins, splits, slices, gathers and scatters. */
import { attr, DataType } from '../../onnx/builder.js';
import { filled, input, type KernelCall, type KernelHandler, positiveAxis, variadic } from './context.js';
import { inLayout, NHWC_TO_NCHW, takesChannelsFirst, tfjsLayout } from './layout.js';

/**
 * To the output's shape, which tfjs resolved (a -1 in `shape` included). A batch of images made from
 * a batch of another rank (a dense layer's output becoming images, a gradient flowing back into a
 * convolution's) is laid out channels-first at once: it is on its way to a convolution, and what
 * happens in between (batch norm, activations, their gradients) then needs no Transpose of its own.
 */
const reshape: KernelHandler = takesChannelsFirst((call) => {
  const { g } = call;
  const x = input(call, 'x');
  const shape = call.outputs[0].shape;
  if (x.layout === 'NCHW' && shape.join() === x.shape.join()) return [{ name: x.name, layout: 'NCHW' }];
  const y = g.reshape(tfjsLayout(g, x).name, shape);
  const images = shape.length === 4 && x.shape.length !== 4 && shape[0] === x.shape[0] && shape[1] * shape[2] > 1;
  if (!images) return [y];
  return [{ name: inLayout(g, { ...x, name: y, shape, layout: undefined }, 'NCHW'), layout: 'NCHW' }];
});

const transpose: KernelHandler = (call) => [call.g.transpose(input(call, 'x').name, call.attrs.perm as number[])];

const concat: KernelHandler = (call) => {
  const values = variadic(call);
  const axis = positiveAxis(call.attrs.axis as number, call.outputs[0].shape.length);
  // tfjs drops empty inputs itself; ONNX's Concat takes one input as well
  return [
    call.g.op(
      'Concat',
      values.map((v) => v.name),
      { axis: attr.int(axis) },
    ),
  ];
};

/** SplitV: the output shapes give the sizes (a -1 in numOrSizeSplits included). */
const splitV: KernelHandler = (call) => {
  const x = input(call, 'x');
  const axis = positiveAxis(call.attrs.axis as number, x.shape.length);
  const sizes = call.outputs.map((o) => o.shape[axis]);
  return call.g.multiOp('Split', [x.name, call.g.constInt64('split', sizes)], sizes.length, {
    axis: attr.int(axis),
  });
};

const slice: KernelHandler = (call) => {
  const x = input(call, 'x');
  const begin = (call.attrs.begin as number[]).slice();
  const ends = call.outputs[0].shape.map((n, i) => begin[i] + n);
  const { g } = call;
  return [g.op('Slice', [x.name, g.constInt64('starts', begin), g.constInt64('ends', ends)])];
};

const expandDims: KernelHandler = (call) => {
  const x = input(call, 'input');
  return [call.g.unsqueeze(x.name, [positiveAxis(call.attrs.dim as number, x.shape.length + 1)])];
};

const squeeze: KernelHandler = (call) => [call.g.reshape(input(call, 'x').name, call.outputs[0].shape)];

/** Pack (tf.stack): each input gains the new axis, then they are joined along it. */
const pack: KernelHandler = (call) => {
  const { g } = call;
  const axis = positiveAxis(call.attrs.axis as number, call.outputs[0].shape.length);
  const expanded = variadic(call).map((v) => g.unsqueeze(v.name, [axis]));
  return [expanded.length === 1 ? expanded[0] : g.op('Concat', expanded, { axis: attr.int(axis) })];
};

/** Unpack (tf.unstack): split into ones along the axis, which is then dropped. */
const unpack: KernelHandler = (call) => {
  const { g } = call;
  const value = input(call, 'value');
  const axis = positiveAxis(call.attrs.axis as number, value.shape.length);
  const count = value.shape[axis];
  const parts = g.multiOp('Split', [value.name, g.constInt64('split', Array(count).fill(1))], count, {
    axis: attr.int(axis),
  });
  return parts.map((part) => g.squeeze(part, [axis]));
};

/** Tile, in the input's layout (the repeats permuted with it). */
const tile: KernelHandler = takesChannelsFirst((call) => {
  const x = input(call, 'x');
  const reps = call.attrs.reps as number[];
  const physical = x.layout === 'NCHW' ? NHWC_TO_NCHW.map((p) => reps[p]) : reps;
  const out = call.g.op('Tile', [x.name, call.g.constInt64('repeats', physical)]);
  return [x.layout === 'NCHW' ? { name: out, layout: 'NCHW' } : out];
});

const broadcastTo: KernelHandler = (call) => [
  call.g.op('Expand', [input(call, 'x').name, call.g.constInt64('shape', call.outputs[0].shape)]),
];

const gather: KernelHandler = (call) => {
  const x = input(call, 'x');
  if (((call.attrs.batchDims as number | undefined) ?? 0) !== 0) return undefined;
  const axis = positiveAxis(call.attrs.axis as number, x.shape.length);
  return [call.g.op('Gather', [x.name, input(call, 'indices').name], { axis: attr.int(axis) })];
};

/**
 * UnsortedSegmentSum (the gradient of a gather, e.g. an Embedding's): rows of x added into
 * numSegments zero rows at their segment ids, as ScatterND with reduction add (opset 16).
 */
const unsortedSegmentSum: KernelHandler = (call) => {
  const { g } = call;
  const x = input(call, 'x');
  const ids = input(call, 'segmentIds');
  if (call.g.opset < 16 || ids.shape.length !== 1) return undefined;
  const { shape, dtype } = call.outputs[0];
  const indices = g.reshape(g.op('Cast', [ids.name], { to: attr.int(DataType.INT64) }), [ids.shape[0], 1]);
  return [g.op('ScatterND', [filled(g, shape, dtype, 0), indices, x.name], { reduction: attr.string('add') })];
};

/** PadV2: constant padding, [before, after] per axis. */
const pad: KernelHandler = (call) => {
  const { g } = call;
  const paddings = call.attrs.paddings as [number, number][];
  const pads = [...paddings.map((p) => p[0]), ...paddings.map((p) => p[1])];
  const value = g.scalar((call.attrs.constantValue as number | undefined) ?? 0);
  return [g.op('Pad', [input(call, 'x').name, g.constInt64('pads', pads), value])];
};

const reverse: KernelHandler = (call: KernelCall) => {
  const { g } = call;
  const x = input(call, 'x');
  const dims = ([] as number[])
    .concat(call.attrs.dims as number | number[])
    .map((d) => positiveAxis(d, x.shape.length));
  const n = dims.length;
  return [
    g.op('Slice', [
      x.name,
      g.constInt64('starts', Array(n).fill(-1)),
      g.constInt64('ends', Array(n).fill(-(2 ** 62))),
      g.constInt64('axes', dims),
      g.constInt64('steps', Array(n).fill(-1)),
    ]),
  ];
};

export const SHAPE_HANDLERS: Record<string, KernelHandler> = {
  Reshape: reshape,
  Transpose: transpose,
  Concat: concat,
  SplitV: splitV,
  Slice: slice,
  ExpandDims: expandDims,
  Squeeze: squeeze,
  Pack: pack,
  Unpack: unpack,
  Tile: tile,
  BroadcastTo: broadcastTo,
  GatherV2: gather,
  UnsortedSegmentSum: unsortedSegmentSum,
  PadV2: pad,
  Reverse: reverse,
};
