/** What a tfjs kernel → ONNX handler is given and returns (the handlers are found through index.ts). */
import type { Layout } from '@ganport/runtime';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { attr, DataType, type DataTypeCode, makeTensor } from '../../onnx/builder.js';
import type { OnnxGraph } from '../../onnx/graph.js';

export type KernelDtype = 'float32' | 'int32' | 'bool';

/**
 * A tensor in the graph: its value name, and the shape and dtype tfjs gave it. A rank-4 activation
 * may be stored channels-first (`layout: 'NCHW'`, as ONNX's convolutions produce it) while `shape`
 * stays tfjs's channels-last one; see layout.ts.
 */
export interface KernelValue {
  name: string;
  shape: number[];
  dtype: KernelDtype;
  layout?: Layout;
}

/** One invocation of a tfjs kernel, to be written as ONNX nodes. */
export interface KernelCall {
  g: OnnxGraph;
  /** The kernel's inputs by tfjs's names (x, a, b, filter, …; 0, 1, … for variadic kernels). */
  inputs: Record<string, KernelValue | undefined>;
  attrs: NamedAttrMap;
  /** The shapes and dtypes of the kernel's outputs (known: the kernel ran, or its shape was inferred). */
  outputs: { shape: number[]; dtype: KernelDtype }[];
}

/** An output: a value name in tfjs's layout, or one stored channels-first. */
export type KernelOutput = string | { name: string; layout: Layout };

/**
 * Writes one kernel invocation; returns its outputs, or undefined where ONNX cannot express this
 * invocation (an attribute combination, a dtype). A handler marked `channelsFirst` takes inputs in
 * either layout (see layout.ts); the others are given every input in tfjs's own.
 */
export type KernelHandler = ((call: KernelCall) => KernelOutput[] | undefined) & { readonly channelsFirst?: boolean };

export const ONNX_DTYPE: Record<KernelDtype, DataTypeCode> = {
  float32: DataType.FLOAT,
  int32: DataType.INT32,
  bool: DataType.BOOL,
};

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The required input `name`. */
export function input(call: KernelCall, name: string): KernelValue {
  const value = call.inputs[name];
  if (!value) throw new Error(`internal error: kernel input ${name} missing`);
  return value;
}

/** The variadic inputs 0, 1, … in order (AddN, Concat, Pack). */
export function variadic(call: KernelCall): KernelValue[] {
  return Object.keys(call.inputs)
    .filter((key) => /^\d+$/.test(key))
    .sort((a, b) => Number(a) - Number(b))
    .map((key) => call.inputs[key]!);
}

/** A constant of `dtype` filled with `value`, of a static shape. */
export function filled(g: OnnxGraph, shape: number[], dtype: KernelDtype, value: number): string {
  const values =
    dtype === 'float32'
      ? Float32Array.of(value)
      : dtype === 'int32'
        ? Int32Array.of(value)
        : Uint8Array.of(value ? 1 : 0);
  if (shape.length === 0) return g.constant('fill', ONNX_DTYPE[dtype], [], values);
  return g.op('ConstantOfShape', [g.constInt64('fill/shape', shape)], {
    value: attr.tensor(makeTensor('value', ONNX_DTYPE[dtype], [1], values)),
  });
}

/** tfjs's negative axes made positive. */
export const positiveAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
