/** Image metrics: the linear algebra and k-NN precision/recall on known answers, then `ganport eval` on the shipped models. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GanportError, Rng, readOnnxInfo } from '@ganport/runtime';
import { PNG } from 'pngjs';
import { loadImageDataset, resolveDataDir } from '../../src/datasets/fashion-mnist.js';
import { encodeIdx } from '../../src/datasets/idx.js';
import { Classifier, classHistogramKl, predictedClasses } from '../../src/eval/classifier.js';
import { PairwiseDistances } from '../../src/eval/distances.js';
import type { ImageEvalReport } from '../../src/eval/images.js';
import {
  frechetDistance,
  gaussianStats,
  multiply,
  type SquareMatrix,
  symmetricEigen,
  traceSqrtProduct,
} from '../../src/eval/linalg.js';
import { coverage, manifold, precisionRecall } from '../../src/eval/precision-recall.js';
import { assertCleanFailure, maxAbsDiff, runCli, SAMPLE_DATA, SHIPPED_MODELS, tempDir } from '../helpers.js';

const matrix = (rows: number[][]): SquareMatrix => ({ n: rows.length, data: Float64Array.from(rows.flat()) });

function randomSymmetric(n: number, rng: Rng): SquareMatrix {
  const m = matrix(Array.from({ length: n }, () => Array.from({ length: n }, () => rng.nextNormal())));
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) m.data[i * n + j] = m.data[j * n + i];
  return m;
}

/** G Gᵀ: a random symmetric positive semi-definite matrix (rank ≤ columns). */
function randomPsd(n: number, columns: number, rng: Rng): SquareMatrix {
  const g = Array.from({ length: n }, () => Array.from({ length: columns }, () => rng.nextNormal()));
  return matrix(g.map((gi) => g.map((gj) => gi.reduce((s, x, k) => s + x * gj[k], 0))));
}

test('symmetric eigendecomposition: V diag(λ) Vᵀ rebuilds the matrix, V is orthonormal, λ are the known ones', () => {
  const rng = new Rng(5);
  const a = randomSymmetric(40, rng);
  const { values, vectors } = symmetricEigen(a);
  const n = a.n;
  const rebuilt = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      for (let k = 0; k < n; k++) rebuilt[i * n + j] += vectors.data[i * n + k] * values[k] * vectors.data[j * n + k];
  assert.ok(maxAbsDiff(rebuilt, a.data) < 1e-12, `rebuilt ${maxAbsDiff(rebuilt, a.data)}`);
  const vtv = multiply(
    { n, data: Float64Array.from({ length: n * n }, (_, i) => vectors.data[(i % n) * n + Math.floor(i / n)]) },
    vectors,
  );
  assert.ok(
    maxAbsDiff(
      vtv.data,
      Float64Array.from({ length: n * n }, (_, i) => Number(i % (n + 1) === 0)),
    ) < 1e-12,
  );
  // [[2, 1], [1, 2]] has eigenvalues 1 and 3; a diagonal matrix keeps its diagonal
  assert.deepEqual(
    Array.from(
      symmetricEigen(
        matrix([
          [2, 1],
          [1, 2],
        ]),
      ).values,
    )
      .map((x) => Math.round(x * 1e12) / 1e12)
      .sort(),
    [1, 3],
  );
  assert.deepEqual(
    Array.from(
      symmetricEigen(
        matrix([
          [4, 0],
          [0, -1],
        ]),
      ).values,
    ),
    [4, -1],
  );
  assert.throws(
    () =>
      symmetricEigen(
        matrix([
          [1, 2],
          [0, 1],
        ]),
      ),
    /symmetric/,
  );
});

