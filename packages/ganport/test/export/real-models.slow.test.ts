/**
 * Every real model file published in other repositories that the exporter is held to: the tfjs
 * LayersModels in shared/realmodels/tfjs/, the Keras files in shared/realmodels/keras/ and
 * shared/keras/ (beside the repository; where each comes from, its inputs and licence: the SOURCES.md
 * in each folder; never committed here). Each is exported from its file as `ganport export` does,
 * structurally validated, and run in onnxruntime-node and -web against tfjs (the wasm backend's own
 * kernels, for speed) on inputs in its real range — a classifier is fed pixels as it was trained on,
 * since N(0, 1) saturates it — with every free sequence length at FREE_LENGTH; a stateful model starts
 * from zero states, and its carried states are compared too. A model that fails is a test failure.
 * Without the folders the tests are skipped, saying so; with CI set they fail.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import {
  decodeModel,
  EXPORT_METADATA,
  exportModelFile,
  findProblems,
  formatInspection,
  loadModelFile,
  type ModelProto,
} from '../../src/export/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { assertRuntimesAgree, seededInputs } from './helpers.js';
import { assertPresent, SHARED, skipUnlessPresent } from './shared-files.js';

/** The error allowed: this fraction of the largest |output| (at least 1); deep models sum in another order. */
const RELATIVE = 1e-4;
/** The length given to every free (null) dimension but the batch: a sequence longer than 1. */
const FREE_LENGTH = 5;
/** The batch, where the model does not fix one. */
const BATCH = 2;

const latent = (rng: Rng) => rng.nextNormal();
const unit = (rng: Rng) => rng.nextUniform();
const signed = (rng: Rng) => 2 * rng.nextUniform() - 1;
const bytes = (rng: Rng) => 255 * rng.nextUniform();
const classes = (n: number) => (rng: Rng) => rng.nextInt(n);

/** Each model file under shared/, and a value source per input in its real range (from its SOURCES.md and its publisher's code). */
const REAL_MODELS: Record<string, ((rng: Rng) => number)[]> = {
  'realmodels/tfjs/cgan_discriminator/model.json': [signed, classes(10)], // tanh-range images, a label
  'realmodels/tfjs/connect4_resnet/model.json': [classes(2)], // board planes of 0s and 1s
  'realmodels/tfjs/drawaevae_decoder/decoderModel.json': [latent],
  'realmodels/tfjs/handwriting_vae_decoder/model.json': [latent],
  'realmodels/tfjs/kozko_conv_autoencoder/model.json': [unit], // MNIST pixels in [0, 1]
  'realmodels/tfjs/maria_gan_combined/model.json': [latent],
  'realmodels/tfjs/maria_gan_generator/model.json': [latent],
  'realmodels/tfjs/mnist_cnn_bn_dropout/model.json': [unit],
  'realmodels/tfjs/mnist_cnn_tfjs172/model.json': [unit],
  'realmodels/tfjs/narcissus_vae_decoder/model.json': [latent],
  'realmodels/tfjs/natural_artificial_cnn/model.json': [unit],
  'realmodels/tfjs/reiinakano_autoencoder/model.json': [unit],
  'realmodels/tfjs/rexhuang_bn_cnn/model.json': [unit],
  'realmodels/tfjs/teachable_mobilenet/model.json': [signed], // Teachable Machine feeds [-1, 1]
  'realmodels/tfjs/weather_lstm/model.json': [latent], // standardised weather features; stateful
  'realmodels/keras/cgan_generator_embed_concat_k3legacy.h5': [latent, classes(10)],
  'realmodels/keras/cgan_generator_embed_multiply_nested.h5': [latent, classes(10)],
  'realmodels/keras/dcgan_generator_k3.keras': [latent],
  'realmodels/keras/dcgan_generator_upsampling_noinput.h5': [latent],
  'realmodels/keras/devanagari_cnn_classifier_k3.keras': [bytes], // image_dataset_from_directory: 0–255
  'realmodels/keras/fast_srgan_generator_tfoplayer.h5': [unit], // its infer.py: pixels / 255
  'realmodels/keras/inpainting_unet_generator_swish.h5': [signed],
  'realmodels/keras/mnist_cnn_classifier.h5': [unit],
  'realmodels/keras/mnist_gan_generator_tfkeras213.keras': [latent],
  'realmodels/keras/sar_colorization_unet_generator.keras': [unit],
  'realmodels/keras/vae_decoder_cropping_k3.keras': [latent],
  'realmodels/keras/vae_decoder_mnist_latent2.h5': [latent],
  'keras/anime-faces-dcgan-generator.h5': [latent],
  'keras/synthetic-patient-generator-v1.h5': [latent],
  'keras/synthetic-patient-generator.keras': [latent],
  'keras/wcgan-gp-generator.h5': [latent, classes(15)],
};

