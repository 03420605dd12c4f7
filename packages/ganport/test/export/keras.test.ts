/**
 * Keras files exported without Python: a tf.keras 2.x `.h5` and Keras 3 `.keras` archives,
 * generated in Keras's own layouts by test/fixtures/keras-files.ts (with h5wasm and fflate; not
 * files saved by Keras). Each is exported from the file, structurally validated, and run in
 * onnxruntime-node and -web against the tfjs model whose weights were written into the file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GanportError, type Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { unzipSync, zipSync } from 'fflate';
import { main } from '../../src/cli/main.js';
import {
  decodeModel,
  EXPORT_METADATA,
  exportModelFile,
  findProblems,
  formatInspection,
  loadModelFile,
} from '../../src/export/index.js';
import { snakeCase } from '../../src/keras/load.js';
import { normalizeKerasConfig } from '../../src/keras/normalize.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import {
  addExternalLink,
  asZip64,
  kerasArchiveConditionalGenerator,
  kerasArchiveNestedModels,
  kerasArchiveTextClassifier,
  kerasBilinearUpSamplingH5,
  kerasH5Generator,
  kerasListSequentialH5,
  kerasMaskedAverageH5,
  kerasSpacedNamesH5,
  kerasTf213Archive,
  rewriteBackend,
  rewriteLayerNames,
  SPACED_NAMES,
} from '../fixtures/keras-files.js';
import { maxAbsDiff } from '../helpers.js';
import { assertRuntimesAgree, exportFileAndCompare, opCount, seededInputs, valueDims } from './helpers.js';

let dir: string;
before(async () => {
  await selectBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'ganport-keras-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Exports `file`, validates it, and compares tfjs `reference` with onnxruntime-node and -web; returns the graph. */
async function exportAndCompare(file: string, reference: tf.LayersModel, inputs: ((rng: Rng) => number)[], batch = 4) {
  const names = reference.inputs.map((_, i) => `x${i}`);
  const xs = seededInputs(reference, batch, 5, (rng, i) => inputs[i](rng));
  // The model the exporter builds from the file computes what the reference does.
  const loaded = await loadModelFile(file);
  const fromFile = (loaded.predict(xs) as tf.Tensor).dataSync();
  assert.ok(maxAbsDiff((reference.predict(xs) as tf.Tensor).dataSync(), fromFile) <= 1e-6, 'the loaded model differs');
  loaded.dispose();
  return exportFileAndCompare(file, `${file}.onnx`, reference, { names, xs });
}

