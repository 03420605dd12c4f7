import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/tfjs/backend.js';
import { ganLoss } from '../../src/train/losses.js';
import { lossPlotSvg, thinPoints } from '../../src/train/metrics.js';

before(async () => {
  await selectBackend('cpu');
});

const value = (t: tf.Scalar) => t.dataSync()[0];
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);

test('bce: the non-saturating loss, with label smoothing on the real targets', () => {
  const zero = tf.zeros([4, 1]);
  close(value(ganLoss('bce').discriminator(zero, zero)), 2 * Math.log(2));
  close(value(ganLoss('bce').generator(zero)), Math.log(2));
  const big = tf.fill([4, 1], 30);
  close(value(ganLoss('bce').discriminator(big, tf.neg(big))), 0);
  // with smoothing 0.1 a confident real logit still costs 0.1 · 30
  close(value(ganLoss('bce', 0.1).discriminator(big, tf.neg(big))), 3);
});

test('label smoothing is refused with the hinge loss, which has no target to smooth', () => {
  assert.throws(() => ganLoss('hinge', 0.1), /label smoothing is for the bce and lsgan losses/);
  assert.doesNotThrow(() => ganLoss('hinge', 0));
});

test('lsgan and hinge at their optima and away from them', () => {
  const ones = tf.ones([3, 1]);
  const zeros = tf.zeros([3, 1]);
  close(value(ganLoss('lsgan').discriminator(ones, zeros)), 0);
  close(value(ganLoss('lsgan').generator(zeros)), 0.5);
  close(value(ganLoss('hinge').discriminator(tf.fill([3, 1], 2), tf.fill([3, 1], -2))), 0);
  close(value(ganLoss('hinge').discriminator(zeros, zeros)), 2);
  close(value(ganLoss('hinge').generator(tf.fill([3, 1], 2))), -2);
});

test('bad loss settings are refused', () => {
  assert.throws(() => ganLoss('bce', 0.7), /label smoothing must be in \[0, 0\.5\)/);
  assert.throws(() => ganLoss('wasserstein' as 'bce'), /unknown loss "wasserstein"/);
});

test('the loss plot is an SVG with one path per loss', () => {
  const svg = lossPlotSvg(
    [1, 2, 3].map((step) => ({
      step,
      epoch: 1,
      dLoss: 1 / step,
      gLoss: step,
      dReal: 0.5,
      dFake: 0.5,
      imagesPerSecond: 1,
      elapsedSeconds: step,
    })),
    'a <run>',
  );
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.match(svg, /a &lt;run&gt;/);
});

test("a long run's loss plot draws: each pixel column's lowest and highest loss, the axis up to the greatest", () => {
  const steps = 200_000; // more metrics lines than a spread into Math.min's arguments takes
  const line = (step: number) => ({
    step,
    epoch: 1,
    dLoss: step === 123_457 ? 9 : 1 + Math.sin(step),
    gLoss: 0.5,
    dReal: 0.5,
    dFake: 0.5,
    imagesPerSecond: 1,
    elapsedSeconds: step,
  });
  const svg = lossPlotSvg(
    Array.from({ length: steps }, (_, i) => line(i + 1)),
    'long',
  );
  const [dPath, gPath] = [...svg.matchAll(/<path d="([^"]*)"/g)].map(([, d]) => d.split(/[ML]/).slice(1));
  assert.ok(dPath.length <= 2 * 700 && dPath.length > 600, `${dPath.length} vertices`);
  assert.ok(gPath.length <= 700, 'a flat line keeps one vertex a column');
  const ys = dPath.map((v) => Number(v.split(',')[1]));
  const top = Math.min(...ys); // SVG's y grows downwards
  assert.equal(top, 32, "the spike of 9 is kept, at the chart's top");
  assert.match(svg, />9\.00<\/text>/, 'the top tick is the greatest loss');
});

test("thinPoints keeps each column's lowest and highest point in step order, and every point where columns are sparse", () => {
  const points: [number, number][] = [
    [0, 5],
    [0.2, 9],
    [0.4, 1],
    [0.45, 4],
    [3, 2],
  ];
  assert.deepEqual(
    thinPoints(points, (x) => x),
    [
      [0.2, 9],
      [0.4, 1],
      [3, 2],
    ],
  );
  assert.deepEqual(
    thinPoints(points, (x) => x * 10),
    points,
  );
});
