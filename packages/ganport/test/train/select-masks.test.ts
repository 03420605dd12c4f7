/**
 * ReLU's and LeakyReLU's gradient selects written as masks: random shapes and slopes, with −0, ±∞ and
 * NaN among the values, give tfjs's values bit for bit (but a NaN x in the Clip form); slopes whose mask
 * would not be exact, a Mul read elsewhere and a Where over integers stay as they are.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import fc from 'fast-check';
import { attr, DataType, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/builder.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { encodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';
import { selectsAsMasks } from '../../src/train/select-masks.js';
import type { ValueInfoSpec } from '../../src/train/value-specs.js';

interface Variant {
  dtype?: 'float32' | 'int32';
  /** More values as graph outputs. */
  extraOutputs?: string[];
  /** The slope's Mul as α · dy. */
  slopeFirst?: boolean;
  /** Where(x > 0, dy · α, dy): not LeakyReLU's gradient. */
  swapped?: boolean;
  /** The condition x > threshold (default 0). */
  threshold?: number;
  /** Only LeakyReLU's gradient, its condition read by nothing else. */
  leakyOnly?: boolean;
  /** The slope constant's shape (default: a scalar's, []). */
  slopeDims?: number[];
  /** x's shape, broadcast against dy's (default: the same). */
  xDims?: number[];
  /** The forward pass's LeakyReLU of x of this slope, its output `activated` a graph output too. */
  activation?: number;
  /** That LeakyReLU listed after the gradient (as no captured step has it). */
  activationLast?: boolean;
}

/**
 * relu = dy · Where(x > 0, 1, 0) and leaky = Where(x > 0, dy, dy · α), as tfjs's gradients write them,
 * or varied as `Variant` says.
 */