describe('Keras files (generated in the Keras layouts), exported end to end', () => {
  test('tf.keras 2.x .h5: a Sequential DCGAN generator, batch 1 and 5 (latent N(0, 1))', async () => {
    const file = join(dir, 'generator.h5');
    const reference = await kerasH5Generator(file);
    for (const batch of [1, 5]) {
      const onnx = await exportAndCompare(file, reference, [(rng) => rng.nextNormal()], batch);
      assert.equal(opCount(onnx, 'ConvTranspose'), 2);
      assert.equal(opCount(onnx, 'BatchNormalization'), 2);
      assert.deepEqual(valueDims(onnx.graph.output[0]), ['batch', 28, 28, 1]);
    }
  });

  test('Keras 3 .keras: a functional conditional generator (latent + label), layers named freely', async () => {
    const file = join(dir, 'cgan-generator.keras');
    const reference = await kerasArchiveConditionalGenerator(file);
    const onnx = await exportAndCompare(file, reference, [(rng) => rng.nextNormal(), (rng) => rng.nextInt(10)], 6);
    assert.deepEqual(
      onnx.graph.input.map((i) => i.type.tensorType.elemType),
      [1, 7],
    );
    assert.equal(opCount(onnx, 'Gather'), 1);
    assert.equal(opCount(onnx, 'ConvTranspose'), 2);
  });

  test('Keras 3 .keras: a Sequential text classifier with an LSTM (weights under lstm/cell)', async () => {
    const file = join(dir, 'text.keras');
    const reference = await kerasArchiveTextClassifier(file);
    const onnx = await exportAndCompare(file, reference, [(rng) => rng.nextInt(50)], 3);
    assert.equal(opCount(onnx, 'LSTM'), 1);
  });

  test("Keras 3 .keras: the same classifier with a GRU in Keras's default reset_after form (ONNX linear_before_reset 1)", async () => {
    const file = join(dir, 'text-gru.keras');
    const reference = await kerasArchiveTextClassifier(file, 'GRU');
    const onnx = await exportAndCompare(file, reference, [(rng) => rng.nextInt(50)], 3);
    const gru = onnx.graph.node.find((n) => n.opType === 'GRU')!;
    assert.equal(Number(gru.attribute.find((a) => a.name === 'linear_before_reset')!.i), 1);
  });

  test('tf.keras 2.13 .keras: layers under _layer_checkpoint_dependencies, each with weights counted twice (the next Dense is dense_2), nested models too', async () => {
    const file = join(dir, 'tf213.keras');
    const reference = await kerasTf213Archive(file);
    const onnx = await exportAndCompare(file, reference, [(rng) => rng.nextNormal()], 3);
    assert.equal(opCount(onnx, 'Gemm'), 4);
    // metadata.json's keras_version says Keras 2: its hard_sigmoid is 0.2·x + 0.5, not refused as Keras 3's
    assert.equal(opCount(onnx, 'HardSigmoid'), 1);
    const { 'metadata.json': _, ...rest } = unzipSync(await readFile(file));
    const unversioned = join(dir, 'tf213-no-metadata.keras');
    await writeFile(unversioned, zipSync(rest));
    await assert.rejects(
      loadModelFile(unversioned),
      /activation "hard_sigmoid" is Keras 3's x\/6/,
      'no version: Keras 3',
    );
  });

  test("Keras 3 .keras: a nested Functional and Sequential, whose nodes Keras 3 counts from 0 (tfjs's from its construction node)", async () => {
    const file = join(dir, 'nested.keras');
    const reference = await kerasArchiveNestedModels(file);
    const loaded = await loadModelFile(file);
    const [x] = seededInputs(reference, 5, 3, (rng) => rng.nextNormal());
    const [expected, actual] = [reference, loaded].map((m) => (m.predict(x) as tf.Tensor[]).map((t) => t.dataSync()));
    assert.deepEqual(
      actual.map((a) => a.length),
      [10, 10, 15],
    );
    actual.forEach((a, i) => {
      assert.ok(maxAbsDiff(a, expected[i]) <= 1e-6, `output ${i} differs`);
    });
    loaded.dispose();
  });

  test('bilinear UpSampling2D samples where the Keras that saved it did: half-pixel centres from tf.keras 2.15, out / 2 from Keras 2.2.4', async () => {
    // a [2, 3] image of 0…5 doubled: each output row and column is a mix of the input's two nearest ones
    const image = tf.tensor4d([0, 1, 2, 3, 4, 5], [1, 2, 3, 1]);
    const doubled = (rows: [number, number, number][], columns: [number, number, number][]) =>
      rows.flatMap(([r0, r1, rw]) =>
        columns.map(([c0, c1, cw]) => {
          const at = (r: number, c: number) => r * 3 + c;
          const top = at(r0, c0) + (at(r0, c1) - at(r0, c0)) * cw;
          const bottom = at(r1, c0) + (at(r1, c1) - at(r1, c0)) * cw;
          return top + (bottom - top) * rw;
        }),
      );
    // (source below, source above, weight of the one above) for each output row and column
    const halfPixel = doubled(
      [
        [0, 0, 0],
        [0, 1, 0.25],
        [0, 1, 0.75],
        [1, 1, 0],
      ],
      [
        [0, 0, 0],
        [0, 1, 0.25],
        [0, 1, 0.75],
        [1, 2, 0.25],
        [1, 2, 0.75],
        [2, 2, 0],
      ],
    );
    const asymmetric = doubled(
      [
        [0, 0, 0],
        [0, 1, 0.5],
        [1, 1, 0],
        [1, 1, 0],
      ],
      [
        [0, 0, 0],
        [0, 1, 0.5],
        [1, 1, 0],
        [1, 2, 0.5],
        [2, 2, 0],
        [2, 2, 0],
      ],
    );
    for (const [version, expected] of [
      ['2.15.0', halfPixel],
      ['2.3.0-tf', halfPixel],
      ['2.2.4', asymmetric],
      ['2.1.6-tf', asymmetric],
    ] as const) {
      const file = join(dir, `upsampling-${version}.h5`);
      await kerasBilinearUpSamplingH5(file, version);
      const loaded = await loadModelFile(file);
      assert.ok(
        maxAbsDiff((loaded.predict(image) as tf.Tensor).dataSync(), expected) <= 1e-6,
        `Keras ${version}: the loaded model`,
      );
      loaded.dispose();
      await exportModelFile(file, `${file}.onnx`, { inputNames: ['x'], outputNames: ['y'] });
      const bytes = new Uint8Array(await readFile(`${file}.onnx`));
      await assertRuntimesAgree(`Keras ${version}`, bytes, { names: ['x'], xs: [image] }, { y: expected });
    }
    const ambiguous = join(dir, 'upsampling-2.2.4-tf.h5');
    await kerasBilinearUpSamplingH5(ambiguous, '2.2.4-tf');
    await assert.rejects(
      loadModelFile(ambiguous),
      (err: Error) =>
        err instanceof GanportError &&
        /layer "up_sampling2d" \(UpSampling2D\): interpolation "bilinear" saved by Keras 2\.2\.4-tf: .*TensorFlow 1\.15/.test(
          err.message,
        ),
    );
    image.dispose();
  });

  test("GlobalAveragePooling1D after a mask averages only the kept steps, as Keras does (tfjs's averages them all)", async () => {
    const ids = [
      [3, 5, 0, 7, 0, 0],
      [1, 2, 3, 4, 5, 6],
      [0, 9, 0, 0, 0, 0],
    ];
    const tokens = tf.tensor2d(ids, [3, 6], 'int32');
    for (const maskBy of ['mask_zero', 'Masking'] as const) {
      const file = join(dir, `masked-average-${maskBy}.h5`);
      const { table, kernel, bias } = await kerasMaskedAverageH5(file, maskBy);
      // Keras: the mean of the kept steps' embeddings, then the dense layer
      const expected = ids.flatMap((row) => {
        const kept = row.filter((id) => id !== 0);
        const mean = [0, 1, 2, 3].map((f) => kept.reduce((sum, id) => sum + table[id * 4 + f], 0) / kept.length);
        return [0, 1, 2].map((u) => bias[u] + mean.reduce((sum, m, f) => sum + m * kernel[f * 3 + u], 0));
      });
      const loaded = await loadModelFile(file);
      assert.ok(
        maxAbsDiff((loaded.predict(tokens) as tf.Tensor).dataSync(), expected) <= 1e-6,
        `${maskBy}: the loaded model`,
      );
      loaded.dispose();
      await exportModelFile(file, `${file}.onnx`, { inputNames: ['tokens'], outputNames: ['y'] });
      const bytes = new Uint8Array(await readFile(`${file}.onnx`));
      await assertRuntimesAgree(maskBy, bytes, { names: ['tokens'], xs: [tokens] }, { y: expected });
    }
    tokens.dispose();
  });

  test('ganport export and inspect take .h5 and .keras files', async () => {
    const h5 = join(dir, 'cli.h5');
    await kerasH5Generator(h5);
    const keras = join(dir, 'cli.keras');
    await kerasArchiveTextClassifier(keras);
    const log = console.log;
    const lines: string[] = [];
    console.log = (line: string) => lines.push(line);
    try {
      assert.equal(await main(['export', h5, '--out', join(dir, 'cli-g.onnx')]), 0);
      assert.equal(await main(['export', keras, '--out', join(dir, 'cli-t.onnx'), '--opset', '13']), 0);
    } finally {
      console.log = log;
    }
    assert.match(lines.join('\n'), /wrote .*cli-g\.onnx/);
    assert.deepEqual(findProblems(decodeModel(new Uint8Array(await readFile(join(dir, 'cli-t.onnx'))))), []);
    const model = await loadModelFile(keras);
    assert.match(formatInspection(model), /lstm\s+LSTM\s+\[null,16\]\s+1600\s+yes/);
  });
});

