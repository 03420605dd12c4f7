/**
 * A folder of PNG/JPEG images (searched recursively, following symbolic links) as a training set:
 * each image is centre-cropped to a square, resized by area averaging to the preset's size (an image
 * smaller than that is enlarged by repeating pixels), and converted to RGB or gray. A JPEG is turned as
 * its EXIF orientation says; alpha is dropped, as PIL's convert('RGB') drops it.
 */
import { constants } from 'node:buffer';
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { orRefused, readInputFile } from '../util/files.js';

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA bytes. */
  data: Uint8Array;
}

/** The most bytes one typed array takes in this Node (4 GiB in Node 20). */
const MAX_BYTES = constants.MAX_LENGTH;

/** The largest image read: jpeg-js's own default, for PNG too (pngjs allocates whatever its header says). */
const MAX_MEGAPIXELS = 100;

/** What jpeg-js needs for an image of MAX_MEGAPIXELS: it counts about 12 bytes a pixel (planes and RGBA). */
const JPEG_MEMORY_MB = 13 * MAX_MEGAPIXELS;

/**
 * Whether a JPEG holds its three components as RGB rather than YCbCr, as libjpeg decides it: not
 * where a JFIF marker says YCbCr; where an Adobe marker says transform 0 (Photoshop's RGB JPEGs); else
 * where the components are named R, G and B.
 */
function storesRgb(bytes: Uint8Array): boolean {
  let jfif = false;
  let adobeTransform: number | undefined;
  let componentIds = '';
  const text = (from: number, length: number) => String.fromCharCode(...bytes.subarray(from, from + length));
  for (let at = 2; at + 4 <= bytes.length && bytes[at] === 0xff; ) {
    const marker = bytes[at + 1];
    if (marker === 0xda || marker === 0xd9) break; // the scan's data, or the end
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    const data = at + 4;
    if (marker === 0xe0 && text(data, 5) === 'JFIF\0') jfif = true;
    if (marker === 0xee && text(data, 5) === 'Adobe') adobeTransform = bytes[data + 11];
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame) componentIds = Array.from({ length: bytes[data + 5] }, (_, i) => text(data + 6 + 3 * i, 1)).join('');
    at += 2 + length;
  }
  if (componentIds.length !== 3 || jfif) return false;
  return adobeTransform !== undefined ? adobeTransform === 0 : componentIds === 'RGB';
}

export function decodeImage(bytes: Uint8Array, name: string): DecodedImage {
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      refuseHugePng(bytes, name);
      const png = PNG.sync.read(Buffer.from(withoutTransparentColour(bytes)));
      return { width: png.width, height: png.height, data: png.data };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxMemoryUsageInMB: JPEG_MEMORY_MB,
        maxResolutionInMP: MAX_MEGAPIXELS,
        // jpeg-js reads three components as YCbCr unless told otherwise; an Adobe marker can say RGB
        ...(storesRgb(bytes) ? { colorTransform: false } : {}),
      });
      const decoded = { width: img.width, height: img.height, data: img.data };
      const exif = (img as { exifBuffer?: Uint8Array }).exifBuffer; // decoded, though jpeg-js's types omit it
      return oriented(decoded, exif ? exifOrientation(exif) : 1);
    }
  } catch (err) {
    if (err instanceof GanportError) throw err;
    throw new GanportError(`${name} is not a readable image (${(err as Error).message})`);
  }
  throw new GanportError(`${name} is neither PNG nor JPEG`);
}

/**
 * A gray or RGB PNG without its tRNS chunk (the one colour it marks transparent): pngjs zeroes that
 * colour's pixels, and the colour is what ganport keeps (it drops alpha, as PIL's convert('RGB') does).
 */