function gradients(
  dims: number[],
  alpha: number | Float32Array,
  {
    dtype = 'float32',
    extraOutputs = [],
    slopeFirst = false,
    swapped = false,
    threshold = 0,
    leakyOnly = false,
    slopeDims = [],
    xDims = dims,
    activation,
    activationLast = false,
  }: Variant = {},
) {
  const code = dtype === 'float32' ? DataType.FLOAT : DataType.INT32;
  const scalar = (name: string, v: number, dims: number[] = []) =>
    makeTensor(name, code, dims, dtype === 'float32' ? Float32Array.of(v) : Int32Array.of(v));
  const relu = [makeNode('Where', ['positive', 'one', 'zero'], ['step']), makeNode('Mul', ['dy', 'step'], ['relu'])];
  const nodes = [
    makeNode('Greater', ['x', 'threshold'], ['positive']),
    ...(leakyOnly ? [] : relu),
    makeNode('Mul', slopeFirst ? ['alpha', 'dy'] : ['dy', 'alpha'], ['sloped']),
    makeNode('Where', swapped ? ['positive', 'sloped', 'dy'] : ['positive', 'dy', 'sloped'], ['leaky']),
  ];
  if (activation !== undefined) {
    const leakyRelu = makeNode('LeakyRelu', ['x'], ['activated'], { alpha: attr.float(activation) });
    if (activationLast) nodes.push(leakyRelu);
    else nodes.unshift(leakyRelu);
  }
  const activated = activation === undefined ? [] : ['activated'];
  const outputs = [...(leakyOnly ? [] : ['relu']), 'leaky', ...activated, ...extraOutputs];
  const graph = makeGraph(
    nodes,
    'gradients',
    [makeValueInfo('x', code, xDims), makeValueInfo('dy', code, dims)],
    outputs.map((name) => makeValueInfo(name, code, dims)),
    [
      scalar('zero', 0),
      scalar('one', 1),
      scalar('threshold', threshold),
      // a Float32Array's bits go in as they are (a number would be converted, and a subnormal flushed)
      alpha instanceof Float32Array ? makeTensor('alpha', code, slopeDims, alpha) : scalar('alpha', alpha, slopeDims),
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
    ['zero', 'one', 'alpha', 'threshold'].includes(name)
      ? undefined
      : (specs[name] ?? { dtype: dtype as ValueInfoSpec['dtype'], dims });
  return { model, spec, outputs };
}

const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/** Values to draw inputs from: one list for x and dy, or one each. */
type Draws = number[] | { x: number[]; dy: number[] };

/** x (of `xDims`) and dy (of `dims`) drawn from `values`, as `seed` picks them. */
function inputs(dims: number[], values: Draws, seed: number, xDims = dims): [Float32Array, Float32Array] {
  const rng = new Rng(seed);
  const { x, dy } = Array.isArray(values) ? { x: values, dy: values } : values;
  const pick = (from: number[]) => () => from[rng.nextInt(from.length)];
  return [Float32Array.from({ length: count(xDims) }, pick(x)), Float32Array.from({ length: count(dims) }, pick(dy))];
}

/** Every output's bytes (each of `dims`), for inputs(dims, values, seed, xDims). */
function run(
  model: ModelProto,
  dims: number[],
  outputs: string[],
  values: Draws,
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
      const masked = selectsAsMasks(model, spec);
      assert.ok(masked);
      assert.ok(!ops(masked).includes('Where'));
      assert.ok(!masked.graph.node.some((n) => n.output[0] === 'sloped'), 'the unread Mul is gone');
      const clipped = a > 0 && a < 1;
      assert.equal(ops(masked).includes('Clip'), clipped, 'the Clip form for slopes between 0 and 1 only');
      const [relu, leaky] = run(masked, dims, outputs, VALUES, seed).map(floats);
      const [x, dy] = inputs(dims, VALUES, seed);
      // tfjs's step(x) · dy and where(x > 0, dy, dy · α), in float32
      const expected = {
        relu: dy.map((d, i) => Math.fround(d * (x[i] > 0 ? 1 : 0))),
        leaky: dy.map((d, i) => (x[i] > 0 ? d : Math.fround(d * a))),
      };
      assert.deepEqual(new Uint8Array(relu.buffer), new Uint8Array(expected.relu.buffer));
      // the Clip form's one exception, NaN for a NaN x, checked on its own; every other value by its bits
      const nanX = Array.from(x, (v) => clipped && Number.isNaN(v));
      const others = (values: Float32Array) => new Uint8Array(values.filter((_, i) => !nanX[i]).buffer);
      assert.deepEqual(others(leaky), others(expected.leaky));
      assert.ok(
        leaky.every((v, i) => !nanX[i] || Number.isNaN(v)),
        'a NaN x gives NaN in the Clip form',
      );
      // onnxruntime's Where differs from it only in the sign of a chosen −0
      const [, whereLeaky] = run(model, dims, outputs, VALUES, seed).map(floats);
      for (const [i, w] of whereLeaky.entries())
        if (!nanX[i]) assert.ok(Object.is(w, leaky[i]) || (w === 0 && leaky[i] === 0), `${w} against ${leaky[i]}`);
    }),
    { numRuns: 60 },
  );
});

test('LeakyReLU’s gradient alone is three passes, its condition gone; another threshold keeps the Cast form', () => {
  const dims = [5, 6];
  const alone = gradients(dims, 0.2, { leakyOnly: true });
  const clipped = selectsAsMasks(alone.model, alone.spec)!;
  assert.deepEqual(ops(clipped), ['Mul', 'Clip', 'Mul']);
  // tfjs's where(x > threshold, dy, dy · α) for `values`
  const tfjs = (values: Draws, seed: number, threshold: number) => {
    const [x, dy] = inputs(dims, values, seed);
    return new Uint8Array(dy.map((d, i) => (x[i] > threshold ? d : Math.fround(d * Math.fround(0.2)))).buffer);
  };
  const values = VALUES.filter((v) => !Number.isNaN(v));
  assert.deepEqual(run(clipped, dims, alone.outputs, values, 7)[0], tfjs(values, 7, 0));
  // the smallest normal floats either side of 0 (dy kept normal: a product flushed to 0 is another matter)
  const tiny = { x: [2 ** -126, -(2 ** -126), 3, -3], dy: [1.5, -0.5] };
  assert.deepEqual(run(clipped, dims, alone.outputs, tiny, 8)[0], tfjs(tiny, 8, 0));

  // a slope of shape [1] (the Clip form's bound is a scalar of its own)
  const shaped = gradients(dims, 0.2, { leakyOnly: true, slopeDims: [1] });
  assert.deepEqual(
    run(selectsAsMasks(shaped.model, shaped.spec)!, dims, shaped.outputs, values, 7)[0],
    tfjs(values, 7, 0),
  );

  const above = gradients(dims, 0.2, { leakyOnly: true, threshold: 0.5 });
  const cast = selectsAsMasks(above.model, above.spec)!;
  assert.deepEqual(ops(cast), ['Greater', 'Cast', 'Mul', 'Add', 'Mul']);
  assert.deepEqual(run(cast, dims, above.outputs, VALUES, 9)[0], tfjs(VALUES, 9, 0.5));
});

