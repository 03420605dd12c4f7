/**
 * Spreading short inner broadcasts: elementwise ops of random shapes, with the repeated input on
 * either side, give onnxruntime's outputs bit for bit; a maxout gradient spreads each repeated value
 * once; the rule leaves alone what it measured no faster and what it cannot spread.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import fc from 'fast-check';
import { attr, DataType, makeGraph, makeModel, makeNode, makeValueInfo } from '../../src/onnx/builder.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { encodeModel, type ModelProto, type NodeProto } from '../../src/onnx/proto.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';
import { expandInnerBroadcasts, MAX_SPAN, MIN_SPANS } from '../../src/train/inner-broadcasts.js';
import type { ValueInfoSpec } from '../../src/train/value-specs.js';

type Dtype = 'float32' | 'int32' | 'bool';
const CODES = { float32: DataType.FLOAT, int32: DataType.INT32, bool: DataType.BOOL };
const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

interface Graph {
  nodes: NodeProto[];
  inputs: Record<string, ValueInfoSpec>;
  /** Every value's spec, the inputs' included (as valueSpecs gives them). */
  values: Record<string, ValueInfoSpec>;
  outputs: string[];
}

const spec = (dtype: Dtype, dims: number[]): ValueInfoSpec => ({ dtype: dtype === 'bool' ? undefined : dtype, dims });
const dtypeOf = (s: ValueInfoSpec): Dtype =>
  s.dtype === 'int32' ? 'int32' : s.dtype === 'float32' ? 'float32' : 'bool';

function model({ nodes, inputs, values, outputs }: Graph): ModelProto {
  const info = (name: string, s: ValueInfoSpec) => makeValueInfo(name, CODES[dtypeOf(s)], s.dims);
  const graph = makeGraph(
    nodes,
    'case',
    Object.entries(inputs).map(([name, s]) => info(name, s)),
    outputs.map((name) => info(name, values[name])),
    [],
  );
  return makeModel(graph, { opset: DEFAULT_OPSET, producerName: 'test', producerVersion: '0' });
}

/** Every output's bytes. */
function run(m: ModelProto, g: Graph, seed: number): Uint8Array[] {
  const rng = new Rng(seed);
  const next = () => rng.nextUniform();
  const array = (s: ValueInfoSpec, fill: () => number) => {
    const n = count(s.dims);
    const kind = dtypeOf(s);
    return kind === 'float32'
      ? Float32Array.from({ length: n }, fill)
      : kind === 'int32'
        ? Int32Array.from({ length: n }, fill)
        : Uint8Array.from({ length: n }, fill);
  };
  // few distinct values, so that Equal and the comparisons see ties, and the ones whose bits a spread
  // could change: −0 (a MatMul by ones makes it +0, and 1/−0 is −∞), infinities, NaN
  const floats = [-1.5, -0.5, 0.5, 1.5, -0, 0, Infinity, -Infinity, Number.NaN];
  const feeds = Object.entries(g.inputs).map(([name, s]) => ({
    name,
    data: array(s, () =>
      dtypeOf(s) === 'float32' ? floats[Math.floor(next() * floats.length)] : Math.floor(next() * 4),
    ),
    dims: s.dims,
  }));
  const outputs = g.outputs.map((name) => ({ name, data: array(g.values[name], () => 0), dims: g.values[name].dims }));
  const session = new OrtSession(encodeModel(m), { threads: 1 });
  try {
    session.run(feeds, outputs);
  } finally {
    session.dispose();
  }
  return outputs.map((o) => new Uint8Array(o.data.buffer));
}

const lookup = (g: Graph) => (name: string) => g.values[name];
const spreads = (m: ModelProto) => m.graph.node.filter((n) => n.opType === 'Concat').length;

const BINARY = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Equal', 'Greater', 'Less', 'LessOrEqual'];
const COMPARISONS = new Set(['Equal', 'Greater', 'Less', 'LessOrEqual']);