/** The model files in the shared folders: each tfjs model folder's .json, each Keras file. */
function filesInShared(): string[] {
  const listed = (folder: string) => (existsSync(join(SHARED, folder)) ? readdirSync(join(SHARED, folder)) : []);
  return [
    ...listed('realmodels/tfjs')
      .filter((d) => !d.endsWith('.md'))
      .flatMap((d) =>
        listed(`realmodels/tfjs/${d}`).flatMap((f) => (f.endsWith('.json') ? [`realmodels/tfjs/${d}/${f}`] : [])),
      ),
    ...['realmodels/keras', 'keras'].flatMap((folder) =>
      listed(folder).flatMap((f) => (/\.(h5|keras)$/.test(f) ? [`${folder}/${f}`] : [])),
    ),
  ].sort();
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ganport-real-models-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** The tfjs states of the layer at `path` (outer/inner): an RNN's, or a Bidirectional's forward then backward. */
function tfjsStates(model: tf.LayersModel, path: string): tf.Tensor[] {
  const layer = path.split('/').reduce<tf.layers.Layer>((m, part) => (m as tf.LayersModel).getLayer(part), model);
  const wrapper = layer as unknown as { forwardLayer?: tf.RNN; backwardLayer?: tf.RNN };
  if (wrapper.forwardLayer && wrapper.backwardLayer)
    return [...wrapper.forwardLayer.states, ...wrapper.backwardLayer.states];
  return (layer as tf.RNN).states;
}

/** The carried states of a stateful model (ganport.recurrent_state), each graph input and output with its layer. */
function carriedStates(onnx: ModelProto): { layer: string; input: string; output: string; shape: number[] }[] {
  const entry = onnx.metadataProps.find((p) => p.key === EXPORT_METADATA.recurrentState);
  return entry ? JSON.parse(entry.value).states : [];
}

describe('real published models: exported, validated, and run against tfjs', () => {
  const found = filesInShared();
  test('every model file in the shared folders has its input ranges here, and every one listed is there', {
    skip: skipUnlessPresent(join(SHARED, 'realmodels'), 'the folder of real models'),
  }, () => {
    assert.deepEqual(found, Object.keys(REAL_MODELS).sort());
  });

  for (const [path, sources] of Object.entries(REAL_MODELS)) {
    const file = join(SHARED, path);
    test(path, { skip: skipUnlessPresent(file, path) }, async (t) => {
      assertPresent(file, path);
      const out = join(dir, `${basename(path)}.onnx`);
      await exportModelFile(file, out);
      const onnxBytes = new Uint8Array(await readFile(out));
      const onnx = decodeModel(onnxBytes);
      assert.deepEqual(findProblems(onnx), []);

      await selectBackend('wasm');
      const reference = await loadModelFile(file);
      assert.match(formatInspection(reference), /^export: ok/m);
      const batch = reference.inputs[0].shape[0] ?? BATCH;
      assert.equal(sources.length, reference.inputs.length, 'one value source per input');
      const xs = seededInputs(reference, batch, 17, (rng, i) => sources[i](rng), FREE_LENGTH);
      const outputs = [reference.predict(xs)].flat() as tf.Tensor[];
      const names = onnx.graph.output.map((o) => o.name);
      const expected = Object.fromEntries(outputs.map((y, i) => [names[i], y.dataSync()]));
      // A stateful model starts from zero states; it ends in the states tfjs now holds.
      const carried = carriedStates(onnx);
      for (const state of carried) {
        const index = carried.filter((c) => c.layer === state.layer).indexOf(state);
        expected[state.output] = tfjsStates(reference, state.layer)[index].dataSync();
        xs.push(tf.zeros(state.shape));
      }
      const inputNames = onnx.graph.input.map((i) => i.name);
      const error = await assertRuntimesAgree(path, onnxBytes, { names: inputNames, xs }, expected, RELATIVE);
      const shapes = JSON.stringify(xs.map((x) => x.shape));
      t.diagnostic(`max error ${error.toExponential(2)} of the largest |output|, inputs ${shapes}`);
      reference.dispose();
    });
  }
});
