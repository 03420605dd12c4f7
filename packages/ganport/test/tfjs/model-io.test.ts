/** model.json loading as files are found in the wild, and corrupt files failing cleanly (a fast-check property). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GanportError } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { toHalfBits } from '../../src/export/float16.js';
import { exportModelFile, loadModelFile } from '../../src/export/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { loadLayersModel, saveLayersModel, weightFiles } from '../../src/tfjs/model-io.js';
import { exportFileAndCompare } from '../export/helpers.js';
import { maxAbsDiff } from '../helpers.js';

let dir: string;
let model: tf.LayersModel;
let saved: { json: Record<string, unknown>; weights: Uint8Array; specs: tf.io.WeightsManifestEntry[] };
const x = () => tf.randomUniform([2, 6, 6, 1], 0, 1, 'float32', 7);

before(async () => {
  await selectBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'ganport-model-io-'));
  model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, biasInitializer: tf.initializers.randomNormal({ seed: 2 }) }),
    ],
  });
  await saveLayersModel(model, join(dir, 'original'));
  const json = JSON.parse(await readFile(join(dir, 'original', 'model.json'), 'utf8'));
  saved = {
    json,
    weights: await readFile(join(dir, 'original', 'weights.bin')),
    specs: json.weightsManifest[0].weights,
  };
});
after(() => rm(dir, { recursive: true, force: true }));

/** Writes a variant: `json` as FILE in a fresh folder, with the given shard files. */
async function variant(name: string, file: string, json: unknown, shards: Record<string, Uint8Array>): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder, { recursive: true });
  for (const [shard, bytes] of Object.entries(shards)) await writeFile(join(folder, shard), bytes);
  await writeFile(join(folder, file), JSON.stringify(json));
  return join(folder, file);
}

/** Byte ranges of each weight in the single saved shard. */
function weightBytes(): Uint8Array[] {
  let offset = 0;
  return saved.specs.map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1) * 4;
    const bytes = saved.weights.subarray(offset, offset + n);
    offset += n;
    return bytes;
  });
}

async function assertSamePredictions(path: string, tolerance = 0): Promise<void> {
  const loaded = await loadLayersModel(path);
  const err = maxAbsDiff((model.predict(x()) as tf.Tensor).dataSync(), (loaded.predict(x()) as tf.Tensor).dataSync());
  assert.ok(err <= tolerance, `max abs error ${err} > ${tolerance}`);
}

