import { trainClassifier } from '../../train/classifier.js';
import { intFlag, numberFlag, parse, requireFlag } from '../flags.js';

export const usage = 'ganport train-classifier --out DIR [--data DIR] [--epochs N (5)] [--batch B (64)] [--lr LR (0.001)] [--seed S] [--backend NAME] [--limit N] [--overwrite] [--quiet]';

/** Trains the classifier `ganport eval` measures images with, on labelled IDX data (train and t10k splits). */
export async function trainClassifierCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      out: { type: 'string' },
      data: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      limit: { type: 'string' },
      overwrite: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
    usage,
  );
  const { record } = await trainClassifier({
    outDir: requireFlag(values.out, 'out', usage),
    dataDir: values.data,
    epochs: intFlag(values.epochs, 'epochs'),
    batchSize: intFlag(values.batch, 'batch'),
    learningRate: values.lr === undefined ? undefined : numberFlag(values.lr, 'lr', 0),
    seed: intFlag(values.seed, 'seed'),
    backend: values.backend,
    limit: intFlag(values.limit, 'limit'),
    overwrite: values.overwrite,
    quiet: values.quiet,
    log: (line) => console.log(line),
  });
  console.log(`test accuracy ${(100 * record.testAccuracy).toFixed(2)} % on ${record.testImages} ${record.dataName} test images after ${record.epochs} epochs (${record.trainSeconds} s on ${record.backend})`);
  return 0;
}
