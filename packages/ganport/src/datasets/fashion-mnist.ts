/** Locating and loading (Fashion-)MNIST image/label IDX files. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import { shippedFashionMnistSample } from '../assets.js';
import { readInputFile, requireDirectory } from '../util/files.js';
import { parseIdx } from './idx.js';

/** Where Debian's dataset-fashion-mnist package installs the files. */
export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
/** The small subset that ships in this repository (first 2,000 training images). */

export interface ImageDataset {
  /** Pixel bytes, N × height × width, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  source: string;
}

export type Split = 'train' | 't10k';

/** The data directory to use: the one given, else Debian's, else the shipped sample. */
export function resolveDataDir(requested?: string): string {
  if (requested !== undefined) return requested;
  return existsSync(DEBIAN_FASHION_MNIST) ? DEBIAN_FASHION_MNIST : shippedFashionMnistSample();
}

/** Whether `dir` holds IDX training images (else it may be a folder of image files). */
export const hasIdxImages = (dir: string): boolean =>
  ['train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz'].some((name) => existsSync(join(dir, name)));

async function readIdxFile(dir: string, stem: string) {
  for (const name of [stem, `${stem}.gz`]) {
    const path = join(dir, name);
    if (existsSync(path)) return parseIdx(await readInputFile(path), path);
  }
  throw new GanportError(`no ${stem}[.gz] in ${dir}`, 'not-found');
}

/** A labelled split (the classifier and eval need its labels). */
export async function loadImageDataset(dir: string, split: Split = 'train'): Promise<ImageDataset> {
  return (await loadIdxImages(dir, split, true)) as ImageDataset;
}

/** A split's images, with its labels where `withLabels` (an unconditional or self-conditioned run reads none). */
export async function loadIdxImages(
  dir: string,
  split: Split,
  withLabels: boolean,
): Promise<Omit<ImageDataset, 'labels'> & { labels?: Uint8Array }> {
  requireDirectory(dir, 'data directory');
  const images = await readIdxFile(dir, `${split}-images-idx3-ubyte`);
  const labelFile = withLabels ? await readIdxFile(dir, `${split}-labels-idx1-ubyte`) : undefined;
  if (images.dims.length !== 3)
    throw new GanportError(`${dir}: image file has ${images.dims.length} dimensions, expected 3 (N × H × W)`);
  if (labelFile && labelFile.dims.length !== 1)
    throw new GanportError(`${dir}: label file has ${labelFile.dims.length} dimensions, expected 1 (N)`);
  if (labelFile && labelFile.dims[0] !== images.dims[0])
    throw new GanportError(`${dir}: ${labelFile.dims[0]} labels for ${images.dims[0]} images`);
  const [count, height, width] = images.dims;
  if (count === 0) throw new GanportError(`${dir}: the image file holds no images`);
  if (height === 0 || width === 0) throw new GanportError(`${dir}: the images are ${height}×${width} pixels`);
  return { images: images.data, labels: labelFile?.data, count, height, width, source: dir };
}

/** Images `indices` of an IDX dataset as floats in [-1, 1] (the generators' tanh range), N × H × W × 1. */
export function imagesAsFloats(data: ImageDataset, indices: ArrayLike<number>): Float32Array {
  const pixels = data.height * data.width;
  const out = new Float32Array(indices.length * pixels);
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i] * pixels;
    for (let p = 0; p < pixels; p++) out[i * pixels + p] = data.images[from + p] / 127.5 - 1;
  }
  return out;
}
