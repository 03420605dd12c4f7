/** The exporter's convolutional, normalisation, merge and spatial layers, functional models, layouts and folding. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { generatorInfo, META, Rng, readOnnxInfo } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { toHalfBits } from '../../src/export/float16.js';
import {
  convertLayersModel,
  decodeModel,
  exportModelFile,
  formatInspection,
  modelToBytes,
} from '../../src/export/index.js';
import { PRESETS } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { saveLayersModel } from '../../src/tfjs/model-io.js';
import { maxAbsDiff, tempDir } from '../helpers.js';
import {
  assertRoundTrip,
  init,
  type RoundTripOptions,
  roundTrip,
  sequential,
  transposeCount,
  valueDims,
} from './helpers.js';

before(async () => {
  await selectBackend('cpu');
});

/** Gives a BatchNormalization layer non-trivial moving statistics and affine weights. */
function randomizeBatchNorm(layer: tf.layers.Layer, seed: number): void {
  const rng = new Rng(seed);
  layer.setWeights(
    layer.getWeights().map((w, i) =>
      tf.tensor(
        Float32Array.from({ length: w.size }, () => (i === 3 ? 0.5 + rng.nextUniform() : rng.nextNormal() * 0.5)),
        w.shape,
      ),
    ),
  );
}

describe('Conv2D', () => {
  for (const stride of [1, 2])
    for (const kernel of [3, 4, 5])
      for (const padding of ['same', 'valid'] as const) {
        test(`kernel ${kernel}, stride ${stride}, ${padding}, odd 9×7 input`, () =>
          assertRoundTrip(
            sequential(
              [9, 7, 3],
              [
                tf.layers.conv2d({
                  filters: 4,
                  kernelSize: kernel,
                  strides: stride,
                  padding,
                  ...init(kernel * 10 + stride),
                }),
              ],
            ),
          ));
      }
  test('non-square kernel and strides, dilation, relu, no bias, batch 1 and 64', async () => {
    const model = sequential(
      [11, 10, 2],
      [
        tf.layers.conv2d({
          filters: 3,
          kernelSize: [3, 5],
          strides: [2, 1],
          padding: 'same',
          activation: 'relu',
          useBias: false,
          ...init(1),
        }),
        tf.layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same', ...init(2) }),
      ],
    );
    await assertRoundTrip(model, { batch: 1 });
    await assertRoundTrip(model, { batch: 64 });
  });
  test('dilation with strides, which tfjs cannot run, is refused (Conv2D and Conv1D)', () => {
    for (const model of [
      sequential([9, 9, 2], [tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2 })]),
      sequential([9, 2], [tf.layers.conv1d({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2 })]),
    ]) {
      const input = tf.zeros([1, ...(model.inputs[0].shape.slice(1) as number[])]);
      assert.throws(() => model.predict(input), /Either strides? or dilations? must be 1/);
      assert.throws(() => convertLayersModel(model), /dilationRate > 1 with strides > 1 \(TensorFlow rejects it too\)/);
      assert.match(formatInspection(model), /export: fails: /);
    }
  });
});

describe('Conv2DTranspose', () => {
  for (const stride of [1, 2, 3])
    for (const kernel of [2, 3, 4, 5])
      for (const padding of ['same', 'valid'] as const) {
        test(`kernel ${kernel}, stride ${stride}, ${padding}, odd 5×7 input`, () =>
          assertRoundTrip(
            sequential(
              [5, 7, 3],
              [
                tf.layers.conv2dTranspose({
                  filters: 2,
                  kernelSize: kernel,
                  strides: stride,
                  padding,
                  ...init(kernel * 10 + stride),
                }),
              ],
            ),
          ));
      }
});

