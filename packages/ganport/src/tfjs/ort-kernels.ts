/**
 * The `ort` tfjs backend: the wasm backend with its heavy kernels computed by
 * onnxruntime-node's native, vectorised MLAS kernels (see ort-session.ts for the call).
 *
 * Each overridden kernel becomes a tiny ONNX graph over the kernel's inputs, read and
 * written in place on the wasm heap. Layout: tfjs is NHWC, ORT's Conv is NCHW, so the graphs
 * transpose inside: ~0.5 ms of a 4.5-ms batch-64 14×14×32 → 7×7×64 convolution (4.0 ms bare,
 * NCHW in and out). Ops too small to pay for a call (~0.04 ms) stay on wasm.
 * The graphs are written by the same kernel handlers as the onnx engine's (onnx-kernels/); this
 * module decides which calls go to ORT and with what output shape.
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
import { makeNode, makeValueInfo } from '../onnx/builder.js';
import { OnnxGraph } from '../onnx/graph.js';
import { DEFAULT_OPSET } from '../onnx/opsets.js';
import { encodeModel } from '../onnx/proto.js';
import { ORT_BACKEND } from './backend-names.js';
import { type WasmBackendInternals, wasmBackendInternals } from './internals.js';
import { type ConvAttrs, convFlops, convGeometry, transposeOutputPadding } from './onnx-kernels/conv.js';
import { KERNEL_HANDLERS, type KernelDtype, type KernelValue, ONNX_DTYPE, size } from './onnx-kernels/index.js';
import { inLayout } from './onnx-kernels/layout.js';
import { intraOpThreads, OrtSession, ortBinding, SessionCache } from './ort-session.js';
import { registerWasmGradientKernels } from './wasm-kernels.js';

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

/** Enough for every kernel shape of a training run, twice over (a short last batch). */
export const sessions = new SessionCache(256);

type OrtDtype = 'float32' | 'bool';

/** One kernel invocation as an ORT graph: the kernel's handler over the inputs ORT reads. */
interface OrtCall {
  kernelName: string;
  /** The inputs the graph reads, by tfjs's input names (float32, or bool where a planner checks). */
  inputs: Record<string, TensorInfo>;
  attrs: NamedAttrMap;
  outputShape: number[];
  /** Default float32. */
  outputDtype?: OrtDtype;
  /** Multiply-adds ×2 of compute-bound ops; 0 for memory-bound ones (they also run on one thread). */
  flops: number;
}

const kernelValue = (name: string, t: TensorInfo): KernelValue => ({
  name,
  shape: t.shape,
  dtype: t.dtype as KernelDtype,
});

function encode(call: OrtCall): Uint8Array {
  const g = new OnnxGraph(DEFAULT_OPSET);
  const names = Object.keys(call.inputs);
  for (const name of names) g.unique(name);
  const outputDtype = call.outputDtype ?? 'float32';
  const [out] = KERNEL_HANDLERS[call.kernelName]({
    g,
    inputs: Object.fromEntries(names.map((name) => [name, kernelValue(name, call.inputs[name])])),
    attrs: call.attrs,
    outputs: [{ shape: call.outputShape, dtype: outputDtype }],
  })!;
  const result =
    typeof out === 'string' ? out : inLayout(g, { ...out, shape: call.outputShape, dtype: outputDtype }, 'NHWC');
  g.nodes.push(makeNode('Identity', [result], ['out']));
  const inputs = names.map((name) =>
    makeValueInfo(name, ONNX_DTYPE[call.inputs[name].dtype as KernelDtype], call.inputs[name].shape),
  );
  const output = makeValueInfo('out', ONNX_DTYPE[outputDtype], call.outputShape);
  return encodeModel(g.toModel(call.kernelName, inputs, [output]));
}

