/** The CPU rewrites' tests' graphs: a float graph of a few nodes, and a model's outputs on seeded uniform inputs. */
import { Rng } from '@ganport/runtime';
import { DataType, makeGraph, makeModel, makeValueInfo } from '../../src/onnx/builder.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { encodeModel, type ModelProto, type NodeProto } from '../../src/onnx/proto.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';

export const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** A float graph of `nodes` with the named inputs and outputs (their shapes). */
export function floatModel(
  nodes: NodeProto[],
  name: string,
  inputs: Record<string, number[]>,
  outputs: Record<string, number[]>,
  opset = DEFAULT_OPSET,
): ModelProto {
  const values = (named: Record<string, number[]>) =>
    Object.entries(named).map(([value, dims]) => makeValueInfo(value, DataType.FLOAT, dims));
  const graph = makeGraph(nodes, name, values(inputs), values(outputs), []);
  return makeModel(graph, { opset, producerName: 'test', producerVersion: '0' });
}

/** `m`'s `outputs` on uniform inputs from `seed`, drawn in the order of `inputs`, on `threads` threads. */
export function runOutputs(
  m: ModelProto,
  inputs: Record<string, number[]>,
  outputs: Record<string, number[]>,
  seed: number,
  threads = 1,
) {
  const rng = new Rng(seed);
  const feeds = Object.entries(inputs).map(([name, dims]) => ({
    name,
    dims,
    data: Float32Array.from({ length: count(dims) }, () => rng.nextUniform() - 0.5),
  }));
  const fetches = Object.entries(outputs).map(([name, dims]) => ({ name, dims, data: new Float32Array(count(dims)) }));
  const session = new OrtSession(encodeModel(m), { threads });
  try {
    session.run(feeds, fetches);
  } finally {
    session.dispose();
  }
  return fetches;
}
