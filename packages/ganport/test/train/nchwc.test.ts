/**
 * The NCHWc rewrite: convolutions and transposed convolutions of random geometry (rectangular kernels,
 * asymmetric padding, a bias or none) give onnxruntime's plain kernels' outputs; the rule leaves alone
 * what it measured slower; a step graph comes back rewritten. Runs where this CPU's onnxruntime has
 * NCHWc kernels (x86-64 with AVX2 must).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { type AttrValue, attr, makeNode } from '../../src/onnx/builder.js';
import { decodeModel, encodeModel, type ModelProto, type NodeProto } from '../../src/onnx/proto.js';
import { forCpuKernels } from '../../src/train/cpu-rewrites.js';
import {
  moveView,
  NCHWC,
  nchwcBlock,
  rewriteConvolutions,
  singleAxisMoves,
  throughTranspose,
} from '../../src/train/nchwc.js';
import { count, floatModel, runOutputs } from './graph-runs.js';

const block = nchwcBlock();
const skip = block === 0 && 'no NCHWc kernels in this onnxruntime build';
const avx2 = existsSync('/proc/cpuinfo') && /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));

// the probe also fails where the rewrite's filter order is wrong: where NCHWc exists, that must not pass as "none"
test('the probe finds NCHWc kernels on x86-64 with AVX2, in blocks of 8 (AVX2) or 16 (AVX-512)', {
  skip: !(process.arch === 'x64' && avx2) && 'not an x86-64 CPU with AVX2',
}, () => {
  assert.ok([8, 16].includes(block), `block ${block}`);
});

interface Case {
  op: 'Conv' | 'ConvTranspose';
  x: number[];
  w: number[];
  y: number[];
  /** Output channels: a bias input of that many values. */
  bias?: number;
  attributes: Record<string, AttrValue>;
}

function model({ op, x, w, y, bias, attributes }: Case): ModelProto {
  const inputs = { x, w, ...(bias ? { b: [bias] } : {}) };
  return floatModel([makeNode(op, Object.keys(inputs), ['y'], attributes)], 'case', inputs, { y });
}

const dimsOf = (c: Case) => (name: string) => ({ x: c.x, w: c.w, y: c.y, b: c.bias ? [c.bias] : undefined })[name];
const run = (m: ModelProto, c: Case, seed: number) =>
  runOutputs(m, { x: c.x, w: c.w, ...(c.bias ? { b: [c.bias] } : {}) }, { y: c.y }, seed)[0].data;

/** `actual` within float error of `expected`: of one ulp per term summed into an output (input channels × taps). */
function assertWithinSums(c: Case, name: string, actual: Float32Array, expected: Float32Array): void {
  const terms = (c.op === 'Conv' ? c.w[1] : c.w[0]) * c.w[2] * c.w[3];
  for (const [i, v] of expected.entries())
    assert.ok(
      Math.abs(actual[i] - v) <= 1e-6 * terms,
      `${name}[${i}] = ${actual[i]}, expected ${v} (${JSON.stringify(c)})`,
    );
}

function assertSameOutputs(c: Case, rewritten: ModelProto, seed: number): void {
  assertWithinSums(c, 'y', run(rewritten, c, seed), run(model(c), c, seed));
}

const nchwcNodes = (m: ModelProto) => m.graph.node.filter((n) => n.domain === NCHWC).length;

/** A convolution with whole blocks of channels, any kernel, stride, dilation and padding narrower than the kernel. */
const convCase = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    c: fc.constantFrom(1, 2),
    o: fc.constantFrom(1, 2),
    h: fc.integer({ min: 4, max: 9 }),
    w: fc.integer({ min: 4, max: 9 }),
    kernel: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    strides: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    dilations: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    pads: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
    bias: fc.boolean(),
  })
  .map(({ n, c, o, h, w, kernel, strides, dilations, pads, bias }): Case => {
    const p = pads.map((v, i) => v % kernel[i % 2]);
    const extent = (axis: number) => dilations[axis] * (kernel[axis] - 1) + 1;
    const out = (axis: number, size: number) =>
      Math.floor((size + p[axis] + p[axis + 2] - extent(axis)) / strides[axis]) + 1;
    return {
      op: 'Conv',
      x: [n, c * block, h, w],
      w: [o * block, c * block, ...kernel],
      y: [n, o * block, out(0, h), out(1, w)],
      bias: bias ? o * block : undefined,
      attributes: {
        kernel_shape: attr.ints(kernel),
        strides: attr.ints(strides),
        dilations: attr.ints(dilations),
        pads: attr.ints(p),
      },
    };
  })
  .filter((c) => c.y[2] > 0 && c.y[3] > 0);