function withoutTransparentColour(bytes: Uint8Array): Uint8Array {
  const GRAY = 0;
  const RGB = 2;
  if (bytes.length < 33 || (bytes[25] !== GRAY && bytes[25] !== RGB)) return bytes; // IHDR's colour type
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kept: Uint8Array[] = [bytes.subarray(0, 8)];
  let dropped = false;
  for (let at = 8; at < bytes.length; ) {
    const end = at + 12 + (at + 4 <= bytes.length ? view.getUint32(at) : 0);
    const transparency = String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === 'tRNS';
    if (transparency) dropped = true;
    else kept.push(bytes.subarray(at, end)); // a truncated chunk stays truncated, for pngjs to report
    at = end;
  }
  return dropped ? Buffer.concat(kept) : bytes;
}

/** Reads the size in a PNG's IHDR (big-endian, after the 8-byte signature and the chunk's length and type). */
function refuseHugePng(bytes: Uint8Array, name: string): void {
  if (bytes.length < 24) return; // pngjs says what is wrong with it
  const view = new DataView(bytes.buffer, bytes.byteOffset, 24);
  const [width, height] = [view.getUint32(16), view.getUint32(20)];
  if (width * height > MAX_MEGAPIXELS * 1e6)
    throw new GanportError(
      `${name} is ${width}×${height} pixels; ganport reads images up to ${MAX_MEGAPIXELS} megapixels`,
    );
}

/**
 * The EXIF Orientation tag (0x0112) of a JPEG's APP1 data (after "Exif\0"; a TIFF header, little- or
 * big-endian, then IFD0), 1 to 8; 1 (as stored) when there is none or the data is not readable.
 */
export function exifOrientation(exif: Uint8Array): number {
  const tiff = exif[0] === 0 ? 1 : 0; // the APP1 header's second NUL, where the decoder left it
  if (exif.length < tiff + 8) return 1;
  const view = new DataView(exif.buffer, exif.byteOffset + tiff, exif.length - tiff);
  const order = view.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return 1;
  const little = order === 0x4949;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > view.byteLength) return 1;
  const entries = view.getUint16(ifd, little);
  for (let i = 0; i < entries && ifd + 2 + 12 * (i + 1) <= view.byteLength; i++) {
    const entry = ifd + 2 + 12 * i;
    if (view.getUint16(entry, little) !== 0x0112) continue;
    const value = view.getUint16(entry + 8, little);
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

/**
 * The image as EXIF orientation `o` says to show it (phone photos are stored sideways with o = 6 or 8):
 * 2 mirrored, 3 turned 180°, 4 flipped, 5 transposed, 6 turned 90° clockwise, 7 transversed, 8 90° anticlockwise.
 */
export function oriented(image: DecodedImage, o: number): DecodedImage {
  if (o === 1) return image;
  const { width: w, height: h } = image;
  const swapped = o >= 5;
  const [width, height] = swapped ? [h, w] : [w, h];
  // the stored pixel (sx, sy) shown at (x, y)
  const source = (x: number, y: number): [number, number] => {
    switch (o) {
      case 2:
        return [w - 1 - x, y];
      case 3:
        return [w - 1 - x, h - 1 - y];
      case 4:
        return [x, h - 1 - y];
      case 5:
        return [y, x];
      case 6:
        return [y, h - 1 - x];
      case 7:
        return [w - 1 - y, h - 1 - x];
      default:
        return [w - 1 - y, x];
    }
  };
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [sx, sy] = source(x, y);
      data.set(image.data.subarray((sy * w + sx) * 4, (sy * w + sx) * 4 + 4), (y * width + x) * 4);
    }
  return { width, height, data };
}