describe('formats seen in the wild', () => {
  test('an old tfjs 0.x file: no format, shards without .bin behind ./ paths, not named model.json', async () => {
    const half = 100;
    const { format: _format, generatedBy: _generatedBy, convertedBy: _convertedBy, ...old } = saved.json;
    const json = {
      ...old,
      weightsManifest: [{ paths: ['./group1-shard1of2', './group1-shard2of2'], weights: saved.specs }],
    };
    const path = await variant('old', 'my-gan.json', json, {
      'group1-shard1of2': saved.weights.subarray(0, half),
      'group1-shard2of2': saved.weights.subarray(half),
    });
    await assertSamePredictions(path);
  });

  test('a Keras-converted file: keras_version 2.x with a model_config wrapper', async () => {
    const topology = saved.json.modelTopology as Record<string, unknown>;
    const json = {
      format: 'layers-model',
      generatedBy: 'keras v2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.17.0',
      modelTopology: {
        keras_version: '2.15.0',
        backend: 'tensorflow',
        model_config: { class_name: topology.class_name, config: topology.config },
        training_config: { loss: 'categorical_crossentropy', metrics: ['accuracy'] },
      },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: saved.specs }],
    };
    await assertSamePredictions(await variant('keras', 'model.json', json, { 'group1-shard1of1.bin': saved.weights }));
  });

  test('a model.json saved with a UTF-8 byte-order mark', async () => {
    const file = await variant('bom', 'model.json', saved.json, { 'weights.bin': saved.weights });
    await writeFile(file, `\uFEFF${JSON.stringify(saved.json)}`);
    const loaded = await loadLayersModel(file);
    assert.equal(
      maxAbsDiff((loaded.predict(x()) as tf.Tensor).dataSync(), (model.predict(x()) as tf.Tensor).dataSync()),
      0,
    );
    loaded.dispose();
  });
  test('a topology that is the bare model config, and weights in one group per layer', async () => {
    const topology = saved.json.modelTopology as Record<string, unknown>;
    const bytes = weightBytes();
    const json = {
      modelTopology: { class_name: topology.class_name, config: topology.config },
      weightsManifest: saved.specs.map((spec, i) => ({ paths: [`group${i + 1}-shard1of1.bin`], weights: [spec] })),
    };
    const shards = Object.fromEntries(bytes.map((b, i) => [`group${i + 1}-shard1of1.bin`, b]));
    await assertSamePredictions(await variant('groups', 'model.json', json, shards));
  });

  test('float16 weights are dequantized on load to the nearest half of each value', async () => {
    const floats = new Float32Array(saved.weights.buffer.slice(saved.weights.byteOffset), 0, saved.weights.length / 4);
    const halves = Uint16Array.from(floats, toHalfBits);
    const json = {
      ...saved.json,
      weightsManifest: [
        {
          paths: ['weights.bin'],
          weights: saved.specs.map((s) => ({ ...s, quantization: { dtype: 'float16' } })),
        },
      ],
    };
    const path = await variant('fp16', 'model.json', json, { 'weights.bin': new Uint8Array(halves.buffer) });
    const loaded = await loadLayersModel(path);
    const got = new Float32Array(loaded.getWeights().flatMap((w) => Array.from(w.dataSync())));
    assert.ok(maxAbsDiff(got, floats) <= 1e-3 * Math.max(...Array.from(floats, Math.abs)));
    await assertSamePredictions(path, 1e-2);
  });

  for (const [dtype, levels] of [
    ['uint8', 255],
    ['uint16', 65535],
  ] as const) {
    test(`${dtype}-quantized weights (scale, min) are dequantized on load; the export runs as the loaded model`, async () => {
      const bytes = weightBytes();
      const quantized: number[] = [];
      const expected: number[] = [];
      const weights = saved.specs.map((spec, i) => {
        const values = new Float32Array(Uint8Array.from(bytes[i]).buffer); // a copy: Buffer.slice is a view
        const min = Math.min(...values);
        const scale = (Math.max(...values) - min) / levels || 1;
        for (const v of values) {
          const q = Math.round((v - min) / scale);
          quantized.push(q);
          expected.push(Math.fround(q * scale + min));
        }
        return { ...spec, quantization: { dtype, scale, min } };
      });
      const shard = new Uint8Array(
        (dtype === 'uint8' ? Uint8Array.from(quantized) : Uint16Array.from(quantized)).buffer,
      );
      const json = { ...saved.json, weightsManifest: [{ paths: ['group1-shard1of1'], weights }] };
      const path = await variant(dtype, 'model.json', json, { 'group1-shard1of1': shard });
      const loaded = await loadLayersModel(path);
      const got = loaded.getWeights().flatMap((w) => Array.from(w.dataSync()));
      assert.ok(maxAbsDiff(got, expected) <= 1e-6);
      // the ONNX file, in both runtimes, computes what the dequantized model predicts
      await exportFileAndCompare(path, join(dir, `${dtype}.onnx`), loaded, { names: ['x'], xs: [x()] });
    });
  }
});

describe("a functional model's calls that tfjs would retry forever, or fail on without a word, are named", () => {
  type Layer = { name: string; class_name: string; inbound_nodes: unknown };
  type Config = { layers: Layer[]; output_layers: unknown };
  const cases: [string, (config: Config, layer: (name: string) => Layer) => void, RegExp][] = [
    [
      'an input naming a layer the model does not have',
      (_, layer) => {
        layer('b').inbound_nodes = [[['nothere', 0, 0, {}]]];
      },
      /: layer b's input names unknown layer nothere$/,
    ],
    [
      'two layers taking each other as input',
      (_, layer) => {
        layer('a').inbound_nodes = [[['b', 0, 0, {}]]];
      },
      /: layer a's input is an output of layer b that is never made \(a call the model does not have, or calls in a cycle\)$/,
    ],
    [
      'an input from a second call of a layer called once',
      (_, layer) => {
        layer('b').inbound_nodes = [[['a', 1, 0, {}]]];
      },
      /: layer b's input is an output of layer a that is never made/,
    ],
    [
      'a node written without its list of inputs',
      (_, layer) => {
        layer('b').inbound_nodes = [['a', 0, 0, {}]];
      },
      /: an input of layer b is "a", not a \[layer, node, tensor\] reference$/,
    ],
    [
      // Keras 2.4+'s form for an op's call (`x * 2`): the node is the reference; tfjs has no such layer
      'a TFOpLambda call written as one reference, which tfjs names as a layer it lacks',
      (_, layer) => {
        Object.assign(layer('b'), { class_name: 'TFOpLambda', inbound_nodes: [['a', 0, 0, { y: 2 }]] });
      },
      /cannot build the model in .*: Unknown layer: TFOpLambda/,
    ],
    [
      'an output naming a layer the model does not have',
      (config) => {
        config.output_layers = [['nothere', 0, 0]];
      },
      /: the model's output_layers entry names unknown layer nothere$/,
    ],
    [
      'no layers',
      (config) => {
        config.layers = [];
      },
      /: the model has no layers$/,
    ],
  ];
  for (const [name, mutate, message] of cases)
    test(name, async () => {
      const input = tf.input({ shape: [3], name: 'x' });
      const a = tf.layers.dense({ units: 2, name: 'a' }).apply(input);
      const functional = tf.model({
        inputs: input,
        outputs: tf.layers.dense({ units: 1, name: 'b' }).apply(a) as tf.SymbolicTensor,
      });
      const folder = join(dir, `graph-${name.replaceAll(' ', '-')}`);
      await saveLayersModel(functional, folder);
      const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
      const config = json.modelTopology.config as Config;
      mutate(config, (layer) => config.layers.find((l) => l.name === layer)!);
      await writeFile(join(folder, 'model.json'), JSON.stringify(json));
      await assert.rejects(loadLayersModel(join(folder, 'model.json')), (err: Error) => {
        assert.ok(err instanceof GanportError, `${err.name}: ${err.message}`);
        assert.match(err.message, message);
        return true;
      });
    });
});