/**
 * A transposed convolution whose kernel is a whole number of strides each way, any padding (top, left,
 * bottom, right), the output padded to a multiple of the stride.
 */
const transposeCase = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    ci: fc.constantFrom(1, 2),
    co: fc.constantFrom(1, 2),
    h: fc.integer({ min: 2, max: 6 }),
    w: fc.integer({ min: 2, max: 6 }),
    stride: fc.integer({ min: 1, max: 3 }),
    taps: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    pads: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 4, maxLength: 4 }),
    bias: fc.boolean(),
  })
  .map(({ n, ci, co, h, w, stride, taps, pads, bias }): Case => {
    const kernel = taps.map((t) => stride * t);
    const p = pads.map((v, i) => v % kernel[i % 2]);
    const unpadded = (axis: number, size: number) => stride * (size - 1) + kernel[axis] - p[axis] - p[axis + 2];
    const outputPadding = [h, w].map((size, axis) => (stride - (unpadded(axis, size) % stride)) % stride);
    return {
      op: 'ConvTranspose',
      x: [n, ci * block, h, w],
      w: [ci * block, co * block, ...kernel],
      y: [n, co * block, unpadded(0, h) + outputPadding[0], unpadded(1, w) + outputPadding[1]],
      bias: bias ? co * block : undefined,
      attributes: {
        strides: attr.ints([stride, stride]),
        pads: attr.ints(p),
        output_padding: attr.ints(outputPadding),
      },
    };
  })
  .filter((c) => c.y[2] > 0 && c.y[3] > 0);

test('a convolution on NCHWc kernels gives the plain kernel outputs', { skip }, () => {
  fc.assert(
    fc.property(convCase, fc.integer({ min: 1, max: 1e6 }), (c, seed) => {
      const rewritten = rewriteConvolutions(model(c), dimsOf(c), { block, everySize: true });
      assert.ok(rewritten && nchwcNodes(rewritten) === 3);
      assertSameOutputs(c, rewritten, seed);
    }),
    { numRuns: 30 },
  );
});

/** convCase with fewer input channels than a block, as an image has. */
const narrowCase = fc
  .tuple(convCase, fc.integer({ min: 1, max: block - 1 }))
  .map(
    ([c, channels]): Case => ({ ...c, x: [c.x[0], channels, ...c.x.slice(2)], w: [c.w[0], channels, ...c.w.slice(2)] }),
  );

test('a convolution of fewer input channels than a block reads its NCHW input as it is, with the plain kernel outputs', {
  skip,
}, () => {
  fc.assert(
    fc.property(narrowCase, fc.integer({ min: 1, max: 1e6 }), (c, seed) => {
      const rewritten = rewriteConvolutions(model(c), dimsOf(c), { block });
      assert.ok(rewritten, 'rewritten at any size');
      const nchwc = rewritten.graph.node.filter((n) => n.domain === NCHWC).map((n) => n.opType);
      assert.deepEqual(nchwc, ['Conv', 'ReorderOutput']);
      assert.equal(rewritten.graph.node.find((n) => n.opType === 'Conv')?.input[0], 'x');
      assertSameOutputs(c, rewritten, seed);
    }),
    { numRuns: 30 },
  );
});

type Activation = 'Relu' | 'LeakyRelu' | 'Tanh' | 'Sigmoid';

/**
 * Conv → activation → Conv, as a discriminator's layers: y = conv(x), a = act(y), z = conv(a), with a
 * an output too; `yRead`: y a graph output as well.
 */
