/**
 * Dropout's masks as graph inputs: a step graph's mask chains (Add keep, Floor, Div keep, and the
 * channels-first Transposes) give way to the mask itself, and fed the host's mask the graph gives what
 * it gave fed the uniforms, bit for bit; chains of another form stay as they are.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import fc from 'fast-check';
import { attr, DataType, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../src/onnx/builder.js';
import { DEFAULT_OPSET } from '../../src/onnx/opsets.js';
import { decodeModel, encodeModel, type NodeProto } from '../../src/onnx/proto.js';
import type { CapturedGraph } from '../../src/tfjs/capture.js';
import { size } from '../../src/tfjs/onnx-kernels/index.js';
import { OrtSession } from '../../src/tfjs/ort-session.js';
import { dropoutMask, uniforms } from '../../src/train/alea-uniforms.js';
import { dropoutMasksAsInputs } from '../../src/train/dropout-masks.js';

interface Chains {
  /** The uniforms' shape, [N, …, C]. */
  dims: number[];
  keep: number;
  /** Each chain's mask transposed channels first before the Mul (as a convolution's activations want). */
  transposed: boolean;
  /** Another keep in the second chain. */
  otherKeep?: number;
  /** The first chain's mask read by a Neg too, untransposed. */
  maskReadElsewhere?: boolean;
  /** The uniforms read by a Neg too. */
  uniformsReadElsewhere?: boolean;
  /** The Transposes' perm (default: channels first). */
  perm?: number[];
  /** Another constant in the first chain's Div than in its Add. */
  divKeep?: number;
  /** The first chain's mask a graph output. */
  maskOutput?: boolean;
  /** The first chain's Floor read by a Neg too. */
  floorReadElsewhere?: boolean;
}

const UNIFORMS = 'dropout/0/u';

/** Two batches' dropout of one layer, as a captured step has it: y_b = x_b · mask (made twice). */
function stepGraph(c: Chains): CapturedGraph {
  const channelsFirst = [c.dims[0], c.dims.at(-1)!, ...c.dims.slice(1, -1)];
  const activations = c.transposed ? channelsFirst : c.dims;
  const perm = c.perm ?? [0, c.dims.length - 1, ...c.dims.slice(1, -1).map((_, i) => i + 1)];
  const nodes: NodeProto[] = [];
  const outputs: Record<string, number[]> = {};
  for (const b of [0, 1]) {
    const keep = `keep${b}`;
    nodes.push(
      makeNode('Add', [UNIFORMS, keep], [`added${b}`]),
      makeNode('Floor', [`added${b}`], [`floored${b}`]),
      makeNode('Div', [`floored${b}`, c.divKeep !== undefined && b === 0 ? 'divKeep' : keep], [`mask${b}`]),
    );
    if (c.transposed) nodes.push(makeNode('Transpose', [`mask${b}`], [`laid${b}`], { perm: attr.ints(perm) }));
    nodes.push(makeNode('Mul', [`x${b}`, c.transposed ? `laid${b}` : `mask${b}`], [`y${b}`]));
    outputs[`y${b}`] = activations;
  }
  if (c.maskReadElsewhere) {
    nodes.push(makeNode('Neg', ['mask0'], ['negated']));
    outputs.negated = c.dims;
  }
  if (c.maskOutput) outputs.mask0 = c.dims;
  if (c.floorReadElsewhere) {
    nodes.push(makeNode('Neg', ['floored0'], ['negated_floor']));
    outputs.negated_floor = c.dims;
  }
  if (c.uniformsReadElsewhere) {
    nodes.push(makeNode('Neg', [UNIFORMS], ['negated_u']));
    outputs.negated_u = c.dims;
  }
  const inputs = { [UNIFORMS]: c.dims, x0: activations, x1: activations };
  const values = (named: Record<string, number[]>) =>
    Object.entries(named).map(([name, dims]) => makeValueInfo(name, DataType.FLOAT, dims));
  const keeps = [c.keep, c.otherKeep ?? c.keep].map((k, b) =>
    makeTensor(`keep${b}`, DataType.FLOAT, [], Float32Array.of(k)),
  );
  if (c.divKeep !== undefined) keeps.push(makeTensor('divKeep', DataType.FLOAT, [], Float32Array.of(c.divKeep)));
  const graph = makeGraph(nodes, 'dropout', values(inputs), values(outputs), keeps);
  const tensors = (named: Record<string, number[]>) =>
    Object.entries(named).map(([name, shape]) => ({ name, shape, dtype: 'float32' as const }));
  return {
    model: encodeModel(makeModel(graph, { opset: DEFAULT_OPSET, producerName: 'test', producerVersion: '0' })),
    inputs: tensors(inputs),
    outputs: tensors(outputs),
    updated: new Map(),
    kernels: nodes.length,
  };
}

