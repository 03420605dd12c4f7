/** Depthwise and separable convolutions, the 1-D layers, RepeatVector, Permute, Dot, ThresholdedReLU, Rescaling, noise, Maxout, spectral norm, the Keras-only layers. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { convertLayersModel, decodeModel, modelToBytes } from '../../src/export/index.js';
import { getPreset } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { Cropping1D, SpatialDropout2D, Subtract, ZeroPadding1D } from '../../src/tfjs/keras-layers.js';
import { maxout } from '../../src/tfjs/maxout.js';
import { spectralNormConv2d, spectralNormDense } from '../../src/tfjs/spectral-norm.js';
import { maxAbsDiff } from '../helpers.js';
import { assertRoundTrip, init, roundTrip, sequential, transposeCount } from './helpers.js';

before(async () => {
  await selectBackend('cpu');
});

const depthwiseInit = (seed: number) => ({
  depthwiseInitializer: tf.initializers.glorotNormal({ seed }),
  biasInitializer: tf.initializers.randomNormal({ seed: seed + 1000 }),
});

describe('DepthwiseConv2D (grouped Conv)', () => {
  for (const multiplier of [1, 2, 3])
    for (const [kernel, stride] of [
      [3, 1],
      [3, 2],
      [5, 2],
    ])
      for (const padding of ['same', 'valid'] as const)
        test(`multiplier ${multiplier}, kernel ${kernel}, stride ${stride}, ${padding}, odd 9×7×3 input`, async () => {
          const bytes = await roundTrip(
            sequential(
              [9, 7, 3],
              [
                tf.layers.depthwiseConv2d({
                  kernelSize: kernel,
                  strides: stride,
                  padding,
                  depthMultiplier: multiplier,
                  ...depthwiseInit(multiplier * 100 + kernel * 10 + stride),
                }),
              ],
            ),
          );
          const conv = decodeModel(bytes).graph.node.find((n) => n.opType === 'Conv')!;
          assert.equal(Number(conv.attribute.find((a) => a.name === 'group')!.i), 3);
        });
  test('non-square kernel, relu6, no bias, batch 1 and 17, after a Conv2D', async () => {
    const model = sequential(
      [10, 11, 2],
      [
        tf.layers.conv2d({ filters: 4, kernelSize: 1, ...init(1) }),
        tf.layers.depthwiseConv2d({
          kernelSize: [3, 2],
          padding: 'same',
          useBias: false,
          activation: 'relu6',
          ...depthwiseInit(2),
        }),
      ],
    );
    await assertRoundTrip(model, { batch: 1 });
    await assertRoundTrip(model, { batch: 17 });
  });
  test('dilationRate > 1 is refused, saying why (tfjs ignores it, Keras applies it)', () => {
    const model = sequential([8, 8, 2], [tf.layers.depthwiseConv2d({ kernelSize: 3, dilationRate: 2 })]);
    assert.throws(() => convertLayersModel(model), /dilationRate > 1 \(tfjs computes this layer without the dilation/);
  });
});

describe('SeparableConv2D (grouped Conv + 1×1 Conv)', () => {
  for (const [multiplier, kernel, stride, padding] of [
    [1, 3, 1, 'same'],
    [2, 3, 2, 'same'],
    [1, 5, 2, 'valid'],
    [3, 2, 1, 'valid'],
  ] as const)
    test(`multiplier ${multiplier}, kernel ${kernel}, stride ${stride}, ${padding}`, () =>
      assertRoundTrip(
        sequential(
          [8, 9, 3],
          [
            tf.layers.separableConv2d({
              filters: 5,
              kernelSize: kernel,
              strides: stride,
              padding,
              depthMultiplier: multiplier,
              activation: 'relu',
              depthwiseInitializer: tf.initializers.glorotNormal({ seed: kernel }),
              pointwiseInitializer: tf.initializers.glorotNormal({ seed: stride + 10 }),
              biasInitializer: tf.initializers.randomNormal({ seed: multiplier + 20 }),
            }),
          ],
        ),
      ));
  test('without bias, dilation 2', () =>
    assertRoundTrip(
      sequential(
        [9, 9, 2],
        [
          tf.layers.separableConv2d({
            filters: 3,
            kernelSize: 3,
            dilationRate: 2,
            padding: 'same',
            useBias: false,
            depthwiseInitializer: tf.initializers.glorotNormal({ seed: 3 }),
            pointwiseInitializer: tf.initializers.glorotNormal({ seed: 4 }),
          }),
        ],
      ),
    ));
});

describe('Conv1D and the 1-D poolings', () => {
  for (const kernel of [1, 3, 4])
    for (const stride of [1, 2])
      for (const padding of ['same', 'valid'] as const) {
        test(`Conv1D kernel ${kernel}, stride ${stride}, ${padding}, 11 steps`, () =>
          assertRoundTrip(
            sequential(
              [11, 3],
              [
                tf.layers.conv1d({
                  filters: 4,
                  kernelSize: kernel,
                  strides: stride,
                  padding,
                  ...init(kernel + stride),
                }),
              ],
            ),
          ));
      }
  test('stacked Conv1D with dilation and activations: inverse transposes between layers cancel', async () => {
    const model = sequential(
      [16, 2],
      [
        tf.layers.conv1d({
          filters: 4,
          kernelSize: 3,
          dilationRate: 2,
          padding: 'same',
          activation: 'relu',
          ...init(5),
        }),
        tf.layers.conv1d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh', ...init(6) }),
        tf.layers.maxPooling1d({ poolSize: 2 }),
        tf.layers.conv1d({ filters: 3, kernelSize: 2, useBias: false, ...init(7) }),
        tf.layers.conv1d({ filters: 3, kernelSize: 1, activation: 'softmax', ...init(8) }),
      ],
    );
    await assertRoundTrip(model, { batch: 5 });
    assert.deepEqual(transposeCount(convertLayersModel(model)), { total: 2, inversePairs: 0 });
    // the softmax on the last Conv1D (channels last) comes after its Transpose
    assert.equal(convertLayersModel(model).graph.node.at(-1)!.opType, 'Softmax');
  });
  for (const pool of ['maxPooling1d', 'averagePooling1d'] as const)
    for (const [size, stride, padding] of [
      [2, 2, 'valid'],
      [3, 2, 'same'],
      [3, 1, 'valid'],
      [2, 3, 'same'],
    ] as const)
      test(`${pool} pool ${size}, stride ${stride}, ${padding}`, () =>
        assertRoundTrip(sequential([9, 3], [tf.layers[pool]({ poolSize: size, strides: stride, padding })])));
  for (const opset of [13, 17, 18])
    test(`GlobalAveragePooling1D and GlobalMaxPooling1D, opset ${opset}`, async () => {
      await assertRoundTrip(sequential([7, 4], [tf.layers.globalAveragePooling1d()]), { convert: { opset } });
      await assertRoundTrip(sequential([7, 4], [tf.layers.globalMaxPooling1d()]), { convert: { opset } });
    });
});

describe('RepeatVector, Permute, Dot', () => {
  test('RepeatVector then a Dense on each step', () =>
    assertRoundTrip(sequential([5], [tf.layers.repeatVector({ n: 4 }), tf.layers.dense({ units: 3, ...init(8) })])));
  test('Permute of a sequence and of a feature map held channels-first after a conv', async () => {
    await assertRoundTrip(sequential([4, 6], [tf.layers.permute({ dims: [2, 1] })]));
    await assertRoundTrip(
      sequential(
        [5, 4, 3],
        [
          tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', ...init(9) }),
          tf.layers.permute({ dims: [3, 1, 2] }),
        ],
      ),
    );
  });
  for (const normalize of [false, true]) {
    test(`Dot of two vectors${normalize ? ', normalized (cosine)' : ''}`, async () => {
      const a = tf.input({ shape: [6] });
      const b = tf.input({ shape: [6] });
      await assertRoundTrip(
        tf.model({
          inputs: [a, b],
          outputs: tf.layers.dot({ axes: -1, normalize }).apply([a, b]) as tf.SymbolicTensor,
        }),
      );
    });
    for (const axes of [
      [2, 2],
      [1, 1],
      [1, 2],
      [2, 1],
    ] as [number, number][])
      test(`Dot of two sequences, axes [${axes}]${normalize ? ', normalized' : ''}`, async () => {
        const a = tf.input({ shape: [4, 5] });
        // b's contracted axis matches a's (a: 4 steps × 5 features), its other axis is 3
        const shapeB = axes[0] === axes[1] ? (axes[0] === 2 ? [3, 5] : [4, 3]) : axes[0] === 1 ? [3, 4] : [5, 3];
        const b2 = tf.input({ shape: shapeB });
        await assertRoundTrip(
          tf.model({
            inputs: [a, b2],
            outputs: tf.layers.dot({ axes, normalize }).apply([a, b2]) as tf.SymbolicTensor,
          }),
        );
      });
  }
});

describe('ThresholdedReLU, Softmax on any axis, Rescaling, noise layers', () => {
  test('ThresholdedReLU with the default theta (1) and theta 0.3', async () => {
    await assertRoundTrip(sequential([8], [tf.layers.thresholdedReLU()]));
    await assertRoundTrip(sequential([8], [tf.layers.thresholdedReLU({ theta: 0.3 })]));
  });
  test('Softmax on the last axis of a feature map held channels-first', async () => {
    for (const axis of [3, -1])
      await assertRoundTrip(
        sequential(
          [4, 5, 3],
          [tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', ...init(10) }), tf.layers.softmax({ axis })],
        ),
      );
  });
  test('Softmax with its axis a list (Keras saves tuples as lists): one axis, or several at once', async () => {
    const conv = () => tf.layers.conv2d({ filters: 2, kernelSize: 1, ...init(13) });
    await assertRoundTrip(sequential([4, 5, 3], [conv(), tf.layers.softmax({ axis: [-1] as unknown as number })]));
    // over [1, 2, 3] jointly, as tfjs computes it: exp(x − logSumExp(x, axes)), from a value held channels-first
    await assertRoundTrip(sequential([4, 5, 3], [conv(), tf.layers.softmax({ axis: [1, 2, 3] as unknown as number })]));
    await assertRoundTrip(sequential([4, 5], [tf.layers.softmax({ axis: [1, 2] as unknown as number })]));
  });
  // tfjs's softmax op runs only on the last axis (Keras-converted models may name another), so the
  // reference for the other axes is the arithmetic itself: exp(x − max) / sum along the axis.
  for (const [shape, axis] of [
    [[4, 5, 3], 1],
    [[4, 5, 3], 2],
    [[4, 5], 1],
  ] as [number[], number][])
    test(`Softmax on axis ${axis} of a rank-${shape.length + 1} value${shape.length === 3 ? ' held channels-first' : ''}`, async () => {
      const body =
        shape.length === 3 ? [tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', ...init(11) })] : [];
      const features = sequential(shape, body.length ? body : [tf.layers.activation({ activation: 'linear' })]);
      const model = sequential(shape, [...body, tf.layers.softmax({ axis })]);
      const x = tf.randomNormal([3, ...shape], 0, 1, 'float32', 5);
      const logits = features.predict(x) as tf.Tensor;
      const e = tf.exp(tf.sub(logits, tf.max(logits, axis, true)));
      const expected = tf.div(e, tf.sum(e, axis, true)).dataSync();
      const bytes = modelToBytes(model, { inputNames: ['x'], outputNames: ['y'] });
      for (const runtime of [ort, ortWeb]) {
        const session = await (runtime as typeof ort).InferenceSession.create(bytes);
        const out = await session.run({ x: new ort.Tensor('float32', x.dataSync() as Float32Array, x.shape) });
        assert.ok(maxAbsDiff(expected, out.y.data as Float32Array) <= 1e-6);
      }
    });
  test('Rescaling [0, 255] to [-1, 1] and without offset', async () => {
    await assertRoundTrip(sequential([4, 4, 3], [tf.layers.rescaling({ scale: 1 / 127.5, offset: -1 })]), {
      range: [0, 255],
    });
    await assertRoundTrip(sequential([6], [tf.layers.rescaling({ scale: 0.5 })]));
  });
  test('Rescaling per channel (ImageNet mean and std, as Keras saves lists): the lists broadcast over the channels', async () => {
    // tfjs's types say number, its layer multiplies by whatever it holds; Keras saves these as lists
    const perChannel = (scale: unknown, offset: unknown) =>
      tf.layers.rescaling({ scale, offset } as unknown as { scale: number; offset: number });
    await assertRoundTrip(sequential([2, 3, 3], [perChannel([1 / 0.229, 1 / 0.224, 1 / 0.225], [-2.1, -2.0, -1.8])]));
    // after a convolution (channels-first inside the graph) and with a scalar offset
    await assertRoundTrip(
      sequential([4, 4, 1], [tf.layers.conv2d({ filters: 3, kernelSize: 1, ...init(3) }), perChannel([1, 2, 3], 0.5)]),
    );
  });
  test('Rescaling of integer pixels (an int32 input, as tf.browser.fromPixels gives) casts them to float first', async () => {
    const pixels = tf.input({ shape: [4], dtype: 'int32' });
    const scaled = tf.layers.rescaling({ scale: 1 / 127.5, offset: -1 }).apply(pixels) as tf.SymbolicTensor;
    const model = tf.model({
      inputs: pixels,
      outputs: tf.layers.dense({ units: 2 }).apply(scaled) as tf.SymbolicTensor,
    });
    const values = Int32Array.of(0, 17, 128, 255, 3, 90, 200, 254);
    const expected = (model.predict(tf.tensor2d(values, [2, 4], 'int32')) as tf.Tensor).dataSync();
    const session = await ort.InferenceSession.create(modelToBytes(model, { inputNames: ['x'], outputNames: ['y'] }));
    const out = await session.run({ x: new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [2, 4]) });
    assert.ok(maxAbsDiff(expected, out.y.data as Float32Array) <= 1e-6);
  });
  test('GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D are the identity at inference', async () => {
    await assertRoundTrip(
      sequential(
        [6],
        [
          tf.layers.gaussianNoise({ stddev: 0.5 }),
          tf.layers.gaussianDropout({ rate: 0.3 }),
          tf.layers.alphaDropout({ rate: 0.2 }),
          tf.layers.dense({ units: 3, ...init(11) }),
        ],
      ),
    );
    await assertRoundTrip(sequential([5, 3], [tf.layers.spatialDropout1d({ rate: 0.4 })]));
  });
});

describe('Maxout (PacGAN discriminator units): Gemm or MatMul, Reshape to pieces, ReduceMax', () => {
  for (const [units, pieces, layout] of [
    [1, 1, 'unit-major'],
    [7, 5, 'unit-major'],
    [16, 2, 'unit-major'],
    [7, 5, 'piece-major'],
    [16, 2, 'piece-major'],
  ] as const)
    test(`${units} units × ${pieces} pieces on [batch, 9], ${layout}`, async () => {
      const layers = [
        maxout({ units, pieces, stddev: 0.5, seed: units, layout }),
        maxout({ units: 3, pieces, seed: 2, layout }),
      ];
      const bytes = await roundTrip(sequential([9], layers), { batch: 5 });
      const ops = decodeModel(bytes).graph.node.map((n) => n.opType);
      assert.deepEqual(ops.filter((op) => op === 'ReduceMax').length, 2);
    });
  test('on a sequence [batch, 4, 6] (the kernel applied to the last axis), opsets 13 and 18', async () => {
    for (const layout of ['unit-major', 'piece-major'] as const) {
      const model = sequential([4, 6], [maxout({ units: 5, pieces: 3, stddev: 1, seed: 9, layout })]);
      for (const opset of [13, 18]) await assertRoundTrip(model, { convert: { opset } });
    }
  });
});

describe('spectrally normalized layers: W / σ folded into plain Conv and Gemm', () => {
  test('a trained conv + dense stack: the folded kernels, no u in the graph', async () => {
    const model = sequential(
      [9, 7, 3],
      [
        spectralNormConv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same', seed: 1 }),
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.flatten(),
        spectralNormDense({ units: 2, seed: 2 }),
      ],
    );
    const x = tf.randomNormal([3, 9, 7, 3], 0, 1, 'float32', 3);
    for (let i = 0; i < 5; i++) tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor); // u moves off its init
    const graph = decodeModel(await roundTrip(model)).graph;
    assert.deepEqual(
      graph.node.map((n) => n.opType).filter((op) => op === 'Conv' || op === 'Gemm'),
      ['Conv', 'Gemm'],
    );
    assert.ok(!graph.initializer.some((t) => t.name.endsWith('/u')));
  });
  test('the dcgan, cdcgan, cdcgan-projection and mlp discriminators built with spectral normalization', async () => {
    for (const name of ['dcgan', 'cdcgan', 'cdcgan-projection', 'mlp']) {
      const d = getPreset(name).buildDiscriminator(5, 1, { spectralNorm: true });
      assert.ok(
        d.layers.some((l) => l.getClassName().startsWith('SpectralNorm')),
        name,
      );
      await assertRoundTrip(d, { batch: 3 });
    }
    // the projection's class embedding too (Miyato & Koyama's code normalizes it)
    const projection = getPreset('cdcgan-projection').buildDiscriminator(5, 1, { spectralNorm: true });
    assert.equal(projection.getLayer('label_projection').getClassName(), 'SpectralNormEmbedding');
  });
});

describe('Keras layers tfjs has no class for: Subtract, Cropping1D, ZeroPadding1D, SpatialDropout2D', () => {
  test('Subtract of two inputs, Cropping1D and ZeroPadding1D around a Conv1D', async () => {
    const a = tf.input({ shape: [6, 4] });
    const b = tf.input({ shape: [6, 4] });
    const difference = new Subtract({}).apply([a, b]) as tf.SymbolicTensor;
    const padded = new ZeroPadding1D({ padding: [2, 1] }).apply(difference) as tf.SymbolicTensor;
    const conv = tf.layers.conv1d({ filters: 3, kernelSize: 3, ...init(4) }).apply(padded) as tf.SymbolicTensor;
    const cropped = new Cropping1D({ cropping: [1, 2] }).apply(conv) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: cropped });
    assert.deepEqual(model.outputs[0].shape, [null, 4, 3]);
    const ops = decodeModel(await roundTrip(model, { batch: 2 })).graph.node.map((n) => n.opType);
    for (const op of ['Sub', 'Pad', 'Slice']) assert.ok(ops.includes(op), op);
    await assertRoundTrip(sequential([7, 2], [new Cropping1D({ cropping: [3, 0] }), new ZeroPadding1D({})]));
  });
  test('SpatialDropout2D: the identity at inference (exported as such), whole channels dropped in training', async () => {
    const layer = new SpatialDropout2D({ rate: 0.5, seed: 3 });
    await assertRoundTrip(sequential([5, 5, 6], [tf.layers.conv2d({ filters: 8, kernelSize: 3, ...init(2) }), layer]));
    const x = tf.ones([2, 4, 4, 8]);
    const y = (layer.apply(x, { training: true }) as tf.Tensor).arraySync() as number[][][][];
    for (const image of y)
      for (let c = 0; c < 8; c++) {
        const channel = image.flat().map((pixel) => pixel[c]);
        assert.ok(channel.every((v) => v === 0) || channel.every((v) => v === 2), `channel ${c} kept or dropped whole`);
      }
  });
  test('they load from Keras-style JSON configs (snake_case, as Keras writes them)', async () => {
    const model = await tf.models.modelFromJSON({
      modelTopology: {
        class_name: 'Sequential',
        config: {
          name: 'keras',
          layers: [
            { class_name: 'ZeroPadding1D', config: { name: 'pad', padding: [1, 2], batch_input_shape: [null, 5, 3] } },
            { class_name: 'Cropping1D', config: { name: 'crop', cropping: 2 } },
          ],
        },
      },
    } as unknown as tf.io.ModelJSON);
    assert.deepEqual(model.outputs[0].shape, [null, 4, 3]);
    await assertRoundTrip(model);
  });
});