describe('old Keras configs and names Keras allows (generated Keras 2.2 .h5 files)', () => {
  test('a list-form Sequential (Keras ≤ 2.2) nesting another, whose name only the saved weights have', async () => {
    const file = join(dir, 'list.h5');
    const reference = await kerasListSequentialH5(file);
    const onnx = await exportAndCompare(file, reference, [(rng) => rng.nextNormal()], 3);
    assert.deepEqual(
      ['Gemm', 'Relu', 'BatchNormalization', 'Softmax'].map((op) => opCount(onnx, op)),
      [3, 1, 1, 1],
    );
    assert.match(formatInspection(await loadModelFile(file)), /^ {2}dense_2 +Dense/m);
  });

  test('layer and input names with spaces, and a functional model wrapping a list-form Sequential', async () => {
    const file = join(dir, 'spaced.h5');
    const reference = await kerasSpacedNamesH5(file);
    await exportAndCompare(file, reference, [(rng) => rng.nextNormal(), (rng) => rng.nextInt(10)], 4);
    // Exported with its own names: sanitised for ONNX, the Keras ones kept in the metadata.
    const out = join(dir, 'spaced.onnx');
    await exportModelFile(file, out);
    const onnx = decodeModel(new Uint8Array(await readFile(out)));
    const inputs = onnx.graph.input.map((i) => i.name);
    assert.deepEqual(
      inputs.map((name) => name.replace(/_\d+$/, '')),
      ['Noise_Input', 'label_Input'],
    );
    const names = JSON.parse(onnx.metadataProps.find((p) => p.key === EXPORT_METADATA.kerasNames)!.value);
    assert.deepEqual(names.inputs, { [inputs[0]]: 'Noise Input', [inputs[1]]: 'label Input' });
    assert.deepEqual(names.layers, {
      Noise_Input: 'Noise Input',
      label_Input: 'label Input',
      label_embedding_1: 'label embedding',
      'sequential_19/leaky_re_lu': 'leaky re lu',
    });
    assert.ok(onnx.graph.node.some((n) => n.name.startsWith('sequential_19/leaky_re_lu')));
    const inspection = formatInspection(await loadModelFile(file));
    for (const [name, kerasName] of Object.entries(SPACED_NAMES))
      assert.match(inspection, new RegExp(`${name} \\(Keras: "${kerasName}"\\) `));
    assert.match(inspection, /^inputs: Noise_Input\S* \(Keras: "Noise Input"\) \[null,8\] float32, label_Input/m);
  });

  test('what is wrong with a model config is named as found', () => {
    const normalize = (config: unknown) => () => normalizeKerasConfig(config, { kerasMajor: 2, source: 'f.h5' });
    assert.throws(
      normalize([{ class_name: 'Dense', config: {} }]),
      /^GanportError: f\.h5: the model config is a list of 1 item, not a Keras/,
    );
    assert.throws(
      normalize({ config: { layers: [] } }),
      /the model config has no class_name \(it is an object with keys config\)/,
    );
    assert.throws(
      normalize({ class_name: 'Model', config: [{ class_name: 'Dense', config: { name: 'd' } }] }),
      /layer "the model" \(Model\): its config is a list of 1 item, a form only a Sequential's config has \(Keras ≤ 2\.2\)/,
    );
    assert.throws(
      normalize({ class_name: 'Sequential', config: [{ class_name: 'Sequential', config: 'x' }] }),
      /\(Sequential\): its config is a string "x", not an object/,
    );
  });
});

