/**
 * The `ort` tfjs backend: the wasm backend with its heavy kernels computed by
 * onnxruntime-node's native, vectorised MLAS kernels (see ort-session.ts for the call).
 *
 * Each overridden kernel becomes a tiny ONNX graph over the kernel's inputs, read and
 * written in place on the wasm heap. Layout: tfjs is NHWC, ORT's Conv is NCHW, so the graphs
 * transpose inside: ~0.5 ms of a 4.5-ms batch-64 14×14×32 → 7×7×64 convolution (4.0 ms bare,
 * NCHW in and out). Ops too small to pay for a call (~0.04 ms) stay on wasm.
 *
 * The filter gradient dW[i, j, c, o] = Σ_{n,p,q} x_pad[n, p·s + i, q·s + j, c] · dy[n, p, q, o]
 * is an im2col GEMM: one strided Slice of the padded input per filter tap (i, j). With few
 * input channels the taps are concatenated into one [N·OH·OW, kh·kw·C] patch matrix and
 * multiplied once; with many, one GEMM per tap beats building the big matrix (batch 64,
 * 14×14×32 → 7×7×64: 4.0 vs 5.6 ms; 28×28×1 → 14×14×32: 1.0 vs 2.2 ms, best of 25).
 */
import * as tf from '@tensorflow/tfjs';
import {
  backend_util,
  getKernel,
  getKernelsForBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  registerKernel,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import {
  type AttrValue,
  attr,
  DataType,
  type DataTypeCode,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
} from '../onnx/builder.js';
import type { NodeProto, TensorProto } from '../onnx/proto.js';
import { encodeModel } from '../onnx/proto.js';
import { intraOpThreads, OrtSession, ortBinding, SessionCache } from './ort-session.js';
import { registerWasmGradientKernels } from './wasm-kernels.js';

export const ORT_BACKEND = 'ort';

/** Smaller calls stay on wasm (tests set both to 0 to send every call to ORT). */
export const ortMinimumSizes = {
  /** Below this many floating-point operations the wasm kernel beats a call into ORT (~0.04 ms)… */
  flops: 1e6,
  /**
   * …unless it reads or writes at least this many elements (one tensor): ORT's vectorised loops beat
   * wasm's scalar ones there, as they do wasm's matrix products with a dimension of 1 (the DCGAN's
   * logit layer: [64, 1]·[1, 3136] 1210 vs 270 µs, [3136, 64]·[64, 1] 260 vs 80 µs).
   */
  elements: 1 << 15,
};
/** Filter gradients with at least this many input channels run one GEMM per filter tap. */
const GEMM_PER_TAP_MIN_CHANNELS = 8;

/** Enough for every kernel shape of a training run, twice over (a short last batch). */
export const sessions = new SessionCache(256);

type OrtDtype = 'float32' | 'bool';
/** ONNX element types; BOOL is not in the builder's list, which holds what the exporter writes. */
const ELEMENT_TYPE: Record<OrtDtype, DataTypeCode> = { float32: DataType.FLOAT, bool: 9 as DataTypeCode };

interface WasmBackend {
  makeOutput(shape: number[], dtype: OrtDtype): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Uint8Array;
}

/** Builds one graph: inputs in0, in1, … (the kernel's tensors, in order) to `out`. */
class GraphWriter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];

  node(opType: string, inputs: string[], attributes: Record<string, AttrValue> = {}): string {
    const output = `t${this.nodes.length}`;
    this.nodes.push(makeNode(opType, inputs, [output], attributes));
    return output;
  }

  int64s(values: number[]): string {
    const name = `c${this.initializers.length}`;
    this.initializers.push(makeTensor(name, DataType.INT64, [values.length], BigInt64Array.from(values, BigInt)));
    return name;
  }

  float(value: number): string {
    const name = `c${this.initializers.length}`;
    this.initializers.push(makeTensor(name, DataType.FLOAT, [], Float32Array.of(value)));
    return name;
  }

  reshape(x: string, shape: number[]): string {
    return this.node('Reshape', [x, this.int64s(shape)]);
  }

  transpose(x: string, perm: number[]): string {
    return this.node('Transpose', [x], { perm: attr.ints(perm) });
  }
}