describe('normalisation', () => {
  test('BatchNormalization after a conv (channels-first BatchNormalization op), epsilon kept', async () => {
    const bn = tf.layers.batchNormalization({ epsilon: 0.01 });
    const model = sequential(
      [6, 6, 3],
      [tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', ...init(3) }), bn],
    );
    randomizeBatchNorm(bn, 4);
    const bytes = await roundTrip(model);
    const node = decodeModel(bytes).graph.node.find((n) => n.opType === 'BatchNormalization')!;
    assert.ok(Math.abs(node.attribute.find((a) => a.name === 'epsilon')!.f! - 0.01) < 1e-9);
  });
  test('BatchNormalization on dense features, and without center/scale', async () => {
    const bn1 = tf.layers.batchNormalization();
    await (async () => {
      const model = sequential([5], [tf.layers.dense({ units: 6, ...init(5) }), bn1]);
      randomizeBatchNorm(bn1, 6);
      await assertRoundTrip(model);
    })();
    const bn2 = tf.layers.batchNormalization({ center: false, scale: false });
    const model = sequential([4, 4, 2], [bn2]);
    randomizeBatchNorm(bn2, 7);
    await assertRoundTrip(model);
  });
  test('BatchNormalization on rank-3 input (Mul + Add)', async () => {
    const bn = tf.layers.batchNormalization();
    const model = sequential([3, 5], [bn]);
    randomizeBatchNorm(bn, 8);
    await assertRoundTrip(model);
  });
  for (const opset of [15, 17]) {
    test(`LayerNormalization, opset ${opset}`, async () => {
      const ln = tf.layers.layerNormalization({
        epsilon: 0.05,
        gammaInitializer: tf.initializers.randomNormal({ seed: 1 }),
        betaInitializer: tf.initializers.randomNormal({ seed: 2 }),
      });
      const bytes = await roundTrip(sequential([4, 6], [ln]), { convert: { opset } });
      assert.equal(
        decodeModel(bytes).graph.node.some((n) => n.opType === 'LayerNormalization'),
        opset >= 17,
      );
    });
  }
});

describe('pooling and spatial layers', () => {
  for (const padding of ['same', 'valid'] as const) {
    test(`MaxPooling2D ${padding}`, () =>
      assertRoundTrip(sequential([7, 9, 2], [tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding })])));
    test(`AveragePooling2D ${padding} (padding not counted)`, () =>
      assertRoundTrip(sequential([7, 9, 2], [tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding })])));
  }
  test('GlobalAveragePooling2D and GlobalMaxPooling2D', async () => {
    await assertRoundTrip(sequential([5, 6, 3], [tf.layers.globalAveragePooling2d({})]));
    await assertRoundTrip(sequential([5, 6, 3], [tf.layers.globalMaxPooling2d({})]));
  });
  test('UpSampling2D nearest and bilinear', async () => {
    await assertRoundTrip(sequential([3, 4, 2], [tf.layers.upSampling2d({ size: [2, 3] })]));
    await assertRoundTrip(sequential([3, 4, 2], [tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' })]));
  });
  test('ZeroPadding2D and Cropping2D, after a conv (channels-first) and on the input (channels-last)', async () => {
    await assertRoundTrip(
      sequential(
        [5, 6, 2],
        [
          tf.layers.zeroPadding2d({
            padding: [
              [1, 2],
              [0, 3],
            ],
          }),
          tf.layers.cropping2D({
            cropping: [
              [2, 0],
              [1, 1],
            ],
          }),
        ],
      ),
    );
    await assertRoundTrip(
      sequential(
        [5, 6, 2],
        [
          tf.layers.conv2d({ filters: 2, kernelSize: 1, ...init(9) }),
          tf.layers.zeroPadding2d({ padding: 1 }),
          tf.layers.cropping2D({
            cropping: [
              [0, 2],
              [3, 0],
            ],
          }),
        ],
      ),
    );
  });
});

describe('functional models and merges', () => {
  test('a conditional generator([z, label]): Embedding, Flatten, Concatenate, Dense, Reshape, ConvTranspose', async () => {
    const z = tf.input({ shape: [8], name: 'z' });
    const label = tf.input({ shape: [1], dtype: 'int32', name: 'label' });
    const embedded = tf.layers
      .flatten()
      .apply(
        tf.layers
          .embedding({ inputDim: 10, outputDim: 4, embeddingsInitializer: tf.initializers.randomNormal({ seed: 3 }) })
          .apply(label),
      ) as tf.SymbolicTensor;
    const joined = tf.layers.concatenate().apply([z, embedded]) as tf.SymbolicTensor;
    const x = tf.layers
      .reshape({ targetShape: [3, 3, 4] })
      .apply(tf.layers.dense({ units: 36, ...init(4) }).apply(joined)) as tf.SymbolicTensor;
    const image = tf.layers
      .conv2dTranspose({ filters: 1, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh', ...init(5) })
      .apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [z, label], outputs: image });
    await assertRoundTrip(model, { batch: 5 });
  });
  test('a conditional discriminator: label map concatenated on the channel axis after a conv', async () => {
    const image = tf.input({ shape: [6, 6, 1] });
    const label = tf.input({ shape: [1], dtype: 'int32' });
    const labelMap = tf.layers
      .reshape({ targetShape: [3, 3, 1] })
      .apply(
        tf.layers
          .dense({ units: 9, ...init(6) })
          .apply(tf.layers.flatten().apply(tf.layers.embedding({ inputDim: 10, outputDim: 3 }).apply(label))),
      ) as tf.SymbolicTensor;
    const features = tf.layers
      .conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', ...init(7) })
      .apply(image) as tf.SymbolicTensor;
    const joined = tf.layers.concatenate({ axis: -1 }).apply([features, labelMap]) as tf.SymbolicTensor;
    const out = tf.layers
      .dense({ units: 1, activation: 'sigmoid', ...init(8) })
      .apply(tf.layers.flatten().apply(tf.layers.leakyReLU({ alpha: 0.2 }).apply(joined))) as tf.SymbolicTensor;
    await assertRoundTrip(tf.model({ inputs: [image, label], outputs: out }));
  });
  for (const merge of ['add', 'multiply', 'average', 'maximum', 'minimum'] as const) {
    test(`${merge} of a feature map with a lower-rank vector (tfjs expands at axis 1) and of three equal inputs`, async () => {
      const a = tf.input({ shape: [4, 5, 3] });
      const b = tf.input({ shape: [3] });
      const conv = tf.layers.conv2d({ filters: 3, kernelSize: 1, ...init(9) }).apply(a) as tf.SymbolicTensor;
      await assertRoundTrip(
        tf.model({ inputs: [a, b], outputs: tf.layers[merge]().apply([conv, b]) as tf.SymbolicTensor }),
      );
      const xs = [tf.input({ shape: [6] }), tf.input({ shape: [6] }), tf.input({ shape: [6] })];
      await assertRoundTrip(tf.model({ inputs: xs, outputs: tf.layers[merge]().apply(xs) as tf.SymbolicTensor }));
    });
  }
});

/** The 28×28 DCGAN of the training issue, width 32. */
function dcgan(): { generator: tf.Sequential; discriminator: tf.Sequential } {
  const bn = () => tf.layers.batchNormalization();
  const generator = sequential(
    [100],
    [
      tf.layers.dense({ units: 7 * 7 * 64, useBias: false, ...init(1) }),
      bn(),
      tf.layers.reLU(),
      tf.layers.reshape({ targetShape: [7, 7, 64] }),
      tf.layers.conv2dTranspose({
        filters: 32,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        useBias: false,
        ...init(2),
      }),
      bn(),
      tf.layers.reLU(),
      tf.layers.conv2dTranspose({
        filters: 1,
        kernelSize: 4,
        strides: 2,
        padding: 'same',
        activation: 'tanh',
        ...init(3),
      }),
    ],
  );
  const batchNorms = generator.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  for (const [i, l] of batchNorms.entries()) randomizeBatchNorm(l, 10 + i);
  const discriminator = sequential(
    [28, 28, 1],
    [
      tf.layers.conv2d({ filters: 32, kernelSize: 4, strides: 2, padding: 'same', ...init(4) }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 4, strides: 2, padding: 'same', ...init(5) }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1, ...init(6) }),
    ],
  );
  return { generator, discriminator };
}

