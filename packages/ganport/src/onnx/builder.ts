/**
 * A tiny vocabulary for writing ONNX graphs, after onnx.helper:
 * makeNode / makeTensor / makeValueInfo / makeGraph / makeModel, plus typed attribute values.
 */
import { irVersionFor } from './opsets.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto.js';

export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

/** An attribute value with its ONNX type made explicit (a JS number alone cannot say int or float). */
export type AttrValue = Omit<AttributeProto, 'name'>;

export const attr = {
  float: (f: number): AttrValue => ({ type: AttrType.FLOAT, f }),
  int: (i: number): AttrValue => ({ type: AttrType.INT, i }),
  string: (s: string): AttrValue => ({ type: AttrType.STRING, s: new TextEncoder().encode(s) }),
  tensor: (t: TensorProto): AttrValue => ({ type: AttrType.TENSOR, t }),
  floats: (floats: number[]): AttrValue => ({ type: AttrType.FLOATS, floats }),
  ints: (ints: number[]): AttrValue => ({ type: AttrType.INTS, ints }),
};

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, AttrValue> = {},
  name = outputs[0],
): NodeProto {
  return {
    opType,
    input: inputs,
    output: outputs,
    name,
    attribute: Object.entries(attributes).map(([key, value]) => ({ name: key, ...value })),
  };
}

export type TensorValues = Float32Array | Int32Array | BigInt64Array | Uint16Array | Uint8Array;

/** A tensor stored as little-endian raw_data (every platform ganport runs on is little-endian). */
export function makeTensor(name: string, dataType: DataTypeCode, dims: number[], values: TensorValues): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count)
    throw new Error(`internal error: tensor ${name} has ${values.length} values for shape [${dims}]`);
  return { name, dataType, dims, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice() };
}

/** A tensor's type and shape; a string dimension is a named dynamic one (e.g. 'batch'). */
export function makeValueInfo(name: string, elemType: DataTypeCode, shape: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

export function makeGraph(
  nodes: NodeProto[],
  name: string,
  inputs: ValueInfoProto[],
  outputs: ValueInfoProto[],
  initializers: TensorProto[],
  docString?: string,
): GraphProto {
  return { name, node: nodes, input: inputs, output: outputs, initializer: initializers, docString };
}

export interface ModelOptions {
  opset: number;
  producerName: string;
  producerVersion: string;
  metadata?: Record<string, string>;
  docString?: string;
}

export function makeModel(graph: GraphProto, options: ModelOptions): ModelProto {
  return {
    irVersion: irVersionFor(options.opset),
    opsetImport: [{ domain: '', version: options.opset }],
    producerName: options.producerName,
    producerVersion: options.producerVersion,
    docString: options.docString,
    graph,
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}