test('tr √(AB) for non-commuting 2×2 PSD matrices matches the closed form √(tr AB + 2 √(det A det B))', () => {
  const a = matrix([
    [2, 1],
    [1, 3],
  ]);
  const b = matrix([
    [1, -0.5],
    [-0.5, 4],
  ]);
  const ab = multiply(a, b);
  assert.notDeepEqual(Array.from(ab.data), Array.from(multiply(b, a).data)); // they really do not commute
  const det = (m: SquareMatrix) => m.data[0] * m.data[3] - m.data[1] * m.data[2];
  const expected = Math.sqrt(ab.data[0] + ab.data[3] + 2 * Math.sqrt(det(a) * det(b)));
  assert.ok(Math.abs(traceSqrtProduct(a, b) - expected) < 1e-12, `${traceSqrtProduct(a, b)} vs ${expected}`);
  // rank-deficient covariances (fewer samples than features): tr √(A A) = tr A, to about √ε relative
  // (the square roots of round-off-sized eigenvalues bound the accuracy, as in every FID implementation)
  const low = randomPsd(30, 5, new Rng(8));
  const traceLow = low.data.reduce((s, x, i) => (i % 31 === 0 ? s + x : s), 0);
  assert.ok(
    Math.abs(traceSqrtProduct(low, low) - traceLow) < 1e-6 * traceLow,
    `${traceSqrtProduct(low, low)} vs ${traceLow}`,
  );
});

test('Fréchet distance: known answers for Gaussians, 0 for identical statistics, symmetric', () => {
  const stats = (mean: number[], cov: number[][]) => ({
    mean: Float64Array.from(mean),
    covariance: matrix(cov),
    count: 100,
  });
  // 1-D: (μ₁ − μ₂)² + (σ₁ − σ₂)²
  assert.ok(Math.abs(frechetDistance(stats([0], [[1]]), stats([1], [[4]])) - 2) < 1e-12);
  // isotropic: ‖Δμ‖² + d (σ₁ − σ₂)²
  const eye = (s: number, d: number) =>
    Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? s : 0)));
  assert.ok(Math.abs(frechetDistance(stats([1, 2, 3], eye(1, 3)), stats([0, 0, 0], eye(9, 3))) - (14 + 3 * 4)) < 1e-10);
  const rng = new Rng(4);
  const a = {
    mean: Float64Array.from({ length: 20 }, () => rng.nextNormal()),
    covariance: randomPsd(20, 40, rng),
    count: 100,
  };
  const b = {
    mean: Float64Array.from({ length: 20 }, () => rng.nextNormal()),
    covariance: randomPsd(20, 40, rng),
    count: 100,
  };
  assert.ok(frechetDistance(a, a) < 1e-9);
  assert.ok(Math.abs(frechetDistance(a, b) - frechetDistance(b, a)) < 1e-8 * frechetDistance(a, b));
});

test('feature statistics: mean and unbiased covariance', () => {
  const s = gaussianStats(Float32Array.from([1, 2, 3, 6, 5, 10]), 2);
  assert.deepEqual(Array.from(s.mean), [3, 6]);
  assert.deepEqual(Array.from(s.covariance.data), [4, 8, 8, 16]);
  assert.throws(() => gaussianStats(Float32Array.from([1, 2]), 2), /at least 2 rows/);
});

let distances: PairwiseDistances;
before(async () => (distances = await PairwiseDistances.create()));
after(() => distances.dispose());

test('pairwise distances from onnxruntime equal the direct sums', async () => {
  const rng = new Rng(1);
  const a = Float32Array.from({ length: 1500 * 7 }, () => rng.nextNormal());
  const b = Float32Array.from({ length: 300 * 7 }, () => rng.nextNormal());
  let worst = 0;
  let rows = 0;
  await distances.forEachBlock(a, b, 7, (block, from, n) => {
    rows += n;
    for (let r = 0; r < n; r += 37) {
      for (let j = 0; j < 300; j++) {
        let d = 0;
        for (let c = 0; c < 7; c++) d += (a[(from + r) * 7 + c] - b[j * 7 + c]) ** 2;
        worst = Math.max(worst, Math.abs(block[r * 300 + j] - d));
      }
    }
  });
  assert.equal(rows, 1500); // more than one block
  assert.ok(worst < 1e-4, `worst ${worst}`);
});

test('k-NN precision and recall on points with a hand-worked answer', async () => {
  // real: 0..9 on a line; with k = 1 every real ball has radius 1
  const real = await manifold(
    Float32Array.from({ length: 10 }, (_, i) => i),
    1,
    1,
    distances,
  );
  assert.deepEqual(Array.from(real.radii), new Array(10).fill(1));
  // generated: 0.5, 3.2, 3.7 lie within 1 of a real point, -1.5 does not → precision 3/4;
  // their own balls (radii 2, 0.5, 0.5, 2) cover the real points 0, 1, 2, 3, 4 → recall 5/10
  const generated = await manifold(Float32Array.from([0.5, 3.2, -1.5, 3.7]), 1, 1, distances);
  assert.deepEqual(
    Array.from(generated.radii).map((r) => Math.round(Math.sqrt(r) * 1e5) / 1e5),
    [2, 0.5, 2, 0.5],
  );
  assert.deepEqual(await precisionRecall(real, generated, distances), { precision: 0.75, recall: 0.5 });
  // k counts neighbours other than the point itself: with k = 3 the radius of 0 is 3
  assert.equal(
    (
      await manifold(
        Float32Array.from({ length: 10 }, (_, i) => i),
        1,
        3,
        distances,
      )
    ).radii[0],
    9,
  );
});

