/**
 * TensorFlowOpLayer (raw TensorFlow ops in tf.keras 2.1–2.3 functional models): the tfjs layer
 * computes TensorFlow's documented results, each op exports and matches tfjs in onnxruntime-node and
 * -web (after a Conv2D, so in the layout the exporter holds images in), and a Keras .h5 holding such
 * layers loads through the Keras reader and exports.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { decodeModel, formatInspection, loadModelFile, modelToBytes } from '../../src/export/index.js';
import { TF_OP_HANDLERS } from '../../src/export/layers/tf-ops.js';
import { normalizeKerasConfig } from '../../src/keras/normalize.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { KerasGlobalAveragePooling1D } from '../../src/tfjs/keras-layers.js';
import { TensorFlowOpLayer, TF_OPS } from '../../src/tfjs/tf-op-layer.js';
import { kerasTfOpLayerH5 } from '../fixtures/keras-files.js';
import { exportFileAndCompare, init, opCount, roundTrip, seededInputs, transposeCount } from './helpers.js';

let dir: string;
before(async () => {
  await selectBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'ganport-tf-ops-'));
});
after(() => rm(dir, { recursive: true, force: true }));

type Attr = { i: string } | { b: boolean } | { s: string } | { type: string } | { f: number };

let count = 0;
/** A TensorFlowOpLayer as tf.keras 2.2 saves one: the NodeDef (attrs as json_format writes them) and its constants. */
function tfOp(op: string, inputs: number, attr: Record<string, Attr> = {}, constants: Record<string, unknown> = {}) {
  return new TensorFlowOpLayer({
    name: `tf_op_layer_${op}_${count++}`,
    nodeDef: {
      name: op,
      op,
      input: Array.from({ length: inputs }, (_, i) => `in_${i}`),
      attr: { T: { type: 'DT_FLOAT' }, ...attr },
    },
    constants,
  } as ConstructorParameters<typeof TensorFlowOpLayer>[0]);
}

const int = (i: number): Attr => ({ i: String(i) });
const bool = (b: boolean): Attr => ({ b });
const text = (s: string): Attr => ({ s: Buffer.from(s).toString('base64') });

/** The layer's output on `values` shaped `shape` (the batch included). */
function run(layer: TensorFlowOpLayer, values: number[], shape: number[]): { shape: number[]; values: number[] } {
  const y = layer.apply(tf.tensor(values, shape)) as tf.Tensor;
  return { shape: y.shape, values: Array.from(y.dataSync()) };
}

describe('the tfjs TensorFlowOpLayer computes what TensorFlow documents (its API examples)', () => {
  test('DepthToSpace and SpaceToDepth, block 2', () => {
    assert.deepEqual(
      run(tfOp('DepthToSpace', 1, { block_size: int(2), data_format: text('NHWC') }), [1, 2, 3, 4], [1, 1, 1, 4]),
      {
        shape: [1, 2, 2, 1],
        values: [1, 2, 3, 4],
      },
    );
    const d2s = run(
      tfOp('DepthToSpace', 1, { block_size: int(2) }),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
      [1, 1, 1, 12],
    );
    assert.deepEqual(d2s, { shape: [1, 2, 2, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] });
    const s2d = run(
      tfOp('SpaceToDepth', 1, { block_size: int(2) }),
      [1, 2, 5, 6, 3, 4, 7, 8, 9, 10, 13, 14, 11, 12, 15, 16],
      [1, 4, 4, 1],
    );
    assert.deepEqual(s2d, {
      shape: [1, 2, 2, 4],
      values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
    });
  });

  test('MirrorPad REFLECT and SYMMETRIC, paddings [[1, 1], [2, 2]]', () => {
    const t = [1, 2, 3, 4, 5, 6];
    const paddings = {
      1: [
        [1, 1],
        [2, 2],
      ],
    };
    const reflect = run(tfOp('MirrorPad', 2, { mode: text('REFLECT') }, paddings), t, [2, 3]);
    assert.deepEqual(
      reflect.values,
      [6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1],
    );
    const symmetric = run(tfOp('MirrorPad', 2, { mode: text('SYMMETRIC') }, paddings), t, [2, 3]);
    assert.deepEqual(
      symmetric.values,
      [2, 1, 1, 2, 3, 3, 2, 2, 1, 1, 2, 3, 3, 2, 5, 4, 4, 5, 6, 6, 5, 5, 4, 4, 5, 6, 6, 5],
    );
  });

  test('StridedSlice: a block, two rows, rows reversed', () => {
    const t = [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6];
    const slice = (begin: number[], end: number[], strides: number[]) =>
      run(tfOp('StridedSlice', 4, {}, { 1: begin, 2: end, 3: strides }), t, [3, 2, 3]);
    assert.deepEqual(slice([1, 0, 0], [2, 1, 3], [1, 1, 1]), { shape: [1, 1, 3], values: [3, 3, 3] });
    assert.deepEqual(slice([1, 0, 0], [2, 2, 3], [1, 1, 1]), { shape: [1, 2, 3], values: [3, 3, 3, 4, 4, 4] });
    assert.deepEqual(slice([1, -1, 0], [2, -3, 3], [1, -1, 1]), { shape: [1, 2, 3], values: [4, 4, 4, 3, 3, 3] });
  });

  test('an op tfjs has no kernel for, or a bound that is computed, is refused by name', () => {
    assert.throws(() => tfOp('Cumsum', 2), /TensorFlow op "Cumsum" is not supported \(supported: DepthToSpace, /);
    assert.throws(() => tfOp('Reshape', 2), /TensorFlow op Reshape: input 1 is computed, not a constant/);
  });
});

/** A model: input `shape` → Conv2D (4 filters, so the exporter holds it channels-first) → `then`. */
function afterConv(shape: number[], then: (x: tf.SymbolicTensor) => tf.SymbolicTensor | tf.SymbolicTensor[]) {
  const input = tf.input({ shape });
  const x = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, padding: 'same', ...init(3) })
    .apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: then(x) });
}

