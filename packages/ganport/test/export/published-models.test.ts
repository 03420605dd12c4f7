/**
 * End to end on generated equivalents of published tfjs models (test/fixtures/published-models.ts):
 * saved to disk as tfjs saves them, exported from the file (whole, or one nested model with
 * --submodel), structurally validated, and run in onnxruntime-node and -web against tfjs on inputs
 * in each model's real input range.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { formatInspection, type ModelProto } from '../../src/export/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { loadLayersModel, saveLayersModel } from '../../src/tfjs/model-io.js';
import {
  combinedGan,
  kerasAutoencoder,
  lstmTextClassifier,
  teachableMachineImage,
} from '../fixtures/published-models.js';
import { exportFileAndCompare, seededInputs, valueDims } from './helpers.js';

let dir: string;
before(async () => {
  await selectBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'ganport-published-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Saves `model` as tfjs does, then exports that file (or one nested model) and compares it with what tfjs loads. */
async function exportAndCompare(
  name: string,
  model: tf.LayersModel,
  input: (rng: Rng) => number,
  options: { submodel?: string; batch?: number } = {},
): Promise<{ onnx: ModelProto; reference: tf.LayersModel }> {
  await saveLayersModel(model, join(dir, name));
  const json = join(dir, name, 'model.json');
  const loaded = await loadLayersModel(json); // the reference is what the saved file holds
  const reference = options.submodel ? (loaded.getLayer(options.submodel) as tf.LayersModel) : loaded;
  const xs = seededInputs(reference, options.batch ?? 4, 11, input);
  const out = join(dir, `${name}.onnx`);
  const onnx = await exportFileAndCompare(json, out, reference, { names: ['x'], xs }, options.submodel);
  return { onnx, reference };
}

describe('published-model equivalents, end to end from files', () => {
  test('a combined GAN saved from tfjs: the whole model, and --submodel generator (latent N(0, 1))', async () => {
    const gan = combinedGan();
    const whole = await exportAndCompare('gan', gan, (rng) => rng.nextNormal());
    assert.deepEqual(valueDims(whole.onnx.graph.output[0]), ['batch', 1]);
    const { onnx } = await exportAndCompare('gan', gan, (rng) => rng.nextNormal(), { submodel: 'generator' });
    assert.deepEqual(valueDims(onnx.graph.output[0]), ['batch', 28, 28, 1]);
    assert.ok(!onnx.graph.node.some((n) => n.name.includes('discriminator')));
  });

  test('a discriminator taken out of a combined GAN scores images in [-1, 1]', async () => {
    await exportAndCompare('gan-d', combinedGan(), (rng) => 2 * rng.nextUniform() - 1, { submodel: 'discriminator' });
  });

  test('a Teachable Machine image model: nested MobileNet (depthwise-separable blocks) + dense head', async () => {
    const model = teachableMachineImage(3);
    const { onnx, reference } = await exportAndCompare('tm', model, (rng) => 2 * rng.nextUniform() - 1, { batch: 5 });
    const ops = onnx.graph.node.map((n) => n.opType);
    const grouped = onnx.graph.node.filter(
      (n) => n.opType === 'Conv' && n.attribute.some((a) => a.name === 'group' && Number(a.i) > 1),
    );
    assert.equal(grouped.length, 4, 'one grouped Conv per depthwise layer');
    assert.equal(ops.filter((o) => o === 'Softmax').length, 1);
    // the class probabilities are not saturated on inputs in TM's range: a meaningful comparison
    const x = tf.randomUniform([5, 32, 32, 3], -1, 1, 'float32', 3);
    const probabilities = (reference.predict(x) as tf.Tensor).dataSync();
    assert.ok(Math.max(...probabilities) < 0.999, `saturated: ${Math.max(...probabilities)}`);
    assert.match(formatInspection(reference), /conv_dw_1\s+DepthwiseConv2D\s+\[null,16,16,8\]\s+72\s+yes/);
  });

  test('a Keras-style autoencoder with nested encoder and decoder (pixels in [0, 1]), and each half alone', async () => {
    const model = kerasAutoencoder();
    await exportAndCompare('autoencoder', model, (rng) => rng.nextUniform());
    await exportAndCompare('autoencoder', model, (rng) => rng.nextUniform(), { submodel: 'encoder' });
    await exportAndCompare('autoencoder', model, (rng) => rng.nextNormal(), { submodel: 'decoder' });
  });

  test('an LSTM text classifier (Embedding → LSTM → Dense softmax) on token ids, batch 1 and 6', async () => {
    const model = lstmTextClassifier(50, 12, 4);
    for (const batch of [1, 6]) {
      const { onnx } = await exportAndCompare('text', model, (rng) => rng.nextInt(50), { batch });
      assert.deepEqual(
        onnx.graph.node.filter((n) => ['Gather', 'LSTM', 'Gemm', 'Softmax'].includes(n.opType)).map((n) => n.opType),
        ['Gather', 'LSTM', 'Gemm', 'Softmax'],
      );
    }
  });
});
