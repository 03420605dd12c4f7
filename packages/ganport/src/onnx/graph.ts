/**
 * The one way ganport writes ONNX graphs, after tf2onnx's graph builder: an opset-aware op
 * vocabulary over unique value names, deduplicated constants, and the model around them.
 * The exporter (export/graph.ts adds channels-last/first layout tracking), the `ort` backend's
 * one-kernel graphs, the onnx training engine's captured steps and eval's distance graph all
 * build on it; the version facts it consults are data in opsets.ts.
 */
import { createHash } from 'node:crypto';
import { packageVersion } from '../util/files.js';
import {
  type AttrValue,
  attr,
  DataType,
  type DataTypeCode,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  type TensorValues,
} from './builder.js';
import { liveNodes } from './edit.js';
import { axesAreInputs, type ReduceOp } from './opsets.js';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto.js';

export class OnnxGraph {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** Float initializer values by name, kept for graph passes such as batch-norm folding. */
  readonly floatData = new Map<string, { dims: number[]; data: Float32Array }>();
  private readonly names = new Set<string>();
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

  /** Adds a node with several outputs; returns their names. */
  multiOp(opType: string, inputs: string[], outputs: number, attributes: Record<string, AttrValue> = {}): string[] {
    const names = Array.from({ length: outputs }, (_, i) => this.unique(`${opType}_${i}`));
    this.nodes.push(makeNode(opType, inputs, names, attributes));
    return names;
  }

  /**
   * A float initializer. Identical constants (same shape and bytes) are stored once: a nested model
   * applied twice, or a layer shared between calls, reads one initializer from every call.
   * `shared: false` always makes a new one (for a graph pass that will change it).
   */
  constFloat(base: string, dims: number[], values: Float32Array, shared = true): string {
    const key = shared ? contentKey(DataType.FLOAT, dims, values) : '';
    const existing = shared ? this.byContent.get(key) : undefined;
    if (existing !== undefined && sameBytes(this.floatData.get(existing)!.data, values)) return existing;
    const name = this.unique(base);
    this.initializers.push(makeTensor(name, DataType.FLOAT, dims, values));
    this.floatData.set(name, { dims, data: values });
    if (shared && existing === undefined) this.byContent.set(key, name);
    return name;
  }

  /** A constant of another element type, stored once per content. */
  constant(base: string, dataType: DataTypeCode, dims: number[], values: TensorValues): string {
    if (dataType === DataType.FLOAT) return this.constFloat(base, dims, values as Float32Array);
    const key = contentKey(dataType, dims, values);
    const existing = this.byContent.get(key);
    if (existing !== undefined) return existing;
    const name = this.unique(base);
    this.initializers.push(makeTensor(name, dataType, dims, values));
    this.byContent.set(key, name);
    return name;
  }

  constInt64(base: string, values: number[]): string {
    return this.constant(base, DataType.INT64, [values.length], BigInt64Array.from(values, BigInt));
  }

  /** A float scalar. */
  scalar(value: number): string {
    return this.constFloat('scalar', [], Float32Array.of(value));
  }

  /** Forgets a float initializer as a deduplication target (its values are about to change). */
  unshare(name: string): void {
    for (const [key, owner] of this.byContent) if (owner === name) this.byContent.delete(key);
  }

  reshape(x: string, shape: number[], base = 'Reshape'): string {
    return this.op('Reshape', [x, this.constInt64(`${base}/shape`, shape)], {}, base);
  }

  transpose(x: string, perm: number[], base = 'Transpose'): string {
    return this.op('Transpose', [x], { perm: attr.ints(perm) }, base);
  }

  /** ReduceMean/ReduceMax/ReduceSum/…: axes an attribute before the op's opset of change, an input from it. */
  reduce(op: ReduceOp, x: string, axes: number[], keepdims: boolean, base: string = op): string {
    const k = { keepdims: attr.int(keepdims ? 1 : 0) };
    return axesAreInputs(op, this.opset)
      ? this.op(op, [x, this.constInt64(`${base}/axes`, axes)], k, base)
      : this.op(op, [x], { ...k, axes: attr.ints(axes) }, base);
  }

  squeeze(x: string, axes: number[], base = 'Squeeze'): string {
    return this.op('Squeeze', [x, this.constInt64(`${base}/axes`, axes)], {}, base);
  }

  unsqueeze(x: string, axes: number[], base = 'Unsqueeze'): string {
    return this.op('Unsqueeze', [x, this.constInt64(`${base}/axes`, axes)], {}, base);
  }

  /**
   * Drops the nodes nothing downstream of `outputs` reads (a captured step computes values no update
   * needs), then the initializers no node reads.
   */
  prune(outputs: string[]): void {
    this.nodes.splice(0, this.nodes.length, ...liveNodes(this.nodes, outputs));
    this.pruneInitializers();
  }

  /** Drops the initializers no node reads any more. */
  pruneInitializers(): void {
    const used = new Set(this.nodes.flatMap((n) => n.input));
    for (let i = this.initializers.length - 1; i >= 0; i--) {
      const { name } = this.initializers[i];
      if (used.has(name)) continue;
      this.floatData.delete(name);
      this.unshare(name);
      this.initializers.splice(i, 1);
    }
  }

  /** The graph as a model, named and described as ganport (this package's version) produced it. */
  toModel(
    name: string,
    inputs: ValueInfoProto[],
    outputs: ValueInfoProto[],
    options: { docString?: string; graphDocString?: string; metadata?: Record<string, string> } = {},
  ): ModelProto {
    const graph = makeGraph(this.nodes, name, inputs, outputs, this.initializers, options.graphDocString);
    return makeModel(graph, {
      opset: this.opset,
      producerName: 'ganport',
      producerVersion: packageVersion(),
      docString: options.docString,
      metadata: options.metadata,
    });
  }
}

/** A hash of a constant's type, shape and bytes (equal keys are then compared byte by byte). */
function contentKey(dataType: number, dims: number[], values: TensorValues): string {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return `${dataType}:${dims.join('x')}:${createHash('sha1').update(bytes).digest('base64')}`;
}

function sameBytes(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
