/** Image folders (PNG/JPEG) as training data for the RGB presets. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { loadDataset } from '../../src/datasets/dataset.js';
import {
  cropAndResize,
  decodeImage,
  exifOrientation,
  loadImageFolder,
  oriented,
} from '../../src/datasets/image-folder.js';
import { exportRun } from '../../src/export/index.js';
import { runParity } from '../../src/parity/parity.js';
import { getPreset } from '../../src/presets/index.js';
import { checkRun } from '../../src/train/run-setup.js';
import { train } from '../../src/train/train.js';
import { assertCleanFailure, ROOT, runCli, tempDir } from '../helpers.js';

function rgba(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([...pixel(x, y), 255], (y * width + x) * 4);
  return data;
}

function writePng(
  path: string,
  width: number,
  height: number,
  pixel: (x: number, y: number) => [number, number, number],
): void {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba(width, height, pixel));
  writeFileSync(path, PNG.sync.write(png));
}

/** PNG's CRC-32 (zlib's crc32 needs Node 20.15; the package runs on any Node 20). */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A PNG of `chunks` ([type, data]) after the signature, each with its length and CRC. */
function pngOf(chunks: [string, Uint8Array][]): Uint8Array {
  const parts = chunks.map(([type, data]) => {
    const chunk = new Uint8Array(12 + data.length);
    const view = new DataView(chunk.buffer);
    view.setUint32(0, data.length);
    chunk.set(new TextEncoder().encode(type), 4);
    chunk.set(data, 8);
    view.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
    return chunk;
  });
  return Buffer.concat([Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), ...parts]);
}

test("a gray or RGB PNG's transparent colour (tRNS) keeps its colour: alpha is dropped, as PIL's convert('RGB') does", () => {
  const header = (colourType: number) => Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 1, 8, colourType, 0, 0, 0);
  const gray = pngOf([
    ['IHDR', header(0)],
    ['tRNS', Uint8Array.of(0, 255)], // gray 255 transparent
    ['IDAT', deflateSync(Uint8Array.of(0, 255, 200))],
    ['IEND', new Uint8Array(0)],
  ]);
  assert.deepEqual([...decodeImage(gray, 'gray.png').data], [255, 255, 255, 255, 200, 200, 200, 255]);
  const rgb = pngOf([
    ['IHDR', header(2)],
    ['tRNS', Uint8Array.of(0, 10, 0, 20, 0, 30)], // (10, 20, 30) transparent
    ['IDAT', deflateSync(Uint8Array.of(0, 10, 20, 30, 1, 2, 3))],
    ['IEND', new Uint8Array(0)],
  ]);
  assert.deepEqual([...decodeImage(rgb, 'rgb.png').data], [10, 20, 30, 255, 1, 2, 3, 255]);
});

test('centre crop and area resize', () => {
  // 6×2: the centre 2×2 square is columns 2-3, red on the left, blue on the right
  const image = {
    width: 6,
    height: 2,
    data: rgba(6, 2, (x) => (x === 2 ? [200, 0, 0] : x === 3 ? [0, 0, 100] : [0, 255, 0])),
  };
  assert.deepEqual(Array.from(cropAndResize(image, 1, 3)), [100, 0, 50]);
  assert.deepEqual(Array.from(cropAndResize(image, 2, 3)), [200, 0, 0, 0, 0, 100, 200, 0, 0, 0, 0, 100]);
  assert.deepEqual(Array.from(cropAndResize(image, 1, 1)), [Math.round(0.299 * 100 + 0.114 * 50)]);
});

test('a class-conditional preset is refused on an image folder before any image is decoded', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.png'), 'not a PNG: decoding it would fail first'); // never read
  await assert.rejects(
    loadDataset(dir, getPreset('cdcgan'), 0),
    /preset cdcgan is class-conditional and needs labelled data \(IDX files with labels\); .* has none/,
  );
});

test('area resize keeps every source row and column: the last column of a 61×61 image reaches the last output column', () => {
  const image = { width: 61, height: 61, data: rgba(61, 61, (x) => (x === 60 ? [255, 255, 255] : [0, 0, 0])) };
  const out = cropAndResize(image, 28, 1);
  // output column 27 averages source columns 58–60, one of them white
  assert.deepEqual([out[27], out[26]], [85, 0]);
});

