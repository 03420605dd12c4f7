/**
 * The little dense linear algebra the Fréchet distance needs, in float64:
 * feature statistics and a symmetric eigendecomposition (cyclic Jacobi), which
 * gives matrix square roots of symmetric PSD matrices without the complex
 * round-off a general sqrtm (Schur-based, as scipy's) can produce.
 */

/** A dense square matrix, row-major. */
export interface SquareMatrix {
  n: number;
  data: Float64Array;
}

export interface GaussianStats {
  mean: Float64Array;
  covariance: SquareMatrix;
  count: number;
}

/** Mean and unbiased covariance of `count` rows of `dim` features. */
export function gaussianStats(rows: Float32Array, dim: number): GaussianStats {
  const count = rows.length / dim;
  if (!Number.isInteger(count) || count < 2)
    throw new Error(`statistics need at least 2 rows of ${dim} features, got ${rows.length} values`);
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) for (let j = 0; j < dim; j++) mean[j] += rows[r * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= count;
  const cov = new Float64Array(dim * dim);
  const centered = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < dim; j++) centered[j] = rows[r * dim + j] - mean[j];
    for (let i = 0; i < dim; i++) {
      const ci = centered[i];
      if (ci === 0) continue;
      for (let j = i; j < dim; j++) cov[i * dim + j] += ci * centered[j];
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      cov[i * dim + j] /= count - 1;
      cov[j * dim + i] = cov[i * dim + j];
    }
  }
  return { mean, covariance: { n: dim, data: cov }, count };
}

export function multiply(a: SquareMatrix, b: SquareMatrix): SquareMatrix {
  const { n } = a;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a.data[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b.data[k * n + j];
    }
  }
  return { n, data: out };
}

export const trace = (m: SquareMatrix) =>
  Array.from({ length: m.n }, (_, i) => m.data[i * m.n + i]).reduce((a, b) => a + b, 0);

/**
 * Eigenvalues and eigenvectors of a symmetric matrix by cyclic Jacobi rotations
 * (Golub & Van Loan §8.5): A = V diag(values) Vᵀ, eigenvectors in V's columns.
 * Slower than tridiagonal QR but simple, and accurate to full precision for the
 * 128 × 128 covariances here.
 */
export function symmetricEigen(m: SquareMatrix): { values: Float64Array; vectors: SquareMatrix } {
  const { n } = m;
  const a = Float64Array.from(m.data);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (Math.abs(a[i * n + j] - a[j * n + i]) > 1e-9 * (Math.abs(a[i * n + j]) + Math.abs(a[j * n + i]) + 1e-300))
        throw new Error('symmetricEigen needs a symmetric matrix');
    }
  }
  const scale = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (Math.sqrt(off) <= 1e-15 * scale || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        // the rotation that zeroes a[p][q]: t = tan θ, the smaller root, for stability
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => a[i * n + i]), vectors: { n, data: v } };
}

/** The PSD square root of a symmetric PSD matrix; eigenvalues below zero (round-off) count as zero. */
export function sqrtPsd(m: SquareMatrix): SquareMatrix {
  const { values, vectors } = symmetricEigen(m);
  const { n } = m;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const root = Math.sqrt(Math.max(values[k], 0));
    if (root === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors.data[i * n + k] * root;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors.data[j * n + k];
    }
  }
  return { n, data: out };
}

/**
 * tr √(A B) for symmetric PSD A and B, computed as tr √(√A B √A): the two products
 * have the same eigenvalues, and the second is symmetric PSD, so its root comes
 * from a symmetric eigendecomposition.
 */
export function traceSqrtProduct(a: SquareMatrix, b: SquareMatrix): number {
  const rootA = sqrtPsd(a);
  const inner = multiply(multiply(rootA, b), rootA);
  // symmetrise away the round-off of the products before the eigendecomposition
  const { n } = inner;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++)
      inner.data[i * n + j] = inner.data[j * n + i] = (inner.data[i * n + j] + inner.data[j * n + i]) / 2;
  return symmetricEigen(inner).values.reduce((s, x) => s + Math.sqrt(Math.max(x, 0)), 0);
}

/**
 * The Fréchet (2-Wasserstein) distance between two Gaussians, as FID defines it:
 * ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁ Σ₂).
 */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  if (a.mean.length !== b.mean.length) throw new Error(`feature sizes differ: ${a.mean.length} and ${b.mean.length}`);
  let meanTerm = 0;
  for (let i = 0; i < a.mean.length; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  return Math.max(
    0,
    meanTerm + trace(a.covariance) + trace(b.covariance) - 2 * traceSqrtProduct(a.covariance, b.covariance),
  );
}
