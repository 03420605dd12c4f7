/** The registry of architectures `ganport train --preset NAME` knows. */
import { GanportError } from '../runtime/errors.js';
import type { Preset } from './preset.js';
import { seedMlp } from './seed-mlp.js';

export const PRESETS: Record<string, Preset> = {
  [seedMlp.name]: seedMlp,
};

export function getPreset(name: string): Preset {
  const preset = PRESETS[name];
  if (!preset) throw new GanportError(`unknown preset "${name}"; available: ${Object.keys(PRESETS).join(', ')}`);
  return preset;
}

export { LOGIT_LAYER, type Preset } from './preset.js';