function activatedLayers(activation: Activation, alpha: number, yRead: boolean) {
  const first: Case = {
    op: 'Conv',
    x: [2, 3, 8, 8],
    w: [2 * block, 3, 4, 4],
    y: [2, 2 * block, 4, 4],
    bias: 2 * block,
    attributes: { kernel_shape: attr.ints([4, 4]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
  };
  const second: Case = { ...first, x: first.y, w: [block, 2 * block, 2, 2], y: [2, block, 2, 2], bias: undefined };
  const inputs = { x: first.x, w: first.w, b: [2 * block], v: second.w };
  const outputs = { a: first.y, z: second.y, ...(yRead ? { y: first.y } : {}) };
  const attributes: Record<string, AttrValue> = activation === 'LeakyRelu' ? { alpha: attr.float(alpha) } : {};
  const nodes = [
    makeNode('Conv', ['x', 'w', 'b'], ['y'], first.attributes),
    makeNode(activation, ['y'], ['a'], attributes),
    makeNode('Conv', ['a', 'v'], ['z'], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) }),
  ];
  return { plain: floatModel(nodes, 'layers', inputs, outputs), first, second, inputs, outputs };
}

test("a convolution's one reader, an activation, runs inside it; the next convolution reads its blocks", {
  skip,
}, () => {
  fc.assert(
    fc.property(
      fc.constantFrom<Activation>('Relu', 'LeakyRelu', 'Tanh', 'Sigmoid'),
      fc.float({ min: Math.fround(0.01), max: Math.fround(0.5), noNaN: true }),
      fc.boolean(),
      fc.integer({ min: 1, max: 1e6 }),
      (activation, alpha, yRead, seed) => {
        const { plain, first, second, inputs, outputs } = activatedLayers(activation, alpha, yRead);
        const dims = (name: string) => ({ ...inputs, ...outputs, y: first.y })[name as keyof typeof inputs];
        const rewritten = rewriteConvolutions(plain, dims, { block, everySize: true });
        assert.ok(rewritten);
        const writer = (name: string) => rewritten.graph.node.find((n) => n.output.includes(name));
        const [conv, next] = rewritten.graph.node.filter((n) => n.domain === NCHWC && n.opType === 'Conv');
        const fused = conv.attribute.find((a) => a.name === 'activation');
        if (yRead) {
          // y is read elsewhere: the activation stays, reading y, and the next convolution reorders a
          assert.equal(fused, undefined);
          assert.deepEqual([writer('a')?.opType, writer('a')?.input[0]], [activation, 'y']);
          assert.equal(writer(next.input[0])?.opType, 'ReorderInput');
        } else {
          assert.equal(new TextDecoder().decode(fused?.s), activation);
          const params = conv.attribute.find((a) => a.name === 'activation_params')?.floats;
          assert.deepEqual(params, activation === 'LeakyRelu' ? [alpha] : undefined);
          assert.ok(!rewritten.graph.node.some((n) => n.opType === activation), 'the activation node is gone');
          assert.deepEqual([writer('a')?.opType, writer('a')?.input[0]], ['ReorderOutput', conv.output[0]]);
          assert.equal(next.input[0], conv.output[0], 'the next convolution reads the blocks');
        }
        const expected = runOutputs(plain, inputs, outputs, seed);
        const actual = runOutputs(rewritten, inputs, outputs, seed);
        for (const [o, { name, data }] of expected.entries())
          assertWithinSums(name === 'z' ? second : first, name, actual[o].data, data);
      },
    ),
    { numRuns: 24, seed: 3 },
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
      assert.equal(nchwcNodes(rewritten), 2 + stride * stride);
      assertSameOutputs(c, rewritten, seed);
    }),
    { numRuns: 40, seed: 22 },
  );
  assert.ok(rewrites >= 15, `only ${rewrites} of 40 cases rewritten`);
});

