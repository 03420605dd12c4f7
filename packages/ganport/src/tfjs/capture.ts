/**
 * Records what a tfjs function computes as one ONNX graph: every kernel the engine runs while the
 * function runs (forward passes, tfjs's own gradients, optimizer updates) becomes the ONNX nodes
 * its handler in onnx-kernels/ writes, with tensors as edges.
 *
 * What the graph reads:
 * - bound inputs: tensors that exist before the function runs (a batch, latents, a learning rate),
 *   each given a graph input name;
 * - state: variables the function reads and may update (weights, optimizer moments); each is an
 *   input, and each one the function assigned is also an output;
 * - created tensors the caller claims (`claim`): tensors made from values rather than by a kernel,
 *   such as dropout's random uniforms, bound to inputs so that each run can feed new ones;
 * - everything else made from values is a constant of the graph.
 * The function runs for real (on the active backend), so every shape is known; the caller keeps
 * or restores the state it changed.
 */
import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { makeNode, makeValueInfo } from '../onnx/builder.js';
import { OnnxGraph } from '../onnx/graph.js';
import { STEP_OPSET } from '../onnx/opsets.js';
import { encodeModel } from '../onnx/proto.js';
import { KERNEL_HANDLERS, type KernelDtype, type KernelValue, ONNX_DTYPE, size } from './onnx-kernels/index.js';
import { tfjsLayout } from './onnx-kernels/layout.js';

/** A graph input or output: its name, shape and dtype. */
export interface GraphTensor {
  name: string;
  shape: number[];
  dtype: KernelDtype;
}

export interface CaptureSpec {
  name: string;
  inputs: { name: string; tensor: tf.Tensor }[];
  state: { name: string; variable: tf.Variable }[];
  /** For a tensor the function makes from values: the input name to bind it to, or undefined (a constant). */
  claim?: (values: ArrayLike<number>, shape: number[], dtype: KernelDtype) => string | undefined;
  /** The function; its results are the graph's outputs, by name. */
  fn: () => Record<string, tf.Tensor>;
}

export interface CapturedGraph {
  model: Uint8Array;
  inputs: GraphTensor[];
  outputs: GraphTensor[];
  /** State name → the output holding its new value; state the function left alone has none. */
  updated: Map<string, string>;
  /** Kernel calls recorded. */
  kernels: number;
}

type DataId = object;
interface Traced {
  dataId: DataId;
  shape: number[];
  dtype: string;
}

const shapeKey = (shape: readonly number[]) => shape.join('x');

/** Values by the data they stand for: a kernel that reshapes may return its input's data with another shape. */
class ValueTable {
  private readonly byData = new Map<DataId, Map<string, KernelValue>>();

  set(t: Traced, value: KernelValue): void {
    const shapes = this.byData.get(t.dataId) ?? new Map<string, KernelValue>();
    this.byData.set(t.dataId, shapes);
    shapes.set(shapeKey(t.shape), value);
  }

  /** The value for `t`; reshaped from the same data under another shape where only that is known. */
  get(g: OnnxGraph, t: Traced): KernelValue | undefined {
    const shapes = this.byData.get(t.dataId);
    if (!shapes) return undefined;
    const exact = shapes.get(shapeKey(t.shape));
    if (exact) return exact;
    const other = tfjsLayout(g, [...shapes.values()][0]);
    if (size(other.shape) !== size(t.shape))
      throw new Error(`internal error: data of shape [${other.shape}] read as [${t.shape}]`);
    const value = { name: g.reshape(other.name, t.shape), shape: t.shape, dtype: other.dtype };
    shapes.set(shapeKey(t.shape), value);
    return value;
  }
}

const kernelDtype = (dtype: string): KernelDtype => {
  if (dtype === 'float32' || dtype === 'int32' || dtype === 'bool') return dtype;
  throw new GanportError(`the onnx engine cannot capture ${dtype} tensors`, 'unsupported');
};

/** Gives every bound variable data of its own (an EMA generator copied from the generator shares it). */
function unshare(state: CaptureSpec['state'], inputs: CaptureSpec['inputs']): void {
  const seen = new Set<DataId>(inputs.map((i) => i.tensor.dataId));
  for (const { variable } of state) {
    if (seen.has(variable.dataId)) variable.assign(tf.tensor(variable.dataSync(), variable.shape, variable.dtype));
    seen.add(variable.dataId);
  }
}

