/** Models used as layers: inlined to any depth, applied more than once, several inputs/outputs; --submodel; inspect. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { main } from '../../src/cli/main.js';
import {
  convertLayersModel,
  decodeModel,
  exportModelFile,
  findSubmodel,
  formatInspection,
  inspectModel,
  nestedModelPaths,
} from '../../src/export/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { loadLayersModel, saveLayersModel } from '../../src/tfjs/model-io.js';
import { setBatchNormWeights } from '../fixtures/published-models.js';
import { maxAbsDiff } from '../helpers.js';
import { assertRoundTrip, init, roundTrip, valueDims } from './helpers.js';

let dir: string;
before(async () => {
  await selectBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'ganport-nested-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Non-trivial moving statistics for every BatchNormalization in a model, nested ones included. */
const randomizeBatchNorms = (model: tf.LayersModel, seed: number) =>
  setBatchNormWeights(model, seed, (rng, i) => (i === 3 ? 0.5 + rng.nextUniform() : rng.nextNormal() * 0.5));

function ganParts(): { generator: tf.Sequential; discriminator: tf.Sequential } {
  const generator = tf.sequential({
    name: 'generator',
    layers: [
      tf.layers.dense({ inputShape: [8], units: 4 * 4 * 8, ...init(1) }),
      tf.layers.batchNormalization(),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.reshape({ targetShape: [4, 4, 8] }),
      tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', ...init(2) }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.conv2dTranspose({
        filters: 1,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'tanh',
        ...init(3),
      }),
    ],
  });
  const discriminator = tf.sequential({
    name: 'discriminator',
    layers: [
      tf.layers.conv2d({ inputShape: [16, 16, 1], filters: 4, kernelSize: 3, strides: 2, padding: 'same', ...init(4) }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1, activation: 'sigmoid', ...init(5) }),
    ],
  });
  randomizeBatchNorms(generator, 6);
  return { generator, discriminator };
}