test('the rule leaves alone what measured slower: small convolutions, partial blocks, wide padding', {
  skip,
}, () => {
  const rewrite = (op: Case['op'], x: number[], w: number[], y: number[], attributes: Record<string, AttrValue>) =>
    rewriteConvolutions(model({ op, x, w, y, attributes }), dimsOf({ op, x, w, y, attributes }), { block });
  const k4s2 = { kernel_shape: attr.ints([4, 4]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) };
  const convTranspose = {
    strides: attr.ints([2, 2]),
    pads: attr.ints([1, 1, 1, 1]),
    output_padding: attr.ints([0, 0]),
  };
  // the dcgan's discriminator convolution (205 MFLOP) and its input gradient
  assert.ok(rewrite('Conv', [64, 32, 14, 14], [64, 32, 4, 4], [64, 64, 7, 7], k4s2));
  assert.ok(rewrite('ConvTranspose', [64, 64, 7, 7], [64, 32, 4, 4], [64, 32, 14, 14], convTranspose));
  // 32 → 32 channels at batch 16: 26 MFLOP
  assert.equal(rewrite('Conv', [16, 32, 14, 14], [32, 32, 4, 4], [16, 32, 7, 7], k4s2), undefined);
  // the filter gradient of that convolution: dilated by its stride (measured faster on an Intel VM)
  const dilated = { dilations: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) };
  assert.ok(rewrite('Conv', [32, 64, 14, 14], [64, 64, 7, 7], [32, 64, 4, 4], dilated));
  // but not a dilated transposed convolution: its output phases assume undilated taps
  // (7 → 14 with a kernel of extent 7: 2 · 6 + 7 − 1 − 4, a geometry whose phases the rule would take)
  const dilatedTranspose = { ...convTranspose, pads: attr.ints([1, 1, 4, 4]), dilations: attr.ints([2, 2]) };
  assert.equal(rewrite('ConvTranspose', [64, 64, 7, 7], [64, 32, 4, 4], [64, 32, 14, 14], dilatedTranspose), undefined);
  // but the filter gradient of a 3×3 stride-1 layer, a 14×14 kernel with a 3×3 output, measured faster
  const padded = { pads: attr.ints([1, 1, 1, 1]) };
  assert.ok(rewrite('Conv', [32, 64, 14, 14], [32, 64, 14, 14], [32, 32, 3, 3], padded));
  // padding as wide as the kernel
  const wide = { kernel_shape: attr.ints([1, 1]), pads: attr.ints([1, 1, 1, 1]) };
  assert.equal(rewrite('Conv', [64, 64, 14, 14], [64, 64, 1, 1], [64, 64, 16, 16], wide), undefined);
  // the generator's 14×14×32 → 28×28×32 upsampling, measured faster too
  assert.ok(rewrite('ConvTranspose', [64, 32, 14, 14], [32, 32, 4, 4], [64, 32, 28, 28], convTranspose));
  // the discriminator's first layer at batch 8 (1.6 MFLOP): one input channel, read as it is, at any size
  assert.ok(rewrite('Conv', [8, 1, 28, 28], [32, 1, 4, 4], [8, 32, 14, 14], k4s2));
  // but not where its output channels are not whole blocks
  assert.equal(rewrite('Conv', [8, 1, 28, 28], [block / 2, 1, 4, 4], [8, block / 2, 14, 14], k4s2), undefined);
  // the generator's last layer: one output channel
  assert.equal(rewrite('ConvTranspose', [64, 64, 14, 14], [64, 1, 4, 4], [64, 1, 28, 28], convTranspose), undefined);
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
  const rewritten = decodeModel((await forCpuKernels(graph, { nchwc: true })).model);
  assert.equal(nchwcNodes(rewritten), 3);
  assertSameOutputs(c, rewritten, 7);
});

/** What else reads the channels-first x and y, which then stay (see betweenLayouts). */
type AlsoRead = 'nothing' | 'graph outputs' | 'other nodes';

/** How y is transposed after: to NHWC, to HWNC (a filter gradient to tfjs's order), to WHNC, or with its channels elsewhere. */
const OUTPUT_PERMS = [
  [0, 2, 3, 1],
  [2, 3, 0, 1],
  [3, 2, 0, 1],
  [1, 0, 2, 3],
];

/**
 * `c` between layout Transposes, as a captured tfjs step has it: x channels-last to channels-first, and
 * the result transposed by `outPerm`. Where x and y are also read (`alsoRead`), both Transposes stay.
 */