export function captureGraph(spec: CaptureSpec): CapturedGraph {
  unshare(spec.state, spec.inputs);
  const g = new OnnxGraph(STEP_OPSET);
  const values = new ValueTable();
  const graphInputs: GraphTensor[] = [];
  const bind = (name: string, t: Traced) => {
    const input = { name: g.unique(name), shape: t.shape, dtype: kernelDtype(t.dtype) };
    graphInputs.push(input);
    values.set(t, input);
    return input;
  };
  for (const { name, tensor } of spec.inputs) bind(name, tensor);
  const stateInputs = new Map(spec.state.map(({ name, variable }) => [name, bind(name, variable)]));

  const engine = tf.engine();
  const runKernel = engine.runKernel.bind(engine);
  const makeTensor = engine.makeTensor.bind(engine);
  let kernels = 0;
  const lookup = (t: tf.Tensor): KernelValue => {
    const known = values.get(g, t);
    if (known) return known;
    // made from values and not claimed: a constant
    const dtype = kernelDtype(t.dtype);
    const data = t.dataSync();
    const typed =
      dtype === 'float32' ? Float32Array.from(data) : dtype === 'int32' ? Int32Array.from(data) : Uint8Array.from(data);
    const value = { name: g.constant('const', ONNX_DTYPE[dtype], t.shape, typed), shape: t.shape, dtype };
    values.set(t, value);
    return value;
  };
  engine.makeTensor = (...args: Parameters<typeof engine.makeTensor>) => {
    const tensor = makeTensor(...args);
    const claimed = spec.claim?.(tensor.dataSync(), tensor.shape, kernelDtype(tensor.dtype));
    if (claimed !== undefined) {
      const existing = graphInputs.find((i) => i.name === claimed);
      if (existing && shapeKey(existing.shape) === shapeKey(tensor.shape)) values.set(tensor, existing);
      else bind(claimed, tensor);
    }
    return tensor;
  };
  const record = (kernelName: string, inputs: tf.NamedTensorMap, attrs: NamedAttrMap, outputs: tf.Tensor[]) => {
    const handler = KERNEL_HANDLERS[kernelName];
    if (!handler)
      throw new GanportError(`the onnx engine cannot capture the tfjs kernel ${kernelName} yet`, 'unsupported');
    const layoutOf = (v: KernelValue) => (handler.channelsFirst ? v : tfjsLayout(g, v));
    const names = handler({
      g,
      inputs: Object.fromEntries(
        Object.entries(inputs)
          .filter(([, t]) => t !== undefined && t !== null)
          .map(([key, t]) => [key, layoutOf(lookup(t))]),
      ),
      attrs,
      outputs: outputs.map((o) => ({ shape: o.shape, dtype: kernelDtype(o.dtype) })),
    });
    if (!names) {
      const shapes = Object.values(inputs).map((t) => `[${t?.shape}]`);
      throw new GanportError(
        `the onnx engine cannot write ${kernelName} (${JSON.stringify(attrs)}) on ${shapes.join(', ')} as ONNX`,
        'unsupported',
      );
    }
    for (const [i, o] of outputs.entries()) {
      const out = names[i];
      const named = typeof out === 'string' ? { name: out } : out;
      values.set(o, { ...named, shape: o.shape, dtype: kernelDtype(o.dtype) });
    }
    kernels++;
  };
  // A kernel call can make nested ones before it returns (tfjs clones the outputs a gradient will need):
  // those are recorded after it, whose outputs they read.
  const nested: (() => void)[][] = [];
  const recordingRunKernel = (kernelName: string, inputs: tf.NamedTensorMap, attrs: NamedAttrMap = {}) => {
    nested.push([]);
    let result: tf.Tensor | tf.Tensor[];
    let inner: (() => void)[];
    try {
      result = runKernel<tf.Tensor | tf.Tensor[]>(kernelName, inputs, attrs);
    } finally {
      inner = nested.pop()!;
    }
    const recordAll = () => {
      record(kernelName, inputs, attrs, Array.isArray(result) ? result : [result]);
      for (const recordInner of inner) recordInner();
    };
    if (nested.length > 0) nested[nested.length - 1].push(recordAll);
    else recordAll();
    return result;
  };
  engine.runKernel = recordingRunKernel as typeof engine.runKernel;
  let results: Record<string, tf.Tensor>;
  try {
    results = spec.fn();
  } finally {
    engine.runKernel = runKernel;
    engine.makeTensor = makeTensor;
  }

  const outputs: GraphTensor[] = [];
  const output = (name: string, t: Traced) => {
    const computed = values.get(g, t);
    if (!computed) throw new Error(`internal error: the captured output ${name} was not computed by the function`);
    const value = tfjsLayout(g, computed);
    const unique = g.unique(name);
    g.nodes.push(makeNode('Identity', [value.name], [unique]));
    outputs.push({ name: unique, shape: t.shape, dtype: value.dtype });
  };
  for (const [name, tensor] of Object.entries(results)) output(name, tensor);
  const updated = new Map<string, string>();
  for (const { name, variable } of spec.state) {
    if (values.get(g, variable)?.name === stateInputs.get(name)!.name) continue;
    const next = `${name}/next`;
    output(next, variable);
    updated.set(name, next);
  }
  tf.dispose(Object.values(results));

  g.prune(outputs.map((o) => o.name));
  nameOutputsOnProducers(g, new Set(outputs.map((o) => o.name)));
  const info = (t: GraphTensor) => makeValueInfo(t.name, ONNX_DTYPE[t.dtype], t.shape);
  const model = g.toModel(spec.name, graphInputs.map(info), outputs.map(info));
  return { model: encodeModel(model), inputs: graphInputs, outputs, updated, kernels };
}

/**
 * Each output Identity whose input a node computes is dropped and that node's value renamed to the
 * output (an Identity copies its tensor every run); a value that is two outputs keeps one Identity.
 */
function nameOutputsOnProducers(g: OnnxGraph, outputs: Set<string>): void {
  const produced = new Set(g.nodes.flatMap((node) => node.output));
  for (const identity of g.nodes.filter((n) => n.opType === 'Identity' && outputs.has(n.output[0]))) {
    const [from] = identity.input;
    if (!produced.has(from) || outputs.has(from)) continue;
    const to = identity.output[0];
    g.nodes.splice(g.nodes.indexOf(identity), 1);
    for (const node of g.nodes) {
      node.output = node.output.map((o) => (o === from ? to : o));
      node.input = node.input.map((i) => (i === from ? to : i));
    }
  }
}