const applied = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
  layer.apply(x) as tf.SymbolicTensor;

/** The StridedSlice of `x` with these bounds and masks. */
const stridedSlice = (x: tf.SymbolicTensor, bounds: number[][], masks: Record<string, number> = {}) =>
  applied(
    tfOp('StridedSlice', 4, Object.fromEntries(Object.entries(masks).map(([k, v]) => [k, int(v)])), {
      1: bounds[0],
      2: bounds[1],
      3: bounds[2],
    }),
    x,
  );

/** Each case on a conv output [batch, 6, 8, 4]: its name, and what follows the conv. */
const CASES: Record<string, (x: tf.SymbolicTensor) => tf.SymbolicTensor | tf.SymbolicTensor[]> = {
  'DepthToSpace block 2 (8 channels to 2: the channel order shows)': (x) =>
    applied(
      tfOp('DepthToSpace', 1, { block_size: int(2), data_format: text('NHWC') }),
      applied(tfOp('ConcatV2', 3, {}, { 2: -1 }), [x, applied(tfOp('Square', 1), x)]),
    ),
  'SpaceToDepth block 2': (x) => applied(tfOp('SpaceToDepth', 1, { block_size: int(2) }), x),
  'AddV2 of two tensors, Sub of a per-channel constant, Mul by a scalar': (x) => {
    const doubled = applied(tfOp('AddV2', 2), [x, x]);
    const shifted = applied(tfOp('Sub', 2, {}, { 1: [0.5, -1, 2, 0] }), doubled);
    return applied(tfOp('Mul', 2, {}, { 0: 1.5 }), shifted);
  },
  'Add of a [1, 1, 1] constant, RealDiv, Maximum, Minimum': (x) => {
    const added = applied(tfOp('Add', 2, {}, { 1: [[[1]]] }), x);
    const divided = applied(tfOp('RealDiv', 2, {}, { 1: 3 }), added);
    return applied(tfOp('Minimum', 2), [applied(tfOp('Maximum', 2, {}, { 1: -0.25 }), divided), x]);
  },
  'Relu6, Sigmoid, Tanh, Square, Sqrt, Rsqrt': (x) => {
    const rooted = applied(tfOp('Sqrt', 1), applied(tfOp('Square', 1), x));
    const rs = applied(tfOp('Rsqrt', 1), applied(tfOp('AddV2', 2, {}, { 1: 1 }), rooted));
    return [applied(tfOp('Tanh', 1), applied(tfOp('Relu6', 1), x)), applied(tfOp('Sigmoid', 1), rs)];
  },
  'Cast to float': (x) => applied(tfOp('Cast', 1, { SrcT: { type: 'DT_FLOAT' }, DstT: { type: 'DT_FLOAT' } }), x),
  'Pad, MirrorPad REFLECT and SYMMETRIC': (x) => {
    const padded = applied(
      tfOp(
        'Pad',
        2,
        {},
        {
          1: [
            [0, 0],
            [1, 2],
            [0, 1],
            [0, 0],
          ],
        },
      ),
      x,
    );
    const reflected = applied(
      tfOp(
        'MirrorPad',
        2,
        { mode: text('REFLECT') },
        {
          1: [
            [0, 0],
            [2, 1],
            [1, 1],
            [0, 0],
          ],
        },
      ),
      padded,
    );
    return applied(
      tfOp(
        'MirrorPad',
        2,
        { mode: text('SYMMETRIC') },
        {
          1: [
            [0, 0],
            [1, 2],
            [3, 0],
            [0, 1],
          ],
        },
      ),
      reflected,
    );
  },
  'ConcatV2 on the channels and on the rows': (x) => [
    applied(tfOp('ConcatV2', 3, {}, { 2: -1 }), [x, applied(tfOp('Square', 1), x)]),
    applied(tfOp('ConcatV2', 3, {}, { 2: 1 }), [x, x]),
  ],
  'Reshape, then Transpose': (x) =>
    applied(tfOp('Transpose', 2, {}, { 1: [0, 2, 1] }), applied(tfOp('Reshape', 2, {}, { 1: [-1, 12, 16] }), x)),
  'Mean, Sum, Max: kept and dropped axes, negative axes': (x) => [
    applied(tfOp('Mean', 2, { keep_dims: bool(true) }, { 1: [1, 2] }), x),
    applied(tfOp('Sum', 2, { keep_dims: bool(false) }, { 1: [-1] }), x),
    applied(tfOp('Max', 2, {}, { 1: [2, -1] }), x),
  ],
  'StridedSlice: ranges with steps 2 and −2, masked bounds, an ellipsis, a shrunk axis, a new axis': (x) => {
    const ranged = stridedSlice(
      x,
      [
        [0, 1, 7, 0],
        [0, 5, 0, 3],
        [1, 2, -2, 1],
      ],
      { begin_mask: 1, end_mask: 1 },
    );
    const ellipsis = stridedSlice(
      ranged,
      [
        [0, 1],
        [0, 3],
        [1, 1],
      ],
      { ellipsis_mask: 1 },
    );
    const shrunk = stridedSlice(
      ellipsis,
      [
        [0, -1, 0],
        [0, 0, 0],
        [1, 1, 1],
      ],
      { begin_mask: 5, end_mask: 5, shrink_axis_mask: 2 },
    );
    const reversed = stridedSlice(
      x,
      [
        [0, 0],
        [0, 0],
        [1, -1],
      ],
      { begin_mask: 3, end_mask: 3 },
    );
    return [
      ranged,
      ellipsis,
      shrunk,
      reversed,
      stridedSlice(
        shrunk,
        [
          [0, 0, 0],
          [0, 0, 0],
          [1, 1, 1],
        ],
        { begin_mask: 7, end_mask: 7, new_axis_mask: 2 },
      ),
    ];
  },
};
for (const op of ['ResizeBilinear', 'ResizeNearestNeighbor'])
  for (const [size, coordinates] of [
    [[11, 13], ''],
    [[3, 5], ''],
    [[4, 5], 'align_corners'],
    [[9, 13], 'align_corners'],
    [[3, 4], 'half_pixel_centers'],
    [[13, 11], 'half_pixel_centers'],
    [[12, 16], 'half_pixel_centers'],
  ] as const)
    CASES[`${op} to ${size.join('×')}${coordinates ? `, ${coordinates}` : ''}`] = (x) =>
      applied(tfOp(op, 2, coordinates ? { [coordinates]: bool(true) } : {}, { 1: size }), x);

