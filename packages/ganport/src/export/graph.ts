/**
 * Accumulates the nodes and initializers of one ONNX graph, hands out unique
 * value names, and tracks each value's layout.
 *
 * tfjs is channels-last; ONNX Conv, ConvTranspose, pooling and BatchNormalization
 * are channels-first. A rank-4 value is therefore held in either layout, and
 * converted lazily only when a consumer needs the other one. Every Transpose is
 * remembered in both directions, so converting back never stacks an inverse pair.
 */

import { createHash } from 'node:crypto';
import type { Layout } from '@ganport/runtime';
import { type AttrValue, attr, DataType, makeNode, makeTensor } from '../onnx/builder.js';
import type { NodeProto, TensorProto } from '../onnx/proto.js';

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

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** Float initializer values by name, kept for graph passes such as batch-norm folding. */
  readonly floatData = new Map<string, { dims: number[]; data: Float32Array }>();
  /** The states that become extra graph inputs and outputs. */
  readonly carried: CarriedState[] = [];
  private readonly names = new Set<string>();
  private readonly transposed = new Map<string, string>();
  private readonly byContent = new Map<string, string>();

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

  /**
   * A float initializer. Identical constants (same shape and bytes) are stored once: a nested model
   * applied twice, or a layer shared between calls, reads one initializer from every call.
   * `shared: false` always makes a new one (for a graph pass that will change it).
   */
  constFloat(base: string, dims: number[], values: Float32Array, shared = true): string {
    const key = shared ? contentKey(dims, values) : '';
    const existing = shared ? this.byContent.get(key) : undefined;
    if (existing !== undefined && sameValues(this.floatData.get(existing)!.data, values)) return existing;
    const name = this.unique(base);
    this.initializers.push(makeTensor(name, DataType.FLOAT, dims, values));
    this.floatData.set(name, { dims, data: values });
    if (shared && existing === undefined) this.byContent.set(key, name);
    return name;
  }

  /** Forgets a float initializer as a deduplication target (its values are about to change). */
  unshare(name: string): void {
    for (const [key, owner] of this.byContent) if (owner === name) this.byContent.delete(key);
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

/** A hash of a float constant's shape and bytes (equal keys are then compared value by value). */
function contentKey(dims: number[], values: Float32Array): string {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return `${dims.join('x')}:${createHash('sha1').update(bytes).digest('base64')}`;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Replaces a float initializer's values (same shape). */
export function setFloat(g: GraphBuilder, name: string, data: Float32Array): void {
  g.unshare(name);
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

/**
 * Removes each Transpose that undoes the Transpose feeding it (as consecutive 1-D layers make:
 * back to channels-last after one, to channels-first again for the next): its consumers read the
 * first one's input instead, and the first is dropped too where nothing else reads it.
 */
export function cancelInverseTransposes(g: GraphBuilder): number {
  const perm = (n: NodeProto) => (n.attribute.find((a) => a.name === 'perm')?.ints ?? []).map(Number);
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
