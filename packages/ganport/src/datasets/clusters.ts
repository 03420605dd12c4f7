/**
 * Unsupervised pseudo-labels for self-conditioned training (Liu et al. 2020, "Diverse Image
 * Generation via Self-Conditioned GANs"): k-means over the training images' pixels, then every
 * image assigned to a cluster of equal size. Equal sizes make the uniform label draw that
 * training, `generate` and `eval` use exactly the data's own cluster frequencies, so a generator
 * conditioned on clusters still models the whole unlabelled distribution.
 */
import { GanportError, Rng } from '@ganport/runtime';

/** The most clusters: labels are stored as bytes, as IDX class labels are. */
export const MAX_CLUSTERS = 255;
/** Images the centroids are fitted on (all of them are then assigned); more changes little. */
const FIT_SAMPLE = 20_000;
const ITERATIONS = 20;

export interface ClusterOptions {
  seed: number;
  /** Fit the centroids on at most this many images (default 20,000). */
  fitSample?: number;
}

/** The image–cluster pairs balancedAssignment sorts, at most one fewer. */
const MAX_PAIRS = 2 ** 27;

export function checkClusterCount(k: number): void {
  if (!Number.isInteger(k) || k < 2 || k > MAX_CLUSTERS)
    throw new GanportError(`clusters must be an integer in [2, ${MAX_CLUSTERS}], got ${k}`);
}

/** Balanced k-means labels (0 … k-1, sizes differing by at most one) for `count` images of `pixels` bytes each. */
export function balancedClusters(
  images: Uint8Array,
  count: number,
  pixels: number,
  k: number,
  { seed, fitSample = FIT_SAMPLE }: ClusterOptions,
): Uint8Array {
  checkClusterCount(k);
  if (k > count) throw new GanportError(`${k} clusters need at least ${k} images; the data has ${count}`);
  // checked before the fit: V8 sorts a typed array with a comparator only up to 2^27 - 1 elements
  if (count * k >= MAX_PAIRS)
    throw new GanportError(
      `${k} clusters of ${count} images are ${count * k} image–cluster pairs to assign; ganport assigns fewer than ${MAX_PAIRS}: use --limit or fewer --clusters`,
    );
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  new Rng(seed).shuffle(order);
  const fit = order.subarray(0, Math.min(count, Math.max(fitSample, k)));
  const centroids = new Float32Array(k * pixels);
  fit.subarray(0, k).forEach((image, c) => {
    for (let p = 0; p < pixels; p++) centroids[c * pixels + p] = images[image * pixels + p] / 255;
  });
  const sums = new Float64Array(k * pixels);
  const sizes = new Uint32Array(k);
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    sums.fill(0);
    sizes.fill(0);
    const scores = centroidScores(images, fit, pixels, centroids, k);
    fit.forEach((image, i) => {
      const c = nearest(scores, i, k);
      sizes[c]++;
      for (let p = 0; p < pixels; p++) sums[c * pixels + p] += images[image * pixels + p] / 255;
    });
    for (let c = 0; c < k; c++) {
      if (sizes[c] === 0) continue; // an emptied cluster keeps its centroid
      for (let p = 0; p < pixels; p++) centroids[c * pixels + p] = sums[c * pixels + p] / sizes[c];
    }
  }
  const all = Uint32Array.from({ length: count }, (_, i) => i);
  return balancedAssignment(centroidScores(images, all, pixels, centroids, k), count, k);
}

/** Squared distances ‖x − c‖² of each listed image to each centroid, [images × k]. */
function centroidScores(
  images: Uint8Array,
  which: Uint32Array,
  pixels: number,
  centroids: Float32Array,
  k: number,
): Float64Array {
  const norms = Array.from({ length: k }, (_, c) => {
    let s = 0;
    for (let p = 0; p < pixels; p++) s += centroids[c * pixels + p] ** 2;
    return s;
  });
  const scores = new Float64Array(which.length * k);
  const x = new Float32Array(pixels);
  which.forEach((image, i) => {
    let norm = 0;
    for (let p = 0; p < pixels; p++) {
      x[p] = images[image * pixels + p] / 255;
      norm += x[p] * x[p];
    }
    for (let c = 0; c < k; c++) {
      let dot = 0;
      const base = c * pixels;
      for (let p = 0; p < pixels; p++) dot += x[p] * centroids[base + p];
      scores[i * k + c] = norm + norms[c] - 2 * dot;
    }
  });
  return scores;
}

function nearest(scores: Float64Array, i: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (scores[i * k + c] < scores[i * k + best]) best = c;
  return best;
}

/**
 * Each image to a cluster with room, closest pairs first: clusters hold ⌈count/k⌉ or ⌊count/k⌋
 * images. Ties go to the lower image, then the lower cluster, so the result is deterministic.
 */
function balancedAssignment(scores: Float64Array, count: number, k: number): Uint8Array {
  const room = Array.from({ length: k }, (_, c) => Math.floor(count / k) + (c < count % k ? 1 : 0));
  const pairs = Uint32Array.from({ length: count * k }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  const labels = new Uint8Array(count);
  const assigned = new Uint8Array(count);
  let left = count;
  for (let i = 0; i < pairs.length && left > 0; i++) {
    const image = Math.floor(pairs[i] / k);
    const c = pairs[i] % k;
    if (assigned[image] || room[c] === 0) continue;
    assigned[image] = 1;
    labels[image] = c;
    room[c]--;
    left--;
  }
  return labels;
}