function runOnOrt(backend: WasmBackendInternals, call: OrtCall): TensorInfo {
  const threads = intraOpThreads(call.flops);
  const shapes = Object.values(call.inputs).map((t) => t.shape.join('x'));
  const key = `${call.kernelName} ${JSON.stringify(call.attrs)} | ${shapes.join(', ')} | threads ${threads}`;
  const session = sessions.get(key, () => new OrtSession(encode(call), { threads }));
  const out = backend.makeOutput(call.outputShape, call.outputDtype ?? 'float32');
  // Views are taken after makeOutput: allocating may grow (and so replace) the wasm heap.
  const inputs = Object.entries(call.inputs).map(([name, t]) => ({
    name,
    data: backend.typedArrayFromHeap(t),
    dims: t.shape,
  }));
  session.run(inputs, [{ name: 'out', data: backend.typedArrayFromHeap(out), dims: call.outputShape }]);
  return out;
}

/**
 * What ORT would compute for a kernel call: the inputs it reads, the output's shape (ORT writes
 * into a tensor allocated first) and the cost, or undefined where the handler cannot express it.
 */
type Planner = (
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
) => Omit<OrtCall, 'kernelName' | 'attrs'> | undefined;

const ORT_INPUT_DTYPES = new Set(['float32', 'bool']);

/** ORT takes a call whose inputs it can read, when the work is big enough to beat wasm (see ortMinimumSizes). */
function worthOrt(call: OrtCall): boolean {
  const tensors = Object.values(call.inputs);
  if (!tensors.every((t) => ORT_INPUT_DTYPES.has(t.dtype) && size(t.shape) > 0)) return false;
  const largest = Math.max(size(call.outputShape), ...tensors.map((t) => size(t.shape)));
  return call.flops >= ortMinimumSizes.flops || largest >= ortMinimumSizes.elements;
}

/** The wasm kernel `name`, computed by ORT whenever `plan` returns a call worth making. */
function overrideKernel(name: string, plan: Planner): KernelConfig {
  const wasm = getKernel(name, 'wasm');
  if (!wasm) throw new Error(`the wasm backend has no ${name} kernel to override`);
  const kernelFunc: KernelFunc = (args) => {
    const attrs = args.attrs ?? {};
    const planned = plan(args.inputs as Record<string, TensorInfo>, attrs);
    const call = planned && { ...planned, kernelName: name, attrs };
    return call && worthOrt(call) ? runOnOrt(wasmBackendInternals(args.backend), call) : wasm.kernelFunc(args);
  };
  return { ...wasm, backendName: ORT_BACKEND, kernelFunc };
}

/** The inputs that are present (bias and PReLU weights are optional). */
const present = (inputs: Record<string, TensorInfo | undefined>) =>
  Object.fromEntries(Object.entries(inputs).filter(([, t]) => t !== undefined)) as Record<string, TensorInfo>;

/** Conv2D and FusedConv2D. */
const conv2d: Planner = (inputs, attrs) => {
  const info = convGeometry(inputs.x.shape, inputs.filter.shape, attrs as unknown as ConvAttrs);
  if (!info) return undefined;
  return { inputs: present(inputs), outputShape: info.outShape, flops: convFlops(info) };
};

const conv2dBackpropInput: Planner = (inputs, attrs) => {
  const geometry = attrs as unknown as ConvAttrs & { inputShape: number[] };
  const info = convGeometry(geometry.inputShape, inputs.filter.shape, geometry);
  if (!info || !transposeOutputPadding(info)) return undefined;
  return { inputs: { dy: inputs.dy, filter: inputs.filter }, outputShape: info.inShape, flops: convFlops(info) };
};