test('precision/recall: a set against itself is fully covered; far-apart sets are not covered at all', async () => {
  const rng = new Rng(3);
  const points = Float32Array.from({ length: 2000 * 16 }, () => rng.nextNormal());
  const m = await manifold(points, 16, 3, distances);
  assert.deepEqual(await precisionRecall(m, m, distances), { precision: 1, recall: 1 });
  const far = await manifold(
    points.map((x) => x + 100),
    16,
    3,
    distances,
  );
  assert.deepEqual(await precisionRecall(m, far, distances), { precision: 0, recall: 0 });
  // a generator covering only half of the real distribution: full precision, recall well below 1
  // (above one half: in 16-D the k-NN balls of the covered half reach across its boundary)
  const half = points.filter((_, i) => points[Math.floor(i / 16) * 16] > 0);
  const halfM = await manifold(half, 16, 3, distances);
  assert.equal(await coverage(m, half, distances), 1);
  const recall = await coverage(halfM, points, distances);
  assert.ok(recall > 0.5 && recall < 0.85, `recall ${recall}`);
});

test('class-histogram KL to uniform: 0 when balanced, log K when one class, the formula in between', () => {
  assert.equal(classHistogramKl(Uint8Array.from([0, 1, 2, 3, 0, 1, 2, 3]), 4).kl, 0);
  assert.ok(Math.abs(classHistogramKl(new Uint8Array(50).fill(7), 10).kl - Math.log(10)) < 1e-12);
  const { histogram, kl } = classHistogramKl(Uint8Array.from([0, 0, 0, 1]), 2);
  assert.deepEqual(histogram, [3, 1]);
  assert.ok(Math.abs(kl - (0.75 * Math.log(1.5) + 0.25 * Math.log(0.5))) < 1e-12);
  assert.deepEqual(
    Array.from(
      predictedClasses(
        { count: 2, features: new Float32Array(0), probabilities: Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.2, 0.3]) },
        3,
      ),
    ),
    [1, 0],
  );
});

test('the shipped classifier: its documented test accuracy is what onnxruntime measures on the test split', async () => {
  const record = JSON.parse(readFileSync(join(SHIPPED_MODELS, 'classifier', 'classifier.json'), 'utf8')) as {
    testAccuracy: number;
    testImages: number;
  };
  const classifier = await Classifier.load();
  const fromDirectory = await Classifier.load(join(SHIPPED_MODELS, 'classifier')); // what train-classifier --out wrote
  assert.equal(fromDirectory.path, join(SHIPPED_MODELS, 'classifier', 'classifier.onnx'));
  await fromDirectory.dispose();
  try {
    assert.equal(classifier.testAccuracy.toFixed(4), record.testAccuracy.toFixed(4));
    assert.ok(record.testAccuracy > 0.88, `test accuracy ${record.testAccuracy}`);
    const dir = resolveDataDir();
    const test = await loadImageDataset(dir, 't10k');
    const images = Float32Array.from(test.images, (b) => b / 127.5 - 1);
    const classes = predictedClasses(await classifier.embed(images, test.count), classifier.numClasses);
    const accuracy = classes.reduce((hits, c, i) => hits + Number(c === test.labels[i]), 0) / test.count;
    if (test.count === record.testImages)
      assert.ok(
        Math.abs(accuracy - record.testAccuracy) < 0.002,
        `onnxruntime ${accuracy} vs documented ${record.testAccuracy}`,
      );
    else assert.ok(accuracy > record.testAccuracy - 0.03, `${accuracy} on the ${test.count} images of ${dir}`);
  } finally {
    await classifier.dispose();
  }
});

const evalJson = (args: string[]) => {
  const result = runCli(['eval', ...args, '--json']);
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as ImageEvalReport & { model: string };
};

