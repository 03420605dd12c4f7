/**
 * Transposed convolutions as a batch's MatMul and a Col2Im: for random geometries (channels, sizes,
 * rectangular kernels, strides, dilations, asymmetric padding, a bias or none) the rewrite gives
 * onnxruntime's ConvTranspose outputs bit for bit; it leaves alone what Col2Im does not express and
 * graphs older than its opset; a filter read twice is laid out once; a captured tfjs step comes back
 * with Col2Im from the CPU rewrites.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { type AttrValue, attr, makeNode } from '../../src/onnx/builder.js';
import { DEFAULT_OPSET, STEP_OPSET } from '../../src/onnx/opsets.js';
import { decodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { captureGraph } from '../../src/tfjs/capture.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';
import { transposedConvolutionsAsCol2Im } from '../../src/train/col2im.js';
import { forCpuKernels } from '../../src/train/cpu-rewrites.js';
import { PROPERTY_RUNS } from '../helpers.js';
import { floatModel, runOutputs } from './graph-runs.js';

interface Case {
  x: number[];
  w: number[];
  y: number[];
  bias: boolean;
  attributes: Record<string, AttrValue>;
}

const inputsOf = (c: Case) => ({ x: c.x, w: c.w, ...(c.bias ? { b: [c.w[1]] } : {}) });
const caseModel = (c: Case, opset?: number) =>
  floatModel(
    [makeNode('ConvTranspose', Object.keys(inputsOf(c)), ['y'], c.attributes)],
    'case',
    inputsOf(c),
    { y: c.y },
    opset ?? STEP_OPSET,
  );
const specOf = (named: Record<string, number[]>) => (name: string) =>
  named[name] && { dtype: 'float32' as const, dims: named[name] };

/** `m`'s outputs on uniform inputs from `seed`, on two threads (the engine's usual). */
const run = (m: ModelProto, inputs: Record<string, number[]>, outputs: Record<string, number[]>, seed: number) =>
  runOutputs(m, inputs, outputs, seed, 2).map((f) => f.data);

const opTypes = (m: ModelProto) => m.graph.node.map((n) => n.opType);

const transposeCase = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    ci: fc.integer({ min: 1, max: 6 }),
    co: fc.integer({ min: 1, max: 4 }),
    h: fc.integer({ min: 1, max: 7 }),
    w: fc.integer({ min: 1, max: 7 }),
    kernel: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    strides: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    dilations: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    pads: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
    bias: fc.boolean(),
  })
  .map(({ n, ci, co, h, w, kernel, strides, dilations, pads, bias }): Case => {
    const extent = (axis: number) => dilations[axis] * (kernel[axis] - 1) + 1;
    const p = pads.map((v, i) => v % extent(i % 2));
    const out = (axis: number, size: number) => strides[axis] * (size - 1) + extent(axis) - p[axis] - p[axis + 2];
    return {
      x: [n, ci, h, w],
      w: [ci, co, ...kernel],
      y: [n, co, out(0, h), out(1, w)],
      bias,
      attributes: { strides: attr.ints(strides), dilations: attr.ints(dilations), pads: attr.ints(p) },
    };
  })
  .filter((c) => c.y[2] > 0 && c.y[3] > 0);

test('a transposed convolution as MatMul and Col2Im gives onnxruntime’s ConvTranspose outputs bit for bit', () => {
  fc.assert(
    fc.property(transposeCase, fc.integer({ min: 1, max: 1e6 }), (c, seed) => {
      const rewritten = transposedConvolutionsAsCol2Im(caseModel(c), specOf({ ...inputsOf(c), y: c.y }));
      assert.ok(rewritten);
      const ops = opTypes(rewritten);
      assert.ok(!ops.includes('ConvTranspose') && ops.includes('MatMul') && ops.includes('Col2Im'), ops.join());
      const [expected] = run(caseModel(c), inputsOf(c), { y: c.y }, seed);
      const [actual] = run(rewritten, inputsOf(c), { y: c.y }, seed);
      assert.deepEqual(actual, expected, JSON.stringify(c));
    }),
    PROPERTY_RUNS,
  );
});

test('the dcgan’s transposed convolutions to one channel, at batch 64, as MatMul and Col2Im: bit for bit', () => {
  const stride2 = { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) };
  for (const c of [
    { x: [64, 32, 14, 14], w: [32, 1, 4, 4], y: [64, 1, 28, 28], bias: true, attributes: stride2 },
    { x: [64, 32, 14, 14], w: [32, 1, 4, 4], y: [64, 1, 28, 28], bias: false, attributes: stride2 },
  ]) {
    const rewritten = transposedConvolutionsAsCol2Im(caseModel(c), specOf({ ...inputsOf(c), y: c.y }));
    assert.ok(rewritten);
    assert.deepEqual(run(rewritten, inputsOf(c), { y: c.y }, 3), run(caseModel(c), inputsOf(c), { y: c.y }, 3));
  }
});