describe('nested models', () => {
  test('a combined GAN as tfjs trains it: sequential([generator, discriminator])', async () => {
    const { generator, discriminator } = ganParts();
    const gan = tf.sequential({ layers: [generator, discriminator] });
    await assertRoundTrip(gan, { batch: 4 });
    await assertRoundTrip(gan, { batch: 4, convert: { foldBatchNorm: true } });
  });

  test('a combined GAN as a functional model: model(z, discriminator(generator(z)))', async () => {
    const { generator, discriminator } = ganParts();
    const z = tf.input({ shape: [8], name: 'z' });
    const gan = tf.model({ inputs: z, outputs: discriminator.apply(generator.apply(z)) as tf.SymbolicTensor });
    await assertRoundTrip(gan, { batch: 2 });
    // nested after a save and load too: the topology tfjs writes for a combined model
    await saveLayersModel(gan, join(dir, 'gan'));
    const loaded = await loadLayersModel(join(dir, 'gan', 'model.json'));
    await assertRoundTrip(loaded, { batch: 2 });
    assert.deepEqual(nestedModelPaths(loaded), ['generator', 'discriminator']);
  });

  test('a Keras-style autoencoder: functional encoder and Sequential decoder nested in a model', async () => {
    const x = tf.input({ shape: [8, 8, 2] });
    const h = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', ...init(7) })
      .apply(x) as tf.SymbolicTensor;
    const code = tf.layers.dense({ units: 6, ...init(8) }).apply(tf.layers.flatten().apply(h)) as tf.SymbolicTensor;
    const encoder = tf.model({ inputs: x, outputs: code, name: 'encoder' });
    const decoder = tf.sequential({
      name: 'decoder',
      layers: [
        tf.layers.dense({ inputShape: [6], units: 4 * 4 * 4, activation: 'relu', ...init(9) }),
        tf.layers.reshape({ targetShape: [4, 4, 4] }),
        tf.layers.upSampling2d({ size: [2, 2] }),
        tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'sigmoid', ...init(10) }),
      ],
    });
    const input = tf.input({ shape: [8, 8, 2] });
    const autoencoder = tf.model({
      inputs: input,
      outputs: decoder.apply(encoder.apply(input)) as tf.SymbolicTensor,
      name: 'autoencoder',
    });
    await assertRoundTrip(autoencoder, { range: [0, 1] });
    await assertRoundTrip(findSubmodel(autoencoder, 'encoder'));
    await assertRoundTrip(findSubmodel(autoencoder, 'decoder'));
  });

  test('a nested model applied twice (siamese) shares one set of initializers', async () => {
    const tower = tf.sequential({
      name: 'tower',
      layers: [
        tf.layers.dense({ inputShape: [5], units: 7, activation: 'relu', ...init(11) }),
        tf.layers.batchNormalization(),
        tf.layers.dense({ units: 3, ...init(12) }),
      ],
    });
    randomizeBatchNorms(tower, 13);
    const a = tf.input({ shape: [5] });
    const b = tf.input({ shape: [5] });
    const diff = tf.layers
      .average()
      .apply([tower.apply(a) as tf.SymbolicTensor, tower.apply(b) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    const siamese = tf.model({ inputs: [a, b], outputs: diff });
    const bytes = await roundTrip(siamese);
    const graph = decodeModel(bytes).graph;
    assert.equal(graph.node.filter((n) => n.opType === 'Gemm').length, 4);
    const kernels = graph.initializer.filter((t) => t.dims.length === 2);
    assert.equal(kernels.length, 2, `one initializer per kernel, got ${kernels.map((t) => t.name)}`);
    // folding BatchNormalization into one call's Gemm must not change the other call's weights
    await assertRoundTrip(siamese, { convert: { foldBatchNorm: true } });
  });

  test('a layer shared inside one model (called twice) is converted per call', async () => {
    const shared = tf.layers.dense({ units: 4, activation: 'tanh', ...init(14) });
    const a = tf.input({ shape: [4] });
    const out = shared.apply(shared.apply(a)) as tf.SymbolicTensor;
    await assertRoundTrip(tf.model({ inputs: a, outputs: out }));
  });

  test('a nested model with two inputs and two outputs, used as a layer', async () => {
    const p = tf.input({ shape: [4] });
    const q = tf.input({ shape: [3] });
    const joined = tf.layers.concatenate().apply([p, q]) as tf.SymbolicTensor;
    const sum = tf.layers.dense({ units: 2, ...init(15) }).apply(joined) as tf.SymbolicTensor;
    const gate = tf.layers.dense({ units: 3, activation: 'sigmoid', ...init(16) }).apply(q) as tf.SymbolicTensor;
    const inner = tf.model({ inputs: [p, q], outputs: [sum, gate], name: 'two_by_two' });
    const x = tf.input({ shape: [4] });
    const y = tf.input({ shape: [3] });
    const [s, g] = inner.apply([x, y]) as tf.SymbolicTensor[];
    const model = tf.model({
      inputs: [x, y],
      outputs: [s, tf.layers.multiply().apply([g, y]) as tf.SymbolicTensor],
    });
    await assertRoundTrip(model);
  });

  test('three levels deep: a Sequential inside a functional model inside a Sequential, not first', async () => {
    const innermost = tf.sequential({
      name: 'innermost',
      layers: [tf.layers.dense({ inputShape: [6], units: 5, activation: 'elu', ...init(17) })],
    });
    const i = tf.input({ shape: [6] });
    const middle = tf.model({
      inputs: i,
      outputs: tf.layers.dense({ units: 4, ...init(18) }).apply(innermost.apply(i)) as tf.SymbolicTensor,
      name: 'middle',
    });
    const outer = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [3], units: 6, ...init(19) }), middle, tf.layers.softmax()],
    });
    await assertRoundTrip(outer);
    assert.deepEqual(nestedModelPaths(outer), ['middle', 'middle/innermost']);
    await assertRoundTrip(findSubmodel(outer, 'innermost'));
    const names = convertLayersModel(outer).graph.node.map((n) => n.name);
    assert.ok(
      names.some((n) => n.startsWith('middle/innermost/')),
      `inner names carry their path: ${names}`,
    );
  });

  test('a U-Net built from Sequential blocks with skip connections', async () => {
    const block = (
      name: string,
      inputShape: number[],
      filters: number,
      strides: number,
      transpose: boolean,
      seed: number,
    ) =>
      tf.sequential({
        name,
        layers: [
          (transpose ? tf.layers.conv2dTranspose : tf.layers.conv2d)({
            inputShape,
            filters,
            kernelSize: 3,
            strides,
            padding: 'same',
            useBias: false,
            ...init(seed),
          }),
          tf.layers.batchNormalization(),
          tf.layers.leakyReLU({ alpha: 0.2 }),
        ],
      });
    const x = tf.input({ shape: [16, 16, 3] });
    const down1 = block('down1', [16, 16, 3], 4, 2, false, 20);
    const down2 = block('down2', [8, 8, 4], 8, 2, false, 21);
    const up1 = block('up1', [4, 4, 8], 4, 2, true, 22);
    const d1 = down1.apply(x) as tf.SymbolicTensor;
    const d2 = down2.apply(d1) as tf.SymbolicTensor;
    const u1 = tf.layers.concatenate().apply([up1.apply(d2) as tf.SymbolicTensor, d1]) as tf.SymbolicTensor;
    const out = tf.layers
      .conv2dTranspose({ filters: 3, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh', ...init(23) })
      .apply(u1) as tf.SymbolicTensor;
    const unet = tf.model({ inputs: x, outputs: out });
    randomizeBatchNorms(unet, 24);
    await assertRoundTrip(unet, { batch: 2, range: [-1, 1] });
  });
});

