/**
 * Accumulates the nodes and initializers of one ONNX graph, hands out unique
 * value names, and tracks each value's layout.
 *
 * tfjs is channels-last; ONNX Conv, ConvTranspose, pooling and BatchNormalization
 * are channels-first. A rank-4 value is therefore held in either layout, and
 * converted lazily only when a consumer needs the other one. Every Transpose is
 * remembered in both directions, so converting back never stacks an inverse pair.
 */

import type { Layout } from '@ganport/runtime';
import { type AttrValue, attr, DataType, makeNode, makeTensor } from './builder.js';
import type { NodeProto, TensorProto } from './proto.js';

/** A value in the graph: its ONNX name, rank, and how a rank-4 value is stored (other ranks: 'NHWC'). */
export interface Value {
  name: string;
  rank: number;
  layout: Layout;
}

export const TO_CHANNELS_FIRST = [0, 3, 1, 2];
export const TO_CHANNELS_LAST = [0, 2, 3, 1];

/** Maps a tfjs axis (negative allowed) of a rank-`rank` value to the ONNX axis in the value's layout. */
export function onnxAxis(value: Value, tfjsAxis: number): number {
  const axis = tfjsAxis < 0 ? tfjsAxis + value.rank : tfjsAxis;
  return value.layout === 'NCHW' ? TO_CHANNELS_FIRST.indexOf(axis) : axis;
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** Float initializer values by name, kept for graph passes such as batch-norm folding. */
  readonly floatData = new Map<string, { dims: number[]; data: Float32Array }>();
  private readonly names = new Set<string>();
  private readonly transposed = new Map<string, string>();

  constructor(readonly opset: number) {}

  /** `base`, or `base_1`, `base_2`… whichever is still free; the name is then taken. */
  unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_');
    let name = clean;
    for (let i = 1; this.names.has(name); i++) name = `${clean}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Adds a single-output node; returns the output's name (derived from `base`). */
  op(opType: string, inputs: string[], attributes: Record<string, AttrValue> = {}, base = opType): string {
    const output = this.unique(base);
    this.nodes.push(makeNode(opType, inputs, [output], attributes));
    return output;
  }

  constFloat(base: string, dims: number[], values: Float32Array): string {
    const name = this.unique(base);
    this.initializers.push(makeTensor(name, DataType.FLOAT, dims, values));
    this.floatData.set(name, { dims, data: values });
    return name;
  }

  constInt64(base: string, values: number[]): string {
    const name = this.unique(base);
    this.initializers.push(makeTensor(name, DataType.INT64, [values.length], BigInt64Array.from(values, BigInt)));
    return name;
  }

  /** The value in the requested layout, transposing (once, remembered) if needed. */
  inLayout(value: Value, layout: Layout): Value {
    if (value.rank !== 4 || value.layout === layout) return value;
    let name = this.transposed.get(value.name);
    if (!name) {
      name = this.op(
        'Transpose',
        [value.name],
        { perm: attr.ints(layout === 'NCHW' ? TO_CHANNELS_FIRST : TO_CHANNELS_LAST) },
        `${value.name}/${layout.toLowerCase()}`,
      );
      this.transposed.set(value.name, name);
      this.transposed.set(name, value.name);
    }
    return { name, rank: 4, layout };
  }

  /** The value in tfjs's own (channels-last) layout. */
  tfjsLayout(value: Value): Value {
    return this.inLayout(value, 'NHWC');
  }
}

/** Replaces a float initializer's values (same shape). */
export function setFloat(g: GraphBuilder, name: string, data: Float32Array): void {
  const entry = g.floatData.get(name)!;
  entry.data = data;
  const index = g.initializers.findIndex((t) => t.name === name);
  g.initializers[index] = makeTensor(name, DataType.FLOAT, entry.dims, data);
}

/** Drops initializers no node reads any more. */
export function pruneInitializers(g: GraphBuilder): void {
  const used = new Set(g.nodes.flatMap((n) => n.input));
  for (let i = g.initializers.length - 1; i >= 0; i--) {
    if (!used.has(g.initializers[i].name)) {
      g.floatData.delete(g.initializers[i].name);
      g.initializers.splice(i, 1);
    }
  }
}
