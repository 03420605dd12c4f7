/**
 * The NCHWc rewrite: convolutions and transposed convolutions of random geometry give onnxruntime's
 * plain kernels' outputs; the rule leaves alone what it measured slower; a dcgan-sized step graph
 * comes back rewritten. Runs where this CPU's onnxruntime has NCHWc kernels (x86-64 must).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type AttrValue,
  attr,
  DataType,
  makeGraph,
  makeModel,
  makeNode,
  makeValueInfo,
} from '../../src/onnx/builder.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { decodeModel, encodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';
import { nchwcBlock, onNchwcKernels, rewriteConvolutions } from '../../src/train/nchwc.js';

const block = nchwcBlock();
const skip = block === 0 && 'no NCHWc kernels in this onnxruntime build';

// the probe also fails where the rewrite's filter order is wrong: on x86-64 that must not pass as "none"
test('the probe finds NCHWc kernels on x86-64, in blocks of 8 (AVX2) or 16 (AVX-512)', {
  skip: process.arch !== 'x64',
}, () => {
  assert.ok([8, 16].includes(block), `block ${block}`);
});

interface Case {
  op: 'Conv' | 'ConvTranspose';
  x: number[];
  w: number[];
  y: number[];
  attributes: Record<string, AttrValue>;
}

function model({ op, x, w, y, attributes }: Case): ModelProto {
  const values = [makeValueInfo('x', DataType.FLOAT, x), makeValueInfo('w', DataType.FLOAT, w)];
  const graph = makeGraph(
    [makeNode(op, ['x', 'w'], ['y'], attributes)],
    'case',
    values,
    [makeValueInfo('y', DataType.FLOAT, y)],
    [],
  );
  return makeModel(graph, { opset: DEFAULT_OPSET, producerName: 'test', producerVersion: '0' });
}

const dimsOf = (c: Case) => (name: string) => ({ x: c.x, w: c.w, y: c.y })[name];

function run(m: ModelProto, c: Case, seed: number): Float32Array {
  let state = seed;
  const values = (shape: number[]) =>
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
      state = (state * 16807) % 2147483647;
      return state / 2147483647 - 0.5;
    });
  const y = new Float32Array(c.y.reduce((a, b) => a * b, 1));
  const session = new OrtSession(encodeModel(m), { threads: 1 });
  try {
    session.run(
      [
        { name: 'x', data: values(c.x), dims: c.x },
        { name: 'w', data: values(c.w), dims: c.w },
      ],
      [{ name: 'y', data: y, dims: c.y }],
    );
  } finally {
    session.dispose();
  }
  return y;
}

function assertSameOutputs(c: Case, rewritten: ModelProto, seed: number): void {
  const expected = run(model(c), c, seed);
  const actual = run(rewritten, c, seed);
  const reduction = c.w[0] * c.w[2] * c.w[3];
  for (const [i, v] of expected.entries())
    assert.ok(
      Math.abs(actual[i] - v) <= 1e-6 * reduction,
      `y[${i}] = ${actual[i]}, expected ${v} (${JSON.stringify(c)})`,
    );
}

const nchwcNodes = (m: ModelProto) => m.graph.node.filter((n) => n.domain === 'com.microsoft.nchwc').length;

/** A convolution with whole blocks of channels, any kernel, stride and padding that leaves an output. */
const convCase = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    c: fc.constantFrom(1, 2),
    o: fc.constantFrom(1, 2),
    h: fc.integer({ min: 4, max: 9 }),
    w: fc.integer({ min: 4, max: 9 }),
    k: fc.integer({ min: 1, max: 4 }),
    stride: fc.integer({ min: 1, max: 3 }),
    pads: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
  })
  .map(({ n, c, o, h, w, k, stride, pads }): Case => {
    const p = pads.map((v) => v % k);
    const out = (size: number, before: number, after: number) => Math.floor((size + before + after - k) / stride) + 1;
    return {
      op: 'Conv',
      x: [n, c * block, h, w],
      w: [o * block, c * block, k, k],
      y: [n, o * block, out(h, p[0], p[2]), out(w, p[1], p[3])],
      attributes: { kernel_shape: attr.ints([k, k]), strides: attr.ints([stride, stride]), pads: attr.ints(p) },
    };
  });

/** A transposed convolution whose kernel is a whole number of strides, output padded to a multiple of the stride. */
const transposeCase = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    ci: fc.constantFrom(1, 2),
    co: fc.constantFrom(1, 2),
    h: fc.integer({ min: 2, max: 6 }),
    w: fc.integer({ min: 2, max: 6 }),
    stride: fc.integer({ min: 1, max: 3 }),
    taps: fc.integer({ min: 1, max: 3 }),
    pad: fc.integer({ min: 0, max: 8 }),
  })
  .map(({ n, ci, co, h, w, stride, taps, pad }): Case => {
    const k = stride * taps;
    const p = pad % k;
    const unpadded = (size: number) => stride * (size - 1) + k - 2 * p;
    const outputPadding = [h, w].map((size) => (stride - (unpadded(size) % stride)) % stride);
    return {
      op: 'ConvTranspose',
      x: [n, ci * block, h, w],
      w: [ci * block, co * block, k, k],
      y: [n, co * block, unpadded(h) + outputPadding[0], unpadded(w) + outputPadding[1]],
      attributes: {
        strides: attr.ints([stride, stride]),
        pads: attr.ints([p, p, p, p]),
        output_padding: attr.ints(outputPadding),
      },
    };
  })
  .filter((c) => c.y[2] > 0 && c.y[3] > 0);

