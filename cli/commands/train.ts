import { train } from '../../train/train.js';
import { intFlag, numberFlag, parse, requireFlag } from '../args.js';

export const usage =
  'ganport train --preset NAME --epochs N --out RUN_DIR [--data DIR] [--seed S] [--batch B] [--backend NAME] [--lr LR] [--limit N] [--log-every N] [--overwrite] [--quiet]';

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      preset: { type: 'string', default: 'seed-mlp' },
      epochs: { type: 'string' },
      out: { type: 'string' },
      data: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      backend: { type: 'string' },
      lr: { type: 'string' },
      limit: { type: 'string' },
      'log-every': { type: 'string' },
      overwrite: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
    usage,
  );
  const result = await train({
    preset: values.preset!,
    epochs: intFlag(values.epochs, 'epochs', 1),
    outDir: requireFlag(values.out, 'out', usage),
    dataDir: values.data,
    seed: intFlag(values.seed, 'seed', 0),
    batchSize: intFlag(values.batch, 'batch', 64),
    backend: values.backend,
    learningRate: numberFlag(values.lr, 'lr', 2e-4),
    limit: intFlag(values.limit, 'limit'),
    logEvery: intFlag(values['log-every'], 'log-every', 50),
    overwrite: values.overwrite,
    quiet: values.quiet,
    log: (line) => console.log(line),
  });
  const { last } = result;
  console.log(`trained ${result.steps} steps: D loss ${last.d_loss.toFixed(4)}, G loss ${last.g_loss.toFixed(4)}, ${last.images_per_sec} img/s`);
  return 0;
}