/** Every directory of models/ that ships a generator, read from disk so a newly shipped model is covered too. */
const shippedGenerators = () =>
  readdirSync(join(SHIPPED_MODELS), { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(SHIPPED_MODELS, e.name, 'generator.onnx')))
    .map((e) => e.name);

test('ganport eval works on every shipped model: image scores sit above the real floor, 2-D generators capture most of their modes', () => {
  const models = shippedGenerators();
  assert.ok(
    ['seed-mlp', 'dcgan', 'cdcgan'].every((m) => models.includes(m)),
    models.join(),
  );
  for (const model of models) {
    const info = readOnnxInfo(readFileSync(join(SHIPPED_MODELS, model, 'generator.onnx')));
    if (info.metadata['ganport.layout'] === 'flat') {
      const result = runCli(['eval', `assets/models/${model}`, '--json', '--seeds', '2', '--samples', '1000']);
      assert.equal(result.status, 0, result.stderr);
      const r = JSON.parse(result.stdout) as {
        modes: number;
        modesCaptured: { mean: number };
        highQualityPercent: { mean: number };
      };
      // trained generators, not noise: the README has the grid at 24.2/25 modes, 52 % high quality; the ring 7.9/8, 44 %
      const scores = `${model}: ${r.modesCaptured.mean} modes, ${r.highQualityPercent.mean} % high quality`;
      assert.ok(r.modesCaptured.mean >= 0.8 * r.modes && r.modesCaptured.mean <= r.modes, scores);
      assert.ok(r.highQualityPercent.mean >= 30 && r.highQualityPercent.mean <= 100, scores);
      continue;
    }
    const r = evalJson([`assets/models/${model}`, '--samples', '2000', '--data', SAMPLE_DATA]);
    assert.equal(r.samples, 2000);
    assert.ok(r.realFloor.fcd < r.generated.fcd, `${model}: floor ${r.realFloor.fcd} vs ${r.generated.fcd}`);
    assert.ok(
      r.realFloor.precision > 0.7 && r.realFloor.recall > 0.7,
      `${model}: floor ${r.realFloor.precision}/${r.realFloor.recall}`,
    );
    for (const v of [r.generated.precision, r.generated.recall]) assert.ok(v > 0 && v < 1, `${model}: ${v}`);
    assert.equal(
      r.generated.classHistogram.reduce((a, b) => a + b, 0),
      2000,
    );
    assert.ok(r.generated.classKl < Math.log(10));
    const classLabels =
      info.metadata['ganport.num_classes'] !== undefined && info.metadata['ganport.label_kind'] !== 'cluster';
    assert.equal(r.generated.classAccuracy !== undefined, classLabels, `${model}: accuracy only for class labels`);
    if (r.generated.classAccuracy !== undefined)
      assert.ok(r.generated.classAccuracy > 0.6, `${model}: requested-class accuracy ${r.generated.classAccuracy}`);
  }
});

test('image eval is seeded: the same seed gives the same report, another seed other numbers', () => {
  const again = evalJson(['assets/models/dcgan', '--samples', '500', '--data', SAMPLE_DATA]);
  assert.deepEqual(again, evalJson(['assets/models/dcgan', '--samples', '500', '--data', SAMPLE_DATA]));
  assert.notEqual(
    evalJson(['assets/models/dcgan', '--samples', '500', '--seed', '1', '--data', SAMPLE_DATA]).generated.fcd,
    again.generated.fcd,
  );
});

