/**
 * A rewrite of a graph's nodes, for the passes that replace some nodes with others (the training
 * engine's CPU rewrites): the nodes in their new order, the constants the new ones read, and every
 * new name checked against the graph's.
 */
import { type AttrValue, DataType, makeNode, makeTensor } from './builder.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from './proto.js';

/** A node's ints attribute `name`, as numbers; undefined where it has none. */
export const intsAttribute = (node: NodeProto, name: string): number[] | undefined =>
  node.attribute.find((a) => a.name === name)?.ints?.map(Number);

/** `node`'s perm where it is one of ONNX's Transposes; undefined for any other node. */
export const transposePerm = (node: NodeProto | undefined): number[] | undefined =>
  node?.opType === 'Transpose' && !node.domain ? intsAttribute(node, 'perm') : undefined;

/**
 * The input of `node` where it swaps the first two axes of a rank-4 value (perm [1, 0, 2, 3]), as tfjs
 * makes a filter gradient's filter from the output gradient.
 */
export const swappedFrom = (node: NodeProto | undefined): string | undefined =>
  transposePerm(node)?.join() === '1,0,2,3' ? node!.input[0] : undefined;

/** A node's int attribute `name`, as a number; `otherwise` where it has none. */
export function intAttribute(node: NodeProto, name: string, otherwise: number): number {
  const value = node.attribute.find((a) => a.name === name)?.i;
  return value === undefined ? otherwise : Number(value);
}

/** A node's float attribute `name`; `otherwise` where it has none. */
export function floatAttribute(node: NodeProto, name: string, otherwise: number): number {
  return node.attribute.find((a) => a.name === name)?.f ?? otherwise;
}

export interface FloatScalar {
  value: number;
  /** Its float32 bits: JavaScript's own comparisons may see a subnormal as 0 (onnxruntime sets the thread's
   * denormals-are-zero flag), so rules read the bits. */
  bits: number;
}

/** A float constant's one value (any shape of one element); undefined for anything else. */
export function floatScalar(t: TensorProto): FloatScalar | undefined {
  if (t.dataType !== DataType.FLOAT || t.dims.some((d) => Number(d) !== 1) || t.rawData?.length !== 4) return undefined;
  const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, 4);
  return { value: view.getFloat32(0, true), bits: view.getUint32(0, true) };
}

/**
 * The nodes (of a topologically ordered list) that the values `needed` depend on, in their order: those
 * that make a needed value, and those that make what they read, and so on.
 */
export function liveNodes(nodes: readonly NodeProto[], needed: Iterable<string>): NodeProto[] {
  const wanted = new Set(needed);
  const live: NodeProto[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.output.some((o) => wanted.has(o))) continue;
    live.push(node);
    for (const input of node.input) wanted.add(input);
  }
  return live.reverse();
}

/**
 * The node that makes each value, and the nodes that read it (in node order), over `nodes`; and a value's
 * one reader, where it has one and is not among `outputs` (the graph's: an output counts as a reader).
 */
export function nodeIndex(
  nodes: readonly NodeProto[],
  outputs: Iterable<string> = [],
): {
  producer: Map<string, NodeProto>;
  readers: Map<string, NodeProto[]>;
  soleReader: (value: string) => NodeProto | undefined;
} {
  const producer = new Map<string, NodeProto>();
  const readers = new Map<string, NodeProto[]>();
  for (const node of nodes) {
    for (const output of node.output) producer.set(output, node);
    for (const input of node.input) {
      const list = readers.get(input);
      if (list) list.push(node);
      else readers.set(input, [node]);
    }
  }
  const graphOutputs = new Set(outputs);
  const soleReader = (value: string) => {
    const list = readers.get(value) ?? [];
    return list.length === 1 && !graphOutputs.has(value) ? list[0] : undefined;
  };
  return { producer, readers, soleReader };
}

export class GraphEdit {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** The graph's value names and the new ones: a new name must not be one of them. */
  private readonly taken: Set<string>;
  /** The int64Of constants written, by what they hold. */
  private readonly int64s = new Map<string, string>();

  /** `pass` names the rewrite in an internal error. */
  constructor(
    graph: GraphProto,
    private readonly pass: string,
  ) {
    this.taken = new Set([...graph.input, ...graph.initializer].map((v) => v.name));
    for (const node of graph.node) for (const name of node.output) this.taken.add(name);
  }

  /** Frees a value's name for a new node to write: the node that wrote it is being replaced. */
  replacing(name: string): void {
    this.taken.delete(name);
  }

  /** Adds a node (`domain`: an operator set's other than ONNX's); returns its output's name. */
  add(
    opType: string,
    inputs: string[],
    output: string,
    attributes: Record<string, AttrValue> = {},
    domain?: string,
  ): string {
    const node = makeNode(opType, inputs, [this.claim(output)], attributes);
    if (domain) node.domain = domain;
    this.nodes.push(node);
    return output;
  }

  /** An int64 vector constant (a shape, indices); returns its name. */
  int64(name: string, values: number[]): string {
    this.initializers.push(
      makeTensor(this.claim(name), DataType.INT64, [values.length], BigInt64Array.from(values.map(BigInt))),
    );
    return name;
  }

  /** An int64 vector constant holding `values` (a shape), written once however often it is asked for; returns its name. */
  int64Of(values: number[]): string {
    const key = values.join('x');
    const known = this.int64s.get(key);
    if (known) return known;
    const name = this.int64(`${this.pass}/${key}`, values);
    this.int64s.set(key, name);
    return name;
  }

  /** A float32 constant of shape `dims`; returns its name. */
  floats(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push(makeTensor(this.claim(name), DataType.FLOAT, dims, values));
    return name;
  }

  /** A float32 scalar constant; returns its name. */
  float(name: string, value: number): string {
    this.initializers.push(makeTensor(this.claim(name), DataType.FLOAT, [], Float32Array.of(value)));
    return name;
  }

  /** `model` with the rewritten nodes, the new constants and `domains` imported (version 1). */
  model(model: ModelProto, domains: string[] = []): ModelProto {
    return {
      ...model,
      opsetImport: [...model.opsetImport, ...domains.map((domain) => ({ domain, version: 1 }))],
      graph: { ...model.graph, node: this.nodes, initializer: [...model.graph.initializer, ...this.initializers] },
    };
  }

  /** `name`, checked to be new to the graph. */
  private claim(name: string): string {
    if (this.taken.has(name))
      throw new Error(`internal error: the ${this.pass} rewrite's value ${name} is already in the graph`);
    this.taken.add(name);
    return name;
  }
}