function betweenLayouts(c: Case, alsoRead: AlsoRead, outPerm: number[]) {
  const nhwc = (dims: number[]) => [dims[0], dims[2], dims[3], dims[1]];
  const inputs: Record<string, number[]> = { x_nhwc: nhwc(c.x), w: c.w, ...(c.bias ? { b: [c.bias] } : {}) };
  const outputs: Record<string, number[]> = { y_out: outPerm.map((axis) => c.y[axis]) };
  const nodes = [
    makeNode('Transpose', ['x_nhwc'], ['x'], { perm: attr.ints([0, 3, 1, 2]) }),
    makeNode(c.op, ['x', ...Object.keys(inputs).slice(1)], ['y'], c.attributes),
    makeNode('Transpose', ['y'], ['y_out'], { perm: attr.ints(outPerm) }),
  ];
  if (alsoRead === 'graph outputs') Object.assign(outputs, { x: c.x, y: c.y });
  if (alsoRead === 'other nodes') {
    nodes.push(makeNode('Neg', ['x'], ['x_negated']), makeNode('Neg', ['y'], ['y_negated']));
    Object.assign(outputs, { x_negated: c.x, y_negated: c.y });
  }
  return { model: floatModel(nodes, 'layouts', inputs, outputs), inputs, outputs };
}

test('layout Transposes around a convolution go into its reorders, with the plain kernel outputs', { skip }, () => {
  const channelsLast = (node: NodeProto | undefined) =>
    !!node?.attribute.some((a) => a.name === 'channels_last' && a.i === 1);
  let rewrites = 0;
  fc.assert(
    fc.property(
      fc.oneof(convCase, transposeCase),
      fc.constantFrom<AlsoRead>('nothing', 'graph outputs', 'other nodes'),
      fc.constantFrom(...OUTPUT_PERMS),
      fc.integer({ min: 1, max: 1e6 }),
      (c, alsoRead, outPerm, seed) => {
        const { model: plain, inputs, outputs } = betweenLayouts(c, alsoRead, outPerm);
        const dims = (name: string) => ({ x: c.x, w: c.w, y: c.y, b: c.bias ? [c.bias] : undefined })[name];
        const rewritten = rewriteConvolutions(plain, dims, { block, everySize: true });
        if (!rewritten) return; // a transposed convolution's phase padding out of range
        rewrites++;
        const writer = (name: string) => rewritten.graph.node.find((n) => n.output.includes(name));
        // read elsewhere, the channels-first x is still made; the input's reorder reads channels-last either way
        assert.equal(writer('x')?.opType, alsoRead === 'nothing' ? undefined : 'Transpose');
        const input = rewritten.graph.node.find((n) => n.opType === 'ReorderInput');
        assert.ok(channelsLast(input) && input?.input[0] === 'x_nhwc');
        // y transposed with its channels last, and read by nothing else: the reorder writes NHWC, or for one
        // block of channels (NHWC's order already) a Reshape names the blocks so
        const out = writer('y_out');
        const toNhwc = (node: NodeProto | undefined) =>
          c.y[1] === block ? node?.opType === 'Reshape' : node?.opType === 'ReorderOutput' && channelsLast(node);
        if (alsoRead !== 'nothing' || outPerm[3] !== 1) {
          assert.deepEqual([out?.opType, out?.input[0], channelsLast(writer('y'))], ['Transpose', 'y', false]);
        } else if (outPerm.join() === '0,2,3,1') {
          assert.ok(toNhwc(out), out?.opType);
          assert.equal(writer('y'), undefined);
        } else {
          assert.equal(out?.opType, 'Transpose');
          assert.ok(toNhwc(writer(out?.input[0] ?? '')), 'the Transpose reads the blocks as NHWC');
        }
        const expected = runOutputs(plain, inputs, outputs, seed);
        const actual = runOutputs(rewritten, inputs, outputs, seed);
        for (const [o, { name, data }] of expected.entries()) assertWithinSums(c, name, actual[o].data, data);
      },
    ),
    { numRuns: 40, seed: 9 },
  );
  assert.ok(rewrites >= 20, `only ${rewrites} of 40 cases rewritten`);
});

