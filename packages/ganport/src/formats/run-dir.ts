/** The layout of a training run directory, shared by the trainer and the exporter. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GanportError } from '@ganport/runtime';

export type RunPaths = ReturnType<typeof runPaths>;

export const runPaths = (dir: string) => ({
  config: join(dir, 'config.json'),
  metrics: join(dir, 'metrics.jsonl'),
  generator: join(dir, 'generator'),
  discriminator: join(dir, 'discriminator'),
  generatorJson: join(dir, 'generator', 'model.json'),
  discriminatorJson: join(dir, 'discriminator', 'model.json'),
  sample: (epoch: number) => join(dir, 'samples', `epoch-${String(epoch).padStart(3, '0')}.png`),
  lossPlot: join(dir, 'loss.svg'),
  /** What --overwrite removes: everything a run writes, nothing else in the directory. */
  replaceable: [
    'metrics.jsonl',
    'loss.svg',
    'samples',
    'generator',
    'discriminator',
    'checkpoint',
    'checkpoint.tmp',
    'checkpoint.old',
  ].map((f) => join(dir, f)),
});

/** What config.json records about a run; the exporter reads it for the model's metadata. */
export interface RunConfig {
  preset: string;
  latentSize: number;
  /** Per-sample output shape: [h, w, c] images, or [2] points. */
  sampleShape: number[];
  valueRange: [number, number];
  seed: number;
  batchSize: number;
  epochs: number;
  learningRate: number;
  beta1: number;
  backend: string;
  /** Absolute path of the data directory, or the mixture's name. */
  data: string;
  images: number;
  numClasses?: number;
  /** PacGAN packing degree of the discriminator (1: none). */
  pack: number;
  /** One of train/losses.ts's LOSSES. */
  loss: string;
  labelSmoothing: number;
  /** Decay of the generator's exponential moving average (0: none); the EMA generator is what samples and exports use. */
  emaDecay: number;
  checkpointEvery: number;
  /** A metrics.jsonl line every this many steps (and at each epoch's end). */
  logEvery: number;
  ganportVersion: string;
}

/** Reads a run's config.json, filling in what older runs recorded under other names or not at all. */
export async function readRunConfig(runDir: string): Promise<RunConfig> {
  const path = runPaths(runDir).config;
  let config: RunConfig & { imageShape?: number[] };
  try {
    config = JSON.parse(await readFile(path, 'utf8')) as RunConfig & { imageShape?: number[] };
  } catch (err) {
    throw new GanportError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'invalid-input',
    );
  }
  config.sampleShape ??= config.imageShape!; // ganport 0.1.0 runs from before the 2-D presets called it imageShape
  config.logEvery ??= 50;
  config.pack ??= 1;
  return config;
}
