import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultLabels, gridCount, MAX_COUNT } from '../src/core.js';
import { toRgba } from '../src/image.js';
import { type GeneratorInfo, generatorInfo } from '../src/metadata.js';
import { loadGenerator } from '../src/node.js';
import { scatterPlot } from '../src/scatter.js';
import { shippedGenerator } from './helpers.js';

const conditional = { numClasses: 10 } as GeneratorInfo;
const unconditional = {} as GeneratorInfo;

test('a conditional grid without labels draws a whole row per class: the count rounded up to a multiple of the classes', () => {
  assert.equal(gridCount(conditional, 64), 70);
  assert.equal(gridCount(conditional, 80), 80);
  assert.equal(gridCount(conditional, 1), 10);
  assert.equal(gridCount(conditional, MAX_COUNT), 4090, 'never above the count limit');
  const labels = defaultLabels(gridCount(conditional, 64), 10);
  for (let c = 0; c < 10; c++) assert.deepEqual(labels.slice(c * 7, c * 7 + 7), Array(7).fill(c), `row ${c}`);
});

test('the count stays as asked with labels, for unconditional models, and when invalid (for its own error)', () => {
  assert.equal(gridCount(conditional, 64, [3]), 64);
  assert.equal(gridCount(unconditional, 64), 64);
  assert.equal(gridCount(conditional, 0), 0);
  assert.equal(gridCount(conditional, 2.5), 2.5);
  assert.equal(gridCount(conditional, MAX_COUNT + 1), MAX_COUNT + 1, 'too many is refused, not clamped');
  assert.equal(gridCount({ numClasses: MAX_COUNT + 1 } as GeneratorInfo, 64), 64, 'more classes than a grid holds');
});

test('a grid of the given latents on a conditional model has a row per class only where the count fills the rows', async () => {
  const generator = await loadGenerator(shippedGenerator('cdcgan'));
  const latents = (count: number) => generator.sampleLatents({ seed: 1, count });
  const tile = 28 + 2; // a 28-pixel image and the default padding of 2
  const widthOf = async (count: number) => (await generator.generateGrid({ latents: latents(count) })).width;
  assert.equal(await widthOf(20), 2 * tile + 2, '20 images: 2 columns, one row per class');
  assert.equal(await widthOf(16), 4 * tile + 2, '16 images, which 10 rows cannot hold evenly: the square grid');
  await generator.dispose();
});

test('gray and alpha (two channels) is drawn gray, opaque', () => {
  // one 1×2 image: a black opaque pixel and a white transparent one, in [-1, 1]
  const batch = {
    data: Float32Array.of(-1, 1, 1, -1),
    count: 1,
    height: 1,
    width: 2,
    channels: 2,
    layout: 'NHWC' as const,
  };
  const { pixels } = toRgba({ ...batch, valueRange: [-1, 1] }, 0);
  assert.deepEqual([...pixels], [0, 0, 0, 255, 255, 255, 255, 255]);
});

test('a scatter plot refuses a size it cannot draw (0 never ended) and an extent that is no range', () => {
  const points = Float32Array.of(0, 0, 1, 1);
  for (const size of [0, 4, 2.5, 9000])
    assert.throws(() => scatterPlot(points, { size }), /size must be an integer from 8 to 8192/, `${size}`);
  for (const extent of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
    assert.throws(() => scatterPlot(points, { extent }), /extent must be > 0/, `${extent}`);
});

test('without metadata, a channels-first output of 2 channels (gray and alpha) is read as NCHW', () => {
  const info = (dims: number[]) =>
    generatorInfo({
      irVersion: 8,
      producerName: 'test',
      producerVersion: '',
      opsetVersion: 17,
      metadata: {},
      inputs: [{ name: 'latent', elemType: 1, dims: ['batch', 16] }],
      outputs: [{ name: 'image', elemType: 1, dims: ['batch', ...dims] }],
    }).layout;
  assert.equal(info([2, 28, 28]), 'NCHW');
  assert.equal(info([28, 28, 2]), 'NHWC');
  assert.equal(info([3, 64, 64]), 'NCHW');
});

test('a scatter plot of 200,000 points (more than a spread into Math.max can pass)', () => {
  const points = Float32Array.from({ length: 400_000 }, (_, i) => Math.sin(i) * 2);
  const plot = scatterPlot(points, { size: 64 });
  assert.equal(plot.pixels.length, 64 * 64 * 4);
});
