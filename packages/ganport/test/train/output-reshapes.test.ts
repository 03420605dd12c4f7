/**
 * Outputs that Reshapes only pass on: the node before writes them, with the same values; Reshapes
 * that change a shape, that start at a graph input, or whose source is itself an output stay.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataType, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/builder.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { encodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';
import { outputsWithoutReshapes } from '../../src/train/output-reshapes.js';
import type { ValueInfoSpec } from '../../src/train/value-specs.js';

const dims: Record<string, number[]> = {
  a: [3, 4],
  b: [4, 5],
  product: [3, 5],
  flat: [15],
  same: [3, 5], // product through [15] and back: a gradient as tfjs hands it out
  kept: [5, 3], // product as another shape
  passed: [3, 4], // the input a, reshaped to its own shape
  sum: [3, 5],
  twice: [3, 5], // sum, which the output summed reads too
  summed: [3, 5],
  negated: [15], // flat, read by a node
  again: [15], // negated, an output itself, reshaped to its own shape
};
const shape = (name: string) =>
  makeTensor(`${name}/shape`, DataType.INT64, [dims[name].length], BigInt64Array.from(dims[name].map(BigInt)));
const reshape = (from: string, to: string) => makeNode('Reshape', [from, `${to}/shape`], [to]);

/** Every case in one graph, each an output. */
function graph(): ModelProto {
  const nodes = [
    makeNode('MatMul', ['a', 'b'], ['product']),
    reshape('product', 'flat'),
    reshape('flat', 'same'),
    reshape('product', 'kept'),
    reshape('a', 'passed'),
    makeNode('Add', ['product', 'product'], ['sum']),
    reshape('sum', 'twice'),
    reshape('sum', 'summed'),
    makeNode('Neg', ['flat'], ['negated'], {}),
    reshape('negated', 'again'),
  ];
  const values = (names: string[]) => names.map((name) => makeValueInfo(name, DataType.FLOAT, dims[name]));
  const outputs = values(['same', 'kept', 'passed', 'twice', 'summed', 'negated', 'again']);
  const constants = ['flat', 'same', 'kept', 'passed', 'twice', 'summed', 'again'].map(shape);
  const g = makeGraph(nodes, 'reshapes', values(['a', 'b']), outputs, constants);
  return makeModel(g, { opset: DEFAULT_OPSET, producerName: 'test', producerVersion: '0' });
}

const spec = (name: string): ValueInfoSpec | undefined =>
  dims[name] ? { dtype: 'float32', dims: dims[name] } : undefined;

function run(model: ModelProto): Float32Array[] {
  const a = Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.8);
  const b = Float32Array.from({ length: 20 }, (_, i) => 1.3 - i / 9);
  const outputs = model.graph.output.map(({ name }) => ({
    name,
    dims: dims[name],
    data: new Float32Array(dims[name].reduce((x, y) => x * y, 1)),
  }));
  const session = new OrtSession(encodeModel(model), { threads: 1 });
  try {
    session.run(
      [
        { name: 'a', data: a, dims: dims.a },
        { name: 'b', data: b, dims: dims.b },
      ],
      outputs,
    );
  } finally {
    session.dispose();
  }
  return outputs.map((o) => o.data);
}

test('an output that Reshapes only pass on is written by the node before, with the same values', () => {
  const plain = graph();
  const rewritten = outputsWithoutReshapes(plain, spec);
  assert.ok(rewritten);
  const writer = (output: string) => rewritten.graph.node.find((n) => n.output.includes(output));
  // the MatMul writes `same`; the Reshapes to [15] and back are gone, save the one a Neg still reads
  assert.equal(writer('same')?.opType, 'MatMul');
  assert.deepEqual(
    rewritten.graph.node.filter((n) => n.opType === 'Reshape').map((n) => n.output[0]),
    ['flat', 'kept', 'passed', 'summed', 'again'],
  );
  assert.deepEqual(writer('flat')?.input[0], 'same', 'what read the product reads the output');
  // a shape change stays; so do a Reshape of a graph input, which no node writes, and one of another output
  assert.equal(writer('negated')?.opType, 'Neg');
  assert.equal(writer('kept')?.opType, 'Reshape');
  assert.equal(writer('passed')?.opType, 'Reshape');
  // two outputs from one value: the first takes it over, the second stays a Reshape of it
  assert.equal(writer('twice')?.opType, 'Add');
  assert.deepEqual(writer('summed')?.input[0], 'twice');
  assert.deepEqual(run(rewritten), run(plain));
});

test('a graph without such outputs comes back undefined', () => {
  const plain = graph();
  plain.graph.output = plain.graph.output.filter((o) => o.name === 'kept' || o.name === 'passed');
  assert.equal(outputsWithoutReshapes(plain, spec), undefined);
  // nor where a shape is unknown
  const unknown = graph();
  unknown.graph.output = unknown.graph.output.filter((o) => o.name === 'same');
  assert.equal(
    outputsWithoutReshapes(unknown, (name) => (name === 'product' ? undefined : spec(name))),
    undefined,
  );
});
