/**
 * ReLU's and LeakyReLU's gradient selects written as masks: random shapes and slopes, with −0, ±∞ and
 * NaN among the values, give tfjs's values bit for bit; slopes whose mask would not be exact, a Mul
 * read elsewhere and a Where over integers stay as they are.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import fc from 'fast-check';
import { DataType, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/builder.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { encodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';
import { castSelectMasks } from '../../src/train/select-masks.js';
import type { ValueInfoSpec } from '../../src/train/value-specs.js';

interface Variant {
  dtype?: 'float32' | 'int32';
  /** More values as graph outputs. */
  extraOutputs?: string[];
  /** The slope's Mul as α · dy. */
  slopeFirst?: boolean;
  /** Where(x > 0, dy · α, dy): not LeakyReLU's gradient. */
  swapped?: boolean;
  /** x's shape, broadcast against dy's (default: the same). */
  xDims?: number[];
}

/**
 * relu = dy · Where(x > 0, 1, 0) and leaky = Where(x > 0, dy, dy · α), as tfjs's gradients write them,
 * or varied as `Variant` says.
 */
function gradients(
  dims: number[],
  alpha: number | Float32Array,
  { dtype = 'float32', extraOutputs = [], slopeFirst = false, swapped = false, xDims = dims }: Variant = {},
) {
  const code = dtype === 'float32' ? DataType.FLOAT : DataType.INT32;
  const scalar = (name: string, v: number) =>
    makeTensor(name, code, [], dtype === 'float32' ? Float32Array.of(v) : Int32Array.of(v));
  const nodes = [
    makeNode('Greater', ['x', 'zero'], ['positive']),
    makeNode('Where', ['positive', 'one', 'zero'], ['step']),
    makeNode('Mul', ['dy', 'step'], ['relu']),
    makeNode('Mul', slopeFirst ? ['alpha', 'dy'] : ['dy', 'alpha'], ['sloped']),
    makeNode('Where', swapped ? ['positive', 'sloped', 'dy'] : ['positive', 'dy', 'sloped'], ['leaky']),
  ];
  const outputs = ['relu', 'leaky', ...extraOutputs];
  const graph = makeGraph(
    nodes,
    'gradients',
    [makeValueInfo('x', code, xDims), makeValueInfo('dy', code, dims)],
    outputs.map((name) => makeValueInfo(name, code, dims)),
    [
      scalar('zero', 0),
      scalar('one', 1),
      // a Float32Array's bits go in as they are (a number would be converted, and a subnormal flushed)
      alpha instanceof Float32Array ? makeTensor('alpha', code, [], alpha) : scalar('alpha', alpha),
    ],
  );
  const model = makeModel(graph, { opset: DEFAULT_OPSET, producerName: 'test', producerVersion: '0' });
  // as valueSpecs gives them: every value's but the constants'
  const specs: Record<string, ValueInfoSpec> = {
    x: { dtype: dtype as ValueInfoSpec['dtype'], dims: xDims },
    positive: { dtype: undefined, dims: xDims },
    step: { dtype: dtype as ValueInfoSpec['dtype'], dims: xDims },
  };
  const spec = (name: string): ValueInfoSpec | undefined =>
    ['zero', 'one', 'alpha'].includes(name)
      ? undefined
      : (specs[name] ?? { dtype: dtype as ValueInfoSpec['dtype'], dims });
  return { model, spec, outputs };
}

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** x (of `xDims`) and dy (of `dims`) drawn from `values`, as `seed` picks them. */
function inputs(dims: number[], values: number[], seed: number, xDims = dims): [Float32Array, Float32Array] {
  const rng = new Rng(seed);
  const pick = () => values[rng.nextInt(values.length)];
  return [Float32Array.from({ length: count(xDims) }, pick), Float32Array.from({ length: count(dims) }, pick)];
}

/** Every output's bytes (each of `dims`), for inputs(dims, values, seed, xDims). */
function run(
  model: ModelProto,
  dims: number[],
  outputs: string[],
  values: number[],
  seed: number,
  xDims = dims,
): Uint8Array[] {
  const [x, dy] = inputs(dims, values, seed, xDims);
  const fetches = outputs.map((name) => ({ name, data: new Float32Array(dy.length), dims }));
  const session = new OrtSession(encodeModel(model), { threads: 1 });
  try {
    session.run(
      [
        { name: 'x', data: x, dims: xDims },
        { name: 'dy', data: dy, dims },
      ],
      fetches,
    );
  } finally {
    session.dispose();
  }
  return fetches.map((f) => new Uint8Array(f.data.buffer));
}

