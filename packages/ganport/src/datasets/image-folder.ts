/**
 * A folder of PNG/JPEG images (searched recursively, following symbolic links) as a training set:
 * each image is centre-cropped to a square, resized by area averaging to the preset's size (an image
 * smaller than that is enlarged by repeating pixels), and converted to RGB or gray. Alpha is dropped,
 * as PIL's convert('RGB') drops it.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA bytes. */
  data: Uint8Array;
}

export function decodeImage(bytes: Uint8Array, name: string): DecodedImage {
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) {
      const png = PNG.sync.read(Buffer.from(bytes));
      return { width: png.width, height: png.height, data: png.data };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 512 });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (err) {
    throw new GanportError(`${name} is not a readable image (${(err as Error).message})`);
  }
  throw new GanportError(`${name} is neither PNG nor JPEG`);
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
 * The images under `dir`, in name order by code point (the same on every machine, whatever its locale),
 * following links to directories once each (`visited`: their real paths).
 */
async function listImages(dir: string, visited = new Set<string>()): Promise<string[]> {
  visited.add(await realpath(dir));
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, e.name);
    const isDirectory = e.isDirectory() || (e.isSymbolicLink() && (await stat(path).catch(() => null))?.isDirectory());
    if (isDirectory) {
      if (!visited.has(await realpath(path))) files.push(...(await listImages(path, visited)));
    } else if (EXTENSIONS.has(extname(e.name).toLowerCase())) files.push(path);
  }
  return files;
}

async function readImageFile(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new GanportError(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export async function hasImages(dir: string): Promise<boolean> {
  return (await listImages(dir)).length > 0;
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
  const files = await listImages(dir);
  if (files.length === 0) throw new GanportError(`no PNG or JPEG images under ${dir}`, 'not-found');
  const stride = size * size * channels;
  const decoded = Math.min(files.length, limit);
  const images = new Uint8Array(decoded * stride);
  for (let i = 0; i < decoded; i++)
    images.set(cropAndResize(decodeImage(await readImageFile(files[i]), files[i]), size, channels), i * stride);
  return { images, count: files.length };
}