describe('layouts, transposes and folding on a DCGAN', () => {
  const { generator, discriminator } = dcgan();

  test('generator and discriminator round-trip', async () => {
    await assertRoundTrip(generator, { batch: 4 });
    await assertRoundTrip(discriminator, { batch: 4 });
  });

  test('NHWC I/O needs exactly one Transpose in and one out, and no inverse pair is ever adjacent', () => {
    // generator: after Reshape into NCHW, and the output back to NHWC; discriminator: the input into NCHW, back to NHWC before Flatten
    for (const model of [generator, discriminator]) {
      const { total, inversePairs } = transposeCount(convertLayersModel(model));
      assert.equal(inversePairs, 0);
      assert.equal(total, 2);
    }
  });

  test('--layout nchw gives channels-first I/O with fewer transposes', async () => {
    const onnx = convertLayersModel(generator, { layout: 'nchw', inputNames: ['z'], outputNames: ['y'] });
    assert.deepEqual(valueDims(onnx.graph.output[0]), ['batch', 1, 28, 28]);
    assert.equal(transposeCount(onnx).total, 1);
    const z = tf.randomNormal([3, 100], 0, 1, 'float32', 1);
    const expected = tf.transpose(generator.predict(z) as tf.Tensor, [0, 3, 1, 2]).dataSync();
    const session = await ort.InferenceSession.create(
      modelToBytes(generator, { layout: 'nchw', inputNames: ['z'], outputNames: ['y'] }),
    );
    const out = await session.run({ z: new ort.Tensor('float32', z.dataSync() as Float32Array, [3, 100]) });
    assert.ok(maxAbsDiff(expected, out.y.data as Float32Array) <= 1e-5);
  });

  test('a model-file export records its image output layout, which a [3, 3, 4] shape cannot tell', async () => {
    const dir = tempDir();
    const small = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [8], units: 36 }), tf.layers.reshape({ targetShape: [3, 4, 3] })],
    });
    await saveLayersModel(small, dir);
    for (const [layout, recorded] of [
      [undefined, 'NHWC'],
      ['nchw', 'NCHW'],
    ] as const) {
      const out = join(dir, `${recorded}.onnx`);
      await exportModelFile(join(dir, 'model.json'), out, { layout });
      const info = generatorInfo(readOnnxInfo(readFileSync(out)));
      assert.deepEqual([info.outputShape, info.layout], [recorded === 'NCHW' ? [3, 3, 4] : [3, 4, 3], recorded]);
    }
    small.dispose();
  });

  test("a model-file export records its image output's range where the final activation bounds it", async () => {
    const dir = tempDir();
    const dense = (activation?: 'sigmoid' | 'tanh' | 'relu') =>
      tf.layers.dense({ inputShape: [8], units: 12, activation });
    const shaped = (...layers: tf.layers.Layer[]) =>
      tf.sequential({ layers: [...layers, tf.layers.reshape({ targetShape: [2, 2, 3] })] });
    // a nested generator (a combined GAN's), and a sigmoid before layers that only move values
    const nested = tf.sequential({ layers: [shaped(dense()), tf.layers.activation({ activation: 'sigmoid' })] });
    for (const [name, model, range] of [
      ['sigmoid', shaped(dense('sigmoid')), [0, 1]],
      ['tanh', shaped(dense('tanh')), [-1, 1]],
      ['relu', shaped(dense('relu')), undefined],
      ['linear', shaped(dense()), undefined],
      ['nested', nested, [0, 1]],
      [
        'upsampled',
        tf.sequential({ layers: [shaped(dense('sigmoid')), tf.layers.upSampling2d({ size: [2, 2] })] }),
        [0, 1],
      ],
    ] as const) {
      await saveLayersModel(model, join(dir, name));
      const out = join(dir, `${name}.onnx`);
      await exportModelFile(join(dir, name, 'model.json'), out);
      const { metadata } = readOnnxInfo(readFileSync(out));
      assert.deepEqual(metadata[META.valueRange] && JSON.parse(metadata[META.valueRange]), range, name);
      // the runtime's images map the range onto 0–255 (without it, a sigmoid's [0, 1] took only 128–255)
      assert.deepEqual(generatorInfo(readOnnxInfo(readFileSync(out))).valueRange, range ?? [-1, 1], name);
      model.dispose();
    }
  });

  test('--layout nchw on an RGB conv model: channels-first input and output match tfjs transposed', async () => {
    const model = sequential(
      [6, 5, 3],
      [
        tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', ...init(12) }),
        tf.layers.upSampling2d({ size: [2, 2] }),
      ],
    );
    const x = tf.randomNormal([2, 6, 5, 3], 0, 1, 'float32', 3);
    const expected = tf.transpose(model.predict(x) as tf.Tensor, [0, 3, 1, 2]).dataSync();
    const bytes = modelToBytes(model, { layout: 'nchw', inputNames: ['x'], outputNames: ['y'] });
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({
      x: new ort.Tensor('float32', tf.transpose(x, [0, 3, 1, 2]).dataSync() as Float32Array, [2, 3, 6, 5]),
    });
    assert.deepEqual(out.y.dims, [2, 3, 12, 10]);
    assert.ok(maxAbsDiff(expected, out.y.data as Float32Array) <= 1e-5);
    assert.equal(transposeCount(decodeModel(bytes)).total, 0);
  });

  test('--layout nchw with an Embedding of rank-4 ids (a label map): the ids are read in tfjs order', async () => {
    const ids = tf.input({ shape: [4, 5, 2], dtype: 'int32' });
    const embedded = tf.layers.embedding({ inputDim: 10, outputDim: 3 }).apply(ids) as tf.SymbolicTensor;
    const map = tf.layers.reshape({ targetShape: [4, 5, 6] }).apply(embedded) as tf.SymbolicTensor;
    const y = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', ...init(14) }).apply(map);
    const model = tf.model({ inputs: ids, outputs: y as tf.SymbolicTensor });
    const rng = new Rng(9);
    const x = tf.tensor4d(
      Int32Array.from({ length: 2 * 40 }, () => rng.nextInt(10)),
      [2, 4, 5, 2],
      'int32',
    );
    const expected = tf.transpose(model.predict(x) as tf.Tensor, [0, 3, 1, 2]).dataSync();
    const bytes = modelToBytes(model, { layout: 'nchw', inputNames: ['x'], outputNames: ['y'] });
    const channelsFirst = BigInt64Array.from(tf.transpose(x, [0, 3, 1, 2]).dataSync(), BigInt);
    const out = await (await ort.InferenceSession.create(bytes)).run({
      x: new ort.Tensor('int64', channelsFirst, [2, 2, 4, 5]),
    });
    assert.ok(maxAbsDiff(expected, out.y.data as Float32Array) <= 1e-5);
  });

  test('--fold-batchnorm removes every BatchNormalization and keeps the output', async () => {
    const options: RoundTripOptions = { convert: { foldBatchNorm: true } };
    const bytes = await roundTrip(generator, options);
    const graph = decodeModel(bytes).graph;
    assert.equal(graph.node.filter((n) => n.opType === 'BatchNormalization').length, 0);
    assert.ok(
      !graph.initializer.some((t) => /moving|variance|gamma/.test(t.name)),
      'unused BN initializers are pruned',
    );
  });
});