describe('Keras configs normalised in one place', () => {
  test('snake_case keys as Keras names its layer storage', () => {
    assert.deepEqual(
      ['Conv2DTranspose', 'BatchNormalization', 'LeakyReLU', 'LSTM', 'Dense', 'InputLayer', 'Functional'].map(
        snakeCase,
      ),
      ['conv2d_transpose', 'batch_normalization', 'leaky_re_lu', 'lstm', 'dense', 'input_layer', 'functional'],
    );
  });
  test('Keras 3 wrappers, DTypePolicy, batch_shape, negative_slope, inbound nodes', () => {
    const { config, renamed } = normalizeKerasConfig(
      {
        module: 'keras',
        class_name: 'Functional',
        registered_name: 'Functional',
        config: {
          name: 'm',
          layers: [
            {
              module: 'keras.layers',
              class_name: 'InputLayer',
              config: { batch_shape: [null, 3], dtype: 'float32', sparse: false, name: 'the input' },
              registered_name: null,
              name: 'the input',
              inbound_nodes: [],
            },
            {
              module: 'keras.layers',
              class_name: 'LeakyReLU',
              config: {
                name: 'act',
                negative_slope: 0.1,
                dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'mixed_float16' } },
              },
              name: 'act',
              build_config: { input_shape: [null, 3] },
              inbound_nodes: [
                {
                  args: [
                    {
                      class_name: '__keras_tensor__',
                      config: { shape: [null, 3], keras_history: ['the input', 0, 0] },
                    },
                  ],
                  kwargs: {},
                },
              ],
            },
          ],
          input_layers: [['the input', 0, 0]],
          output_layers: ['act', 0, 0],
        },
      },
      { kerasMajor: 3, source: 'm.keras' },
    );
    assert.deepEqual(renamed, [{ path: [], name: 'the_input', kerasName: 'the input' }]);
    assert.deepEqual(config, {
      class_name: 'Model',
      config: {
        name: 'm',
        layers: [
          {
            class_name: 'InputLayer',
            config: { batch_input_shape: [null, 3], dtype: 'float32', name: 'the_input' },
            name: 'the_input',
            inbound_nodes: [],
          },
          {
            class_name: 'LeakyReLU',
            config: { name: 'act', dtype: 'float32', alpha: 0.1 },
            name: 'act',
            inbound_nodes: [[['the_input', 0, 0, {}]]],
          },
        ],
        input_layers: [['the_input', 0, 0]],
        output_layers: [['act', 0, 0]],
      },
    });
  });
  test('what cannot be expressed is refused by name', () => {
    const lstm = (activation: string, kerasMajor: 2 | 3) =>
      normalizeKerasConfig(
        {
          class_name: 'Sequential',
          config: {
            name: 's',
            layers: [{ class_name: 'LSTM', config: { name: 'l', units: 2, recurrent_activation: activation } }],
          },
        },
        { kerasMajor, source: 'f.keras' },
      );
    assert.throws(
      () => lstm('hard_sigmoid', 3),
      /layer "l" \(LSTM\): recurrent_activation "hard_sigmoid" is Keras 3's x\/6/,
    );
    assert.doesNotThrow(() => lstm('hard_sigmoid', 2));
    assert.throws(
      () => normalizeKerasConfig({ class_name: 'MyModel', config: {} }, { kerasMajor: 3, source: 'f.keras' }),
      /a MyModel, not a Sequential or functional model \(a subclassed model/,
    );
  });
  test("Keras options tfjs's layers would drop are refused; a ReLU with a negative slope becomes a LeakyReLU", () => {
    const one = (class_name: string, config: Record<string, unknown>) =>
      normalizeKerasConfig(
        { class_name: 'Sequential', config: { name: 's', layers: [{ class_name, config: { name: 'l', ...config } }] } },
        { kerasMajor: 2, source: 'f.h5' },
      ).config as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    const leaky = one('ReLU', { max_value: null, negative_slope: 0.1, threshold: 0 }).config.layers[0];
    assert.deepEqual([leaky.class_name, leaky.config], ['LeakyReLU', { name: 'l', alpha: 0.1 }]);
    assert.equal(one('ReLU', { max_value: 6, negative_slope: 0, threshold: 0 }).config.layers[0].class_name, 'ReLU');
    assert.throws(() => one('ReLU', { threshold: 0.5 }), /layer "l" \(ReLU\): threshold 0\.5: tfjs's ReLU has none/);
    assert.throws(() => one('ReLU', { max_value: 6, negative_slope: 0.1 }), /negative_slope with max_value/);
    const convT = (kernel_size: number[], strides: number[], padding: string, output_padding: number[] | null) =>
      one('Conv2DTranspose', { filters: 2, kernel_size, strides, padding, output_padding });
    assert.doesNotThrow(() => convT([4, 4], [2, 2], 'same', null));
    assert.doesNotThrow(() => convT([3, 3], [2, 2], 'same', [1, 1]), 'the length tfjs gives: 2n');
    assert.doesNotThrow(() => convT([4, 4], [2, 2], 'valid', [0, 0]));
    assert.throws(() => convT([3, 3], [2, 2], 'same', [0, 0]), /output_padding \[0,0\]: tfjs ignores it/);
    assert.throws(() => convT([4, 4], [2, 2], 'valid', [1, 1]), /output_padding \[1,1\]: tfjs ignores it/);
    assert.doesNotThrow(() => one('GlobalAveragePooling2D', { keepdims: false }));
    assert.throws(() => one('GlobalMaxPooling1D', { keepdims: true }), /keepdims: tfjs drops the pooled axes/);
    for (const className of ['MaxPooling1D', 'AveragePooling1D', 'GlobalMaxPooling1D', 'ZeroPadding1D'])
      assert.throws(
        () => one(className, { data_format: 'channels_first' }),
        /data_format channels_first: tfjs's 1-D layer always works on axis 1/,
        className,
      );
    assert.doesNotThrow(() => one('MaxPooling1D', { data_format: 'channels_last' }));
    assert.throws(() => one('LayerNormalization', { rms_scaling: true }), /rms_scaling: tfjs has no RMS normalization/);
    assert.throws(() => one('LSTM', { units: 2, time_major: true }), /time_major: tfjs takes the batch axis first/);
    // refused by name, as unsupported: tfjs would build another kernel, and the load fail as a shape mismatch
    const conv = (groups: number) => one('Conv2D', { filters: 4, kernel_size: [1, 1], groups });
    assert.doesNotThrow(() => conv(1));
    assert.throws(
      () => conv(2),
      (err: unknown) =>
        err instanceof GanportError &&
        err.code === 'unsupported' &&
        /layer "l" \(Conv2D\): groups 2: tfjs's convolution has no groups/.test(err.message),
    );
    assert.doesNotThrow(() => one('BatchNormalization', { renorm: false }));
    assert.throws(() => one('BatchNormalization', { renorm: true }), /renorm: tfjs's BatchNormalization has no batch/);
  });
  test("a Bidirectional's saved backward_layer must be its layer's mirror: tfjs builds that", () => {
    const lstm = (name: string, extra: Record<string, unknown>) => ({
      class_name: 'LSTM',
      config: { name, units: 2, activation: 'tanh', return_sequences: false, ...extra },
    });
    const bidirectional = (backward: Record<string, unknown>) =>
      normalizeKerasConfig(
        {
          class_name: 'Sequential',
          config: {
            name: 's',
            layers: [
              {
                class_name: 'Bidirectional',
                config: { name: 'b', merge_mode: 'concat', layer: lstm('f', {}), backward_layer: backward },
              },
            ],
          },
        },
        { kerasMajor: 3, source: 'f.keras' },
      );
    assert.doesNotThrow(
      () => bidirectional(lstm('backward_f', { go_backwards: true })),
      'the mirror, as Keras 3 saves it',
    );
    assert.throws(
      () => bidirectional(lstm('backward_f', { go_backwards: true, activation: 'relu' })),
      /layer "b" \(Bidirectional\): its backward_layer differs from its layer \(activation\); tfjs builds the mirror/,
    );
  });
  test('a Keras 2 call with training=True (kept at inference by Keras) is refused where the layer would compute otherwise', () => {
    const functional = (className: string, config: Record<string, unknown>, kwargs: Record<string, unknown>) =>
      normalizeKerasConfig(
        {
          class_name: 'Functional',
          config: {
            name: 'm',
            layers: [
              {
                class_name: 'InputLayer',
                name: 'x',
                config: { name: 'x', batch_input_shape: [null, 4] },
                inbound_nodes: [],
              },
              {
                class_name: className,
                name: 'l',
                config: { name: 'l', ...config },
                inbound_nodes: [[['x', 0, 0, kwargs]]],
              },
            ],
            input_layers: [['x', 0, 0]],
            output_layers: [['l', 0, 0]],
          },
        },
        { kerasMajor: 2, source: 'f.h5' },
      );
    assert.throws(
      () => functional('BatchNormalization', {}, { training: true }),
      /layer "l" \(BatchNormalization\): called with training=True, which Keras keeps at inference/,
    );
    assert.throws(() => functional('Dropout', { rate: 0.5 }, { training: true }), /called with training=True/);
    assert.doesNotThrow(() => functional('BatchNormalization', { trainable: false }, { training: true }), 'frozen');
    assert.doesNotThrow(() => functional('BatchNormalization', {}, { training: false }));
    assert.doesNotThrow(() => functional('Dense', { units: 2 }, { training: true }), 'the same either way');
  });
});

describe('broken and unsupported Keras files: one GanportError line each', () => {
  const rejects = async (file: string, pattern: RegExp) => {
    await assert.rejects(exportModelFile(file, join(dir, 'never.onnx')), (err: unknown) => {
      assert.ok(err instanceof GanportError, `not a GanportError: ${String(err)}`);
      assert.match((err as Error).message, pattern);
      return true;
    });
  };
  test('not HDF5, not a zip, a truncated .h5, a .keras without weights', async () => {
    const junk = join(dir, 'junk.h5');
    await writeFile(junk, 'not an hdf5 file');
    await rejects(junk, /junk\.h5: not an HDF5 file, or a damaged one \(H5Fopen\(\): unable/);
    const notZip = join(dir, 'junk.keras');
    await writeFile(notZip, 'PK not really');
    await rejects(notZip, /junk\.keras: not a \.keras \(zip\) archive/);
    const h5 = join(dir, 'whole.h5');
    await kerasH5Generator(h5);
    const bytes = await readFile(h5);
    const truncated = join(dir, 'truncated.h5');
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await rejects(truncated, /truncated\.h5: /);
    const keras = join(dir, 'whole.keras');
    await kerasArchiveTextClassifier(keras);
    const entries = unzipSync(await readFile(keras));
    delete entries['model.weights.h5'];
    const noWeights = join(dir, 'no-weights.keras');
    await writeFile(noWeights, zipSync(entries));
    await rejects(noWeights, /no-weights\.keras: the archive has no model\.weights\.h5/);
    await rejects(join(dir, 'missing.keras'), /missing\.keras does not exist/);
  });
  test('a .keras entry whose bytes are not those the archive records (its CRC-32) is refused, naming it; ZIP64 too', async () => {
    const file = join(dir, 'crc.keras');
    const reference = await kerasArchiveTextClassifier(file);
    const zip = new Uint8Array(await readFile(file));
    // one byte of a weight (the Dense kernel's first value), where HDF5 reads it without complaint
    const kernel = reference.getLayer('dense').getWeights()[0].dataSync() as Float32Array;
    const at = Buffer.from(zip).indexOf(Buffer.from(kernel.buffer, kernel.byteOffset, 16));
    assert.ok(at > 0);
    const damaged = zip.slice();
    damaged[at + 3] ^= 0x40;
    const message = /: model\.weights\.h5 is damaged: its bytes do not match the CRC-32 the archive records$/;
    for (const [name, bytes] of [
      ['damaged.keras', damaged],
      ['damaged64.keras', asZip64(damaged)],
    ] as const) {
      await writeFile(join(dir, name), bytes);
      await rejects(join(dir, name), new RegExp(`${name.replace('.', '\\.')}${message.source}`));
    }
    await writeFile(join(dir, 'whole64.keras'), asZip64(zip));
    (await loadModelFile(join(dir, 'whole64.keras'))).dispose();
  });
  test("a big model's layer_names split as Keras splits it are joined; a layer the file leaves out is refused", async () => {
    const split = join(dir, 'split-names.h5');
    const reference = await kerasH5Generator(split);
    await rewriteLayerNames(split, (names) => ({ layer_names0: names.slice(0, 3), layer_names1: names.slice(3) }));
    const z = tf.randomNormal([2, 16], 0, 1, 'float32', 4);
    const loaded = await loadModelFile(split);
    assert.ok(
      maxAbsDiff((loaded.predict(z) as tf.Tensor).dataSync(), (reference.predict(z) as tf.Tensor).dataSync()) <= 1e-6,
    );
    loaded.dispose();
    const partial = join(dir, 'partial-names.h5');
    await kerasH5Generator(partial);
    await rewriteLayerNames(partial, (names) => ({ layer_names: names.filter((n) => n !== 'dense') }));
    await rejects(partial, /layer "dense" has weights in its config but none in the file/);
  });
  test('a file saved with the Theano backend is refused where it has convolutions (Keras flips their kernels on load)', async () => {
    const theano = join(dir, 'theano.h5');
    await kerasH5Generator(theano);
    await rewriteBackend(theano, 'theano');
    await rejects(theano, /theano\.h5: saved with the Theano backend, whose convolution kernels Keras flips on load/);
  });
  test('an external link into another HDF5 file on the host is refused (HDF5 would follow it by its path)', async () => {
    const other = join(dir, 'other.h5');
    await kerasH5Generator(other);
    const linked = join(dir, 'linked.h5');
    await kerasH5Generator(linked);
    await addExternalLink(linked, 'model_weights/dense', 'elsewhere', other, '/model_weights/dense/dense/kernel:0');
    await rejects(
      linked,
      /linked\.h5: \/model_weights\/dense\/elsewhere links to \/model_weights\/dense\/dense\/kernel:0 in another file, .*other\.h5; ganport reads only self-contained HDF5 files/,
    );
  });
  /** A Keras 3 config's layer entry (a model's config nests its layers the same way). */
  type KerasLayer = {
    name: string;
    config: { units?: number; layers: KerasLayer[] };
    inbound_nodes: { args: { config: { keras_history: [string, number, number] } }[] }[];
  };
  /** The .keras archive `file` with its config.json changed by `edit`, written as `name`. */
  const withConfig = async (file: string, name: string, edit: (model: KerasLayer) => void): Promise<string> => {
    const entries = unzipSync(await readFile(file));
    const config = JSON.parse(new TextDecoder().decode(entries['config.json']));
    edit(config);
    entries['config.json'] = new TextEncoder().encode(JSON.stringify(config));
    await writeFile(join(dir, name), zipSync(entries));
    return join(dir, name);
  };
  const layer = (model: KerasLayer, name: string) => model.config.layers.find((l) => l.name === name)!;
  /** The [layer, node, tensor] of a Keras 3 layer's first call's first input. */
  const history = (entry: KerasLayer) => entry.inbound_nodes[0].args[0].config.keras_history;
  test('a config whose layers do not match the saved weights names the layer', async () => {
    const keras = join(dir, 'mismatch.keras');
    await kerasArchiveTextClassifier(keras);
    const file = await withConfig(keras, 'mismatch2.keras', (model) => {
      model.config.layers[2].config.units = 8; // the LSTM
    });
    await rejects(file, /layer "lstm" weight 0 .* is saved as \[8,64\], its config builds \[8,32\]/);
  });
  test('a call whose input names a layer the model lacks, or a call the model never makes, is named (tfjs would retry it forever)', async () => {
    const conditional = join(dir, 'graph.keras');
    await kerasArchiveConditionalGenerator(conditional);
    const unknown = await withConfig(conditional, 'unknown-input.keras', (model) => {
      history(layer(model, 'label_flat'))[0] = 'nothere';
    });
    await rejects(unknown, /unknown-input\.keras: layer label_flat's input names unknown layer nothere$/);
    const nested = join(dir, 'graph-nested.keras');
    await kerasArchiveNestedModels(nested);
    const inner = await withConfig(nested, 'unknown-inner.keras', (model) => {
      history(layer(layer(model, 'encoder'), 'enc'))[0] = 'nothere';
    });
    await rejects(inner, /unknown-inner\.keras: layer encoder\/enc's input names unknown layer nothere$/);
    const uncalled = await withConfig(nested, 'uncalled.keras', (model) => {
      history(layer(model, 'head'))[1] = 1; // the decoder's second call, which there is not
    });
    await rejects(uncalled, /uncalled\.keras: layer head's input is an output of layer decoder that is never made/);
  });
});
