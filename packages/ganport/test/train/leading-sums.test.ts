/**
 * Sums and means over leading axes as vector–matrix products: for random shapes, axes (negative ones,
 * attributes and inputs), keepdims and size-1 axes, the rule rewrites exactly the reductions whose
 * reduced axes come first and leave two or more values each side, and the products give the sums
 * within float error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import fc from 'fast-check';
import { attr, DataType, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/builder.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { encodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';
import { leadingSumsAsProducts } from '../../src/train/leading-sums.js';
import type { ValueInfoSpec } from '../../src/train/value-specs.js';
import { PROPERTY_RUNS } from '../helpers.js';

interface Reduction {
  op: 'ReduceSum' | 'ReduceMean';
  dims: number[];
  axes: number[];
  keepdims: boolean;
  dtype?: 'float32' | 'int32';
}

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const positive = (axes: number[], rank: number) => new Set(axes.map((a) => (a < 0 ? a + rank : a)));

function outputDims({ dims, axes, keepdims }: Reduction): number[] {
  const reduced = positive(axes, dims.length);
  return dims.flatMap((d, i) => (reduced.has(i) ? (keepdims ? [1] : []) : [d]));
}

/** One reduction as a graph: ReduceMean names its axes in an attribute (opset 17), ReduceSum in an input. */
function reductionGraph(r: Reduction): { model: ModelProto; spec: (name: string) => ValueInfoSpec | undefined } {
  const code = r.dtype === 'int32' ? DataType.INT32 : DataType.FLOAT;
  const keepdims = attr.int(r.keepdims ? 1 : 0);
  const node =
    r.op === 'ReduceMean'
      ? makeNode('ReduceMean', ['x'], ['y'], { axes: attr.ints(r.axes), keepdims })
      : makeNode('ReduceSum', ['x', 'axes'], ['y'], { keepdims });
  const axes = makeTensor('axes', DataType.INT64, [r.axes.length], BigInt64Array.from(r.axes.map(BigInt)));
  const graph = makeGraph(
    [node],
    'reduction',
    [makeValueInfo('x', code, r.dims)],
    [makeValueInfo('y', code, outputDims(r))],
    r.op === 'ReduceSum' ? [axes] : [],
  );
  const model = makeModel(graph, { opset: DEFAULT_OPSET, producerName: 'test', producerVersion: '0' });
  const dtype = r.dtype ?? 'float32';
  const specs: Record<string, ValueInfoSpec> = { x: { dtype, dims: r.dims }, y: { dtype, dims: outputDims(r) } };
  return { model, spec: (name) => specs[name] };
}

/** Whether the rule should take `r`: reduced axes before kept ones (size-1 axes aside), two values or more each side. */
function qualifies(r: Reduction): boolean {
  const reduced = positive(r.axes, r.dims.length);
  const order = r.dims.flatMap((d, i) => (d > 1 ? [reduced.has(i)] : []));
  const rows = count(r.dims.filter((_, i) => reduced.has(i)));
  const columns = count(r.dims.filter((_, i) => !reduced.has(i)));
  const firstKept = order.indexOf(false);
  const leading = firstKept === -1 || !order.slice(firstKept).includes(true);
  return (r.dtype ?? 'float32') === 'float32' && leading && rows >= 2 && columns >= 2;
}

function run(model: ModelProto, r: Reduction, x: Float32Array): Float32Array {
  const y = { name: 'y', data: new Float32Array(count(outputDims(r))), dims: outputDims(r) };
  const session = new OrtSession(encodeModel(model), { threads: 1 });
  try {
    session.run([{ name: 'x', data: x, dims: r.dims }], [y]);
  } finally {
    session.dispose();
  }
  return y.data;
}

const reduction = fc
  .record({
    op: fc.constantFrom('ReduceSum' as const, 'ReduceMean' as const),
    dims: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }),
    keepdims: fc.boolean(),
    picks: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    negative: fc.boolean(),
  })
  .map(({ op, dims, keepdims, picks, negative }) => {
    const axes = dims.flatMap((_, i) => (picks[i] ? [negative ? i - dims.length : i] : []));
    return { op, dims, keepdims, axes };
  })
  .filter((r) => r.axes.length > 0);

const RUNS = 300;

test('sums and means over leading axes become vector–matrix products, within float error; the others stay', () => {
  let rewritten = 0;
  fc.assert(
    fc.property(reduction, fc.integer({ min: 1, max: 1e6 }), (r, seed) => {
      const { model, spec } = reductionGraph(r);
      const products = leadingSumsAsProducts(model, spec);
      assert.equal(products !== undefined, qualifies(r), `rewritten: ${JSON.stringify(r)}`);
      if (!products) return;
      rewritten++;
      assert.deepEqual(
        products.graph.node.map((n) => n.opType),
        ['Reshape', 'Gemm', 'Reshape'],
      );
      const rng = new Rng(seed);
      const x = Float32Array.from({ length: count(r.dims) }, () => rng.nextNormal());
      const expected = run(model, r, x);
      const actual = run(products, r, x);
      // each sum within a few roundings of its terms' size
      const bound = 8 * 2 ** -24 * x.reduce((s, v) => s + Math.abs(v), 0);
      for (const [i, value] of actual.entries())
        assert.ok(Math.abs(value - expected[i]) <= bound, `y[${i}]: ${value} against ${expected[i]}`);
    }),
    { ...PROPERTY_RUNS, numRuns: RUNS },
  );
  assert.ok(rewritten > RUNS / 10, `only ${rewritten} of the drawn reductions qualified`);
});

test('a batch-norm mean over [400, 400] and a bias gradient over [1, 64, 512] take the rule; others do not', () => {
  const cases: [Reduction, boolean][] = [
    [{ op: 'ReduceMean', dims: [400, 400], axes: [0], keepdims: false }, true],
    [{ op: 'ReduceSum', dims: [1, 64, 512], axes: [0, 1], keepdims: false }, true],
    [{ op: 'ReduceSum', dims: [64, 32, 14, 14], axes: [0, 2, 3], keepdims: false }, false], // per channel
    [{ op: 'ReduceSum', dims: [64, 1], axes: [0, 1], keepdims: false }, false], // one column: a dot product
    [{ op: 'ReduceSum', dims: [64, 512], axes: [0], keepdims: false, dtype: 'int32' }, false],
  ];
  for (const [r, taken] of cases) {
    const { model, spec } = reductionGraph(r);
    assert.equal(leadingSumsAsProducts(model, spec) !== undefined, taken, JSON.stringify(r));
  }
  // a mean's vector holds 1/R: the values, not just the shape
  const r: Reduction = { op: 'ReduceMean', dims: [4, 3], axes: [0], keepdims: true };
  const { model, spec } = reductionGraph(r);
  const products = leadingSumsAsProducts(model, spec);
  assert.ok(products);
  const x = Float32Array.from({ length: 12 }, (_, i) => i);
  assert.deepEqual(Array.from(run(products, r, x)), [4.5, 5.5, 6.5]);
});
