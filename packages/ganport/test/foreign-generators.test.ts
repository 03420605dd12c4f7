/**
 * Generators as other exporters write them (torch.onnx without dynamic axes, PyTorch's DCGAN latent
 * of shape [N, Z, 1, 1], int32 labels, initializers listed as inputs), and models the runtime must
 * refuse with a GanportError rather than fail inside ONNX Runtime: built here with ganport's ONNX
 * builder and run through @ganport/runtime in both of its environments.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as node from '@ganport/runtime';
import * as web from '@ganport/runtime/web';
import {
  attr,
  DataType,
  type DataTypeCode,
  makeGraph,
  makeModel,
  makeNode,
  makeTensor,
  makeValueInfo,
} from '../src/onnx/builder.js';
import type { ValueInfoProto } from '../src/onnx/proto.js';
import { encodeModel } from '../src/onnx/proto.js';
import { maxAbsDiff, SHIPPED_MODELS } from './helpers.js';

const Z = 8;
const OUT = [2, 3, 1];
const PIXELS = 6;
/** The model's weights: image = latent · W (+ label), W of Z × PIXELS. */
const W = Float32Array.from({ length: Z * PIXELS }, (_, i) => ((i * 7919) % 13) / 13 - 0.5);

interface Spec {
  /** The latent input's shape, batch first. */
  latent?: (number | string)[];
  label?: DataTypeCode;
  extraInput?: ValueInfoProto;
  outType?: DataTypeCode;
  /** An op run on the product (Log makes NaN of its negative values). */
  after?: string;
  /** The output's shape after the product, batch first (−1 to infer it). */
  reshapeTo?: number[];
  metadata?: Record<string, string>;
  initializersAsInputs?: boolean;
}

function generatorModel(spec: Spec = {}): Uint8Array {
  const latent = spec.latent ?? ['batch', Z];
  const int64 = (values: number[]) => BigInt64Array.from(values.map(BigInt));
  const initializers = [
    makeTensor('W', DataType.FLOAT, [Z, PIXELS], W),
    makeTensor('rows', DataType.INT64, [2], int64([-1, Z])),
    makeTensor('column', DataType.INT64, [2], int64([-1, 1])),
    makeTensor('image_shape', DataType.INT64, [4], int64(spec.reshapeTo ?? [-1, ...OUT])),
  ];
  const nodes = [makeNode('Reshape', ['latent', 'rows'], ['z']), makeNode('MatMul', ['z', 'W'], ['product'])];
  let last = 'product';
  if (spec.label !== undefined) {
    nodes.push(
      makeNode('Cast', ['label'], ['label_float'], { to: attr.int(DataType.FLOAT) }),
      makeNode('Reshape', ['label_float', 'column'], ['label_column']),
      makeNode('Add', [last, 'label_column'], ['labelled']),
    );
    last = 'labelled';
  }
  if (spec.after) {
    nodes.push(makeNode(spec.after, [last], ['after']));
    last = 'after';
  }
  const outType = spec.outType ?? DataType.FLOAT;
  nodes.push(makeNode('Reshape', [last, 'image_shape'], ['shaped']));
  nodes.push(makeNode('Cast', ['shaped'], ['image'], { to: attr.int(outType) }));
  const inputs = [makeValueInfo('latent', DataType.FLOAT, latent)];
  if (spec.label !== undefined) inputs.push(makeValueInfo('label', spec.label, [latent[0]]));
  if (spec.extraInput) inputs.push(spec.extraInput);
  if (spec.initializersAsInputs)
    for (const t of initializers) inputs.push(makeValueInfo(t.name, t.dataType as DataTypeCode, t.dims));
  const output = makeValueInfo('image', outType, [latent[0], ...OUT]);
  const graph = makeGraph(nodes, 'foreign', inputs, [output], initializers);
  return encodeModel(
    makeModel(graph, { opset: 17, producerName: 'elsewhere', producerVersion: '1', metadata: spec.metadata }),
  );
}

/** What the model computes for `latents` (and labels), in float64. */
function expected(latents: Float32Array, labels: number[] = []): Float32Array {
  const count = latents.length / Z;
  const out = new Float32Array(count * PIXELS);
  for (let n = 0; n < count; n++)
    for (let p = 0; p < PIXELS; p++) {
      let sum = labels[n] ?? 0;
      for (let k = 0; k < Z; k++) sum += latents[n * Z + k] * W[k * PIXELS + p];
      out[n * PIXELS + p] = sum;
    }
  return out;
}

const latentsOf = (count: number) => node.sampleLatents({ seed: 3, count, dim: Z });
const RUNTIMES = [
  ['onnxruntime-node', node],
  ['onnxruntime-web', web],
] as const;
const shipped = (model: string, file: string) => readFileSync(join(SHIPPED_MODELS, model, file));

