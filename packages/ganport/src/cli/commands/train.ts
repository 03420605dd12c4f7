import { LOSSES, type LossName } from '../../train/losses.js';
import { train } from '../../train/train.js';
import { UsageError, intFlag, numberFlag, parse } from '../flags.js';

export const usage =
  'ganport train --preset NAME --epochs N --out RUN_DIR [--data DIR] [--seed S] [--batch B] [--backend NAME] [--lr LR] [--loss bce|lsgan|hinge] [--label-smoothing S] [--ema DECAY] [--pack M] [--checkpoint-every N] [--limit N] [--log-every N] [--overwrite] [--quiet]\n       ganport train --resume RUN_DIR [--epochs N]';

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      preset: { type: 'string' },
      epochs: { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'string' },
      data: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      backend: { type: 'string' },
      lr: { type: 'string' },
      loss: { type: 'string' },
      'label-smoothing': { type: 'string' },
      ema: { type: 'string' },
      pack: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      limit: { type: 'string' },
      'log-every': { type: 'string' },
      overwrite: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
    usage,
  );
  if ((values.resume === undefined) === (values.out === undefined)) throw new UsageError(`give either --out RUN_DIR (a new run) or --resume RUN_DIR\nusage: ${usage}`);
  if (values.loss !== undefined && !(LOSSES as readonly string[]).includes(values.loss)) throw new UsageError(`--loss must be one of ${LOSSES.join(', ')}, got "${values.loss}"`);
  const result = await train({
    outDir: (values.out ?? values.resume)!,
    resume: values.resume !== undefined,
    preset: values.preset,
    epochs: intFlag(values.epochs, 'epochs'),
    dataDir: values.data,
    seed: intFlag(values.seed, 'seed'),
    batchSize: intFlag(values.batch, 'batch'),
    backend: values.backend,
    learningRate: values.lr === undefined ? undefined : numberFlag(values.lr, 'lr', 0),
    loss: values.loss as LossName | undefined,
    labelSmoothing: values['label-smoothing'] === undefined ? undefined : numberFlag(values['label-smoothing'], 'label-smoothing', 0),
    emaDecay: values.ema === undefined ? undefined : numberFlag(values.ema, 'ema', 0),
    pack: intFlag(values.pack, 'pack'),
    checkpointEvery: intFlag(values['checkpoint-every'], 'checkpoint-every'),
    limit: intFlag(values.limit, 'limit'),
    logEvery: intFlag(values['log-every'], 'log-every'),
    overwrite: values.overwrite,
    quiet: values.quiet,
    log: (line) => console.log(line),
  });
  const { last } = result;
  console.log(`trained to step ${result.steps}: D loss ${last.d_loss.toFixed(4)}, G loss ${last.g_loss.toFixed(4)}, ${last.images_per_sec} img/s`);
  return 0;
}
