import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { type ImageBatch, toGrid, toRgba } from '../src/image.js';
import { crc32, encodePng } from '../src/png.js';

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('an RGBA image round-trips through an independent PNG decoder', () => {
  const width = 5;
  const height = 3;
  const pixels = new Uint8ClampedArray(width * height * 4).map((_, i) => (i * 37) % 256);
  const decoded = PNG.sync.read(Buffer.from(encodePng({ width, height, pixels })));
  assert.equal(decoded.width, width);
  assert.equal(decoded.height, height);
  assert.deepEqual(new Uint8Array(decoded.data), new Uint8Array(pixels));
});

test('gray opaque images are stored as 1-channel grayscale and decode to the same pixels', () => {
  const pixels = new Uint8ClampedArray(4 * 4 * 4);
  for (let p = 0; p < 16; p++) pixels.set([p * 16, p * 16, p * 16, 255], p * 4);
  const png = encodePng({ width: 4, height: 4, pixels });
  assert.equal(png[25], 0, 'colour type 0 (grayscale)');
  assert.deepEqual(new Uint8Array(PNG.sync.read(Buffer.from(png)).data), new Uint8Array(pixels));
});

const batch = (layout: 'NHWC' | 'NCHW'): ImageBatch => ({
  // two 2×2 RGB images; value = image*100 + channel*10 + pixel, scaled into [-1, 1] by valueRange [0, 255]
  data: Float32Array.from({ length: 24 }, (_, i) => {
    const [img, rest] = [Math.floor(i / 12), i % 12];
    const [ch, px] = layout === 'NHWC' ? [rest % 3, Math.floor(rest / 3)] : [Math.floor(rest / 4), rest % 4];
    return img * 100 + ch * 10 + px;
  }),
  count: 2,
  height: 2,
  width: 2,
  channels: 3,
  layout,
  valueRange: [0, 255],
});

test('NHWC and NCHW batches give the same pixels', () => {
  for (const layout of ['NHWC', 'NCHW'] as const) {
    const img = toRgba(batch(layout), 1);
    assert.deepEqual(Array.from(img.pixels.subarray(0, 8)), [100, 110, 120, 255, 101, 111, 121, 255], layout);
  }
});

test('grids place tiles row-major with padding, and refuse absurd sizes', () => {
  const grid = toGrid(batch('NHWC'), { columns: 2, padding: 1, background: 0 });
  assert.equal(grid.width, 2 * 2 + 3);
  assert.equal(grid.height, 2 + 2);
  const at = (x: number, y: number) =>
    Array.from(grid.pixels.subarray((y * grid.width + x) * 4, (y * grid.width + x) * 4 + 4));
  assert.deepEqual(at(0, 0), [0, 0, 0, 255]);
  assert.deepEqual(at(1, 1), [0, 10, 20, 255]);
  assert.deepEqual(at(4, 1), [100, 110, 120, 255]);
  const scaled = toGrid(batch('NCHW'), { columns: 2, padding: 1, background: 0, scale: 3 });
  assert.equal(scaled.width, 2 * 6 + 3);
  const sat = (x: number, y: number) =>
    Array.from(scaled.pixels.subarray((y * scaled.width + x) * 4, (y * scaled.width + x) * 4 + 3));
  assert.deepEqual(
    [sat(1, 1), sat(3, 3), sat(4, 1)],
    [
      [0, 10, 20],
      [0, 10, 20],
      [1, 11, 21],
    ],
  );
  assert.throws(() => toGrid(batch('NHWC'), { scale: 0 }), /scale must be/);
  for (const columns of [0, -3, 2.5, Number.NaN])
    assert.throws(() => toGrid(batch('NHWC'), { columns }), /columns must be an integer ≥ 1/, `${columns}`);
  for (const padding of [-5, 1.5, Number.NaN, 65])
    assert.throws(() => toGrid(batch('NHWC'), { padding }), /padding must be an integer from 0 to 64/, `${padding}`);
  assert.equal(toGrid(batch('NHWC'), { columns: 9, padding: 0 }).width, 2 * 2, 'more columns than images: one row');
  const empty = toGrid({ ...batch('NHWC'), count: 0 }, { padding: 1 });
  assert.deepEqual([empty.width, empty.height], [2 + 2, 1], 'no images: one empty column of padding');
  const huge: ImageBatch = { ...batch('NHWC'), count: 100000, height: 64, width: 64, data: new Float32Array(0) };
  assert.throws(() => toGrid(huge), /too large/);
  for (const background of [-1, 256, 0.5, Number.NaN])
    assert.throws(
      () => toGrid(batch('NHWC'), { background }),
      /background must be an integer from 0 to 255/,
      `${background}`,
    );
});

test('toRgba refuses an index outside the batch; encodePng, an image without pixels or of mismatched size', () => {
  for (const index of [2, -1, 0.5])
    assert.throws(() => toRgba(batch('NHWC'), index), /index must be an integer from 0 to 1/, `${index}`);
  const empty = toGrid({ ...batch('NHWC'), count: 0 }, { padding: 0 });
  assert.equal(empty.height, 0);
  assert.throws(() => encodePng(empty), /height must be an integer ≥ 1, got 0/);
  assert.throws(
    () => encodePng({ width: 2, height: 2, pixels: new Uint8ClampedArray(12) }),
    /12 bytes of pixels for 2×2 RGBA/,
  );
});