describe('every preset', () => {
  for (const preset of Object.values(PRESETS)) {
    test(`${preset.name}: generator and discriminator round-trip`, async () => {
      await assertRoundTrip(preset.buildGenerator(5), { batch: 4 });
      await assertRoundTrip(preset.buildDiscriminator(5), { batch: 4 });
      if (!preset.numClasses) await assertRoundTrip(preset.buildDiscriminator(5, 4), { batch: 4 }); // PacGAN packing: 4 samples per input
    });
  }
});

describe('float16', () => {
  test('half-precision rounding: nearest even, subnormals, overflow to Infinity', () => {
    const cases: [number, number][] = [
      [0, 0],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65520, 0x7c00],
      [1e-8, 0],
      [6e-8, 1],
      [2049, 0x6800],
      [2051, 0x6802],
      [1 / 3, 0x3555],
    ];
    for (const [value, bits] of cases) assert.equal(toHalfBits(value), bits, String(value));
  });

  test('--fp16 halves the weights, keeps float32 I/O, and stays within 1e-2 of tfjs on a DCGAN', async () => {
    const { generator } = dcgan();
    const fp32 = modelToBytes(generator, { inputNames: ['z'], outputNames: ['y'] });
    const fp16 = modelToBytes(generator, { inputNames: ['z'], outputNames: ['y'], fp16: true });
    assert.ok(fp16.length < fp32.length * 0.55, `${fp16.length} vs ${fp32.length} bytes`);
    const z = tf.randomNormal([8, 100], 0, 1, 'float32', 2);
    const expected = (generator.predict(z) as tf.Tensor).dataSync();
    for (const runtime of [ort, ortWeb]) {
      const session = await (runtime as typeof ort).InferenceSession.create(fp16);
      const out = await session.run({ z: new ort.Tensor('float32', z.dataSync() as Float32Array, [8, 100]) });
      assert.equal(out.y.type, 'float32');
      const err = maxAbsDiff(expected, out.y.data as Float32Array);
      assert.ok(err <= 1e-2 && err > 0, `fp16 max abs error ${err}`);
    }
  });

  test('--fp16 keeps what must stay exact: Resize scales that equal a weight, float ids above 2048', async () => {
    // a bias equal to the upsampling's scales [1, 1, 2, 2]: one stored constant, which Resize needs in float32
    const upsampled = tf.sequential({
      layers: [
        tf.layers.upSampling2d({ inputShape: [2, 2, 1], size: [2, 2], interpolation: 'bilinear' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, biasInitializer: tf.initializers.zeros() }),
      ],
    });
    const dense = upsampled.layers[2];
    dense.setWeights([dense.getWeights()[0], tf.tensor1d([1, 1, 2, 2])]);
    const ids = tf.sequential({ layers: [tf.layers.embedding({ inputDim: 5000, outputDim: 2, inputLength: 3 })] });
    // rows of small integers (exact in float16) that differ between neighbouring ids
    const rows = Float32Array.from({ length: 10_000 }, (_, k) => ((k >> 1) * (k % 2 ? 3 : 1)) % 7);
    ids.layers[0].setWeights([tf.tensor2d(rows, [5000, 2])]);
    for (const [model, x] of [
      [upsampled, tf.randomNormal([2, 2, 2, 1], 0, 1, 'float32', 3)],
      [ids, tf.tensor2d([[2049, 4097, 3]], [1, 3], 'float32')],
    ] as const) {
      const expected = (model.predict(x) as tf.Tensor).dataSync();
      const session = await ort.InferenceSession.create(
        modelToBytes(model, { inputNames: ['x'], outputNames: ['y'], fp16: true }),
      );
      const out = await session.run({ x: new ort.Tensor('float32', x.dataSync() as Float32Array, x.shape) });
      // the embedding's rows themselves are rounded to float16, not looked up at the wrong ids
      assert.ok(maxAbsDiff(expected, out.y.data as Float32Array) <= 1e-2, model.name);
    }
  });
});