describe('corrupt files fail with a GanportError that says what is wrong', () => {
  const cases: [string, (json: Record<string, unknown>) => unknown, Record<string, Uint8Array> | null, RegExp][] = [
    ['a truncated shard', (j) => j, { 'weights.bin': new Uint8Array(10) }, /hold 10 bytes.*a truncated download\?/],
    ['a missing shard', (j) => j, {}, /cannot read weight file .*weights\.bin: ENOENT/],
    [
      'a truncated model.json',
      () => '{"modelTopology": {"class_name"',
      null,
      /not valid JSON.*is the file truncated\?/,
    ],
    ['no weightsManifest', (j) => ({ modelTopology: j.modelTopology }), null, /not a tfjs LayersModel/],
    ['a manifest that is not a list', (j) => ({ ...j, weightsManifest: {} }), null, /weightsManifest is not a list/],
    ['a group without paths', (j) => ({ ...j, weightsManifest: [{ weights: [] }] }), null, /no paths and weights/],
    [
      'a shape that is not a list of sizes',
      (j) => ({ ...j, weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'k', shape: [-1] }] }] }),
      null,
      /weight "k" has shape \[-1\]/,
    ],
    [
      'an unknown dtype',
      (j) => ({
        ...j,
        weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'k', shape: [1], dtype: 'c64' }] }],
      }),
      null,
      /dtype "c64"/,
    ],
    [
      'uint8 quantization without scale',
      (j) => ({
        ...j,
        weightsManifest: [
          {
            paths: ['weights.bin'],
            weights: [{ name: 'k', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } }],
          },
        ],
      }),
      null,
      /uint8-quantized without a finite scale/,
    ],
    [
      'a shard path that leaves the folder (never read)',
      (j) => ({ ...j, weightsManifest: [{ paths: ['../../../../../../dev/zero'], weights: saved.specs }] }),
      null,
      /names a weight file outside its folder: \.\.\/.*dev\/zero/,
    ],
    [
      'a shard that is not a file (never read)',
      (j) => ({ ...j, weightsManifest: [{ paths: ['shards'], weights: saved.specs }] }),
      { 'shards/x': new Uint8Array(1) },
      /weight file .*shards is not a file/,
    ],
    [
      'a weight listed twice (tfjs would keep the second silently)',
      (j) => ({
        ...j,
        weightsManifest: [
          { paths: ['weights.bin'], weights: saved.specs },
          { paths: ['weights.bin'], weights: saved.specs },
        ],
      }),
      null,
      /lists the weight \S+ twice in its weightsManifest/,
    ],
    [
      'a topology tfjs cannot build',
      (j) => ({ ...j, modelTopology: { class_name: 'Sequential', config: { layers: [{ class_name: 'Nope' }] } } }),
      null,
      /cannot build the model/,
    ],
  ];
  for (const [name, mutate, shards, message] of cases)
    test(name, async () => {
      const json = mutate(saved.json);
      const folder = join(dir, `bad-${name.replaceAll(' ', '-')}`);
      await mkdir(folder, { recursive: true });
      for (const [shard, bytes] of Object.entries(shards ?? { 'weights.bin': saved.weights })) {
        await mkdir(dirname(join(folder, shard)), { recursive: true });
        await writeFile(join(folder, shard), bytes);
      }
      await writeFile(join(folder, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
      await assert.rejects(loadLayersModel(join(folder, 'model.json')), (err: Error) => {
        assert.ok(err instanceof GanportError, `${err.name}: ${err.message}`);
        assert.match(err.message, message);
        return true;
      });
    });

  test('a model.json in Latin-1 (an author José in its metadata) is text, as tfjs reads it', async () => {
    const folder = join(dir, 'latin-1');
    const small = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
    await saveLayersModel(small, folder);
    const json = JSON.parse(await readFile(join(folder, 'model.json'), 'utf8'));
    const text = JSON.stringify({ ...json, userDefinedMetadata: { author: 'José' } });
    await writeFile(join(folder, 'model.json'), Buffer.from(text, 'latin1'));
    assert.equal((await loadLayersModel(join(folder, 'model.json'))).countParams(), 3);
    small.dispose();
  });

  test('a file that is not JSON text is named in one line without its bytes, a Keras file by its signature', async () => {
    const folder = join(dir, 'not-json');
    await mkdir(folder, { recursive: true });
    const binary = Uint8Array.from({ length: 64 }, (_, i) => (i * 37) % 256);
    const cases: [string, Uint8Array, RegExp][] = [
      [
        'noext',
        Buffer.concat([Buffer.from('\x89HDF\r\n\x1a\n', 'latin1'), binary]),
        /noext is not a tfjs model\.json: it looks like a Keras \.h5 \(HDF5\) file; name it \.h5$/,
      ],
      [
        'archive',
        Buffer.concat([Buffer.from('PK\x03\x04'), binary]),
        /archive is not a tfjs model\.json: it looks like a Keras \.keras \(zip\) archive; name it \.keras$/,
      ],
      ['binary', binary, /binary is not a tfjs model\.json: it is binary, not text$/],
      [
        'graph.json',
        Buffer.from(JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] })),
        /graph\.json is a tfjs graph model \(a converted SavedModel or frozen graph\); ganport reads layers models/,
      ],
      ['nul', Buffer.from('{"modelTopology": \0}\n\n'), /nul is not a tfjs model\.json: it is binary, not text$/],
      [
        'lines.json',
        Buffer.from('{\n"modelTopology":\n\x1b\n}'),
        /lines\.json is not valid JSON \(.*\); is the file truncated\?$/,
      ],
    ];
    for (const [name, bytes, message] of cases) {
      await writeFile(join(folder, name), bytes);
      await assert.rejects(loadLayersModel(join(folder, name)), (err: Error) => {
        assert.ok(err instanceof GanportError, `${err.name}: ${err.message}`);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /[^\x20-\x7e]/, 'one line of printable text');
        return true;
      });
    }
  });

  test('a model file that is a pipe is refused before anything reads it (a read would wait forever)', {
    skip: process.platform === 'win32' && 'no mkfifo on Windows',
  }, async () => {
    const folder = join(dir, 'pipes');
    await mkdir(folder, { recursive: true });
    const refused = /cannot be read: it is not a regular file \(a pipe, socket or device\)/;
    for (const name of ['model.json', 'model.h5', 'model.keras']) {
      const pipe = join(folder, name);
      execFileSync('mkfifo', [pipe]);
      await assert.rejects(loadModelFile(pipe), refused);
      await assert.rejects(exportModelFile(pipe, join(folder, 'out.onnx')), refused);
    }
    await assert.rejects(loadLayersModel(join(folder, 'model.json')), refused);
    assert.deepEqual(await weightFiles(join(folder, 'model.json')), []);
  });

  test('property: random truncations and bit flips of model.json or the shard load or raise a GanportError', async () => {
    const jsonBytes = new TextEncoder().encode(JSON.stringify(saved.json));
    const folder = join(dir, 'fuzz');
    await mkdir(folder, { recursive: true });
    const corruption = fc.record({
      target: fc.constantFrom('json', 'shard'),
      kind: fc.constantFrom('truncate', 'flip'),
      position: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      bits: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.nat(7)), {
        minLength: 1,
        maxLength: 4,
      }),
    });
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(corruption, async ({ target, kind, position, bits }) => {
        const original = target === 'json' ? jsonBytes : saved.weights;
        let bytes: Uint8Array;
        if (kind === 'truncate') bytes = original.slice(0, Math.floor(position * original.length));
        else {
          bytes = original.slice();
          for (const [at, bit] of bits) bytes[Math.floor(at * bytes.length)] ^= 1 << bit;
        }
        await writeFile(join(folder, 'model.json'), target === 'json' ? bytes : jsonBytes);
        await writeFile(join(folder, 'weights.bin'), target === 'shard' ? bytes : saved.weights);
        try {
          (await loadLayersModel(join(folder, 'model.json'))).dispose();
          loaded++;
        } catch (err) {
          if (!(err instanceof GanportError)) throw err;
        }
      }),
      { numRuns: 300, seed: 13 },
    );
    assert.ok(loaded > 0, 'bit flips in weight values still load');
  });
});
