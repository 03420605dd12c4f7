/** The registry of architectures `ganport train --preset NAME` knows. */
import { GanportError } from '@ganport/runtime';
import { dcgan } from './dcgan.js';
import { mlp, mlp2d, mlp2dDeep, pacgan2d, seedMlp } from './mlp.js';
import { PRESET_NAMES } from './names.js';
import type { Preset } from './preset.js';

const list: Preset[] = [
  seedMlp,
  mlp,
  mlp2d,
  mlp2dDeep,
  pacgan2d,
  dcgan({
    name: 'dcgan',
    description: 'DCGAN for 28×28 grayscale (Fashion-MNIST, MNIST), width 32',
    size: 28,
    channels: 1,
  }),
  dcgan({
    name: 'cdcgan',
    description: 'class-conditional DCGAN for 28×28 grayscale with 10 classes, width 32',
    size: 28,
    channels: 1,
    numClasses: 10,
  }),
  dcgan({
    name: 'cdcgan-projection',
    description: 'cdcgan with a projection discriminator: logit = ψ(φ(x)) + ⟨embed(label), φ(x)⟩',
    size: 28,
    channels: 1,
    numClasses: 10,
    conditioning: 'projection',
  }),
  dcgan({ name: 'dcgan-32', description: 'DCGAN for 32×32 RGB image folders, width 32', size: 32, channels: 3 }),
  dcgan({ name: 'dcgan-64', description: 'DCGAN for 64×64 RGB image folders, width 32', size: 64, channels: 3 }),
];

export const PRESETS: Record<string, Preset> = Object.fromEntries(list.map((p) => [p.name, p]));
if (Object.keys(PRESETS).join() !== PRESET_NAMES.join())
  throw new Error(
    `internal error: presets/names.ts lists ${PRESET_NAMES.join(', ')}; the presets are ${Object.keys(PRESETS)}`,
  );

/** How a run varies its preset (`train --width`, `--clusters`). */
export interface PresetVariant {
  /** The DCGAN presets' width (default their own, 32). */
  width?: number;
  /** Self-conditioning on this many clusters (the unconditional DCGAN presets). */
  clusters?: number;
}

/** The preset called `name`, varied as `variant` asks. */
export function getPreset(name: string, { width, clusters }: PresetVariant = {}): Preset {
  let preset = PRESETS[name];
  if (!preset) throw new GanportError(`unknown preset "${name}"; available: ${Object.keys(PRESETS).join(', ')}`);
  const able = (what: keyof Preset) =>
    Object.values(PRESETS)
      .filter((p) => p[what])
      .map((p) => p.name)
      .join(', ');
  if (width !== undefined) {
    if (!preset.withWidth)
      throw new GanportError(`--width is for the DCGAN presets (${able('withWidth')}); ${name} has fixed widths`);
    preset = preset.withWidth(width);
  }
  if (clusters !== undefined) {
    if (!preset.withClusters)
      throw new GanportError(
        `--clusters is for the unconditional DCGAN presets (${able('withClusters')}); ${name} ${preset.numClasses ? 'is conditioned on its classes already' : 'is not one'}`,
      );
    preset = preset.withClusters(clusters);
  }
  return preset;
}

export { LOGIT_LAYER, type Preset } from './preset.js';