test('a weight read by several convolutions is reordered once, with the plain kernel outputs', { skip }, () => {
  // as in a step: the discriminator's filter on the real and the generated batch, and its input gradients
  const conv: Case = {
    op: 'Conv',
    x: [2, 2 * block, 6, 6],
    w: [block, 2 * block, 2, 2],
    y: [2, block, 3, 3],
    attributes: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) },
  };
  const transpose: Case = {
    op: 'ConvTranspose',
    x: [2, block, 3, 3],
    w: [block, 2 * block, 2, 2],
    y: [2, 2 * block, 6, 6],
    attributes: { strides: attr.ints([2, 2]) },
  };
  const inputs = { x1: conv.x, x2: conv.x, g1: transpose.x, g2: transpose.x, w: conv.w };
  const outputs = { y1: conv.y, y2: conv.y, d1: transpose.y, d2: transpose.y };
  const nodes = [
    makeNode('Conv', ['x1', 'w'], ['y1'], conv.attributes),
    makeNode('Conv', ['x2', 'w'], ['y2'], conv.attributes),
    makeNode('ConvTranspose', ['g1', 'w'], ['d1'], transpose.attributes),
    makeNode('ConvTranspose', ['g2', 'w'], ['d2'], transpose.attributes),
  ];
  const plain = floatModel(nodes, 'shared', inputs, outputs);
  const dims = (name: string) => ({ ...inputs, ...outputs })[name as keyof typeof inputs];
  const rewritten = rewriteConvolutions(plain, dims, { block, everySize: true });
  assert.ok(rewritten);
  const made = (pattern: RegExp) => rewritten.graph.node.filter((n) => pattern.test(n.output[0])).length;
  assert.equal(made(/\/w_blocked$/), 1 + 4, "blocked filters: the convolutions' one, the four output phases'");
  assert.equal(made(/\/w_rows\d$/), 2, "the transposed convolutions' row taps");
  assert.equal(nchwcNodes(rewritten), 2 * 3 + 2 * (2 + 4));
  const expected = runOutputs(plain, inputs, outputs, 4);
  const actual = runOutputs(rewritten, inputs, outputs, 4);
  for (const [o, { name, data }] of expected.entries())
    assertWithinSums(name.startsWith('y') ? conv : transpose, name, actual[o].data, data);
});

