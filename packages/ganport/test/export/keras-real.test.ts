/**
 * Real Keras files, saved by Keras itself and published under the MIT licence (sources, commits,
 * licences and checksums: test/fixtures/keras/README.md): a tf.keras 2.12 DCGAN image generator
 * (.h5), a tf.keras 2.5 conditional tabular generator (.h5: functional, int label → Embedding ×
 * latent, a nested Sequential), and a Keras 3.11 tabular generator as .keras and, an earlier
 * version, as Keras 3's legacy .h5. Each is read, exported from the file, structurally validated,
 * and run in onnxruntime-node and -web against the tfjs model the reader builds from it, on
 * latents N(0, 1) (and labels in the model's class range); one is checked against the samples its
 * publisher generated with Keras.
 *
 * The files are data taken from other repositories, so they are not committed here: the test looks
 * for them in $GANPORT_KERAS_FIXTURES, test/fixtures/keras/, and shared/keras/ inside or beside the
 * repository, checks each one's SHA-256, and skips a file it finds nowhere — unless CI is set, where a
 * missing file fails its test.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { formatInspection, loadModelFile } from '../../src/export/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { ROOT } from '../helpers.js';
import { exportFileAndCompare, opCount, seededInputs, valueDims } from './helpers.js';
import { assertPresent, SHARED, skipUnlessPresent } from './shared-files.js';

/** Where the files may be, first match wins. */
const FIXTURE_DIRS = [
  process.env.GANPORT_KERAS_FIXTURES,
  join(ROOT, 'test', 'fixtures', 'keras'),
  join(ROOT, '..', '..', 'shared', 'keras'),
  join(SHARED, 'keras'),
].filter((d): d is string => d !== undefined && d !== '');

/** The file's path in the first of FIXTURE_DIRS that has it, or undefined. */
const fixture = (name: string) => FIXTURE_DIRS.map((d) => join(d, name)).find((p) => existsSync(p));

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let dir: string;
before(async () => {
  await selectBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'ganport-keras-real-'));
});
after(() => rm(dir, { recursive: true, force: true }));

interface RealFile {
  name: string;
  sha256: string;
  what: string;
  /** Its parameter count: every saved weight was read into the model. */
  params: number;
  /** One value source per model input, in the model's real input range. */
  inputs: ((rng: Rng) => number)[];
  /** How many nodes of these ONNX op types the export has. */
  ops: Record<string, number>;
  /** The ONNX output's dims. */
  outputDims: (number | string)[];
}

const REAL_FILES: RealFile[] = [
  {
    name: 'anime-faces-dcgan-generator.h5',
    sha256: '424b0f1df84771f7302e9ae17b46706398f16fbef6a4e4191f237bbf71227c1b',
    what: 'tf.keras 2.12 .h5: a Sequential DCGAN generator, latent 128 → 64×64×3 (sigmoid)',
    params: 512451,
    inputs: [(rng) => rng.nextNormal()],
    ops: { ConvTranspose: 5, BatchNormalization: 4, Sigmoid: 1 },
    outputDims: ['batch', 64, 64, 3],
  },
  {
    name: 'wcgan-gp-generator.h5',
    sha256: 'fbefb3d67ffd0ddb609f04c5daed1e5baadb686000107e9ca248989e72d04aa9',
    what: 'tf.keras 2.5 .h5: a functional conditional generator (latent 64 × Embedding of a label in [0, 15), nested Sequential) → 33 (tanh)',
    params: 708321,
    inputs: [(rng) => rng.nextNormal(), (rng) => rng.nextInt(15)],
    ops: { Gather: 1, Mul: 1, Gemm: 4, LeakyRelu: 3, Tanh: 1 },
    outputDims: ['batch', 33],
  },
  {
    name: 'synthetic-patient-generator.keras',
    sha256: '0ce9999867f22d6d9bf6ef84f41fbe2793c1cf2f6211ebbc079c247765d4338d',
    what: 'Keras 3.11 .keras: a Sequential tabular generator, latent 32 → 13 (Dense + BatchNormalization, sigmoid)',
    params: 278797,
    inputs: [(rng) => rng.nextNormal()],
    ops: { Gemm: 4, BatchNormalization: 3, Sigmoid: 1 },
    outputDims: ['batch', 13],
  },
  {
    name: 'synthetic-patient-generator-v1.h5',
    sha256: '50881b5b4e918c97cbb90eea65bf370cce22eb44e7b164682c322582e4bb00aa',
    what: 'Keras 3.11 .h5 (legacy HDF5, weight names without ":0"): the same project\'s earlier generator, latent 10 → 13',
    params: 10701,
    inputs: [(rng) => rng.nextNormal()],
    ops: { Gemm: 3, Relu: 2, Sigmoid: 1 },
    outputDims: ['batch', 13],
  },
];