test('a convolution on NCHWc kernels gives the plain kernel outputs', { skip }, () => {
  fc.assert(
    fc.property(convCase, fc.integer({ min: 1, max: 1e6 }), (c, seed) => {
      const rewritten = rewriteConvolutions(model(c), dimsOf(c), { block, everySize: true });
      if (c.y[2] * c.y[3] < c.w[2] * c.w[3]) return assert.equal(rewritten, undefined); // outputs smaller than the kernel stay
      assert.ok(rewritten && nchwcNodes(rewritten) === 3);
      assertSameOutputs(c, rewritten, seed);
    }),
    { numRuns: 25 },
  );
});

test('a transposed convolution as one NCHWc convolution per output phase gives the plain kernel outputs', {
  skip,
}, () => {
  let rewrites = 0;
  fc.assert(
    fc.property(transposeCase, fc.integer({ min: 1, max: 1e6 }), (c, seed) => {
      const rewritten = rewriteConvolutions(model(c), dimsOf(c), { block, everySize: true });
      if (!rewritten) return; // a phase's padding out of range: left to the plain kernel
      rewrites++;
      const stride = Number(c.attributes.strides.ints![0]);
      assert.equal(nchwcNodes(rewritten), 1 + 2 * stride * stride);
      assertSameOutputs(c, rewritten, seed);
    }),
    { numRuns: 30, seed: 22 },
  );
  assert.ok(rewrites >= 15, `only ${rewrites} of 30 cases rewritten`);
});

test('the rule leaves alone what measured slower: small convolutions, dilated ones, short phases, partial blocks', {
  skip,
}, () => {
  const dcgan = (op: Case['op'], x: number[], w: number[], y: number[], attributes: Record<string, AttrValue>) =>
    rewriteConvolutions(model({ op, x, w, y, attributes }), dimsOf({ op, x, w, y, attributes }), { block });
  const k4s2 = { kernel_shape: attr.ints([4, 4]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) };
  const convTranspose = {
    strides: attr.ints([2, 2]),
    pads: attr.ints([1, 1, 1, 1]),
    output_padding: attr.ints([0, 0]),
  };
  // the dcgan's discriminator convolution (205 MFLOP) and its input gradient
  assert.ok(dcgan('Conv', [64, 32, 14, 14], [64, 32, 4, 4], [64, 64, 7, 7], k4s2));
  assert.ok(dcgan('ConvTranspose', [64, 64, 7, 7], [64, 32, 4, 4], [64, 32, 14, 14], convTranspose));
  // 32 → 32 channels at batch 16: 26 MFLOP
  assert.equal(dcgan('Conv', [16, 32, 14, 14], [32, 32, 4, 4], [16, 32, 7, 7], k4s2), undefined);
  // its filter gradient: dilated by the stride, a 4×4 output of a 7×7 kernel
  const filterGradient = { dilations: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) };
  assert.equal(dcgan('Conv', [32, 64, 14, 14], [64, 64, 7, 7], [32, 64, 4, 4], filterGradient), undefined);
  // a phase reduction of 32·2·2: 14×14×32 → 28×28×32
  assert.equal(dcgan('ConvTranspose', [64, 32, 14, 14], [32, 32, 4, 4], [64, 32, 28, 28], convTranspose), undefined);
  // the generator's last layer: one output channel
  assert.equal(dcgan('ConvTranspose', [64, 64, 14, 14], [64, 1, 4, 4], [64, 1, 28, 28], convTranspose), undefined);
});

test('a step graph comes back with its big convolutions on NCHWc kernels, its outputs within float error', {
  skip,
}, async () => {
  const c: Case = {
    op: 'Conv',
    x: [64, 32, 14, 14],
    w: [64, 32, 4, 4],
    y: [64, 64, 7, 7],
    attributes: { kernel_shape: attr.ints([4, 4]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
  };
  const tensor = (name: string, shape: number[]) => ({ name, shape, dtype: 'float32' as const });
  const graph = {
    model: encodeModel(model(c)),
    inputs: [tensor('x', c.x), tensor('w', c.w)],
    outputs: [tensor('y', c.y)],
    updated: new Map(),
    kernels: 1,
  };
  const rewritten = decodeModel((await onNchwcKernels(graph)).model);
  assert.equal(nchwcNodes(rewritten), 3);
  assertSameOutputs(c, rewritten, 7);
});