test('ganport eval prints a table with the floor; bad requests get one clear line', () => {
  const table = runCli(['eval', 'assets/models/seed-mlp', '--samples', '500', '--data', SAMPLE_DATA]);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /FCD\s+\d+\.\d{3}\s+\d+\.\d{3}/);
  assert.match(table.stdout, /real floor/);
  const tooMany = runCli(['eval', 'assets/models/seed-mlp', '--samples', '5000', '--data', SAMPLE_DATA]);
  assert.equal(tooMany.status, 1);
  assert.match(tooMany.stderr, /5000 samples need 5000 images in each split.*pass --samples 2000/);
  const notClassifier = runCli([
    'eval',
    'assets/models/seed-mlp',
    '--classifier',
    'assets/models/seed-mlp/generator.onnx',
  ]);
  assert.equal(notClassifier.status, 1);
  assert.match(notClassifier.stderr, /is not a ganport classifier/);
  const notOnnx = join(tempDir(), 'notmodel.json');
  writeFileSync(notOnnx, '{}');
  const unreadable = runCli(['eval', 'seed-mlp', '--classifier', notOnnx]);
  assert.equal(unreadable.status, 1);
  assert.match(unreadable.stderr, /notmodel\.json: not a valid ONNX model/);
  const misplaced = runCli(['eval', 'assets/models/seed-mlp', '--seeds', '3']);
  assert.equal(misplaced.status, 2);
  assert.match(misplaced.stderr, /--seeds does not apply to image generators/);
  assert.equal(runCli(['eval']).status, 2);
  assert.ok(existsSync(join(SHIPPED_MODELS, 'classifier', 'classifier.onnx')));
});

test('ganport eval refuses images the classifier cannot read, naming both shapes', async () => {
  const { getPreset } = await import('../../src/presets/index.js');
  const { modelToBytes } = await import('../../src/export/index.js');
  const { selectBackend } = await import('../../src/tfjs/backend.js');
  await selectBackend('cpu');
  const generator = getPreset('dcgan-32').buildGenerator(1);
  const file = join(tempDir(), 'rgb.onnx');
  writeFileSync(file, modelToBytes(generator, { inputNames: ['latent'], outputNames: ['image'] }));
  generator.dispose();
  const result = runCli(['eval', file, '--samples', '100', '--data', SAMPLE_DATA]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /the generator makes 32×32×3 images but the classifier .*classifier\.onnx takes 28×28×1/);
  // real images of another size: one line naming both shapes, not an internal error
  const data = tempDir();
  for (const split of ['train', 't10k']) {
    writeFileSync(
      join(data, `${split}-images-idx3-ubyte`),
      encodeIdx({ dims: [200, 32, 32], data: new Uint8Array(200 * 32 * 32) }),
    );
    writeFileSync(join(data, `${split}-labels-idx1-ubyte`), encodeIdx({ dims: [200], data: new Uint8Array(200) }));
  }
  const wrongData = runCli(['eval', 'seed-mlp', '--samples', '150', '--data', data]);
  assert.equal(wrongData.status, 1);
  assert.match(wrongData.stderr, / holds 32×32×1 images but the classifier .* takes 28×28×1/);
  assert.doesNotMatch(wrongData.stderr, /internal error|\n\s+at /);
});

test('a classifier that parses as ONNX but onnxruntime cannot load is refused in one line', async () => {
  const bytes = readFileSync(join(SHIPPED_MODELS, 'classifier', 'classifier.onnx'));
  const at = bytes.indexOf('Conv');
  assert.ok(at > 0);
  bytes.write('Cxnv', at); // an op no onnxruntime has
  const file = join(tempDir(), 'classifier.onnx');
  writeFileSync(file, bytes);
  await assert.rejects(Classifier.load(file), (err: Error) => {
    assert.ok(err instanceof GanportError, `${err.stack}`);
    assert.match(err.message, /classifier\.onnx: onnxruntime cannot load it: .*Cxnv/);
    return true;
  });
});