test('a folder is read in code-point name order, through links to directories (each once), hidden entries skipped, unreadable files named', async () => {
  const dir = tempDir();
  const other = tempDir();
  const pixel = (red: number) => () => [red, 0, 0] as [number, number, number];
  writePng(join(dir, 'a.png'), 2, 2, pixel(10));
  writePng(join(dir, 'B.png'), 2, 2, pixel(20));
  writePng(join(dir, 'ä.png'), 2, 2, pixel(30));
  writePng(join(other, 'c.png'), 2, 2, pixel(40));
  symlinkSync(other, join(dir, 'linked'));
  symlinkSync(dir, join(dir, 'loop'));
  // hidden entries are passed over: a macOS resource fork, a hidden folder
  writeFileSync(join(dir, '._a.png'), 'not an image: macOS resource fork');
  mkdirSync(join(dir, '.thumbnails'));
  writePng(join(dir, '.thumbnails', 'a.png'), 2, 2, pixel(99));
  const { images, count } = await loadImageFolder(dir, 1, 3);
  // B (0x42) < a (0x61) < linked/ < loop/ (dir itself, already read) < ä (0xe4), in every locale
  assert.equal(count, 4);
  assert.deepEqual(
    Array.from({ length: count }, (_, i) => images[i * 3]),
    [20, 10, 40, 30],
  );
  symlinkSync(join(dir, 'gone'), join(dir, 'dangling.png'));
  await assert.rejects(loadImageFolder(dir, 1, 3), /dangling\.png cannot be read \(ENOENT\)/);
});

test('--limit N decodes only the first N images in name order; the count is what the folder holds', async () => {
  const dir = tempDir();
  for (const name of ['a', 'b', 'c']) writePng(join(dir, `${name}.png`), 4, 4, () => [name.charCodeAt(0), 0, 0]);
  writeFileSync(join(dir, 'z.png'), 'not a PNG: past the limit, never decoded');
  const preset = getPreset('dcgan-32');
  await assert.rejects(loadDataset(dir, preset, 0), /z\.png is neither PNG nor JPEG/);
  const data = await loadDataset(dir, preset, 0, { images: 3 });
  assert.equal(data.count, 4);
  const { x } = data.batch(Uint32Array.of(2, 0), 0, 2, false);
  const red = (i: number) => Math.round(((x.dataSync()[i * 32 * 32 * 3] + 1) * 127.5) as number);
  assert.deepEqual([red(0), red(1)], ['c'.charCodeAt(0), 'a'.charCodeAt(0)]);
  x.dispose();
});

test('EXIF orientation: a JPEG stored sideways is turned as its tag says, each of the eight', () => {
  // 3 × 2 pixels a b c / d e f (red channel 1…6)
  const image = { width: 3, height: 2, data: rgba(3, 2, (x, y) => [1 + x + 3 * y, 0, 0]) };
  const shown = (o: number) => {
    const { width, height, data } = oriented(image, o);
    return {
      width,
      rows: Array.from({ length: height }, (_, y) =>
        Array.from({ length: width }, (_, x) => data[(y * width + x) * 4]),
      ),
    };
  };
  const [a, b, c, d, e, f] = [1, 2, 3, 4, 5, 6];
  assert.deepEqual(shown(1).rows, [
    [a, b, c],
    [d, e, f],
  ]);
  assert.deepEqual(shown(2).rows, [
    [c, b, a],
    [f, e, d],
  ]);
  assert.deepEqual(shown(3).rows, [
    [f, e, d],
    [c, b, a],
  ]);
  assert.deepEqual(shown(4).rows, [
    [d, e, f],
    [a, b, c],
  ]);
  assert.deepEqual(shown(5).rows, [
    [a, d],
    [b, e],
    [c, f],
  ]);
  assert.deepEqual(shown(6).rows, [
    [d, a],
    [e, b],
    [f, c],
  ]);
  assert.deepEqual(shown(7).rows, [
    [f, c],
    [e, b],
    [d, a],
  ]);
  assert.deepEqual(shown(8).rows, [
    [c, f],
    [b, e],
    [a, d],
  ]);

  // APP1 "Exif\0\0", then a TIFF header and IFD0 with one entry: Orientation (0x0112), SHORT, 6
  const tiff = (little: boolean, orientation: number) => {
    const view = new DataView(new ArrayBuffer(26));
    view.setUint16(0, little ? 0x4949 : 0x4d4d);
    view.setUint16(2, 42, little);
    view.setUint32(4, 8, little);
    view.setUint16(8, 1, little);
    view.setUint16(10, 0x0112, little);
    view.setUint16(12, 3, little);
    view.setUint32(14, 1, little);
    view.setUint16(18, orientation, little);
    return new Uint8Array(view.buffer);
  };
  assert.equal(exifOrientation(Uint8Array.of(0, ...tiff(false, 8))), 8);
  assert.equal(exifOrientation(Uint8Array.of(1, 2, 3)), 1);
  // a 16 × 8 photo, red on the left and blue on the right, stored with orientation 6: shown 8 × 16, red on top
  const exifBuffer = Buffer.from([...Buffer.from('Exif\0\0'), ...tiff(true, 6)]);
  const halves = Buffer.from(rgba(16, 8, (x) => (x < 8 ? [255, 0, 0] : [0, 0, 255])));
  const photo = jpeg.encode({ width: 16, height: 8, data: halves, exifBuffer } as jpeg.RawImageData<Buffer>, 100).data;
  const decoded = decodeImage(photo, 'photo.jpg');
  assert.deepEqual([decoded.width, decoded.height], [8, 16]);
  const red = (x: number, y: number) => decoded.data[(y * 8 + x) * 4];
  assert.ok(red(4, 2) > 200 && red(4, 13) < 50, `top ${red(4, 2)}, bottom ${red(4, 13)}`);
});