describe('each TensorFlow op exported, against tfjs in onnxruntime-node and -web', () => {
  test('one ONNX handler for each op the tfjs layer computes', () => {
    assert.deepEqual(Object.keys(TF_OP_HANDLERS).sort(), Object.keys(TF_OPS).sort());
  });
  for (const [name, then] of Object.entries(CASES))
    test(name, async () => {
      await roundTrip(afterConv([6, 8, 3], then), { batch: 2, relative: 1e-5 });
    });
  test('a TF Cast to int feeding an Embedding with maskZero and a masked average, at opset 13', async () => {
    // tfjs says the Cast's output is float32; its ONNX value is int64: the mask must not trust the former
    const x = tf.input({ shape: [4] });
    const ids = applied(tfOp('Cast', 1, { SrcT: { type: 'DT_FLOAT' }, DstT: { type: 'DT_INT32' } }), x);
    const embedding = tf.layers.embedding({
      inputDim: 5,
      outputDim: 3,
      maskZero: true,
      embeddingsInitializer: tf.initializers.randomNormal({ seed: 5 }),
    });
    const pooled = new KerasGlobalAveragePooling1D({}).apply(embedding.apply(ids)) as tf.SymbolicTensor;
    await roundTrip(tf.model({ inputs: x, outputs: pooled }), { batch: 3, range: [0, 5], convert: { opset: 13 } });
  });
  test('a TF Cast to int is an int64 value downstream: as a graph output (fp16 too), and before Rescaling', async () => {
    const castToInt = () => tfOp('Cast', 1, { SrcT: { type: 'DT_FLOAT' }, DstT: { type: 'DT_INT32' } });
    const x = tf.input({ shape: [4] });
    const ids = applied(castToInt(), x);
    assert.equal(ids.dtype, 'int32', "the symbolic output has the Cast's dtype");
    const values = Float32Array.of(0.5, 3.7, -2.2, 9, 1.9, 0, 7.01, 2);
    const expected = Array.from(
      (tf.model({ inputs: x, outputs: ids }).predict(tf.tensor2d(values, [2, 4])) as tf.Tensor).dataSync(),
    );
    for (const fp16 of [false, true]) {
      const bytes = modelToBytes(tf.model({ inputs: x, outputs: ids }), {
        inputNames: ['x'],
        outputNames: ['y'],
        fp16,
      });
      const session = await ort.InferenceSession.create(bytes);
      const out = await session.run({ x: new ort.Tensor('float32', values, [2, 4]) });
      assert.equal(out.y.type, 'int64');
      assert.deepEqual(Array.from(out.y.data as BigInt64Array, Number), expected, `fp16 ${fp16}`);
    }
    const scaled = tf.layers.rescaling({ scale: 0.5 }).apply(applied(castToInt(), x)) as tf.SymbolicTensor;
    await roundTrip(tf.model({ inputs: x, outputs: scaled }), { range: [0, 9] });
  });
  test('DepthToSpace between convolutions needs no Transpose of its own (pixel shuffle)', async () => {
    const shuffle = (x: tf.SymbolicTensor) =>
      applied(
        tf.layers.conv2d({ filters: 2, kernelSize: 1, ...init(4) }),
        applied(tfOp('DepthToSpace', 1, { block_size: int(2) }), x),
      );
    const bytes = await roundTrip(afterConv([5, 7, 3], shuffle));
    assert.equal(transposeCount(decodeModel(bytes)).total, 2);
  });
});

