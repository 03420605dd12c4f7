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
import { DataType, makeTensor } from '../onnx/builder.js';
import { intsAttribute } from '../onnx/edit.js';
import { OnnxGraph } from '../onnx/graph.js';
import type { NodeProto } from '../onnx/proto.js';

/** A value in the graph: its ONNX name, rank, and how a rank-4 value is stored (other ranks: 'NHWC'). */
export interface Value {
  name: string;
  rank: number;
  layout: Layout;
}

/**
 * A value the graph carries from one call to the next (a stateful recurrent layer's state): the graph
 * input it starts from and the graph output holding it after the call, which the caller feeds back.
 */
export interface CarriedState {
  /** The layer (nesting path) that holds the state in tfjs, and which of its states this is (h, c). */
  layer: string;
  state: string;
  input: string;
  output: string;
  /** Its tfjs shape, [batch, units]. */
  shape: (number | null)[];
}

export const TO_CHANNELS_FIRST = [0, 3, 1, 2];
export const TO_CHANNELS_LAST = [0, 2, 3, 1];

/** Maps a tfjs axis (negative allowed) of a rank-`rank` value to the ONNX axis in the value's layout. */
export function onnxAxis(value: Value, tfjsAxis: number): number {
  const axis = tfjsAxis < 0 ? tfjsAxis + value.rank : tfjsAxis;
  return value.layout === 'NCHW' ? TO_CHANNELS_FIRST.indexOf(axis) : axis;
}

export class GraphBuilder extends OnnxGraph {
  /** The states that become extra graph inputs and outputs. */
  readonly carried: CarriedState[] = [];
  private readonly transposed = new Map<string, string>();

  /** The value in the requested layout, transposing (once, remembered) if needed. */
  inLayout(value: Value, layout: Layout): Value {
    if (value.rank !== 4 || value.layout === layout) return value;
    let name = this.transposed.get(value.name);
    if (!name) {
      name = this.transpose(
        value.name,
        layout === 'NCHW' ? TO_CHANNELS_FIRST : TO_CHANNELS_LAST,
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
  g.unshare(name);
  const entry = g.floatData.get(name)!;
  entry.data = data;
  const index = g.initializers.findIndex((t) => t.name === name);
  g.initializers[index] = makeTensor(name, DataType.FLOAT, entry.dims, data);
}

/**
 * Removes each Transpose that undoes the Transpose feeding it (as consecutive 1-D layers make:
 * back to channels-last after one, to channels-first again for the next): its consumers read the
 * first one's input instead, and the first is dropped too where nothing else reads it.
 */
export function cancelInverseTransposes(g: GraphBuilder): number {
  const perm = (n: NodeProto) => intsAttribute(n, 'perm') ?? [];
  let cancelled = 0;
  for (const second of g.nodes.filter((n) => n.opType === 'Transpose')) {
    if (!g.nodes.includes(second)) continue; // already removed as the first of a pair
    const first = g.nodes.find((n) => n.opType === 'Transpose' && n.output[0] === second.input[0]);
    if (!first) continue;
    const [p1, p2] = [perm(first), perm(second)];
    if (p1.length !== p2.length || !p2.every((p, i) => p1[p] === i)) continue;
    for (const node of g.nodes) node.input = node.input.map((x) => (x === second.output[0] ? first.input[0] : x));
    g.nodes.splice(g.nodes.indexOf(second), 1);
    if (!g.nodes.some((n) => n.input.includes(first.output[0]))) g.nodes.splice(g.nodes.indexOf(first), 1);
    cancelled++;
  }
  return cancelled;
}