for (const [name, runtime] of RUNTIMES) {
  test(`a graph that fixes its batch size runs in batches of it, the last one padded (${name})`, async () => {
    for (const [batch, count] of [
      [1, 5],
      [4, 6],
    ]) {
      const generator = await runtime.loadGenerator(generatorModel({ latent: [batch, Z] }));
      assert.equal(generator.info.batchSize, batch);
      const latents = latentsOf(count);
      const result = await generator.generate({ latents });
      assert.deepEqual(result.dims, [count, ...OUT]);
      assert.ok(maxAbsDiff(result.data, expected(latents)) < 1e-5, `batch ${batch}, ${count} images`);
      await generator.dispose();
    }
  });

  test(`a latent of shape [N, Z, 1, 1] (PyTorch's DCGAN) is fed in that shape (${name})`, async () => {
    const generator = await runtime.loadGenerator(generatorModel({ latent: ['N', Z, 1, 1] }));
    assert.equal(generator.info.latentSize, Z);
    assert.deepEqual(generator.info.latentShape, [Z, 1, 1]);
    const result = await generator.generate({ seed: 3, count: 2 });
    assert.ok(maxAbsDiff(result.data, expected(latentsOf(2))) < 1e-5);
    await generator.dispose();
  });

  test(`int32 labels are fed as int32; bigint labels are accepted; the labels set the count (${name})`, async () => {
    const generator = await runtime.loadGenerator(generatorModel({ label: DataType.INT32 }));
    assert.equal(generator.info.labelType, 'int32');
    const latents = latentsOf(3);
    const result = await generator.generate({ latents, labels: [0, 1, 2] });
    assert.ok(maxAbsDiff(result.data, expected(latents, [0, 1, 2])) < 1e-5);
    const byLabels = await generator.generate({ seed: 3, labels: BigInt64Array.from([2n, 5n]) });
    assert.equal(byLabels.count, 2, 'no count: one image a label');
    assert.ok(maxAbsDiff(byLabels.data, expected(latentsOf(2), [2, 5])) < 1e-5);
    await assert.rejects(generator.generate({ count: 2, labels: [0, 1, 2] }), /^GanportError: 3 labels for 2 images$/);
    await assert.rejects(generator.generate({ labels: [] }), /labels must be a non-empty list of class labels/);
    // without ganport's metadata the classes are unknown: no default labels (they would all be class 0)
    await assert.rejects(
      generator.generate({ count: 2 }),
      /^GanportError: this generator does not record its classes \(ganport\.num_classes\): pass labels$/,
    );
    await generator.dispose();
  });
}

test('initializers listed among the graph inputs are not taken for a label input', async () => {
  const generator = await node.loadGenerator(generatorModel({ initializersAsInputs: true }));
  assert.equal(generator.info.labelInput, undefined);
  const latents = latentsOf(2);
  assert.ok(maxAbsDiff((await generator.generate({ latents })).data, expected(latents)) < 1e-5);
  await generator.dispose();
});

test('a negative dimension in the graph reads as unknown, not as 2^64 − 1', async () => {
  const info = node.readOnnxInfo(generatorModel({ latent: [-1, Z] }));
  assert.deepEqual(info.inputs[0].dims, [null, Z]);
});

test('models the runtime cannot run are refused on load, naming why', async () => {
  const refusals: [string, Uint8Array, RegExp, string][] = [
    [
      'an input it cannot feed',
      generatorModel({ extraInput: makeValueInfo('psi', DataType.FLOAT, [1]) }),
      /the model's input "psi" is neither its latent vectors nor an integer label/,
      'unsupported',
    ],
    [
      'a float16 output',
      generatorModel({ outType: DataType.FLOAT16 }),
      /the model's output "image" has ONNX element type 10; the runtime reads float32/,
      'unsupported',
    ],
    [
      'a discriminator',
      shipped('cdcgan', 'discriminator.onnx'),
      /the model is a discriminator, not a generator/,
      'invalid-model',
    ],
    [
      'a classifier',
      shipped('classifier', 'classifier.onnx'),
      /the model is a classifier, not a generator/,
      'invalid-model',
    ],
    [
      'a value range that is not [lo, hi]',
      generatorModel({ metadata: { [node.META.valueRange]: '1' } }),
      /metadata ganport\.value_range must be \[lo, hi\] with lo < hi, got 1/,
      'invalid-model',
    ],
    [
      'an output shape that is not a list of sizes',
      generatorModel({ metadata: { [node.META.outputShape]: '28' } }),
      /metadata ganport\.output_shape must be a list of positive integers, got 28/,
      'invalid-model',
    ],
  ];
  for (const [what, bytes, message, code] of refusals)
    await assert.rejects(node.loadGenerator(bytes), (err: Error) => {
      assert.ok(err instanceof node.GanportError, `${what}: ${err.stack}`);
      assert.match(err.message, message, what);
      assert.equal(err.code, code, what);
      return true;
    });
});

test('what goes wrong while generating is a GanportError: ONNX Runtime failures, NaN, the wrong output size', async () => {
  const cases: [Spec, RegExp][] = [
    [{ reshapeTo: [-1, 5, 1, 1] }, /^ONNX Runtime could not run the model: .*Reshape/],
    [{ after: 'Log' }, /^the model computed NaN or infinite values$/],
    [
      { metadata: { [node.META.outputShape]: '[28,28,1]' } },
      /^the model's output holds 12 values for 2 images, not 28×28×1 each$/,
    ],
  ];
  for (const [spec, message] of cases) {
    const generator = await node.loadGenerator(generatorModel(spec));
    await assert.rejects(generator.generate({ count: 2 }), (err: Error) => {
      assert.ok(err instanceof node.GanportError, err.stack);
      assert.equal(err.code, 'invalid-model');
      assert.match(err.message, message);
      return true;
    });
    await generator.dispose();
  }
});

test('sessions: no providers, or only ones that fail, are named as such; a disposed generator says so', async () => {
  const bytes = generatorModel();
  await assert.rejects(
    node.loadGenerator(bytes, { executionProviders: [] }),
    /executionProviders must be a list of at least one name/,
  );
  await assert.rejects(node.loadGenerator(bytes, { executionProviders: ['no-such-provider'] }), (err: Error) => {
    assert.ok(err instanceof node.GanportError);
    assert.equal(err.code, 'unavailable', err.message);
    assert.match(err.message, /^could not create an ONNX Runtime session \(no-such-provider: /);
    return true;
  });
  const generator = await node.loadGenerator(bytes);
  await generator.dispose();
  await generator.dispose(); // twice: nothing to do
  await assert.rejects(generator.generate(), /^GanportError: this generator was disposed$/);
});
