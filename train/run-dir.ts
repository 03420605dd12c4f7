/** The layout of a training run directory, shared by the trainer and the exporter. */
import { join } from 'node:path';

export const runPaths = (dir: string) => ({
  config: join(dir, 'config.json'),
  metrics: join(dir, 'metrics.jsonl'),
  generator: join(dir, 'generator'),
  discriminator: join(dir, 'discriminator'),
  generatorJson: join(dir, 'generator', 'model.json'),
  discriminatorJson: join(dir, 'discriminator', 'model.json'),
  sample: (epoch: number) => join(dir, 'samples', `epoch-${String(epoch).padStart(3, '0')}.png`),
});

/** What config.json records about a run; the exporter reads it for the model's metadata. */
export interface RunConfig {
  preset: string;
  latentSize: number;
  imageShape: [number, number, number];
  valueRange: [number, number];
  seed: number;
  batchSize: number;
  epochs: number;
  learningRate: number;
  beta1: number;
  backend: string;
  data: string;
  images: number;
  ganportVersion: string;
}
