/**
 * Filter gradients of image layers as patch products: for random geometries of tfjs's filter-gradient
 * convolution (a batch under a block, a kernel with more taps than the output has positions, dilations,
 * padding, the kernel a graph input or made by swapping axes as tfjs does), the rewrite alone and the CPU
 * rewrites after it (NCHWc's kernel for the patches, read channels-last) give the plain Conv's outputs
 * within float error; the rule leaves other convolutions alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type AttrValue, attr, makeNode } from '../../src/onnx/builder.js';
import { STEP_OPSET } from '../../src/onnx/opsets.js';
import { decodeModel, encodeModel, type ModelProto } from '../../src/onnx/proto.js';
import { forCpuKernels } from '../../src/train/cpu-rewrites.js';
import { NCHWC, nchwcBlock } from '../../src/train/nchwc.js';
import { filterGradientsAsPatchProducts } from '../../src/train/patch-products.js';
import { PROPERTY_RUNS } from '../helpers.js';
import { floatModel, runOutputs } from './graph-runs.js';

const block = nchwcBlock();
const skip = block === 0 && 'no NCHWc kernels in this onnxruntime build';

interface Case {
  x: number[];
  w: number[];
  y: number[];
  attributes: Record<string, AttrValue>;
  /** w made by swapping the first axes of an input g, as tfjs makes a filter gradient's kernel. */
  swapped?: boolean;
}

const swap = ([a, b, ...rest]: number[]) => [b, a, ...rest];

/** The graph's inputs, by name: x, and w or g. */
const inputsOf = (c: Case): Record<string, number[]> => ({ x: c.x, ...(c.swapped ? { g: swap(c.w) } : { w: c.w }) });

function caseModel(c: Case, bias = false): ModelProto {
  const nodes = [makeNode('Conv', ['x', 'w', ...(bias ? ['b'] : [])], ['y'], c.attributes)];
  if (c.swapped) nodes.unshift(makeNode('Transpose', ['g'], ['w'], { perm: attr.ints([1, 0, 2, 3]) }));
  const inputs = { ...inputsOf(c), ...(bias ? { b: [c.w[0]] } : {}) };
  return floatModel(nodes, 'case', inputs, { y: c.y }, STEP_OPSET);
}

const specOf = (c: Case) => (name: string) => {
  const dims = ({ x: c.x, w: c.w, g: swap(c.w), y: c.y, b: [c.w[0]] } as Record<string, number[]>)[name];
  return dims && { dtype: 'float32' as const, dims };
};

/** `c` as a captured graph, for the CPU rewrites. */
function captured(c: Case) {
  const tensor = ([name, shape]: [string, number[]]) => ({ name, shape, dtype: 'float32' as const });
  return {
    model: encodeModel(caseModel(c)),
    inputs: Object.entries(inputsOf(c)).map(tensor),
    outputs: [tensor(['y', c.y])],
    updated: new Map(),
    kernels: 1,
  };
}

/** `m`'s y on uniform inputs from `seed`, on two threads. */
const run = (m: ModelProto, c: Case, seed: number) => runOutputs(m, inputsOf(c), { y: c.y }, seed, 2)[0].data;

/** Within float error: one ulp per term summed into an output (channels × kernel taps). */
function assertWithinSums(c: Case, actual: Float32Array, expected: Float32Array): void {
  const terms = c.w[1] * c.w[2] * c.w[3];
  for (const [i, v] of expected.entries())
    assert.ok(Math.abs(actual[i] - v) <= 1e-6 * terms, `y[${i}] = ${actual[i]}, expected ${v} (${JSON.stringify(c)})`);
}

/**
 * tfjs's filter gradient of a layer of `layerChannels` input channels, as a convolution: the layer's
 * input [layerChannels, batch, H, W] by the output gradient [outputs, batch, fh, fw] dilated by the layer's
 * stride, to the [layerChannels, outputs, kh, kw] gradient, kh · kw one block or two.
 */
const gradientCase = fc
  .record({
    layerChannels: fc.integer({ min: 1, max: Math.max(1, block - 1) }),
    batch: fc.integer({ min: 1, max: 5 }),
    outputs: fc.integer({ min: 1, max: 6 }),
    kernel: fc.constantFrom<[number, number]>([block, 1], [1, block], [4, block / 4], [block / 2, 2], [block, 2]),
    filter: fc.tuple(fc.integer({ min: 2, max: 7 }), fc.integer({ min: 2, max: 7 })),
    dilations: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    pads: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
    swapped: fc.boolean(),
  })
  .map(({ layerChannels, batch, outputs, kernel, filter, dilations, pads, swapped }): Case => {
    const p = pads.map((v, i) => v % kernel[i % 2]);
    const size = (axis: number) => kernel[axis] + dilations[axis] * (filter[axis] - 1) - p[axis] - p[axis + 2];
    return {
      x: [layerChannels, batch, size(0), size(1)],
      w: [outputs, batch, ...filter],
      y: [layerChannels, outputs, ...kernel],
      attributes: { dilations: attr.ints(dilations), pads: attr.ints(p) },
      swapped,
    };
  })
  .filter((c) => c.x[2] > 0 && c.x[3] > 0 && c.w[2] * c.w[3] > c.y[2] * c.y[3]);

