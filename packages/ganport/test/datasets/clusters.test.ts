import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '@ganport/runtime';
import { balancedClusters, MAX_CLUSTERS } from '../../src/datasets/clusters.js';

const PIXELS = 16;

/** `sizes[g]` noisy copies of prototype g (pixels 0 or 255, far apart), interleaved; returns images and true groups. */
function groupedImages(sizes: number[], seed = 3) {
  const rng = new Rng(seed);
  const prototypes = sizes.map((_, g) => Array.from({ length: PIXELS }, (_, p) => ((p >> g) & 1 ? 230 : 20)));
  const groups = sizes.flatMap((n, g) => Array<number>(n).fill(g));
  rng.shuffle(groups);
  const images = new Uint8Array(groups.length * PIXELS);
  groups.forEach((g, i) => {
    for (let p = 0; p < PIXELS; p++) images[i * PIXELS + p] = prototypes[g][p] + Math.floor(rng.nextUniform() * 20);
  });
  return { images, groups };
}

const sizesOf = (labels: Uint8Array, k: number) =>
  Array.from({ length: k }, (_, c) => labels.filter((l) => l === c).length);

test('balanced k-means finds well-separated groups exactly, one cluster each', () => {
  const { images, groups } = groupedImages([40, 40, 40]);
  const labels = balancedClusters(images, groups.length, PIXELS, 3, { seed: 1 });
  const clusterOfGroup = new Map<number, number>();
  groups.forEach((g, i) => {
    if (!clusterOfGroup.has(g)) clusterOfGroup.set(g, labels[i]);
    assert.equal(labels[i], clusterOfGroup.get(g), `image ${i} of group ${g}`);
  });
  assert.equal(new Set(clusterOfGroup.values()).size, 3);
});

test('clusters come out equal in size (±1) whatever the groups’ sizes, and the same for the same seed', () => {
  const { images, groups } = groupedImages([70, 25, 6]);
  const labels = balancedClusters(images, groups.length, PIXELS, 4, { seed: 2, fitSample: 50 });
  const sizes = sizesOf(labels, 4);
  assert.deepEqual(sizes, [26, 25, 25, 25]);
  assert.deepEqual(balancedClusters(images, groups.length, PIXELS, 4, { seed: 2, fitSample: 50 }), labels);
  // the smallest group is never split: its images are each other's nearest
  const smallest = new Set(labels.filter((_, i) => groups[i] === 2));
  assert.equal(smallest.size, 1);
});

test('the cluster count must be an integer in [2, 255] and no more than the images', () => {
  const { images } = groupedImages([5, 5]);
  for (const k of [1, 2.5, MAX_CLUSTERS + 1])
    assert.throws(
      () => balancedClusters(images, 10, PIXELS, k, { seed: 0 }),
      /clusters must be an integer in \[2, 255\]/,
    );
  assert.throws(
    () => balancedClusters(images, 10, PIXELS, 11, { seed: 0 }),
    /11 clusters need at least 11 images; the data has 10/,
  );
  // too many image–cluster pairs for the assignment's sort: refused before the fit, not after it
  const count = Math.ceil(2 ** 27 / MAX_CLUSTERS);
  const started = performance.now();
  assert.throws(
    () => balancedClusters(new Uint8Array(count), count, 1, MAX_CLUSTERS, { seed: 0 }),
    /^GanportError: 255 clusters of 526345 images are 134217975 image–cluster pairs to assign; ganport assigns fewer than 134217728: use --limit or fewer --clusters$/,
  );
  assert.ok(performance.now() - started < 1000, 'before the k-means fit');
});