/** `graph`'s outputs, fed `dropout` by name and activations from `seed`. */
function run(graph: CapturedGraph, dropout: Record<string, Float32Array>, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  const feeds = graph.inputs.map(({ name, shape }) => ({
    name,
    dims: shape,
    data: dropout[name] ?? Float32Array.from({ length: size(shape) }, () => rng.nextNormal()),
  }));
  const fetches = graph.outputs.map(({ name, shape }) => ({ name, dims: shape, data: new Float32Array(size(shape)) }));
  const session = new OrtSession(graph.model, { threads: 1 });
  try {
    session.run(feeds, fetches);
  } finally {
    session.dispose();
  }
  return fetches.map((f) => f.data);
}

const isDropout = (name: string) => name.startsWith('dropout/');
const opTypes = (graph: CapturedGraph) => decodeModel(graph.model).graph.node.map((n) => n.opType);

test("a step graph fed the host's masks gives what it gave fed the uniforms, bit for bit", () => {
  const dims = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 2, maxLength: 4 });
  fc.assert(
    fc.property(dims, fc.constantFrom(0.7, 0.5, 0.9), fc.boolean(), fc.nat(), (shape, k, transposed, seed) => {
      fc.pre(!transposed || shape.length >= 3);
      const keep = Math.fround(k);
      const plain = stepGraph({ dims: shape, keep, transposed });
      const { graph, masks } = dropoutMasksAsInputs(plain, isDropout);
      assert.deepEqual(masks, [
        { uniforms: UNIFORMS, input: `${UNIFORMS}/mask`, keep, layout: { dims: shape, channelsFirst: transposed } },
      ]);
      assert.deepEqual(opTypes(graph), ['Mul', 'Mul'], 'the chains are gone');
      const channelsFirst = transposed ? [shape[0], shape.at(-1)!, ...shape.slice(1, -1)] : shape;
      assert.deepEqual(
        graph.inputs.find((i) => i.name === masks[0].input),
        { name: `${UNIFORMS}/mask`, shape: channelsFirst, dtype: 'float32' },
      );
      const mask = dropoutMask(seed, keep, masks[0].layout, new Float32Array(size(shape)));
      assert.deepEqual(
        run(graph, { [masks[0].input]: mask }, seed),
        run(plain, { [UNIFORMS]: uniforms(seed, size(shape)) }, seed),
      );
    }),
    { numRuns: 40, seed: 8 },
  );
});

test('a mask also read otherwise is fed as it is, its Transposes kept; other forms stay uniforms', () => {
  const dims = [2, 3, 3, 4];
  const keep = Math.fround(0.7);
  // read by a Neg too, or transposed otherwise than channels first
  for (const [shared, kept] of [
    [
      stepGraph({ dims, keep, transposed: true, maskReadElsewhere: true }),
      ['Mul', 'Mul', 'Neg', 'Transpose', 'Transpose'],
    ],
    [
      stepGraph({ dims: [2, 3, 3, 3], keep, transposed: true, perm: [0, 2, 1, 3] }),
      ['Mul', 'Mul', 'Transpose', 'Transpose'],
    ],
  ] as const) {
    const { graph, masks } = dropoutMasksAsInputs(shared, isDropout);
    assert.equal(masks[0]?.layout.channelsFirst, false);
    assert.deepEqual(opTypes(graph).sort(), kept);
    const count = size(masks[0].layout.dims);
    const mask = dropoutMask(3, keep, masks[0].layout, new Float32Array(count));
    assert.deepEqual(run(graph, { [masks[0].input]: mask }, 3), run(shared, { [UNIFORMS]: uniforms(3, count) }, 3));
  }

  for (const other of [
    stepGraph({ dims, keep, transposed: true, otherKeep: Math.fround(0.5) }),
    stepGraph({ dims, keep, transposed: true, uniformsReadElsewhere: true }),
    stepGraph({ dims, keep, transposed: true, divKeep: Math.fround(0.5) }),
    stepGraph({ dims, keep, transposed: false, maskOutput: true }),
    stepGraph({ dims, keep, transposed: true, maskOutput: true }),
    stepGraph({ dims, keep, transposed: true, floorReadElsewhere: true }),
  ]) {
    const left = dropoutMasksAsInputs(other, isDropout);
    assert.equal(left.graph, other);
    assert.deepEqual(left.masks, []);
  }
  // an input not named as the uniforms
  assert.deepEqual(dropoutMasksAsInputs(stepGraph({ dims, keep, transposed: true }), () => false).masks, []);
});