const ops = (model: ModelProto) => model.graph.node.map((n) => n.opType);
const VALUES = [-1.5, -0.5, 0.5, 1.5, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN];
const floats = (bytes: Uint8Array) => new Float32Array(bytes.buffer);

test('the gradient selects as masks give tfjs’s values bit for bit, −0, infinities and NaN included', () => {
  const shape = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 });
  const magnitude = fc.float({ min: Math.fround(1e-3), max: 2, noNaN: true });
  const slope = fc.oneof(
    fc.constantFrom(0.2, 0.01, 0.3, 0, 1),
    magnitude,
    magnitude.map((m) => -m),
  );
  fc.assert(
    fc.property(shape, slope, fc.boolean(), fc.integer({ min: 1, max: 1e6 }), (dims, alpha, slopeFirst, seed) => {
      const a = Math.fround(alpha);
      fc.pre(Math.fround(Math.fround(1 - a) + a) === 1); // the rule's own condition: the other slopes stay
      const { model, spec, outputs } = gradients(dims, alpha, { slopeFirst });
      const masked = castSelectMasks(model, spec);
      assert.ok(masked);
      assert.ok(!ops(masked).includes('Where'));
      assert.ok(!masked.graph.node.some((n) => n.output[0] === 'sloped'), 'the unread Mul is gone');
      const [relu, leaky] = run(masked, dims, outputs, VALUES, seed).map(floats);
      const [x, dy] = inputs(dims, VALUES, seed);
      // tfjs's step(x) · dy and where(x > 0, dy, dy · α), in float32
      const expected = {
        relu: dy.map((d, i) => Math.fround(d * (x[i] > 0 ? 1 : 0))),
        leaky: dy.map((d, i) => (x[i] > 0 ? d : Math.fround(d * a))),
      };
      assert.deepEqual(new Uint8Array(relu.buffer), new Uint8Array(expected.relu.buffer));
      assert.deepEqual(new Uint8Array(leaky.buffer), new Uint8Array(expected.leaky.buffer));
      // onnxruntime's Where differs from it only in the sign of a chosen −0
      const [, whereLeaky] = run(model, dims, outputs, VALUES, seed).map(floats);
      for (const [i, w] of whereLeaky.entries())
        assert.ok(Object.is(w, leaky[i]) || (w === 0 && leaky[i] === 0), `${w} against ${leaky[i]}`);
    }),
    { numRuns: 60 },
  );
});

test('slopes whose mask is not exact, subnormal or −0, other selects, a Mul read elsewhere and integers stay', () => {
  // (1 − α) + α rounds to 0.99999994 in float32; a subnormal α (2^-130, by its bits: onnxruntime's sessions
  // flush subnormals in this thread, its JavaScript's conversions too) is flushed in the Mul; −0 would come out +0
  const subnormal = new Float32Array(Uint32Array.of(0x00080000).buffer);
  for (const alpha of [-0.3459094166755676, subnormal, -0]) {
    const kept = gradients([4, 3], alpha);
    const masked = castSelectMasks(kept.model, kept.spec)!;
    assert.deepEqual(ops(masked).slice(-2), ['Mul', 'Where'], String(alpha));
    assert.deepEqual(run(masked, [4, 3], kept.outputs, VALUES, 3), run(kept.model, [4, 3], kept.outputs, VALUES, 3));
  }

  const shared = gradients([4, 3], 0.2, { extraOutputs: ['sloped'] });
  const masked = castSelectMasks(shared.model, shared.spec)!;
  assert.ok(
    masked.graph.node.some((n) => n.output[0] === 'sloped'),
    'the Mul stays for its other reader',
  );
  assert.ok(!ops(masked).includes('Where'));

  // Where(x > 0, dy · α, dy) is not LeakyReLU's gradient; a condition broadcast against dy is left too
  // (its step, whose output has the condition's shape, is still a Cast)
  for (const variant of [{ swapped: true }, { xDims: [1, 3] }]) {
    const other = gradients([4, 3], 0.2, variant);
    const left = castSelectMasks(other.model, other.spec)!;
    assert.deepEqual(ops(left), ['Greater', 'Cast', 'Mul', 'Mul', 'Where'], JSON.stringify(variant));
    const xDims = variant.xDims ?? [4, 3];
    assert.deepEqual(
      run(left, [4, 3], other.outputs, VALUES, 5, xDims),
      run(other.model, [4, 3], other.outputs, VALUES, 5, xDims),
    );
  }

  const integers = gradients([4, 3], 2, { dtype: 'int32' });
  assert.equal(castSelectMasks(integers.model, integers.spec), undefined);
});
