/**
 * Property tests of what train and eval read: IDX files and PNG/JPEG images, truncated, bit-flipped
 * or replaced by random bytes, either parse to something self-consistent or fail with a GanportError.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { GanportError } from '@ganport/runtime';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { encodeIdx, parseIdx } from '../../src/datasets/idx.js';
import { cropAndResize, decodeImage, loadImageFolder } from '../../src/datasets/image-folder.js';
import { assertReadsOrRefuses, damagedBytes, PROPERTY_RUNS, tempDir } from '../helpers.js';

const idx = encodeIdx({ dims: [3, 4, 5], data: Uint8Array.from({ length: 60 }, (_, i) => i * 4) });

test('IDX: damaged plain and gzipped files, and random bytes, parse consistently or are refused', () => {
  for (const file of [idx, new Uint8Array(gzipSync(idx))]) {
    fc.assert(
      fc.property(fc.oneof(damagedBytes(file), fc.uint8Array({ maxLength: 100 })), (bytes) =>
        assertReadsOrRefuses(
          () => parseIdx(bytes, 'x.idx'),
          ({ dims, data }) =>
            assert.equal(
              data.length,
              dims.reduce((a, b) => a * b, 1),
            ),
        ),
      ),
      PROPERTY_RUNS,
    );
  }
});

function png(width: number, height: number): Uint8Array {
  const image = new PNG({ width, height });
  image.data = Buffer.from(Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 37) % 256));
  return new Uint8Array(PNG.sync.write(image));
}

function jpg(width: number, height: number): Uint8Array {
  const data = Buffer.from(Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 53) % 256));
  return new Uint8Array(jpeg.encode({ data, width, height }, 80).data);
}

test('PNG and JPEG: damaged files decode to a consistent image that resizes, or are refused', () => {
  for (const file of [png(9, 7), jpg(16, 12)]) {
    fc.assert(
      fc.property(damagedBytes(file), (bytes) =>
        assertReadsOrRefuses(
          () => decodeImage(bytes, 'x.img'),
          (image) => {
            assert.ok(image.width > 0 && image.height > 0, `${image.width}×${image.height}`);
            assert.equal(image.data.length, image.width * image.height * 4);
            assert.equal(cropAndResize(image, 4, 3).length, 4 * 4 * 3);
          },
        ),
      ),
      PROPERTY_RUNS,
    );
  }
});

test('an image folder with a damaged file names it in the error', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'good.png'), png(4, 4));
  writeFileSync(join(dir, 'bad.jpg'), jpg(16, 12).slice(0, 40));
  await assert.rejects(loadImageFolder(dir, 4, 3), (err: Error) => {
    assert.ok(err instanceof GanportError);
    assert.match(err.message, /bad\.jpg is not a readable image \(.+\)/);
    return true;
  });
});