/** One kernel invocation as an ORT graph. */
interface OrtCall {
  /** The op and its attributes; input shapes are added to the session key. */
  key: string;
  inputs: TensorInfo[];
  outputShape: number[];
  /** Default float32; the inputs must be float32, except where a planner checks for bool. */
  outputDtype?: OrtDtype;
  /** Multiply-adds ×2 of compute-bound ops; 0 for memory-bound ones (they also run on one thread). */
  flops: number;
  /** Writes the graph body and returns the name of its output. */
  build(g: GraphWriter, inputs: string[]): string;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function encode(call: OrtCall): Uint8Array {
  const g = new GraphWriter();
  const names = call.inputs.map((_, i) => `in${i}`);
  const result = call.build(g, names);
  // The result becomes the graph's output `out` (every planner's result comes from a node).
  for (const node of g.nodes) {
    node.input = node.input.map((name) => (name === result ? 'out' : name));
    node.output = node.output.map((name) => (name === result ? 'out' : name));
  }
  const inputs = call.inputs.map((t, i) => makeValueInfo(names[i], ELEMENT_TYPE[t.dtype as OrtDtype], t.shape));
  const output = makeValueInfo('out', ELEMENT_TYPE[call.outputDtype ?? 'float32'], call.outputShape);
  const graph = makeGraph(g.nodes, call.key, inputs, [output], g.initializers);
  return encodeModel(makeModel(graph, { opset: 17, producerName: 'ganport-ort-kernels', producerVersion: '1' }));
}

function runOnOrt(backend: WasmBackend, call: OrtCall): TensorInfo {
  const threads = intraOpThreads(call.flops);
  const key = `${call.key} | ${call.inputs.map((t) => t.shape.join('x')).join(', ')} | threads ${threads}`;
  const session = sessions.get(key, () => new OrtSession(encode(call), threads));
  const out = backend.makeOutput(call.outputShape, call.outputDtype ?? 'float32');
  // Views are taken after makeOutput: allocating may grow (and so replace) the wasm heap.
  const inputs = call.inputs.map((t, i) => ({ name: `in${i}`, data: backend.typedArrayFromHeap(t), dims: t.shape }));
  session.run(inputs, [{ name: 'out', data: backend.typedArrayFromHeap(out), dims: call.outputShape }]);
  return out;
}

/** Required inputs are present; optional ones (bias, PReLU weights) are read as possibly undefined. */
type Planner = (inputs: Record<string, TensorInfo>, attrs: NamedAttrMap) => OrtCall | undefined;

/** ORT takes a call whose inputs it can read, when the work is big enough to beat wasm (see ortMinimumSizes). */
function worthOrt(call: OrtCall): boolean {
  if (!call.inputs.every((t) => t.dtype in ELEMENT_TYPE && size(t.shape) > 0)) return false;
  const largest = Math.max(size(call.outputShape), ...call.inputs.map((t) => size(t.shape)));
  return call.flops >= ortMinimumSizes.flops || largest >= ortMinimumSizes.elements;
}

/** The wasm kernel `name`, computed by ORT whenever `plan` returns a call worth making. */
function overrideKernel(name: string, plan: Planner): KernelConfig {
  const wasm = getKernel(name, 'wasm');
  if (!wasm) throw new Error(`the wasm backend has no ${name} kernel to override`);
  const kernelFunc: KernelFunc = (args) => {
    const call = plan(args.inputs as Record<string, TensorInfo>, args.attrs ?? {});
    return call && worthOrt(call) ? runOnOrt(args.backend as unknown as WasmBackend, call) : wasm.kernelFunc(args);
  };
  return { ...wasm, backendName: ORT_BACKEND, kernelFunc };
}

type Activation = 'linear' | 'relu' | 'prelu' | 'elu' | 'relu6' | 'leakyrelu' | 'sigmoid';

/** A fused activation applied to `y` (NHWC, or [.., M, N] for matrix products). */
function activate(
  g: GraphWriter,
  y: string,
  activation: Activation | undefined,
  alpha: number | undefined,
  preluWeights?: string,
): string {
  switch (activation ?? 'linear') {
    case 'linear':
      return y;
    case 'relu':
      return g.node('Relu', [y]);
    case 'relu6':
      return g.node('Clip', [y, g.float(0), g.float(6)]);
    case 'elu':
      return g.node('Elu', [y]);
    case 'sigmoid':
      return g.node('Sigmoid', [y]);
    case 'leakyrelu':
      return g.node('LeakyRelu', [y], { alpha: attr.float(alpha ?? 0.2) });
    case 'prelu':
      return g.node('PRelu', [y, preluWeights!]);
    default:
      throw new Error(`unknown fused activation ${String(activation)}`);
  }
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
/**
 * tfjs filters are [kh, kw, in, out]; ONNX's Conv wants [out, in, kh, kw], and ConvTranspose
 * [in, out, kh, kw] of the convolution it inverts: the same permutation.
 */
const FILTER_TO_OIHW = [3, 2, 0, 1];

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The convolution's geometry, or undefined where ONNX's padding arithmetic cannot express tfjs's. */
function convGeometry(xShape: number[], filterShape: number[], attrs: ConvAttrs): backend_util.Conv2DInfo | undefined {
  if (attrs.dataFormat === 'NCHW') return undefined;
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { top, bottom, left, right } = info.padInfo;
  const onnxOut = (n: number, k: number, s: number, before: number, after: number) =>
    Math.floor((n + before + after - k) / s) + 1;
  const matches =
    onnxOut(info.inHeight, info.effectiveFilterHeight, info.strideHeight, top, bottom) === info.outHeight &&
    onnxOut(info.inWidth, info.effectiveFilterWidth, info.strideWidth, left, right) === info.outWidth;
  return matches && Math.min(top, bottom, left, right) >= 0 ? info : undefined;
}

const convFlops = (info: backend_util.Conv2DInfo) =>
  2 *
  size([info.batchSize, info.outHeight, info.outWidth, info.outChannels]) *
  size([info.filterHeight, info.filterWidth, info.inChannels]);

function convAttributes(info: backend_util.Conv2DInfo): Record<string, AttrValue> {
  const { top, left, bottom, right } = info.padInfo;
  return {
    kernel_shape: attr.ints([info.filterHeight, info.filterWidth]),
    strides: attr.ints([info.strideHeight, info.strideWidth]),
    pads: attr.ints([top, left, bottom, right]),
    dilations: attr.ints([info.dilationHeight, info.dilationWidth]),
  };
}

const attrKey = (attrs: object) => JSON.stringify(attrs);

/** Conv2D and FusedConv2D: x [N, H, W, C] ⊛ filter [kh, kw, C, O] (+ bias, activation). */
const conv2d: Planner = (inputs, attrs) => {
  const { x, filter } = inputs;
  const { bias, preluActivationWeights: prelu } = inputs as Partial<typeof inputs>;
  const { activation, leakyreluAlpha } = attrs as { activation?: Activation; leakyreluAlpha?: number };
  const info = convGeometry(x.shape, filter.shape, attrs as unknown as ConvAttrs);
  if (!info) return undefined;
  const biasInConv = bias !== undefined && bias.shape.length === 1 && bias.shape[0] === info.outChannels;
  const extra = [bias, prelu].filter((t): t is TensorInfo => t !== undefined);
  return {
    key: `Conv ${attrKey({ ...convAttributes(info), activation, leakyreluAlpha, bias: !!bias })}`,
    inputs: [x, filter, ...extra],
    outputShape: info.outShape,
    flops: convFlops(info),
    build(g, [xName, filterName, ...extraNames]) {
      const biasName = bias ? extraNames[0] : undefined;
      const convInputs = [g.transpose(xName, NHWC_TO_NCHW), g.transpose(filterName, FILTER_TO_OIHW)];
      const conv = g.node('Conv', biasInConv ? [...convInputs, biasName!] : convInputs, convAttributes(info));
      let y = g.transpose(conv, NCHW_TO_NHWC);
      if (bias && !biasInConv) y = g.node('Add', [y, biasName!]);
      return activate(g, y, activation, leakyreluAlpha, prelu ? extraNames.at(-1) : undefined);
    },
  };
};

/** Conv2DBackpropInput, also conv2dTranspose's forward pass: dy [N, OH, OW, O], filter [kh, kw, C, O] → x's shape. */
const conv2dBackpropInput: Planner = (inputs, attrs) => {
  const { dy, filter } = inputs;
  const info = convGeometry(
    (attrs as { inputShape: number[] }).inputShape,
    filter.shape,
    attrs as unknown as ConvAttrs,
  );
  if (!info) return undefined;
  const { top, left, bottom, right } = info.padInfo;
  // Rows and columns the convolution never reached get a zero gradient: ConvTranspose's output padding.
  const outputPadding = [
    info.inHeight - (info.strideHeight * (info.outHeight - 1) + info.filterHeight - top - bottom),
    info.inWidth - (info.strideWidth * (info.outWidth - 1) + info.filterWidth - left - right),
  ];
  const strides = [info.strideHeight, info.strideWidth];
  if (outputPadding.some((padding, axis) => padding < 0 || padding >= strides[axis])) return undefined;
  return {
    key: `ConvTranspose ${attrKey({ ...convAttributes(info), outputPadding })}`,
    inputs: [dy, filter],
    outputShape: info.inShape,
    flops: convFlops(info),
    build(g, [dyName, filterName]) {
      const y = g.node('ConvTranspose', [g.transpose(dyName, NHWC_TO_NCHW), g.transpose(filterName, FILTER_TO_OIHW)], {
        ...convAttributes(info),
        output_padding: attr.ints(outputPadding),
      });
      return g.transpose(y, NCHW_TO_NHWC);
    },
  };
};

/** Conv2DBackpropFilter: x [N, H, W, C], dy [N, OH, OW, O] → dW [kh, kw, C, O], as im2col GEMMs (see the top). */
const conv2dBackpropFilter: Planner = (inputs, attrs) => {
  const { x, dy } = inputs;
  const info = convGeometry(x.shape, (attrs as { filterShape: number[] }).filterShape, attrs as unknown as ConvAttrs);
  if (info?.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const {
    batchSize,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
    inChannels,
    outChannels,
  } = info;
  const { top, left } = info.padInfo;
  const rows = batchSize * outHeight * outWidth;
  // Zero padding so that every tap's strided slice lies inside the padded input.
  const bottom = Math.max(0, filterHeight + strideHeight * (outHeight - 1) - info.inHeight - top);
  const right = Math.max(0, filterWidth + strideWidth * (outWidth - 1) - info.inWidth - left);
  const gemmPerTap = inChannels >= GEMM_PER_TAP_MIN_CHANNELS;
  return {
    key: `FilterGradient ${attrKey({ ...convAttributes(info), gemmPerTap })}`,
    inputs: [x, dy],
    outputShape: [filterHeight, filterWidth, inChannels, outChannels],
    flops: convFlops(info),
    build(g, [xName, dyName]) {
      const pads = [0, top, left, 0, 0, bottom, right, 0];
      const padded = pads.some((p) => p > 0) ? g.node('Pad', [xName, g.int64s(pads)]) : xName;
      const gradients = g.reshape(dyName, [rows, outChannels]);
      const axes = g.int64s([1, 2]);
      const steps = g.int64s([strideHeight, strideWidth]);
      const taps: string[] = [];
      for (let i = 0; i < filterHeight; i++) {
        for (let j = 0; j < filterWidth; j++) {
          const ends = [i + strideHeight * (outHeight - 1) + 1, j + strideWidth * (outWidth - 1) + 1];
          taps.push(g.node('Slice', [padded, g.int64s([i, j]), g.int64s(ends), axes, steps])); // [N, OH, OW, C]
        }
      }
      const gemm = (patches: string) => g.node('Gemm', [patches, gradients], { transA: attr.int(1) });
      let columns: string; // [kh·kw·C, O], rows ordered (i, j, c)
      if (gemmPerTap) {
        const perTap = taps.map((tap) => gemm(g.reshape(tap, [rows, inChannels])));
        columns = g.node('Concat', perTap, { axis: attr.int(0) });
      } else {
        const patches = g.node('Concat', taps, { axis: attr.int(3) });
        columns = gemm(g.reshape(patches, [rows, filterHeight * filterWidth * inChannels]));
      }
      return g.reshape(columns, [filterHeight, filterWidth, inChannels, outChannels]);
    },
  };
};

/** BatchMatMul and _FusedMatMul: a [..., M, K] · b [..., K, N] (+ bias, activation), batch dimensions broadcast. */
const matMul: Planner = (inputs, attrs) => {
  const { a, b } = inputs;
  const { bias, preluActivationWeights: prelu } = inputs as Partial<typeof inputs>;
  const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as {
    transposeA: boolean;
    transposeB: boolean;
    activation?: Activation;
    leakyreluAlpha?: number;
  };
  if (a.shape.length < 2 || b.shape.length < 2) return undefined;
  const [m, k] = transposeA ? a.shape.slice(-2).reverse() : a.shape.slice(-2);
  const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
  const batch = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outputShape = [...batch, m, n];
  // Without batch dimensions, Gemm takes the transposes (and a rank ≤ 2 bias) as attributes, copying nothing.
  const plain = size(batch) === 1;
  const biasInGemm = plain && bias !== undefined && bias.shape.length <= 2;
  const extra = [bias, prelu].filter((t): t is TensorInfo => t !== undefined);
  return {
    key: `MatMul ${attrKey({ transposeA, transposeB, activation, leakyreluAlpha, bias: !!bias, prelu: !!prelu })}`,
    inputs: [a, b, ...extra],
    outputShape,
    flops: 2 * size(batch) * m * n * k,
    build(g, [aName, bName, ...extraNames]) {
      const biasName = bias ? extraNames[0] : undefined;
      let y: string;
      if (plain) {
        const a2 = a.shape.length === 2 ? aName : g.reshape(aName, a.shape.slice(-2));
        const b2 = b.shape.length === 2 ? bName : g.reshape(bName, b.shape.slice(-2));
        y = g.node('Gemm', [a2, b2, ...(biasInGemm ? [biasName!] : [])], {
          transA: attr.int(transposeA ? 1 : 0),
          transB: attr.int(transposeB ? 1 : 0),
        });
        if (outputShape.length !== 2) y = g.reshape(y, outputShape);
      } else {
        const lastTwoSwapped = (rank: number) => [...Array(rank - 2).keys(), rank - 1, rank - 2];
        y = g.node('MatMul', [
          transposeA ? g.transpose(aName, lastTwoSwapped(a.shape.length)) : aName,
          transposeB ? g.transpose(bName, lastTwoSwapped(b.shape.length)) : bName,
        ]);
      }
      if (bias && !biasInGemm) y = g.node('Add', [y, biasName!]);
      return activate(g, y, activation, leakyreluAlpha, prelu ? extraNames.at(-1) : undefined);
    },
  };
};

const isFloat = (...tensors: TensorInfo[]) => tensors.every((t) => t.dtype === 'float32');

/** Tile: the wasm kernel computes every output index's source one element at a time. */
const tile: Planner = (inputs, attrs) => {
  const { x } = inputs;
  if (!isFloat(x)) return undefined;
  const { reps } = attrs as { reps: number[] };
  const outputShape = x.shape.map((d, i) => d * reps[i]);
  return {
    key: `Tile ${attrKey(reps)}`,
    inputs: [x],
    outputShape,
    flops: 0,
    build: (g, [xName]) => g.node('Tile', [xName, g.int64s(reps)]),
  };
};

type ElementwiseBuild = (g: GraphWriter, inputs: string[], attrs: NamedAttrMap) => string;

/** An elementwise kernel over `inputNames` (float32, broadcast as numpy and ONNX both do). */
function elementwise(
  opName: string,
  inputNames: string[],
  build: ElementwiseBuild,
  outputDtype: OrtDtype = 'float32',
): Planner {
  return (inputs, attrs) => {
    const tensors = inputNames.map((name) => inputs[name]);
    if (!isFloat(...tensors)) return undefined;
    const outputShape = tensors.map((t) => t.shape).reduce((a, b) => backend_util.assertAndGetBroadcastShape(a, b));
    return {
      key: `${opName} ${attrKey(attrs)}`,
      inputs: tensors,
      outputShape,
      outputDtype,
      flops: 0,
      build: (g, names) => build(g, names, attrs),
    };
  };
}

const unary = (onnxOp: string): Planner => elementwise(onnxOp, ['x'], (g, [x]) => g.node(onnxOp, [x]));
const binary = (onnxOp: string, outputDtype?: OrtDtype): Planner =>
  elementwise(onnxOp, ['a', 'b'], (g, [a, b]) => g.node(onnxOp, [a, b]), outputDtype);

/** Select (tf.where), its condition of the values' shape (ONNX's Where broadcasts a rank-1 condition differently). */
const select: Planner = (inputs) => {
  const { condition, t, e } = inputs;
  const sameShapes = util.arraysEqual(condition.shape, t.shape) && util.arraysEqual(t.shape, e.shape);
  if (condition.dtype !== 'bool' || !isFloat(t, e) || !sameShapes) return undefined;
  return {
    key: 'Where',
    inputs: [condition, t, e],
    outputShape: t.shape,
    flops: 0,
    build: (g, [c, a, b]) => g.node('Where', [c, a, b]),
  };
};

/** Sum and Mean over axes. */
function reduction(onnxOp: 'ReduceSum' | 'ReduceMean'): Planner {
  return (inputs, attrs) => {
    const { x } = inputs;
    const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
    if (!isFloat(x)) return undefined;
    const axes = util.parseAxisParam(axis, x.shape);
    const [reducedShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
    const outputShape = keepDims ? backend_util.expandShapeToKeepDim(reducedShape, axes) : reducedShape;
    return {
      key: `${onnxOp} ${attrKey({ axes, keepDims })}`,
      inputs: [x],
      outputShape,
      flops: 0,
      // opset 17: ReduceSum takes its axes as an input, ReduceMean as an attribute.
      build: (g, [xName]) =>
        onnxOp === 'ReduceSum'
          ? g.node(onnxOp, [xName, g.int64s(axes)], { keepdims: attr.int(keepDims ? 1 : 0) })
          : g.node(onnxOp, [xName], { axes: attr.ints(axes), keepdims: attr.int(keepDims ? 1 : 0) }),
    };
  };
}

/**
 * Identity shares its input's data, as the wasm Reshape does, where the wasm kernel copies it:
 * tfjs clones every tensor a gradient saves (~240 clones per DCGAN step, ~9 ms of copying).
 */
const shareIdentity: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

const OVERRIDES: Record<string, Planner> = {
  Conv2D: conv2d,
  FusedConv2D: conv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
  BatchMatMul: matMul,
  _FusedMatMul: matMul,
  Tile: tile,
  Sum: reduction('ReduceSum'),
  Mean: reduction('ReduceMean'),
  Select: select,
  // Only the elementwise kernels wasm runs as scalar loops; its XNNPACK ones (Add, Mul, Relu, Square…)
  // and FusedBatchNorm match ORT. µs for batch 64 × 14×14×32, best of 30, wasm vs ORT: LeakyRelu 2590
  // vs 330, Tanh 9900 vs 370, Exp 3580 vs 500, Rsqrt 1080 vs 540, Maximum 5050 vs 400, Greater 2200 vs
  // 230, Select 1410 vs 1080, Sum/Mean over N, H, W 1100–1200 vs 250, Tile (BN's gradient) 34500 vs 360.
  LeakyRelu: elementwise('LeakyRelu', ['x'], (g, [x], attrs) =>
    g.node('LeakyRelu', [x], { alpha: attr.float(attrs.alpha as number) }),
  ),
  Tanh: unary('Tanh'),
  Exp: unary('Exp'),
  Rsqrt: elementwise('Rsqrt', ['x'], (g, [x]) => g.node('Reciprocal', [g.node('Sqrt', [x])])),
  Maximum: binary('Max'),
  Greater: binary('Greater', 'bool'),
  // Max's gradient (tfjs: Equal of the input with the broadcast max): 67 of 114 ms in a pacgan-2d step on wasm.
  Equal: binary('Equal', 'bool'),
  GreaterEqual: binary('GreaterOrEqual', 'bool'),
  Less: binary('Less', 'bool'),
  LessEqual: binary('LessOrEqual', 'bool'),
};

/**
 * Registers the `ort` backend (idempotent): its own instance of the wasm backend, with every
 * wasm kernel, the ones in OVERRIDES computed by ORT and Identity sharing data. Switching between `ort` and `wasm`
 * works as between any two backends: tfjs re-binds the wasm kernels to the active instance
 * and moves tensors across.
 */
export async function registerOrtBackend(): Promise<void> {
  ortBinding(); // fails here, with its reason, if the native binding is missing or has changed
  await import('@tensorflow/tfjs-backend-wasm');
  registerWasmGradientKernels();
  if (tf.findBackendFactory(ORT_BACKEND)) return;
  const wasmFactory = tf.findBackendFactory('wasm');
  if (!wasmFactory) throw new Error('the wasm backend is not registered');
  for (const config of getKernelsForBackend('wasm')) {
    const plan = OVERRIDES[config.kernelName];
    const kernel = plan ? overrideKernel(config.kernelName, plan) : { ...config, backendName: ORT_BACKEND };
    registerKernel(config.kernelName === 'Identity' ? { ...kernel, kernelFunc: shareIdentity } : kernel);
  }
  tf.registerBackend(ORT_BACKEND, wasmFactory, 1);
}
