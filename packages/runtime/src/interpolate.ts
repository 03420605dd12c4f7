// Paths through latent space between two latent vectors, for animations.
import { MAX_COUNT } from './core.js';
import { GanportError, integerIn } from './errors.js';

export type InterpolationMode = 'slerp' | 'lerp';

/**
 * `steps` vectors from a to b inclusive, concatenated (steps × dim). slerp follows the
 * great circle, keeping the norm typical of Gaussian latents; it falls back to lerp
 * when a and b are (anti)parallel, where the circle is undefined.
 */
export function interpolate(
  a: Float32Array,
  b: Float32Array,
  steps: number,
  mode: InterpolationMode = 'slerp',
): Float32Array {
  if (a.length !== b.length || a.length === 0)
    throw new GanportError(
      `interpolate needs two latents of the same non-zero length, got ${a.length} and ${b.length}`,
    );
  integerIn('steps', steps, 2, MAX_COUNT); // one generate call's worth
  if (mode !== 'slerp' && mode !== 'lerp') throw new GanportError(`mode must be slerp or lerp, got ${String(mode)}`);
  const dim = a.length;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < dim; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const cos = Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb)));
  const omega = Math.acos(cos);
  const useSlerp = mode === 'slerp' && Math.sin(omega) > 1e-6;
  const out = new Float32Array(steps * dim);
  for (let s = 0; s < steps; s++) {
    const t = s / (steps - 1);
    const [wa, wb] = useSlerp
      ? [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)]
      : [1 - t, t];
    for (let i = 0; i < dim; i++) out[s * dim + i] = wa * a[i] + wb * b[i];
  }
  return out;
}
