/** The GAN losses' names (losses.ts implements them), apart so that the command line lists them without loading tfjs. */
export const LOSSES = ['bce', 'lsgan', 'hinge'] as const;
export type LossName = (typeof LOSSES)[number];
