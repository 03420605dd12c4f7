/**
 * Flattens into dense layers in channels-first order: for random image and layer sizes, a graph shaped
 * as the captured discriminator's (NCHW → NHWC → Reshapes → x·W and xᵀ·dy; dz·Wᵀ → Reshapes → NHWC →
 * NCHW) loses its batch transposes and keeps its outputs within float error; a flatten read by anything
 * else stays as it is.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import fc from 'fast-check';
import { attr, DataType, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/builder.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { encodeModel, type ModelProto, type NodeProto } from '../../src/onnx/proto.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';
import { flattenInChannelOrder } from '../../src/train/flatten-order.js';
import type { ValueInfoSpec } from '../../src/train/value-specs.js';
import { PROPERTY_RUNS } from '../helpers.js';

interface Sizes {
  n: number;
  c: number;
  h: number;
  w: number;
  units: number;
}

interface Variant {
  /** The NHWC value is also read by a Mul (so the forward flatten must stay). */
  nhwcReadElsewhere?: boolean;
  /** The input gradient's flat product is also a graph output (so the backward one must stay). */
  flatGradientOut?: boolean;
}

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

function denseGraph({ n, c, h, w, units }: Sizes, variant: Variant = {}) {
  const f = h * w * c;
  const values: Record<string, number[]> = {
    x: [n, c, h, w],
    weight: [f, units],
    bias: [units],
    dy: [n, units],
    dz: [n, units],
    nhwc: [n, h, w, c],
    flat: [n, f],
    batched: [1, n, f],
    rows: [n, f],
    y: [n, units],
    dWeight: [f, units],
    gradFlat: [n, f],
    gradBatched: [1, n, f],
    gradImage: [n, h, w, c],
    dx: [n, c, h, w],
    twice: [n, h, w, c],
  };
  const shape = (name: string, dims: number[]) =>
    makeTensor(name, DataType.INT64, [dims.length], BigInt64Array.from(dims.map(BigInt)));
  const nodes: NodeProto[] = [
    makeNode('Transpose', ['x'], ['nhwc'], { perm: attr.ints([0, 2, 3, 1]) }),
    makeNode('Reshape', ['nhwc', 'flatShape'], ['flat']),
    makeNode('Reshape', ['flat', 'batchedShape'], ['batched']),
    makeNode('Reshape', ['batched', 'flatShape'], ['rows']),
    makeNode('Gemm', ['rows', 'weight', 'bias'], ['y']),
    makeNode('Gemm', ['rows', 'dy'], ['dWeight'], { transA: attr.int(1) }),
    makeNode('Gemm', ['dz', 'weight'], ['gradFlat'], { transB: attr.int(1) }),
    makeNode('Reshape', ['gradFlat', 'batchedShape'], ['gradBatched']),
    makeNode('Reshape', ['gradBatched', 'imageShape'], ['gradImage']),
    makeNode('Transpose', ['gradImage'], ['dx'], { perm: attr.ints([0, 3, 1, 2]) }),
  ];
  const outputs = ['y', 'dWeight', 'dx'];
  if (variant.nhwcReadElsewhere) {
    nodes.push(makeNode('Mul', ['nhwc', 'nhwc'], ['twice']));
    outputs.push('twice');
  }
  if (variant.flatGradientOut) outputs.push('gradFlat');
  const inputs = ['x', 'weight', 'bias', 'dy', 'dz'];
  const graph = makeGraph(
    nodes,
    'dense',
    inputs.map((name) => makeValueInfo(name, DataType.FLOAT, values[name])),
    outputs.map((name) => makeValueInfo(name, DataType.FLOAT, values[name])),
    [shape('flatShape', [n, f]), shape('batchedShape', [1, n, f]), shape('imageShape', [n, h, w, c])],
  );
  const model = makeModel(graph, { opset: DEFAULT_OPSET, producerName: 'test', producerVersion: '0' });
  const spec = (name: string): ValueInfoSpec | undefined =>
    values[name] ? { dtype: 'float32', dims: values[name] } : undefined;
  return { model, spec, values, inputs, outputs };
}

function run(model: ModelProto, g: ReturnType<typeof denseGraph>, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  const feeds = g.inputs.map((name) => ({
    name,
    data: Float32Array.from({ length: count(g.values[name]) }, () => rng.nextNormal()),
    dims: g.values[name],
  }));
  const fetches = g.outputs.map((name) => ({
    name,
    data: new Float32Array(count(g.values[name])),
    dims: g.values[name],
  }));
  const session = new OrtSession(encodeModel(model), { threads: 1 });
  try {
    session.run(feeds, fetches);
  } finally {
    session.dispose();
  }
  return fetches.map((f) => f.data);
}

/** The Transposes of a whole batch left in `model` (the weight's own are smaller). */
const batchTransposes = (model: ModelProto) =>
  model.graph.node.filter((node) => node.opType === 'Transpose' && ['nhwc', 'dx'].includes(node.output[0]));

const sizes = fc.record({
  n: fc.integer({ min: 1, max: 4 }),
  c: fc.integer({ min: 1, max: 5 }),
  h: fc.integer({ min: 1, max: 4 }),
  w: fc.integer({ min: 1, max: 4 }),
  units: fc.integer({ min: 1, max: 3 }),
});

test('a flatten into a dense layer and its input gradient lose their batch transposes, within float error', () => {
  fc.assert(
    fc.property(sizes, fc.integer({ min: 1, max: 1e6 }), (s, seed) => {
      const g = denseGraph(s);
      const rewritten = flattenInChannelOrder(g.model, g.spec);
      assert.ok(rewritten);
      assert.deepEqual(batchTransposes(rewritten), []);
      const expected = run(g.model, g, seed);
      const actual = run(rewritten, g, seed);
      // each value a sum of h·w·c products (or n, for the weight's gradient) of normal values
      const bound = 1e-5 * Math.max(s.h * s.w * s.c, s.n);
      for (const [k, name] of g.outputs.entries())
        for (const [i, v] of expected[k].entries())
          assert.ok(Math.abs(actual[k][i] - v) <= bound, `${name}[${i}]: ${actual[k][i]} against ${v}`);
    }),
    { ...PROPERTY_RUNS, numRuns: 60 },
  );
});

test('a flatten read by anything else, or an input gradient whose flat product is read elsewhere, stays', () => {
  const s = { n: 2, c: 3, h: 2, w: 2, units: 2 };
  /** The batch transposes left, or undefined where the rule took nothing. */
  const left = (variant: Variant) => {
    const g = denseGraph(s, variant);
    const rewritten = flattenInChannelOrder(g.model, g.spec);
    return rewritten && batchTransposes(rewritten).map((node) => node.output[0]);
  };
  assert.deepEqual(left({ nhwcReadElsewhere: true }), ['nhwc'], 'the input gradient still goes');
  assert.deepEqual(left({ flatGradientOut: true }), ['dx'], 'the flatten still goes');
  assert.equal(left({ nhwcReadElsewhere: true, flatGradientOut: true }), undefined);
});