describe('a tf.keras 2.2 .h5 with TensorFlowOpLayers, through the Keras reader', () => {
  test('a pixel-shuffle generator (Conv2D → DepthToSpace → AddV2 with a constant → Conv2D)', async () => {
    const file = join(dir, 'tf-ops.h5');
    const reference = await kerasTfOpLayerH5(file);
    const xs = seededInputs(reference, 3, 7, (rng) => rng.nextUniform());
    const onnx = await exportFileAndCompare(file, join(dir, 'tf-ops.onnx'), reference, { names: ['x0'], xs });
    assert.equal(opCount(onnx, 'DepthToSpace'), 1);
    const inspection = formatInspection(await loadModelFile(file));
    assert.match(inspection, /^tf_op_layer_DepthToSpace +TensorFlowOpLayer +\[null,10,12,2\] +0 +yes$/m);
  });
  test('an op without a handler is refused by name when the file is read', () => {
    const config = (op: string) => ({
      class_name: 'Model',
      config: {
        name: 'm',
        layers: [
          {
            class_name: 'InputLayer',
            config: { batch_input_shape: [null, 2], name: 'x' },
            name: 'x',
            inbound_nodes: [],
          },
          {
            class_name: 'TensorFlowOpLayer',
            config: { name: op, node_def: { name: op, op, input: ['x'], attr: {} }, constants: {} },
            name: `tf_op_layer_${op}`,
            inbound_nodes: [[['x', 0, 0, {}]]],
          },
        ],
        input_layers: [['x', 0, 0]],
        output_layers: [[`tf_op_layer_${op}`, 0, 0]],
      },
    });
    assert.throws(
      () => normalizeKerasConfig(config('Erf'), { kerasMajor: 2, source: 'f.h5' }),
      /^GanportError: f\.h5: layer "tf_op_layer_Erf" \(TensorFlowOpLayer\): the TensorFlow op "Erf" is not supported \(supported: /,
    );
    const { config: normalized } = normalizeKerasConfig(config('Tanh'), { kerasMajor: 2, source: 'f.h5' });
    const layer = (normalized.config as { layers: { config: { name: string } }[] }).layers[1];
    assert.equal(layer.config.name, 'tf_op_layer_Tanh', 'the config names it with the prefix its references use');
  });
});
