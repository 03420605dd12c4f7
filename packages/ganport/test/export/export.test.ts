/** The layer matrix: every supported layer and option, exported and run in both ONNX Runtime packages against tfjs. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { readOnnxInfo } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { convertLayersModel, decodeModel, encodeModel, findProblems, modelToBytes } from '../../src/export/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { assertRoundTrip, init, roundTrip, sequential, transposeCount } from './helpers.js';

before(async () => {
  await selectBackend('cpu');
});

describe('Dense', () => {
  const activations = [
    'linear',
    'relu',
    'relu6',
    'tanh',
    'sigmoid',
    'hardSigmoid',
    'softmax',
    'elu',
    'selu',
    'softplus',
    'softsign',
    'swish',
  ] as const;
  for (const activation of activations) {
    test(`activation ${activation}`, () =>
      assertRoundTrip(sequential([7], [tf.layers.dense({ units: 5, activation, ...init(1) })])));
  }
  test('without bias', () =>
    assertRoundTrip(sequential([7], [tf.layers.dense({ units: 4, useBias: false, ...init(2) })])));
  test('on rank-3 input (applied to the last axis)', () =>
    assertRoundTrip(sequential([3, 6], [tf.layers.dense({ units: 4, activation: 'tanh', ...init(3) })])));
  test('stacked, with a dynamic batch of 1 and 9', async () => {
    const model = sequential(
      [10],
      [tf.layers.dense({ units: 16, activation: 'relu', ...init(4) }), tf.layers.dense({ units: 3, ...init(5) })],
    );
    await assertRoundTrip(model, { batch: 1 });
    await assertRoundTrip(model, { batch: 9 });
  });
});

describe('activation layers', () => {
  for (const activation of ['relu', 'tanh', 'sigmoid', 'softmax', 'elu', 'selu', 'softplus'] as const) {
    test(`Activation(${activation})`, () => assertRoundTrip(sequential([6], [tf.layers.activation({ activation })])));
  }
  test('ReLU', () => assertRoundTrip(sequential([6], [tf.layers.reLU()])));
  test('ReLU with maxValue', () => assertRoundTrip(sequential([6], [tf.layers.reLU({ maxValue: 0.5 })])));
  test('LeakyReLU with the tfjs default alpha (0.3, not ONNX 0.01)', () =>
    assertRoundTrip(sequential([6], [tf.layers.leakyReLU()])));
  test('LeakyReLU alpha 0.2', () => assertRoundTrip(sequential([6], [tf.layers.leakyReLU({ alpha: 0.2 })])));
  test('ELU (tfjs supports only alpha 1)', () => assertRoundTrip(sequential([6], [tf.layers.elu()])));
  test('PReLU', () =>
    assertRoundTrip(
      sequential(
        [6],
        [tf.layers.prelu({ alphaInitializer: tf.initializers.randomUniform({ minval: 0, maxval: 0.5, seed: 6 }) })],
      ),
    ));
  test('Softmax', () => assertRoundTrip(sequential([6], [tf.layers.softmax()])));
  test('PReLU with sharedAxes: one slope per channel stays channels-first between convolutions; others', async () => {
    const alphaInitializer = tf.initializers.randomUniform({ minval: 0, maxval: 0.5, seed: 7 });
    const conv = (seed: number) => tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', ...init(seed) });
    for (const sharedAxes of [[1, 2], [1], [2, 3]]) {
      const model = sequential([5, 6, 2], [conv(1), tf.layers.prelu({ sharedAxes, alphaInitializer }), conv(2)]);
      const bytes = await roundTrip(model);
      // input and output; per channel ([1, 2]) no more, else a pair around the PRelu
      assert.equal(transposeCount(decodeModel(bytes)).total, sharedAxes.length === 2 && sharedAxes[0] === 1 ? 2 : 4);
    }
  });
});

describe('shape layers', () => {
  test('Reshape to an image', () => assertRoundTrip(sequential([12], [tf.layers.reshape({ targetShape: [2, 3, 2] })])));
  test('Reshape with an inferred dimension', () =>
    assertRoundTrip(sequential([12], [tf.layers.reshape({ targetShape: [-1, 4] })])));
  test('Flatten keeps tfjs (channels-last) order', () =>
    assertRoundTrip(sequential([3, 5, 2], [tf.layers.flatten(), tf.layers.dense({ units: 3, ...init(7) })])));
  test('Flatten of channelsFirst data moves the channels last first, as tfjs (and Keras) do', async () => {
    await assertRoundTrip(sequential([3, 4], [tf.layers.flatten({ dataFormat: 'channelsFirst' })]));
    await assertRoundTrip(sequential([2, 3, 4], [tf.layers.flatten({ dataFormat: 'channelsFirst' })]));
  });
  test('Dropout is the identity at inference', () =>
    assertRoundTrip(sequential([5], [tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 2, ...init(8) })])));
});

describe('graph structure', () => {
  test('named I/O, dynamic batch, opset and metadata are written', () => {
    const model = sequential([4], [tf.layers.dense({ units: 2, ...init(9) })]);
    const bytes = modelToBytes(model, {
      inputNames: ['latent'],
      outputNames: ['image'],
      opset: 15,
      metadata: { a: 'b' },
      docString: 'doc',
    });
    const info = readOnnxInfo(bytes);
    assert.equal(info.opsetVersion, 15);
    assert.equal(info.irVersion, 8);
    assert.equal(info.producerName, 'ganport');
    assert.deepEqual(info.metadata, { a: 'b' });
    assert.deepEqual(info.inputs, [{ name: 'latent', elemType: 1, dims: ['batch', 4] }]);
    assert.deepEqual(info.outputs, [{ name: 'image', elemType: 1, dims: ['batch', 2] }]);
    const decoded = decodeModel(bytes);
    assert.equal(decoded.docString, 'doc');
    assert.deepEqual(findProblems(decoded), []);
  });

  test('a layer named like an output does not steal its name, and no Identity is left', () => {
    const model = sequential([4], [tf.layers.dense({ units: 2, name: 'image', ...init(10) })]);
    const onnx = convertLayersModel(model, { outputNames: ['image'] });
    assert.equal(onnx.graph.output[0].name, 'image');
    assert.ok(!onnx.graph.node.some((n) => n.opType === 'Identity'));
  });

  test('the validator catches undefined inputs, duplicates, bad initializers and missing outputs', () => {
    const onnx = convertLayersModel(sequential([4], [tf.layers.dense({ units: 2, activation: 'relu', ...init(11) })]));
    const broken = decodeModel(encodeModel(onnx));
    broken.graph.node.reverse(); // no longer topologically sorted
    broken.graph.initializer[0].rawData = broken.graph.initializer[0].rawData!.subarray(4);
    broken.graph.output.push({ ...broken.graph.output[0], name: 'ghost' });
    broken.graph.input.push(broken.graph.input[0]);
    const problems = findProblems(broken).join('\n');
    assert.match(problems, /uses ".*" before it is defined/);
    assert.match(problems, /holds \d+ bytes, its shape \[4,2\] needs 32/);
    assert.match(problems, /graph output "ghost" is never produced/);
    assert.match(problems, /defined more than once/);
  });

  test('an unsupported layer fails with its class and name', () => {
    const model = sequential([4, 4, 4, 1], [tf.layers.conv3d({ filters: 2, kernelSize: 3, name: 'my_conv3d' })]);
    assert.throws(
      () => convertLayersModel(model),
      /layer "my_conv3d" is a Conv3D, which the ONNX exporter does not support/,
    );
  });

  test('an unsupported activation fails with its name', () => {
    assert.throws(
      () => convertLayersModel(sequential([4], [tf.layers.dense({ units: 2, activation: 'mish' as 'relu' })])),
      /activation "mish"/,
    );
  });

  test('what the README says it refuses stops the export, naming the layer with its nesting path, its class and why', () => {
    const decoder = tf.sequential({
      name: 'decoder',
      layers: [tf.layers.conv2dTranspose({ inputShape: [8, 8, 2], filters: 2, kernelSize: 3, dilationRate: 2 })],
    });
    const input = tf.input({ shape: [8, 8, 2] });
    const lstm = tf.layers.lstm({ units: 4, goBackwards: true }) as tf.RNN;
    const cases: [string, tf.LayersModel, RegExp][] = [
      [
        'channelsFirst',
        sequential(
          [1, 8, 8],
          [tf.layers.conv2d({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst', name: 'nchw' })],
        ),
        /layer nchw \(Conv2D\): dataFormat channelsFirst is not supported by the ONNX exporter$/,
      ],
      [
        'a dilated Conv2DTranspose in a nested model',
        tf.model({ inputs: input, outputs: decoder.apply(input) as tf.SymbolicTensor }),
        /layer decoder\/conv2d_transpose_\w+ \(Conv2DTranspose\): dilationRate > 1 is not supported by the ONNX exporter$/,
      ],
      [
        'a Bidirectional whose forward layer goes backwards',
        sequential([5, 3], [tf.layers.bidirectional({ layer: lstm, name: 'reversed' })]),
        /layer reversed \(Bidirectional\): a Bidirectional whose forward layer has goBackwards: true is not supported/,
      ],
    ];
    for (const [what, model, message] of cases) assert.throws(() => convertLayersModel(model), message, what);
  });

  test('opsets outside 13..21 are refused', () => {
    const model = sequential([4], [tf.layers.dense({ units: 2 })]);
    assert.throws(() => convertLayersModel(model, { opset: 12 }), /opset must be an integer from 13 to 21/);
    assert.throws(() => convertLayersModel(model, { opset: 22 }), /opset/);
  });
});