test('eval warns when the samples are too few for the FCD: no more than the features the classifier embeds', () => {
  const few = runCli(['eval', 'seed-mlp', '--samples', '100', '--data', SAMPLE_DATA]);
  assert.equal(few.status, 0, few.stderr);
  assert.match(few.stdout, /warning: 100 samples are no more than the classifier's \d+ features/);
  const report = evalJson(['seed-mlp', '--samples', '500', '--data', SAMPLE_DATA]);
  assert.deepEqual(report.warnings, []);
  // with k near the samples every ball reaches most others: precision and recall run to 1
  const saturated = evalJson(['seed-mlp', '--samples', '20', '--k', '3', '--data', SAMPLE_DATA]);
  assert.match(saturated.warnings.at(-1) ?? '', /^20 samples for k = 3: each k-NN ball spans much of the set/);
  // without --samples, data of fewer images than the default (the shipped sample, where Debian's
  // Fashion-MNIST is not installed) is measured whole, with a warning; --samples above it is refused
  const whole = evalJson(['seed-mlp', '--data', SAMPLE_DATA]);
  assert.equal(whole.samples, 2000);
  assert.match(whole.warnings[0], /holds 2000 images in a split, so 2000 samples were measured, not 10000/);
  assert.deepEqual(whole.generated, evalJson(['seed-mlp', '--samples', '2000', '--data', SAMPLE_DATA]).generated);
});

test('eval refuses bad numbers as usage errors before anything loads', () => {
  for (const [flags, message] of [
    [['--seed=-1'], /--seed must be an integer in \[0, 2\^32\), got -1/],
    [['--seed', '5000000000'], /--seed must be an integer in \[0, 2\^32\)/],
    [['--samples', '0'], /--samples must be a positive integer, got 0/],
    [['--k', '0'], /--k must be a positive integer, got 0/],
  ] as const)
    assertCleanFailure(runCli(['eval', 'seed-mlp', ...flags]), message, 2);
});

test('a generator self-conditioned on clusters is measured over all its clusters, with no class accuracy', async () => {
  const { getPreset } = await import('../../src/presets/index.js');
  const { modelToBytes } = await import('../../src/export/index.js');
  const { exportedModelFacts } = await import('../../src/formats/model-dir.js');
  const { TRAINING_DEFAULTS } = await import('../../src/formats/run-dir.js');
  const { selectBackend } = await import('../../src/tfjs/backend.js');
  await selectBackend('cpu');
  const preset = getPreset('dcgan', { clusters: 4 });
  const generator = preset.buildGenerator(1);
  const config = {
    ...TRAINING_DEFAULTS,
    preset: 'dcgan',
    spectralNorm: false,
    lrDecay: false,
    latentSize: 100,
    sampleShape: [28, 28, 1],
    valueRange: [-1, 1] as [number, number],
    numClasses: 4,
    clusters: 4,
    pack: 1,
    discriminatorLearningRate: 2e-4,
    images: 2000,
    backend: 'cpu',
    data: SAMPLE_DATA,
    ganportVersion: '0',
  };
  const file = join(tempDir(), 'self-conditioned.onnx');
  writeFileSync(file, modelToBytes(generator, exportedModelFacts(config, 'NHWC').generator));
  generator.dispose();
  const info = readOnnxInfo(readFileSync(file));
  assert.deepEqual([info.metadata['ganport.num_classes'], info.metadata['ganport.label_kind']], ['4', 'cluster']);
  // 4 clusters against the classifier's 10 classes: no mismatch to refuse, no accuracy to report
  const r = evalJson([file, '--samples', '100', '--data', SAMPLE_DATA]);
  assert.equal(r.generated.classAccuracy, undefined);
  assert.ok(r.generated.fcd > r.realFloor.fcd, 'an untrained generator, measured');
  const png = join(tempDir(), 'clusters.png');
  const grid = runCli(['generate', file, '--count', '6', '--out', png]);
  assert.equal(grid.status, 0, grid.stderr);
  assert.match(grid.stdout, /: 8 images \(2 per cluster\) from seed 0/);
  const { width, height } = PNG.sync.read(readFileSync(png));
  assert.deepEqual([width, height], [3 * 28 + 4 * 2, 3 * 28 + 4 * 2], 'a square grid, not a row per cluster');
});

test('eval --samples is capped as the README says: 100,000 images per side (checked before loading), 4,096 2-D points', () => {
  const images = (samples: number) =>
    runCli(['eval', 'seed-mlp', '--samples', String(samples), '--data', '/nonexistent']);
  const overCap = images(100_001);
  assert.equal(overCap.status, 1);
  assert.match(overCap.stderr, /^ganport eval: the sample count is capped at 100000 images per side .*, got 100001\n$/);
  const atCap = images(100_000); // allowed: it gets as far as the data, which is missing
  assert.equal(atCap.status, 1);
  assert.match(atCap.stderr, /^ganport eval: data directory \/nonexistent does not exist\n$/);
  const points = (samples: number) => runCli(['eval', 'mlp-2d-ring', '--samples', String(samples), '--seeds', '1']);
  const overPoints = points(4097);
  assert.equal(overPoints.status, 1);
  assert.match(overPoints.stderr, /^ganport eval: samples must be an integer from 1 to 4096, got 4097\n$/);
  const atPoints = points(4096);
  assert.equal(atPoints.status, 0, atPoints.stderr);
  assert.match(atPoints.stdout, /: 4096 samples × 1 seeds\n/);
});
