/** Accumulates the nodes and initializers of one ONNX graph, handing out unique value names. */
import { type AttrValue, DataType, makeNode, makeTensor } from './builder.js';
import type { NodeProto, TensorProto } from './proto.js';

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly names = new Set<string>();

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
    return name;
  }

  constInt64(base: string, values: number[]): string {
    const name = this.unique(base);
    this.initializers.push(makeTensor(name, DataType.INT64, [values.length], BigInt64Array.from(values, BigInt)));
    return name;
  }
}