/** Centre square crop, resized to size × size, `channels` 1 (luma) or 3 (RGB), bytes row-major HWC. */
export function cropAndResize(image: DecodedImage, size: number, channels: 1 | 3): Uint8Array {
  const side = Math.min(image.width, image.height);
  const x0 = (image.width - side) >> 1;
  const y0 = (image.height - side) >> 1;
  // the source rows or columns output pixel i covers, in integers (floats lose the last one, e.g. 61 → 28)
  const from = (i: number) => Math.floor((i * side) / size);
  const out = new Uint8Array(size * size * channels);
  const rgb = [0, 0, 0];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // the source rectangle this output pixel covers; at least one pixel
      const sx0 = x0 + from(x);
      const sy0 = y0 + from(y);
      const sx1 = Math.max(sx0 + 1, x0 + from(x + 1));
      const sy1 = Math.max(sy0 + 1, y0 + from(y + 1));
      rgb.fill(0);
      for (let sy = sy0; sy < sy1; sy++)
        for (let sx = sx0; sx < sx1; sx++)
          for (let c = 0; c < 3; c++) rgb[c] += image.data[(sy * image.width + sx) * 4 + c];
      const n = (sy1 - sy0) * (sx1 - sx0);
      const o = (y * size + x) * channels;
      if (channels === 3) for (let c = 0; c < 3; c++) out[o + c] = Math.round(rgb[c] / n);
      else out[o] = Math.round((0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / n);
    }
  }
  return out;
}

/**
 * The images under `dir`, in name order by UTF-16 code unit (the same on every machine, whatever its locale),
 * following links to directories once each (`visited`: the real paths of those listed, `dir`'s among
 * them). Hidden entries are passed over: macOS's `._photo.jpg` resource forks carry an image's extension
 * and are not images.
 */
async function* imagesUnder(dir: string, visited?: Set<string>): AsyncGenerator<string> {
  const listed = visited ?? new Set([await listing(realpath(dir), dir)]);
  const entries = await listing(readdir(dir, { withFileTypes: true }), dir);
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue;
    const path = join(dir, e.name);
    const isDirectory = e.isDirectory() || (e.isSymbolicLink() && (await stat(path).catch(() => null))?.isDirectory());
    if (isDirectory) {
      const real = await listing(realpath(path), path);
      if (listed.has(real)) continue;
      listed.add(real);
      yield* imagesUnder(path, listed);
    } else if (EXTENSIONS.has(extname(e.name).toLowerCase())) yield path;
  }
}

const listing = <T>(pending: Promise<T>, dir: string) => orRefused(pending, `${dir} cannot be listed`);

/** The real paths of the folders a load of `dir` lists: `dir`'s and those under it, links followed. */
export async function foldersListed(dir: string): Promise<Set<string>> {
  const listed = new Set([await listing(realpath(dir), dir)]);
  for await (const _ of imagesUnder(dir, listed));
  return listed;
}

/** Whether `dir` holds an image: the walk stops at the first. */
export async function hasImages(dir: string): Promise<boolean> {
  return !(await imagesUnder(dir).next()).done;
}

/**
 * Loads the images under `dir` (in name order, the first `limit` of them; default all) at size × size ×
 * channels: bytes, N × H × W × C, and `count`, how many the folder holds.
 */
export async function loadImageFolder(
  dir: string,
  size: number,
  channels: 1 | 3,
  limit = Number.POSITIVE_INFINITY,
): Promise<{ images: Uint8Array; count: number }> {
  const files: string[] = [];
  for await (const file of imagesUnder(dir)) files.push(file);
  if (files.length === 0) throw new GanportError(`no PNG or JPEG images under ${dir}`, 'not-found');
  const stride = size * size * channels;
  const decoded = Math.min(files.length, limit);
  if (decoded * stride > MAX_BYTES)
    throw new GanportError(
      `${decoded} images of ${size}×${size}×${channels} are ${decoded * stride} bytes, more than one array holds ` +
        `(${MAX_BYTES}): use --limit ${Math.floor(MAX_BYTES / stride)} or fewer`,
    );
  const images = new Uint8Array(decoded * stride);
  for (let i = 0; i < decoded; i++)
    images.set(cropAndResize(decodeImage(await readInputFile(files[i]), files[i]), size, channels), i * stride);
  return { images, count: files.length };
}