/** A strided layer's filter gradient: its filter is a batch of activations, 64 · 64 · 7 · 7 values. */
const STRIDED_FILTER_GRADIENT: Case = {
  op: 'Conv',
  x: [4, 64, 14, 14],
  w: [64, 64, 7, 7],
  y: [4, 64, 4, 4],
  attributes: { kernel_shape: attr.ints([7, 7]), dilations: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
};

test('a batch-sized filter is permuted an axis at a time, with the plain kernel outputs', { skip }, () => {
  const moves = (m: ModelProto) =>
    m.graph.node.filter((n) => n.opType === 'Transpose' && n.attribute[0].ints?.map(Number).join() === '0,2,1,3');
  const gradient = STRIDED_FILTER_GRADIENT;
  // a transposed convolution whose output phases' filters reach the size (256 · 128 · 2 · 2 values)
  const upsampling: Case = {
    op: 'ConvTranspose',
    x: [1, 256, 4, 4],
    w: [256, 128, 4, 4],
    y: [1, 128, 8, 8],
    attributes: { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
  };
  for (const [c, movesEach] of [
    [gradient, 2],
    [upsampling, 3],
  ] as const) {
    const rewritten = rewriteConvolutions(model(c), dimsOf(c), { block, everySize: true });
    assert.ok(rewritten);
    const filters = c.op === 'Conv' ? 1 : 4;
    assert.equal(moves(rewritten).length, filters * movesEach, `${c.op}: the filters' moves`);
    assertSameOutputs(c, rewritten, 3);
  }
  // a small filter keeps one Transpose, which onnxruntime merges with the one that made it
  const small: Case = { ...gradient, x: [4, 32, 14, 14], w: [32, 32, 7, 7], y: [4, 32, 4, 4] };
  const rewritten = rewriteConvolutions(model(small), dimsOf(small), { block, everySize: true });
  assert.ok(rewritten);
  assert.equal(moves(rewritten).length, 0);
});

test("a filter gradient's swapped output gradient is blocked from the blocks its input gradient reads, in one Transpose", {
  skip,
}, () => {
  // its filter the output gradient g [batch, out, 7, 7] swapped, as tfjs makes it; a 1×1 convolution stands
  // for the layer's input gradient, which reads g's blocks too
  const gradient = STRIDED_FILTER_GRADIENT;
  const inputs = { x: gradient.x, g: [64, 64, 7, 7], k: [64, 64, 1, 1] };
  const outputs = { y: gradient.y, z: [64, 64, 7, 7] };
  const plain = floatModel(
    [
      makeNode('Transpose', ['g'], ['w'], { perm: attr.ints([1, 0, 2, 3]) }),
      makeNode('Conv', ['x', 'w'], ['y'], gradient.attributes),
      makeNode('Conv', ['g', 'k'], ['z'], { kernel_shape: attr.ints([1, 1]) }),
    ],
    'swapped',
    inputs,
    outputs,
  );
  const dims = (name: string) => ({ ...inputs, ...outputs, w: gradient.w })[name];
  const rewritten = rewriteConvolutions(plain, dims, { block, everySize: true });
  assert.ok(rewritten);
  const readers = (name: string) => rewritten.graph.node.filter((n) => n.input.includes(name));
  assert.deepEqual(
    readers('g').map((n) => n.opType),
    ['ReorderInput'],
    'one reorder of g, and its swap gone',
  );
  const perms = rewritten.graph.node
    .filter((n) => n.opType === 'Transpose')
    .map((n) => n.attribute[0].ints?.map(Number).join());
  // the filter's one Transpose, and the 1×1 filter's own blocking; no swap, no moves
  assert.deepEqual(perms.sort(), ['0,2,4,5,3,1', '2,0,3,4,1,5']);
  const expected = runOutputs(plain, inputs, outputs, 4);
  const actual = runOutputs(rewritten, inputs, outputs, 4);
  assertWithinSums(gradient, 'y', actual[0].data, expected[0].data);
  assertWithinSums({ ...gradient, w: [64, 64, 1, 1] }, 'z', actual[1].data, expected[1].data);
});

/** `values` (of `dims`, row-major) transposed by `perm`. */
function transposed(values: number[], dims: number[], perm: number[]): number[] {
  const strides = dims.map((_, i) => count(dims.slice(i + 1)));
  const outDims = perm.map((a) => dims[a]);
  return values.map((_, flat) => {
    let rest = flat;
    let source = 0;
    for (const [i, a] of perm.entries()) {
      const inner = count(outDims.slice(i + 1));
      source += Math.floor(rest / inner) * strides[a];
      rest %= inner;
    }
    return values[source];
  });
}

test("a permutation of a transposed tensor's parts is one permutation of its source's parts", () => {
  const permutation = (n: number) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n });
  // up to 4 axes, each split into 1–2 parts of sizes 1–3
  const grouped = fc
    .array(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 4 })
    .chain((groups) => fc.tuple(fc.constant(groups), permutation(groups.length), permutation(groups.flat().length)));
  fc.assert(
    fc.property(grouped, ([groups, transpose, perm]) => {
      const sourceDims = groups.map((_, i) => count(groups[transpose.indexOf(i)]));
      const source = [...Array(count(sourceDims)).keys()];
      // the filter (the source transposed), its parts permuted: what the rewrite computed before
      const filter = transposed(source, sourceDims, transpose);
      const expected = transposed(filter, groups.flat(), perm);
      const through = throughTranspose(groups, perm, transpose);
      assert.deepEqual(transposed(source, through.split, through.perm), expected);
    }),
    { numRuns: 300, seed: 11 },
  );
});

