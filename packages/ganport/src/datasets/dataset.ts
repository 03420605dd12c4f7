/**
 * What the training loop trains on: images from (Fashion-)MNIST IDX files or from
 * a folder of PNG/JPEG files, or points from a 2-D mixture, behind one batching interface.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { GanportError, Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import type { Preset } from '../presets/index.js';
import { requireDirectory } from '../util/files.js';
import { balancedClusters } from './clusters.js';
import { hasIdxImages, loadIdxImages, resolveDataDir } from './fashion-mnist.js';
import { hasImages, loadImageFolder } from './image-folder.js';
import { MIXTURES, type Mixture, mixture, sampleMixture } from './mixtures.js';

export interface Dataset {
  /** Where it came from: an absolute directory, or a mixture's name. */
  source: string;
  /** How many samples the source holds (of an image folder's, only the first `images` asked for are decoded). */
  count: number;
  /** Present for labelled data; with self-conditioning, the clusters of the images a run trains on. */
  labels?: Uint8Array;
  mixture?: Mixture;
  /** SHA-256 (hex) of the first `count` images' bytes and class labels: a resume checks it trains on the same; none for mixtures. */
  digest?(count: number): string;
  /** Samples order[from .. from+size) as a batch, scaled for the models, with their labels as [size, 1]. */
  batch(order: Uint32Array, from: number, size: number, withLabels: boolean): { x: tf.Tensor; labels?: tf.Tensor2D };
}

/** What a run uses: the first `images` images (default all), labelled by `clusters` k-means clusters (self-conditioning). */
export interface DataUse {
  images?: number;
  clusters?: number;
}

/** Points drawn once from the mixture with the run's seed: an epoch is this many samples. */
const MIXTURE_SIZE = 25_600;

function gather(
  from: number,
  size: number,
  order: Uint32Array,
  width: number,
  read: (index: number, out: Float32Array, at: number) => void,
) {
  const out = new Float32Array(size * width);
  for (let b = 0; b < size; b++) read(order[from + b], out, b * width);
  return out;
}

function labelTensor(labels: Uint8Array, order: Uint32Array, from: number, size: number): tf.Tensor2D {
  return tf.tensor2d(
    Int32Array.from({ length: size }, (_, b) => labels[order[from + b]]),
    [size, 1],
    'int32',
  );
}

/**
 * Loads what `spec` names (a directory, 'ring' or 'grid'; default by preset) and checks it fits the preset.
 * With `use.clusters`, images are labelled by their balanced k-means cluster (seeded) instead of any class labels.
 */
export async function loadDataset(
  spec: string | undefined,
  preset: Preset,
  seed: number,
  use: DataUse = {},
): Promise<Dataset> {
  if (preset.sampleShape.length === 1) {
    const m = mixture(spec ?? 'ring');
    const { points, modes } = sampleMixture(m, MIXTURE_SIZE, new Rng(seed));
    return {
      source: m.name,
      count: MIXTURE_SIZE,
      labels: modes,
      mixture: m,
      batch: (order, from, size) => ({
        x: tf.tensor2d(
          gather(from, size, order, 2, (i, out, at) => out.set(points.subarray(2 * i, 2 * i + 2), at)),
          [size, 2],
        ),
      }),
    };
  }
  if (spec !== undefined && (MIXTURES as readonly string[]).includes(spec))
    throw new GanportError(`preset ${preset.name} makes images; the ${spec} mixture needs a 2-D preset such as mlp-2d`);
  const [height, width, channels] = preset.sampleShape;
  const dir = resolveDataDir(spec);
  requireDirectory(dir, 'data directory');
  const idx = hasIdxImages(dir);
  let images: Uint8Array;
  let count: number;
  let labels: Uint8Array | undefined;
  if (!idx && !(await hasImages(dir)))
    throw new GanportError(`${dir} holds neither train-images-idx3-ubyte[.gz] nor PNG/JPEG images`, 'not-found');
  if (idx) {
    const data = await loadIdxImages(dir, 'train', !!preset.numClasses && !use.clusters);
    if (data.height !== height || data.width !== width || channels !== 1) {
      throw new GanportError(
        `preset ${preset.name} needs ${height}×${width}×${channels} images; ${data.source} has ${data.height}×${data.width}×1`,
      );
    }
    ({ images, count, labels } = data);
    const classes = preset.numClasses;
    // the labels of the images a run trains on: a class-conditional generator embeds them
    const used = labels?.subarray(0, use.images ?? count);
    const outOfRange = classes && !use.clusters && used ? used.findIndex((label) => label >= classes) : -1;
    if (outOfRange >= 0)
      throw new GanportError(
        `preset ${preset.name} has ${classes} classes, but image ${outOfRange} of ${data.source} is labelled ${used![outOfRange]}`,
      );
  } else {
    if (height !== width || (channels !== 1 && channels !== 3))
      throw new GanportError(`preset ${preset.name} cannot train on an image folder`);
    if (preset.numClasses && !use.clusters)
      // refused before the decode, which takes a while
      throw new GanportError(
        `preset ${preset.name} is class-conditional and needs labelled data (IDX files with labels); ${dir} has none`,
      );
    ({ images, count } = await loadImageFolder(dir, height, channels, use.images));
  }
  if (use.clusters) {
    const labelled = Math.min(count, use.images ?? count);
    labels = balancedClusters(images, labelled, height * width * channels, use.clusters, { seed });
  }
  const pixels = height * width * channels;
  // class labels a conditional run reads (clusters come from the images, and have a digest of their own)
  const classLabels = preset.numClasses && !use.clusters ? labels : undefined;
  return {
    source: resolve(dir),
    count,
    labels,
    digest: (n) => {
      const hash = createHash('sha256').update(images.subarray(0, n * pixels));
      if (classLabels) hash.update(classLabels.subarray(0, n));
      return hash.digest('hex');
    },
    batch: (order, from, size, withLabels) => ({
      // bytes → [-1, 1], the generator's tanh range
      x: tf.tensor4d(
        gather(from, size, order, pixels, (i, out, at) => {
          for (let p = 0; p < pixels; p++) out[at + p] = images[i * pixels + p] / 127.5 - 1;
        }),
        [size, height, width, channels],
      ),
      labels: withLabels && labels ? labelTensor(labels, order, from, size) : undefined,
    }),
  };
}