test("an image layer's filter gradient as a patch product gives the plain Conv's outputs", { skip }, () => {
  fc.assert(
    fc.property(gradientCase, fc.integer({ min: 1, max: 1e6 }), (c, seed) => {
      const products = filterGradientsAsPatchProducts(caseModel(c), specOf(c), block);
      assert.ok(products, JSON.stringify(c));
      const ops = products.model.graph.node.map((n) => n.opType);
      assert.ok(ops.includes('MatMul') && ops.filter((op) => op === 'Conv').length === 1, ops.join());
      // a swapped filter is read as it was before the swap, which then goes
      const swaps = products.model.graph.node.filter((n) => n.opType === 'Transpose' && n.input[0] === 'g');
      assert.equal(swaps.length, 0);
      assert.equal(products.model.graph.node.filter((n) => n.input.includes(c.swapped ? 'g' : 'w')).length, 1);
      const patches = products.model.graph.node.find((n) => n.opType === 'Conv')!;
      assert.deepEqual(products.dims.get(patches.output[0]), [c.x[0] * c.x[1], c.y[2] * c.y[3], ...c.w.slice(2)]);
      assertWithinSums(c, run(products.model, c, seed), run(caseModel(c), c, seed));
    }),
    { ...PROPERTY_RUNS, numRuns: 60 },
  );
});

test('through the CPU rewrites: the patches on NCHWc’s kernel, read channels-last, with the plain Conv’s outputs', {
  skip,
}, async () => {
  await fc.assert(
    fc.asyncProperty(gradientCase, fc.integer({ min: 1, max: 1e6 }), async (c, seed) => {
      const rewritten = decodeModel((await forCpuKernels(captured(c), { nchwc: true })).model);
      const patches = rewritten.graph.node.find((n) => n.opType === 'Conv');
      assert.equal(patches?.domain, NCHWC);
      // one block of positions is NHWC as it is: a Reshape; more, a reorder that writes NHWC
      const reader = rewritten.graph.node.find((n) => n.input[0] === patches.output[0]);
      const oneBlock = c.y[2] * c.y[3] === block;
      assert.equal(reader?.opType, oneBlock ? 'Reshape' : 'ReorderOutput');
      assertWithinSums(c, run(rewritten, c, seed), run(caseModel(c), c, seed));
    }),
    { ...PROPERTY_RUNS, numRuns: 30 },
  );
});

test('the dcgan’s first layer’s filter gradient, batch 64, its kernel a graph input: the plain Conv’s outputs bit for bit', {
  skip,
}, async () => {
  const c: Case = {
    x: [1, 64, 28, 28],
    w: [32, 64, 14, 14],
    y: [1, 32, 4, 4],
    attributes: { dilations: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
  };
  const rewritten = decodeModel((await forCpuKernels(captured(c), { nchwc: true })).model);
  assert.ok(rewritten.graph.node.some((n) => n.opType === 'MatMul'));
  assert.deepEqual(run(rewritten, c, 11), run(caseModel(c), c, 11));
});

test('left alone: a batch of a block or more, output positions not whole blocks, strides, small kernels, a bias', {
  skip,
}, () => {
  const base: Case = {
    x: [1, 8, 10, 10],
    w: [4, 8, 7, 7],
    y: [1, 4, block / 4, 4],
    attributes: { pads: attr.ints([0, 0, 0, 0]) },
  };
  base.x = [1, 8, base.y[2] + 6, base.y[3] + 6];
  const rewrite = (c: Case, bias?: boolean) => filterGradientsAsPatchProducts(caseModel(c, bias), specOf(c), block);
  assert.ok(rewrite(base), 'the base case is rewritten');
  assert.equal(rewrite({ ...base, x: [block, ...base.x.slice(1)], y: [block, ...base.y.slice(1)] }), undefined);
  const partial = { ...base, y: [1, 4, block / 4, 3], x: [1, 8, block / 4 + 6, 9] };
  assert.equal(rewrite(partial), undefined);
  assert.equal(rewrite({ ...base, attributes: { ...base.attributes, strides: attr.ints([2, 2]) } }), undefined);
  const small = { ...base, w: [4, 8, 2, 2], x: [1, 8, base.y[2] + 1, base.y[3] + 1] };
  assert.equal(rewrite(small), undefined);
  assert.equal(rewrite(base, true), undefined);
  assert.equal(rewrite({ ...base, attributes: { ...base.attributes, group: attr.int(2) } }), undefined);
});