describe('property test: random sequential stacks', () => {
  const rng = new Rng(2024);
  for (let i = 0; i < 24; i++) {
    const seed = rng.nextUint32();
    test(`random stack #${i} (seed ${seed})`, () => assertRoundTrip(randomStack(seed), { seed }));
  }
});

/** A valid random stack over a small image: convs, transposed convs, pooling, padding, normalisation, activations, then a dense head. */
function randomStack(seed: number): tf.Sequential {
  const rng = new Rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.nextInt(xs.length)];
  let [h, w, c] = [4 + rng.nextInt(8), 4 + rng.nextInt(8), 1 + rng.nextInt(3)];
  const inputShape = [h, w, c];
  const layers: tf.layers.Layer[] = [];
  for (let depth = 2 + rng.nextInt(4); depth > 0; depth--) {
    const kind = pick(['conv', 'convT', 'pool', 'pad', 'up', 'bn', 'act', 'leaky'] as const);
    const s = 1 + rng.nextInt(2);
    const k = 1 + rng.nextInt(4);
    const padding = pick(['same', 'valid'] as const);
    if (kind === 'conv' && (padding === 'same' || (h >= k && w >= k))) {
      c = 1 + rng.nextInt(4);
      layers.push(
        tf.layers.conv2d({
          filters: c,
          kernelSize: k,
          strides: s,
          padding,
          activation: pick(['linear', 'relu', 'tanh'] as const),
          ...init(rng.nextUint32()),
        }),
      );
      [h, w] =
        padding === 'same'
          ? [Math.ceil(h / s), Math.ceil(w / s)]
          : [Math.floor((h - k) / s) + 1, Math.floor((w - k) / s) + 1];
    } else if (kind === 'convT' && h * s < 24 && w * s < 24) {
      c = 1 + rng.nextInt(4);
      layers.push(
        tf.layers.conv2dTranspose({ filters: c, kernelSize: k, strides: s, padding, ...init(rng.nextUint32()) }),
      );
      [h, w] = padding === 'same' ? [h * s, w * s] : [h * s + Math.max(k - s, 0), w * s + Math.max(k - s, 0)];
    } else if (kind === 'pool' && h >= 2 && w >= 2) {
      layers.push(pick([tf.layers.maxPooling2d, tf.layers.averagePooling2d])({ poolSize: 2, strides: 2, padding }));
      [h, w] = padding === 'same' ? [Math.ceil(h / 2), Math.ceil(w / 2)] : [Math.floor(h / 2), Math.floor(w / 2)];
    } else if (kind === 'pad') {
      layers.push(tf.layers.zeroPadding2d({ padding: 1 }));
      [h, w] = [h + 2, w + 2];
    } else if (kind === 'up' && h < 12 && w < 12) {
      layers.push(tf.layers.upSampling2d({ size: [2, 2] }));
      [h, w] = [h * 2, w * 2];
    } else if (kind === 'bn') {
      const bn = tf.layers.batchNormalization();
      layers.push(bn);
    } else if (kind === 'leaky') layers.push(tf.layers.leakyReLU({ alpha: 0.1 + rng.nextUniform() / 2 }));
    else layers.push(tf.layers.activation({ activation: pick(['relu', 'sigmoid', 'elu', 'softplus'] as const) }));
  }
  layers.push(tf.layers.flatten(), tf.layers.dense({ units: 3, ...init(rng.nextUint32()) }));
  const model = sequential(inputShape, layers);
  for (const l of model.layers) if (l.getClassName() === 'BatchNormalization') randomizeBatchNorm(l, rng.nextUint32());
  return model;
}