const conv2dBackpropFilter: Planner = (inputs, attrs) => {
  const geometry = attrs as unknown as ConvAttrs & { filterShape: number[] };
  const info = convGeometry(inputs.x.shape, geometry.filterShape, geometry);
  if (info?.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  return { inputs: { x: inputs.x, dy: inputs.dy }, outputShape: geometry.filterShape, flops: convFlops(info) };
};

/** BatchMatMul and _FusedMatMul. */
const matMul: Planner = (inputs, attrs) => {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  if (a.shape.length < 2 || b.shape.length < 2) return undefined;
  const [m, k] = transposeA ? a.shape.slice(-2).reverse() : a.shape.slice(-2);
  const n = transposeB ? b.shape.at(-2)! : b.shape.at(-1)!;
  const batch = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return { inputs: present(inputs), outputShape: [...batch, m, n], flops: 2 * size(batch) * m * n * k };
};

const isFloat = (...tensors: TensorInfo[]) => tensors.every((t) => t.dtype === 'float32');

/** Tile: the wasm kernel computes every output index's source one element at a time. */
const tile: Planner = ({ x }, attrs) => {
  if (!isFloat(x)) return undefined;
  const { reps } = attrs as { reps: number[] };
  return { inputs: { x }, outputShape: x.shape.map((d, i) => d * reps[i]), flops: 0 };
};

/** An elementwise kernel over `inputNames` (float32, broadcast as numpy and ONNX both do). */
function elementwise(inputNames: string[], outputDtype: OrtDtype = 'float32'): Planner {
  return (inputs) => {
    const tensors = inputNames.map((name) => inputs[name]);
    if (!isFloat(...tensors)) return undefined;
    const outputShape = tensors.map((t) => t.shape).reduce((a, b) => backend_util.assertAndGetBroadcastShape(a, b));
    return {
      inputs: Object.fromEntries(inputNames.map((n, i) => [n, tensors[i]])),
      outputShape,
      outputDtype,
      flops: 0,
    };
  };
}

const unary = elementwise(['x']);
const comparison = elementwise(['a', 'b'], 'bool');

/** Select (tf.where), its condition of the values' shape. */
const select: Planner = ({ condition, t, e }) => {
  const sameShapes = util.arraysEqual(condition.shape, t.shape) && util.arraysEqual(t.shape, e.shape);
  if (condition.dtype !== 'bool' || !isFloat(t, e) || !sameShapes) return undefined;
  return { inputs: { condition, t, e }, outputShape: t.shape, flops: 0 };
};

/** Sum and Mean over axes. */
const reduction: Planner = ({ x }, attrs) => {
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  if (!isFloat(x)) return undefined;
  const axes = util.parseAxisParam(axis, x.shape);
  const [reducedShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const outputShape = keepDims ? backend_util.expandShapeToKeepDim(reducedShape, axes) : reducedShape;
  return { inputs: { x }, outputShape, flops: 0 };
};

/**
 * Identity shares its input's data, as the wasm Reshape does, where the wasm kernel copies it:
 * tfjs clones every tensor a gradient saves (~240 clones per DCGAN step, ~9 ms of copying).
 */
const shareIdentity: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  wasmBackendInternals(backend).incRef(x.dataId);
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
  Sum: reduction,
  Mean: reduction,
  Select: select,
  // Only the elementwise kernels wasm runs as scalar loops; its XNNPACK ones (Add, Mul, Relu, Square…)
  // and FusedBatchNorm match ORT. µs for batch 64 × 14×14×32, best of 30, wasm vs ORT: LeakyRelu 2590
  // vs 330, Tanh 9900 vs 370, Exp 3580 vs 500, Rsqrt 1080 vs 540, Maximum 5050 vs 400, Greater 2200 vs
  // 230, Select 1410 vs 1080, Sum/Mean over N, H, W 1100–1200 vs 250, Tile (BN's gradient) 34500 vs 360.
  LeakyRelu: unary,
  Tanh: unary,
  Exp: unary,
  Rsqrt: unary,
  Maximum: elementwise(['a', 'b']),
  Greater: comparison,
  // Max's gradient (tfjs: Equal of the input with the broadcast max): 67 of 114 ms in a pacgan-2d step on wasm.
  Equal: comparison,
  GreaterEqual: comparison,
  Less: comparison,
  LessEqual: comparison,
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