interface Case {
  op: string;
  leading: number[];
  span: number;
  order: 'repeated first' | 'repeated last' | 'both repeated';
  shorterRank: boolean;
}

/** One op over a full input and a repeated one ([…, 1] against […, k]), in either order or both repeated. */
const caseArbitrary: fc.Arbitrary<Case> = fc.record({
  op: fc.constantFrom(...BINARY, 'Where'),
  // up to 3 leading axes, 1024–4096 spans in all
  leading: fc
    .tuple(
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: MIN_SPANS, max: 2 * MIN_SPANS }),
    )
    .map(([a, b, c]) => (a === 1 ? [b, c] : [a, b, c])),
  span: fc.integer({ min: 2, max: MAX_SPAN }),
  order: fc.constantFrom('repeated first', 'repeated last', 'both repeated'),
  shorterRank: fc.boolean(),
});

function binaryCase({ op, leading, span, order, shorterRank }: Case): Graph {
  const full = [...leading, span];
  // a repeated input may drop leading 1s (numpy broadcasting reads it with them)
  const repeated = shorterRank && leading[0] === 1 ? [...leading.slice(1), 1] : [...leading, 1];
  // Where's repeated input is r: its a and b stay whole
  const repeats = (which: string) => op !== 'Where' && order === which;
  const inputs: Record<string, ValueInfoSpec> = {
    a: spec('float32', repeats('repeated first') ? repeated : full),
    b: spec('float32', repeats('repeated last') ? repeated : full),
    r: spec('float32', repeated),
  };
  const out = spec(COMPARISONS.has(op) ? 'bool' : 'float32', full);
  const nodes =
    op === 'Where'
      ? [makeNode('Greater', ['b', 'a'], ['c']), makeNode('Where', ['c', 'r', 'a'], ['y'])]
      : order === 'both repeated'
        ? [makeNode(op, ['r', 'a'], ['y']), makeNode(op, ['b', 'r'], ['z'])]
        : [makeNode(op, ['a', 'b'], ['y'])];
  if (op !== 'Where' && order === 'both repeated') {
    return { nodes, inputs, values: { ...inputs, y: out, z: out }, outputs: ['y', 'z'] };
  }
  return { nodes, inputs, values: { ...inputs, c: spec('bool', full), y: out }, outputs: ['y'] };
}

test('elementwise ops with an input repeated along a short last axis give the same bytes spread out', () => {
  fc.assert(
    fc.property(caseArbitrary, fc.integer({ min: 1, max: 1e6 }), (c, seed) => {
      const g = binaryCase(c);
      const original = model(g);
      const rewritten = expandInnerBroadcasts(original, lookup(g));
      assert.ok(rewritten, `${c.op} ${JSON.stringify(c)}: not rewritten`);
      // one spread per repeated value: Where's r, else a or b, or r once for its two readers
      assert.equal(spreads(rewritten), 1);
      assert.deepEqual(run(rewritten, g, seed), run(original, g, seed));
    }),
    { numRuns: 40 },
  );
});