test('a small filter made by a Transpose is blocked from its source in one permutation, with the plain kernel outputs', {
  skip,
}, () => {
  // tfjs's [kh, kw, in, out] to ONNX's order: Conv's [out, in, kh, kw], ConvTranspose's [in, out, kh, kw]
  const toOnnx = [3, 2, 0, 1];
  const cases: Case[] = [
    {
      op: 'Conv',
      x: [2, 2 * block, 6, 6],
      w: [block, 2 * block, 4, 4],
      y: [2, block, 3, 3],
      attributes: { kernel_shape: attr.ints([4, 4]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
    },
    {
      op: 'ConvTranspose',
      x: [2, block, 3, 3],
      w: [block, 2 * block, 4, 4],
      y: [2, 2 * block, 6, 6],
      attributes: { strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
    },
  ];
  for (const c of cases) {
    const tfjs = [c.w[2], c.w[3], c.w[1], c.w[0]];
    const inputs = { x: c.x, w_tfjs: tfjs };
    const nodes = [
      makeNode('Transpose', ['w_tfjs'], ['w'], { perm: attr.ints(toOnnx) }),
      makeNode(c.op, ['x', 'w'], ['y'], c.attributes),
    ];
    const plain = floatModel(nodes, 'weights', inputs, { y: c.y });
    const rewritten = rewriteConvolutions(plain, (name) => ({ x: c.x, w: c.w, y: c.y })[name], {
      block,
      everySize: true,
    });
    assert.ok(rewritten);
    assert.ok(!rewritten.graph.node.some((n) => n.output.includes('w')), `${c.op}: the weight's Transpose is left`);
    const readers = rewritten.graph.node.filter((n) => n.input.includes('w_tfjs')).map((n) => n.opType);
    assert.deepEqual(readers, c.op === 'Conv' ? ['Reshape'] : ['Gather', 'Gather'], `${c.op}: what reads the source`);
    const expected = runOutputs(plain, inputs, { y: c.y }, 6);
    const actual = runOutputs(rewritten, inputs, { y: c.y }, 6);
    assertWithinSums(c, 'y', actual[0].data, expected[0].data);
  }
});

test('a permutation goes as the fewest moves of one axis each, each a swap of two groups of axes', () => {
  /** The longest increasing subsequence's length, by patience sorting. */
  const increasingRun = (values: number[]) => {
    const tops: number[] = [];
    for (const v of values) {
      const pile = tops.findIndex((top) => top > v);
      if (pile === -1) tops.push(v);
      else tops[pile] = v;
    }
    return tops.length;
  };
  const permutation = fc
    .integer({ min: 1, max: 8 })
    .chain((n) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }));
  fc.assert(
    fc.property(permutation, (perm) => {
      let order = perm.map((_, i) => i);
      let dims = perm.map((a) => 2 + (a % 2)); // sizes 2 and 3, so that a wrong view shows
      const steps = singleAxisMoves(perm);
      for (const { from, to } of steps) {
        assert.notEqual(from, to);
        const rest = order.filter((_, i) => i !== from);
        const next = [...rest.slice(0, to), order[from], ...rest.slice(to)];
        // the move as the rewrite writes it: the view [before, a, b, after] with a and b swapped
        const values = [...Array(count(dims)).keys()];
        const step = next.map((a) => order.indexOf(a));
        assert.deepEqual(
          transposed(values, moveView(dims, { from, to }), [0, 2, 1, 3]),
          transposed(values, dims, step),
          `[${dims}] moving ${from} to ${to}`,
        );
        dims = step.map((a) => dims[a]);
        order = next;
      }
      assert.deepEqual(order, perm);
      assert.equal(steps.length, perm.length - increasingRun(perm));
    }),
    { numRuns: 300, seed: 5 },
  );
});

test('a new value whose name the graph already has stops the rewrite with an internal error', { skip }, () => {
  const c: Case = {
    op: 'Conv',
    x: [1, block, 4, 4],
    w: [block, block, 1, 1],
    y: [1, block, 4, 4],
    attributes: {},
  };
  const clash = model(c);
  clash.graph.node.push(makeNode('Identity', ['y'], ['y/nchwc/x']));
  assert.throws(
    () => rewriteConvolutions(clash, dimsOf(c), { block, everySize: true }),
    /y\/nchwc\/x is already in the graph/,
  );
});
