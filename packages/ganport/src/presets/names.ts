/**
 * The presets' names in index.ts's order, apart so that the command line lists them without
 * loading tfjs; index.ts checks that the two agree.
 */
export const PRESET_NAMES = [
  'seed-mlp',
  'mlp',
  'mlp-2d',
  'mlp-2d-deep',
  'pacgan-2d',
  'dcgan',
  'cdcgan',
  'cdcgan-projection',
  'dcgan-32',
  'dcgan-64',
] as const;
