import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadDataset } from '../../src/datasets/dataset.js';
import { DEBIAN_FASHION_MNIST, loadImageDataset, resolveDataDir } from '../../src/datasets/fashion-mnist.js';
import { encodeIdx, parseIdx } from '../../src/datasets/idx.js';
import { getPreset } from '../../src/presets/index.js';
import { SAMPLE_DATA, tempDir } from '../helpers.js';

const images = { dims: [2, 3, 4], data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) };

test('parses plain and gzipped IDX', () => {
  const raw = encodeIdx(images);
  assert.equal(raw.length, 4 + 3 * 4 + 24);
  for (const bytes of [raw, gzipSync(raw)]) {
    const parsed = parseIdx(bytes);
    assert.deepEqual(parsed.dims, [2, 3, 4]);
    assert.deepEqual(new Uint8Array(parsed.data), images.data);
  }
});

test('reads the big-endian header the way the MNIST files write it', () => {
  const parsed = parseIdx(Uint8Array.of(0, 0, 8, 1, 0, 0, 1, 2, ...new Array(258).fill(7)));
  assert.deepEqual(parsed.dims, [258]);
});

test('rejects bad magic, unsupported types, truncation and corrupt gzip with clear messages', () => {
  const raw = encodeIdx(images);
  assert.throws(() => parseIdx(Uint8Array.of(1, 2, 3, 4, 5), 'x.idx'), /x\.idx is not an IDX file/);
  const floats = raw.slice();
  floats[2] = 0x0d;
  assert.throws(() => parseIdx(floats), /type 0xd/);
  assert.throws(() => parseIdx(raw.subarray(0, raw.length - 1), 'cut'), /cut is truncated or padded/);
  assert.throws(() => parseIdx(raw.subarray(0, 6)), /truncated IDX header/);
  const gz = gzipSync(raw);
  assert.throws(() => parseIdx(gz.subarray(0, gz.length - 10), 'g.gz'), /g\.gz is a corrupt gzip file/);
});

test('loads the shipped Fashion-MNIST sample', async () => {
  const data = await loadImageDataset(SAMPLE_DATA);
  assert.equal(data.count, 2000);
  assert.equal(data.height, 28);
  assert.equal(data.width, 28);
  assert.equal(data.images.length, 2000 * 28 * 28);
  assert.ok(data.labels.every((l) => l < 10));
  assert.equal(new Set(data.labels).size, 10);
});

test('an explicit data directory wins over the defaults', () => {
  assert.equal(resolveDataDir('/some/where'), '/some/where');
});

test('missing files and mismatched label counts are reported', async () => {
  const dir = tempDir();
  await assert.rejects(loadImageDataset(join(dir, 'nope')), /does not exist/);
  await assert.rejects(loadImageDataset(dir), /no train-images-idx3-ubyte\[\.gz\]/);
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx(images));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx({ dims: [3], data: Uint8Array.of(1, 2, 3) }));
  await assert.rejects(loadImageDataset(dir), /3 labels for 2 images/);
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx({ dims: [2, 1], data: Uint8Array.of(1, 2) }));
  await assert.rejects(loadImageDataset(dir), /label file has 2 dimensions, expected 1 \(N\)/);
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx({ dims: [2], data: Uint8Array.of(1, 2) }));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx({ dims: [2, 0, 0], data: new Uint8Array(0) }));
  await assert.rejects(loadImageDataset(dir), /the images are 0×0 pixels/);
});

test('labels a class-conditional preset has no class for are refused before training, among the images it uses', async () => {
  const dir = tempDir();
  writeFileSync(
    join(dir, 'train-images-idx3-ubyte'),
    encodeIdx({ dims: [3, 28, 28], data: new Uint8Array(3 * 28 * 28) }),
  );
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx({ dims: [3], data: Uint8Array.of(4, 9, 15) }));
  await assert.rejects(
    loadDataset(dir, getPreset('cdcgan'), 0),
    /preset cdcgan has 10 classes, but image 2 of .* is labelled 15/,
  );
  assert.equal((await loadDataset(dir, getPreset('cdcgan'), 0, { images: 2 })).count, 3);
  assert.equal((await loadDataset(dir, getPreset('dcgan'), 0)).count, 3, 'an unconditional preset ignores labels');
});

const debianInstalled = existsSync(DEBIAN_FASHION_MNIST);

test("reads the full Fashion-MNIST from Debian's dataset-fashion-mnist package", {
  skip: !debianInstalled && `${DEBIAN_FASHION_MNIST} is absent (apt-get install dataset-fashion-mnist)`,
}, async () => {
  assert.equal(resolveDataDir(), DEBIAN_FASHION_MNIST);
  const train = await loadImageDataset(DEBIAN_FASHION_MNIST, 'train');
  const t10k = await loadImageDataset(DEBIAN_FASHION_MNIST, 't10k');
  assert.deepEqual([train.count, train.height, train.width], [60000, 28, 28]);
  assert.equal(t10k.count, 10000);
  const sample = await loadImageDataset(SAMPLE_DATA);
  assert.deepEqual(
    sample.images,
    train.images.subarray(0, sample.images.length),
    'the shipped sample is the first 2,000 training images',
  );
});

test('IDX images without a labels file: an unconditional or self-conditioned run loads them; a class-conditional one needs the labels', async () => {
  const dir = tempDir();
  const copied = readFileSync(join(SAMPLE_DATA, 'train-images-idx3-ubyte.gz'));
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), copied);
  const plain = await loadDataset(dir, getPreset('dcgan'), 1, { images: 64 });
  assert.equal(plain.labels, undefined);
  assert.equal(plain.count, 2000);
  const clustered = await loadDataset(dir, getPreset('dcgan', { clusters: 2 }), 1, { images: 64, clusters: 2 });
  assert.equal(clustered.labels?.length, 64);
  await assert.rejects(loadDataset(dir, getPreset('cdcgan'), 1), /no train-labels-idx1-ubyte\[\.gz\] in /);
});
