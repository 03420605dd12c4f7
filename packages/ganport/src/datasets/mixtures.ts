/**
 * The synthetic 2-D mixtures of the mode-collapse literature (VEEGAN, PacGAN):
 * ring — 8 Gaussians at angle 2πk/8 on the unit circle, σ 0.01;
 * grid — 25 Gaussians at {-4, -2, 0, 2, 4}², σ 0.05.
 */

import type { Rng } from '@ganport/runtime';
import { GanportError } from '@ganport/runtime';

export const MIXTURES = ['ring', 'grid'] as const;
export type MixtureName = (typeof MIXTURES)[number];

export interface Mixture {
  name: MixtureName;
  modes: [number, number][];
  sigma: number;
}

export function mixture(name: string): Mixture {
  if (name === 'ring')
    return {
      name,
      sigma: 0.01,
      modes: Array.from({ length: 8 }, (_, k) => [Math.cos((2 * Math.PI * k) / 8), Math.sin((2 * Math.PI * k) / 8)]),
    };
  if (name === 'grid') {
    const axis = [-4, -2, 0, 2, 4];
    return { name, sigma: 0.05, modes: axis.flatMap((x) => axis.map((y): [number, number] => [x, y])) };
  }
  throw new GanportError(`unknown mixture "${name}"; choose ${MIXTURES.join(' or ')}`);
}

/** `count` points (x, y interleaved), each from a uniformly chosen mode; also returns each point's mode. */
export function sampleMixture(m: Mixture, count: number, rng: Rng): { points: Float32Array; modes: Uint8Array } {
  const points = new Float32Array(count * 2);
  const modes = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = rng.nextInt(m.modes.length);
    modes[i] = k;
    points[2 * i] = m.modes[k][0] + m.sigma * rng.nextNormal();
    points[2 * i + 1] = m.modes[k][1] + m.sigma * rng.nextNormal();
  }
  return { points, modes };
}
