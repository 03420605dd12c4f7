/**
 * Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019): each set's
 * manifold is the union of balls around its points reaching their k-th nearest
 * neighbour in the same set; precision is the share of generated points inside the
 * real manifold, recall the share of real points inside the generated one.
 */
import type { PairwiseDistances } from './distances.js';

export const DEFAULT_K = 3;

/** A set of feature rows with each row's squared distance to its k-th nearest other row. */
export interface Manifold {
  points: Float32Array;
  dim: number;
  radii: Float32Array;
}

export async function manifold(
  points: Float32Array,
  dim: number,
  k: number,
  distances: PairwiseDistances,
): Promise<Manifold> {
  const n = points.length / dim;
  if (n <= k) throw new Error(`a manifold with k = ${k} needs more than ${k} points, got ${n}`);
  const radii = new Float32Array(n);
  const nearest = new Float64Array(k); // the k smallest distances so far, ascending
  await distances.forEachBlock(points, points, dim, (block, from, rows) => {
    for (let r = 0; r < rows; r++) {
      nearest.fill(Infinity);
      const self = from + r;
      const row = r * n;
      for (let j = 0; j < n; j++) {
        const d = block[row + j];
        if (d >= nearest[k - 1] || j === self) continue;
        let at = k - 1;
        while (at > 0 && nearest[at - 1] > d) {
          nearest[at] = nearest[at - 1];
          at--;
        }
        nearest[at] = d;
      }
      radii[self] = nearest[k - 1];
    }
  });
  return { points, dim, radii };
}

/** The share of `points` that lie in some ball of `m` (distance ≤ that ball's radius). */
export async function coverage(m: Manifold, points: Float32Array, distances: PairwiseDistances): Promise<number> {
  let inside = 0;
  const centres = m.radii.length;
  await distances.forEachBlock(points, m.points, m.dim, (block, _from, rows) => {
    for (let r = 0; r < rows; r++) {
      const row = r * centres;
      for (let j = 0; j < centres; j++) {
        if (block[row + j] <= m.radii[j]) {
          inside++;
          break;
        }
      }
    }
  });
  return inside / (points.length / m.dim);
}

export async function precisionRecall(
  real: Manifold,
  generated: Manifold,
  distances: PairwiseDistances,
): Promise<{ precision: number; recall: number }> {
  return {
    precision: await coverage(real, generated.points, distances),
    recall: await coverage(generated, real.points, distances),
  };
}
