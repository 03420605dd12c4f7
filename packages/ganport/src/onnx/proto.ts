/**
 * The ONNX protobuf messages, loaded by protobufjs from onnx.proto beside this file.
 * The TypeScript interfaces mirror the message fields ganport uses (camelCase,
 * as protobufjs presents them).
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../util/files.js';

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int64Data?: (number | protobuf.Long)[];
  int32Data?: number[];
  docString?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number | protobuf.Long;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: (number | protobuf.Long)[];
  strings?: Uint8Array[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain?: string;
  attribute: AttributeProto[];
  docString?: string;
}

export interface ValueInfoProto {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: ({ dimValue: number } | { dimParam: string })[] } } };
  docString?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  docString?: string;
}

export interface ModelProto {
  irVersion: number | protobuf.Long;
  opsetImport: { domain: string; version: number | protobuf.Long }[];
  producerName: string;
  producerVersion: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProto;
  metadataProps: { key: string; value: string }[];
}

let modelType: protobuf.Type | undefined;

export function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.loadSync(join(packageRoot(), 'src', 'onnx', 'onnx.proto')).lookupType('onnx.ModelProto');
  return modelType;
}

export function encodeModel(model: ModelProto): Uint8Array {
  const type = onnxModelType();
  const problem = type.verify(model);
  if (problem) throw new Error(`internal error: the ONNX model does not match onnx.proto: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Decodes ONNX bytes into plain objects (int64 as numbers, bytes as Uint8Array). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const type = onnxModelType();
  return type.toObject(type.decode(bytes), { longs: Number, arrays: true, defaults: false }) as ModelProto;
}