/** Left half red, right half blue, 16×8: made with libjpeg-turbo (quality 98) for these tests. */
const JPEG_FIXTURES = join(ROOT, 'test', 'fixtures', 'jpeg');
const redThenBlue = (image: { width: number; height: number; data: Uint8Array }) =>
  [1, image.width - 2].map((x) => Array.from(image.data.subarray((x + image.width) * 4, (x + image.width) * 4 + 3)));

test('a JPEG that stores RGB (an Adobe marker with transform 0, or components named R, G, B) is not read as YCbCr', () => {
  const near = (actual: number[][], expected: number[][]) =>
    assert.ok(
      actual.every((pixel, i) => pixel.every((v, c) => Math.abs(v - expected[i][c]) <= 2)),
      `${JSON.stringify(actual)} against ${JSON.stringify(expected)}`,
    );
  const expected = [
    [255, 0, 0],
    [0, 0, 255],
  ];
  const adobe = readFileSync(join(JPEG_FIXTURES, 'rgb-adobe.jpg')); // jpeg_set_colorspace(JCS_RGB): Adobe transform 0
  near(redThenBlue(decodeImage(adobe, 'rgb-adobe.jpg')), expected);
  assert.equal(adobe.toString('latin1', 6, 11), 'Adobe');
  const namedOnly = Buffer.concat([adobe.subarray(0, 2), adobe.subarray(2 + 2 + adobe.readUInt16BE(4))]); // marker cut
  near(redThenBlue(decodeImage(namedOnly, 'rgb-named.jpg')), expected);
  const jfif = readFileSync(join(JPEG_FIXTURES, 'ycbcr-jfif.jpg')); // libjpeg's default: JFIF, YCbCr
  near(redThenBlue(decodeImage(jfif, 'ycbcr.jpg')), expected);
});

test('a JPEG of 48 megapixels is within what jpeg-js may allocate (it stops at its data, not at the memory limit)', () => {
  const small = Uint8Array.from(jpeg.encode({ width: 16, height: 16, data: Buffer.alloc(16 * 16 * 4, 128) }, 90).data);
  const frame = small.findIndex((b, i) => b === 0xff && small[i + 1] === 0xc0);
  new DataView(small.buffer).setUint16(frame + 5, 6000); // height
  new DataView(small.buffer).setUint16(frame + 7, 8000); // width: a phone's photo, whose data this file lacks
  assert.throws(
    () => decodeImage(small, 'photo.jpg'),
    (err: Error) => /photo\.jpg is not a readable image/.test(err.message) && !/maxMemoryUsage/.test(err.message),
  );
});

test('PNG and JPEG files decode, anything else is refused by name', () => {
  const dir = tempDir();
  writePng(join(dir, 'a.png'), 3, 2, () => [10, 20, 30]);
  const decodedPng = decodeImage(readFileSync(join(dir, 'a.png')), 'a.png');
  assert.deepEqual([decodedPng.width, decodedPng.height, ...decodedPng.data.subarray(0, 4)], [3, 2, 10, 20, 30, 255]);
  const jpg = jpeg.encode({ width: 8, height: 8, data: Buffer.from(rgba(8, 8, () => [120, 120, 120])) }, 95).data;
  const decodedJpeg = decodeImage(jpg, 'b.jpg');
  assert.equal(decodedJpeg.width, 8);
  assert.ok(Math.abs(decodedJpeg.data[0] - 120) <= 2);
  assert.throws(() => decodeImage(new TextEncoder().encode('GIF89a...'), 'c.gif'), /c\.gif is neither PNG nor JPEG/);
  assert.throws(
    () => decodeImage(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 1, 2), 'd.png'),
    /d\.png is not a readable image/,
  );
  // a header that claims 30,000 × 20,000 pixels (2.4 GB of RGBA) is refused before pngjs allocates it
  const bomb = Uint8Array.from(readFileSync(join(dir, 'a.png')));
  const header = new DataView(bomb.buffer);
  header.setUint32(16, 30_000);
  header.setUint32(20, 20_000);
  header.setUint32(29, crc32(bomb.subarray(12, 29))); // IHDR's CRC over its type and 13 bytes: a valid file

  assert.throws(
    () => decodeImage(bomb, 'e.png'),
    /^GanportError: e\.png is 30000×20000 pixels; ganport reads images up to 100 megapixels$/,
  );
});