/** Where a test of `name` is skipped: not found in any of FIXTURE_DIRS (never under CI). */
const skipped = (name: string, file: string | undefined) =>
  skipUnlessPresent(file, `${name} (looked in ${FIXTURE_DIRS.join(', ')})`);

/** The moving variance of every BatchNormalization, nested models included. */
function movingVariances(model: tf.LayersModel): Float32Array[] {
  return model.layers.flatMap((layer) =>
    layer instanceof tf.LayersModel
      ? movingVariances(layer)
      : layer.getClassName() === 'BatchNormalization'
        ? [layer.getWeights()[3].dataSync() as Float32Array]
        : [],
  );
}

describe('real Keras files (published, saved by Keras), exported end to end', () => {
  for (const real of REAL_FILES) {
    const file = fixture(real.name);
    test(real.what, { skip: skipped(real.name, file) }, async () => {
      assertPresent(file, real.name);
      assert.equal(sha256(file), real.sha256, `${file} is not the published file`);
      const reference = await loadModelFile(file);
      assert.equal(reference.countParams(), real.params);
      // trained statistics, each in its place: a variance is never negative, and not the fresh 1s
      for (const variance of movingVariances(reference))
        assert.ok(variance.every((v) => v >= 0) && variance.some((v) => v !== 1));
      assert.match(formatInspection(reference), /^export: ok/m);
      for (const batch of [1, 5]) {
        const names = reference.inputs.map((_, i) => `x${i}`);
        const xs = seededInputs(reference, batch, 7, (rng, i) => real.inputs[i](rng));
        const onnx = await exportFileAndCompare(file, join(dir, `${real.name}.onnx`), reference, {
          names,
          xs,
        });
        assert.deepEqual(Object.fromEntries(Object.keys(real.ops).map((op) => [op, opCount(onnx, op)])), real.ops);
        assert.deepEqual(valueDims(onnx.graph.output[0]), real.outputDims);
      }
      reference.dispose();
    });
  }

  /**
   * Per-feature means of the 500 rows the publisher generated with Keras from N(0, 1) latents
   * (synthetic_patients.npy, same repository and commit): the model as read must generate the same
   * distribution. Swapping two of the BatchNormalization weights (gamma and beta, mean and variance, gamma and mean) moves a mean by 0.08 or more.
   */
  const KERAS_MEANS = [0.399, 0.35, 0.377, 0.409, 0.361, 0.377, 0.393, 0.342, 0.384, 0.408, 0.365, 0.379, 0.357];
  const patient = REAL_FILES.find((r) => r.name === 'synthetic-patient-generator.keras') as RealFile;
  const patientFile = fixture(patient.name);
  test('the Keras 3 generator as read generates the distribution Keras generated with it', {
    skip: skipped(patient.name, patientFile),
  }, async () => {
    assertPresent(patientFile, patient.name);
    const model = await loadModelFile(patientFile);
    const [x] = seededInputs(model, 2000, 3, (rng) => rng.nextNormal());
    const means = tf.tidy(() => (model.predict(x) as tf.Tensor).mean(0).dataSync());
    const worst = Math.max(...KERAS_MEANS.map((m, j) => Math.abs(m - means[j])));
    assert.ok(worst < 0.05, `a feature mean differs from Keras's by ${worst}`);
    model.dispose();
  });

  test('a missing real file skips its test, except under CI, where the test fails', () => {
    const ci = process.env.CI;
    try {
      delete process.env.CI;
      assert.match(String(skipUnlessPresent('/nowhere/x.h5', 'x.h5')), /^x\.h5 is not at \/nowhere\/x\.h5$/);
      process.env.CI = 'true';
      assert.equal(skipUnlessPresent('/nowhere/x.h5', 'x.h5'), false);
      assert.throws(() => assertPresent('/nowhere/x.h5', 'x.h5'), /x\.h5 is missing \(\/nowhere\/x\.h5\); CI is set/);
    } finally {
      if (ci === undefined) delete process.env.CI;
      else process.env.CI = ci;
    }
  });
});