test('the Clip mask reads the forward LeakyReLU of x where it has a positive slope and comes first, bit for bit the same', () => {
  const dims = [6, 5];
  const values = VALUES.filter((v) => !Number.isNaN(v));
  const tiny = { x: [2 ** -126, -(2 ** -126), 3, -3], dy: [1.5, -0.5] };
  for (const [slope, activationLast] of [
    [0.2, false],
    [0.01, false],
    [3, false],
    [0, false],
    [-0.2, false],
    [0.2, true],
  ] as const) {
    const withActivation = gradients(dims, 0.2, { leakyOnly: true, activation: slope, activationLast });
    const masked = selectsAsMasks(withActivation.model, withActivation.spec)!;
    const scaled = masked.graph.node.find((n) => n.output[0].endsWith('/mask/scaled'));
    const readsActivation = slope > 0 && !activationLast;
    assert.equal(scaled?.input[0], readsActivation ? 'activated' : 'x', `slope ${slope}, last ${activationLast}`);
    // tfjs's where(x > 0, dy, dy · 0.2), bit for bit, with the activation beside it
    for (const [draws, seed] of [
      [values, 4],
      [tiny, 5],
    ] as const) {
      const [x, dy] = inputs(dims, draws, seed);
      const expected = dy.map((d, i) => (x[i] > 0 ? d : Math.fround(d * Math.fround(0.2))));
      const [leaky] = run(masked, dims, withActivation.outputs, draws, seed);
      assert.deepEqual(leaky, new Uint8Array(expected.buffer), `slope ${slope}, seed ${seed}`);
    }
  }
});

test('slopes whose mask is not exact, subnormal or −0, other selects, a Mul read elsewhere and integers stay', () => {
  // (1 − α) + α rounds to 0.99999994 in float32; a subnormal α (2^-130, by its bits: onnxruntime's sessions
  // flush subnormals in this thread, its JavaScript's conversions too) is flushed in the Mul; −0 would come out +0
  const subnormal = new Float32Array(Uint32Array.of(0x00080000).buffer);
  for (const alpha of [-0.3459094166755676, subnormal, -0]) {
    const kept = gradients([4, 3], alpha);
    const masked = selectsAsMasks(kept.model, kept.spec)!;
    assert.deepEqual(ops(masked).slice(-2), ['Mul', 'Where'], String(alpha));
    assert.deepEqual(run(masked, [4, 3], kept.outputs, VALUES, 3), run(kept.model, [4, 3], kept.outputs, VALUES, 3));
  }

  const shared = gradients([4, 3], 0.2, { extraOutputs: ['sloped'] });
  const masked = selectsAsMasks(shared.model, shared.spec)!;
  assert.ok(
    masked.graph.node.some((n) => n.output[0] === 'sloped'),
    'the Mul stays for its other reader',
  );
  assert.ok(!ops(masked).includes('Where'));

  // Where(x > 0, dy · α, dy) is not LeakyReLU's gradient; a condition broadcast against dy is left too
  // (its step, whose output has the condition's shape, is still a Cast)
  for (const variant of [{ swapped: true }, { xDims: [1, 3] }]) {
    const other = gradients([4, 3], 0.2, variant);
    const left = selectsAsMasks(other.model, other.spec)!;
    assert.deepEqual(ops(left), ['Greater', 'Cast', 'Mul', 'Mul', 'Where'], JSON.stringify(variant));
    const xDims = variant.xDims ?? [4, 3];
    assert.deepEqual(
      run(left, [4, 3], other.outputs, VALUES, 5, xDims),
      run(other.model, [4, 3], other.outputs, VALUES, 5, xDims),
    );
  }

  const integers = gradients([4, 3], 2, { dtype: 'int32' });
  assert.equal(selectsAsMasks(integers.model, integers.spec), undefined);
});