test("a maxout layer's gradient (tfjs's Max gradient: dy · (x == max)) spreads max and dy once each", () => {
  const [rows, units, pieces] = [100, 200, 5];
  const x = spec('float32', [rows, units * pieces]);
  const g: Graph = {
    nodes: [
      makeNode('Constant', [], ['shape'], {
        value: attr.tensor({ name: 'shape', dataType: DataType.INT64, dims: [3], int64Data: [rows, units, pieces] }),
      }),
      makeNode('Reshape', ['x', 'shape'], ['pieces']),
      makeNode('ReduceMax', ['pieces'], ['max'], { axes: attr.ints([2]), keepdims: attr.int(1) }),
      makeNode('Equal', ['pieces', 'max'], ['argmax']),
      makeNode('Cast', ['argmax'], ['mask'], { to: attr.int(DataType.FLOAT) }),
      makeNode('Mul', ['dy', 'mask'], ['dx']),
      makeNode('Sub', ['pieces', 'max'], ['below']),
    ],
    inputs: { x, dy: spec('float32', [rows, units, 1]) },
    values: {
      x,
      dy: spec('float32', [rows, units, 1]),
      shape: { dtype: 'int64', dims: [3] },
      pieces: spec('float32', [rows, units, pieces]),
      max: spec('float32', [rows, units, 1]),
      argmax: spec('bool', [rows, units, pieces]),
      mask: spec('float32', [rows, units, pieces]),
      dx: spec('float32', [rows, units, pieces]),
      below: spec('float32', [rows, units, pieces]),
    },
    outputs: ['dx', 'below'],
  };
  const original = model(g);
  const rewritten = expandInnerBroadcasts(original, lookup(g));
  assert.ok(rewritten);
  assert.equal(spreads(rewritten), 2, 'max (read by Equal and Sub) and dy');
  const reads = (op: string) => rewritten.graph.node.find((n) => n.opType === op)?.input;
  assert.deepEqual(reads('Equal'), ['pieces', 'max/spread_100x200x5']);
  assert.deepEqual(reads('Sub'), ['pieces', 'max/spread_100x200x5']);
  assert.deepEqual(run(rewritten, g, 3), run(original, g, 3));
});

test('the rule leaves alone long spans, few spans, int inputs and broadcasts that are not only inner', () => {
  const untouched = (a: ValueInfoSpec, b: ValueInfoSpec, out: ValueInfoSpec, op = 'Mul') => {
    const g: Graph = {
      nodes: [makeNode(op, ['a', 'b'], ['y'])],
      inputs: { a, b },
      values: { a, b, y: out },
      outputs: ['y'],
    };
    return expandInnerBroadcasts(model(g), lookup(g));
  };
  const [rows, k] = [2 * MIN_SPANS, 5];
  const full = spec('float32', [rows, k]);
  // the case the others vary: rewritten
  assert.ok(untouched(spec('float32', [rows, 1]), full, full));
  assert.equal(
    untouched(spec('float32', [rows, 1]), spec('float32', [rows, MAX_SPAN + 1]), spec('float32', [rows, MAX_SPAN + 1])),
    undefined,
  );
  assert.equal(
    untouched(
      spec('float32', [MIN_SPANS - 1, 1]),
      spec('float32', [MIN_SPANS - 1, k]),
      spec('float32', [MIN_SPANS - 1, k]),
    ),
    undefined,
  );
  assert.equal(untouched(spec('int32', [rows, 1]), spec('int32', [rows, k]), spec('int32', [rows, k])), undefined);
  // a middle axis repeated as well ([rows, 1, 1] against [rows, 4, k]), and both inputs repeated
  const middle = spec('float32', [rows, 4, k]);
  assert.equal(untouched(spec('float32', [rows, 1, 1]), middle, middle), undefined);
  assert.equal(untouched(spec('float32', [rows, 1]), spec('float32', [1, k]), full), undefined);
  // a single value beside the repeated input (Where's other branch a scalar) is no broadcast to keep
  const bool = spec('bool', [rows, k]);
  const scalar = spec('float32', []);
  const where: Graph = {
    nodes: [makeNode('Where', ['c', 'r', 's'], ['y'])],
    inputs: { c: bool, r: spec('float32', [rows, 1]), s: scalar },
    values: { c: bool, r: spec('float32', [rows, 1]), s: scalar, y: full },
    outputs: ['y'],
  };
  const spreadWhere = expandInnerBroadcasts(model(where), lookup(where));
  assert.ok(spreadWhere);
  assert.deepEqual(run(spreadWhere, where, 5), run(model(where), where, 5));
  // an op outside onnxruntime's broadcast helper, and one whose broadcast paths disagree on NaN and ±0
  assert.equal(untouched(spec('float32', [rows, 1]), full, full, 'PRelu'), undefined);
  assert.equal(untouched(spec('float32', [rows, 1]), full, full, 'Max'), undefined);
});