test('left alone: groups, output padding or shape, auto_pad, graphs older than Col2Im', () => {
  const base: Case = {
    x: [2, 4, 5, 5],
    w: [4, 2, 3, 3],
    y: [2, 2, 11, 11],
    bias: false,
    attributes: { strides: attr.ints([2, 2]) },
  };
  const refused = (c: Case, opset?: number) =>
    transposedConvolutionsAsCol2Im(caseModel(c, opset), specOf({ ...inputsOf(c), y: c.y }));
  assert.ok(refused(base), 'the base case is rewritten');
  assert.equal(
    refused({ ...base, w: [4, 1, 3, 3], y: [2, 2, 11, 11], attributes: { ...base.attributes, group: attr.int(2) } }),
    undefined,
  );
  assert.equal(
    refused({ ...base, y: [2, 2, 12, 12], attributes: { ...base.attributes, output_padding: attr.ints([1, 1]) } }),
    undefined,
  );
  assert.equal(refused({ ...base, attributes: { ...base.attributes, output_shape: attr.ints([11, 11]) } }), undefined);
  assert.equal(
    refused({ ...base, y: [2, 2, 10, 10], attributes: { ...base.attributes, auto_pad: attr.string('SAME_UPPER') } }),
    undefined,
  );
  assert.equal(refused(base, DEFAULT_OPSET), undefined);
  // explicit NOTSET and zero output padding are the defaults spelled out
  assert.ok(
    refused({
      ...base,
      attributes: { ...base.attributes, auto_pad: attr.string('NOTSET'), output_padding: attr.ints([0, 0]) },
    }),
  );
  // a shape the specs do not know
  assert.equal(transposedConvolutionsAsCol2Im(caseModel(base), specOf({ x: base.x, w: base.w })), undefined);
});

test('a filter read by two transposed convolutions is laid out as columns once', () => {
  const x = [2, 3, 4, 4];
  const w = [3, 2, 2, 2];
  const y = [2, 2, 8, 8];
  const attributes = { strides: attr.ints([2, 2]) };
  const inputs = { x, x2: x, w };
  const outputs = { y, y2: y };
  const m = floatModel(
    [
      makeNode('ConvTranspose', ['x', 'w'], ['y'], attributes),
      makeNode('ConvTranspose', ['x2', 'w'], ['y2'], attributes),
    ],
    'shared',
    inputs,
    outputs,
    STEP_OPSET,
  );
  const rewritten = transposedConvolutionsAsCol2Im(m, specOf({ ...inputs, ...outputs }));
  assert.ok(rewritten);
  assert.equal(opTypes(rewritten).filter((op) => op === 'Transpose').length, 1);
  assert.equal(opTypes(rewritten).filter((op) => op === 'Col2Im').length, 2);
  assert.deepEqual(run(rewritten, inputs, outputs, 5), run(m, inputs, outputs, 5));
});

test('a captured tfjs transposed convolution to one channel comes back from the CPU rewrites as Col2Im', async () => {
  await selectBackend('wasm');
  const x = tf.randomUniform([3, 7, 7, 8], -1, 1, 'float32', 1) as tf.Tensor4D;
  const filter = tf.randomUniform([4, 4, 1, 8], -1, 1, 'float32', 2) as tf.Tensor4D;
  const expected = tf.conv2dTranspose(x, filter, [3, 14, 14, 1], 2, 'same');
  const graph = captureGraph({
    name: 'upsampling',
    inputs: [
      { name: 'x', tensor: x },
      { name: 'filter', tensor: filter },
    ],
    state: [],
    fn: () => ({ y: tf.conv2dTranspose(x, filter, [3, 14, 14, 1], 2, 'same') }),
  });
  const rewritten = await forCpuKernels(graph, { nchwc: false });
  const ops = opTypes(decodeModel(rewritten.model));
  assert.ok(ops.includes('Col2Im') && !ops.includes('ConvTranspose'), ops.join());
  const session = new OrtSession(rewritten.model, { threads: 1 });
  const y = new Float32Array(expected.size);
  try {
    session.run(
      [
        { name: 'x', data: x.dataSync() as Float32Array, dims: x.shape },
        { name: 'filter', data: filter.dataSync() as Float32Array, dims: filter.shape },
      ],
      [{ name: rewritten.outputs[0].name, data: y, dims: rewritten.outputs[0].shape }],
    );
  } finally {
    session.dispose();
  }
  const want = expected.dataSync();
  for (const [i, v] of want.entries()) assert.ok(Math.abs(y[i] - v) < 1e-5, `y[${i}] = ${y[i]}, expected ${v}`);
  tf.dispose([x, filter, expected]);
});