describe('--submodel and inspect', () => {
  test('exportModelFile --submodel generator writes the generator alone, matching tfjs', async () => {
    const { generator, discriminator } = ganParts();
    const gan = tf.sequential({ layers: [generator, discriminator] });
    await saveLayersModel(gan, join(dir, 'combined'));
    const out = join(dir, 'g.onnx');
    await exportModelFile(join(dir, 'combined', 'model.json'), out, {
      submodel: 'generator',
      inputNames: ['z'],
      outputNames: ['image'],
    });
    const session = await ort.InferenceSession.create(out);
    const z = tf.randomNormal([3, 8], 0, 1, 'float32', 3);
    const result = await session.run({ z: new ort.Tensor('float32', z.dataSync() as Float32Array, [3, 8]) });
    assert.deepEqual(result.image.dims, [3, 16, 16, 1]);
    assert.ok(maxAbsDiff((generator.predict(z) as tf.Tensor).dataSync(), result.image.data as Float32Array) <= 1e-5);
    await assert.rejects(
      exportModelFile(join(dir, 'combined', 'model.json'), join(dir, 'x.onnx'), { submodel: 'critic' }),
      /no nested model "critic".*nested models: generator, discriminator/,
    );
  });

  test('inspect lists the tree, shapes, shared calls and unsupported layers with the reason', () => {
    const tower = tf.sequential({
      name: 'tower',
      layers: [tf.layers.dense({ inputShape: [4], units: 3, ...init(30) })],
    });
    const a = tf.input({ shape: [4] });
    const b = tf.input({ shape: [4] });
    const joined = tf.layers.add().apply([tower.apply(a), tower.apply(b)] as tf.SymbolicTensor[]);
    const map = tf.layers.reshape({ targetShape: [3, 1, 1] }).apply(joined) as tf.SymbolicTensor;
    const model = tf.model({
      inputs: [a, b],
      outputs: tf.layers.depthwiseConv2d({ kernelSize: 1, dilationRate: 2 }).apply(map) as tf.SymbolicTensor,
    });
    const tree = inspectModel(model);
    const towerReport = tree.find((r) => r.name === 'tower')!;
    assert.equal(towerReport.support, 'nested');
    assert.equal(towerReport.calls, 2);
    assert.deepEqual(
      towerReport.children!.map((c) => c.className),
      ['InputLayer', 'Dense'],
    );
    const text = formatInspection(model);
    assert.match(text, /tower\s+Sequential\s+\[null,3\] \(2 calls, shared weights\)/);
    assert.match(text, /\n {2}dense_Dense\d+\s+Dense\s+\[null,3\]\s+15\s+yes/);
    assert.match(text, /DepthwiseConv2D.*NO: dilationRate > 1 \(tfjs computes this layer without the dilation/);
    assert.match(text, /export: fails: /);
  });

  test('ganport inspect and ganport export --submodel from the command line', async () => {
    const { generator, discriminator } = ganParts();
    await saveLayersModel(tf.sequential({ layers: [generator, discriminator] }), join(dir, 'cli'));
    const json = join(dir, 'cli', 'model.json');
    const written: string[] = [];
    const write = process.stdout.write;
    const log = console.log;
    process.stdout.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stdout.write;
    console.log = (...args: unknown[]) => written.push(`${args.join(' ')}\n`);
    try {
      assert.equal(await main(['inspect', json]), 0);
      assert.equal(await main(['export', json, '--submodel', 'discriminator', '--out', join(dir, 'd.onnx')]), 0);
    } finally {
      process.stdout.write = write;
      console.log = log;
    }
    const text = written.join('');
    assert.match(text, /discriminator\s+Sequential\s+\[null,1\]/);
    assert.match(text, /nested models \(--submodel\): generator, discriminator/);
    assert.match(text, /export: ok, \d+ ONNX nodes/);
    assert.match(text, /wrote .*d\.onnx/);
    const onnx = decodeModel(new Uint8Array(await readFile(join(dir, 'd.onnx'))));
    assert.deepEqual(valueDims(onnx.graph.input[0]), ['batch', 16, 16, 1]);
  });
});