test('dcgan-32 trains on a folder of PNG and JPEG files (nested), exports and passes parity', async () => {
  const data = tempDir();
  mkdirSync(join(data, 'more'));
  for (let i = 0; i < 24; i++) {
    const colour = (x: number, y: number): [number, number, number] => [(x * 8 + i * 10) % 256, (y * 8) % 256, i * 10];
    if (i % 3 === 0)
      writeFileSync(
        join(data, 'more', `img${i}.jpg`),
        jpeg.encode({ width: 40, height: 36, data: Buffer.from(rgba(40, 36, colour)) }, 90).data,
      );
    else writePng(join(data, `img${i}.png`), 36, 40, colour);
  }
  const loaded = await loadImageFolder(data, 32, 3);
  assert.equal(loaded.count, 24);
  assert.equal(loaded.images.length, 24 * 32 * 32 * 3);

  const run = tempDir();
  const model = tempDir();
  await train({ outDir: run, preset: 'dcgan-32', dataDir: data, epochs: 1, batchSize: 12, seed: 1, quiet: true });
  const grid = PNG.sync.read(readFileSync(join(run, 'samples', 'epoch-001.png')));
  assert.equal(grid.width, 8 * 32 + 9 * 2);
  await exportRun(run, model);
  const report = await runParity(model, { runtimes: ['tfjs', 'ort-node'], count: 4 });
  assert.ok(report.ok, JSON.stringify(report.rows));
  // channels first: tfjs's channels-last reference is compared in the model's layout, its own row too
  const nchw = tempDir();
  await exportRun(run, nchw, { layout: 'NCHW' });
  const channelsFirst = await runParity(nchw, { runtimes: ['tfjs', 'ort-node'], count: 4 });
  assert.ok(channelsFirst.ok, JSON.stringify(channelsFirst.rows));
  assert.equal(channelsFirst.rows[0].maxAbsError, 0);
  // a resume on a folder whose images changed is refused: the run would go on with other images at its indices
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  assert.match(config.dataSha256, /^[0-9a-f]{64}$/);
  writePng(join(data, 'img1.png'), 36, 40, () => [1, 2, 3]);
  await assert.rejects(
    train({ outDir: run, resume: true, epochs: 2, quiet: true }),
    /the first 24 images of .* \(or their labels\) differ from those .* was trained on \(files added, renamed or changed, or ganport's decoding changed\)/,
  );
  // a resume on a folder that lost images is refused before it trains on what is not there
  rmSync(join(data, 'more'), { recursive: true });
  await assert.rejects(
    train({ outDir: run, resume: true, epochs: 2, quiet: true }),
    /now holds 16 images, fewer than the 24 .* trains on/,
  );

  const empty = tempDir();
  assertCleanFailure(
    runCli(['train', '--preset', 'dcgan-32', '--data', empty, '--out', join(tempDir(), 'run')]),
    /holds neither train-images-idx3-ubyte\[\.gz\] nor PNG\/JPEG images/,
  );
  // a run inside its image folder would read its own sample grids as training images
  assertCleanFailure(
    runCli(['train', '--preset', 'dcgan-32', '--data', data, '--out', join(data, 'runs', 'r1')]),
    /--out .*r1 is inside the image folder --data .*: the run's sample grids would be read as training images/,
  );
  assert.ok(!existsSync(join(data, 'runs')));
  const linked = join(tempDir(), 'linked-data'); // the folder through a link: the walk follows links
  symlinkSync(data, linked);
  assertCleanFailure(
    runCli(['train', '--preset', 'dcgan-32', '--data', linked, '--out', join(data, 'r2')]),
    /is inside the image folder --data/,
  );
  // a folder elsewhere that the image folder reaches through a link is read too
  const elsewhere = tempDir();
  symlinkSync(elsewhere, join(data, 'more-images'));
  await assert.rejects(
    checkRun({ preset: 'dcgan-32', dataDir: data, outDir: join(elsewhere, 'r3') }),
    /--out .*r3 is inside .*, which the image folder --data .* reads through a link: the run's sample grids would be read/,
  );
  rmSync(join(data, 'more-images'));
  await assert.rejects(loadImageFolder(join(empty, 'gone'), 32, 3), /gone cannot be listed \(ENOENT\)/);
  assertCleanFailure(
    runCli(['train', '--preset', 'cdcgan', '--data', data, '--out', join(empty, 'run2')]),
    /needs 28×28×1 images|needs labelled data/,
  );
});
