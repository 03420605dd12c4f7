import { DEFAULT_TOLERANCE, RUNTIMES, formatParity, parseRuntimes, runParity } from '../../parity/parity.js';
import { UsageError, intFlag, numberFlag, parse } from '../flags.js';

export const usage = `ganport parity MODEL_DIR [--seed S] [--count N] [--tolerance T (default ${DEFAULT_TOLERANCE})] [--runtimes ${RUNTIMES.join(',')}] [--backend NAME] [--chromium PATH] [--json]`;

export async function parityCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      seed: { type: 'string' },
      count: { type: 'string' },
      tolerance: { type: 'string' },
      runtimes: { type: 'string' },
      backend: { type: 'string' },
      chromium: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    usage,
  );
  if (positionals.length !== 1) throw new UsageError(`expected one MODEL_DIR\nusage: ${usage}`);
  const report = await runParity(positionals[0], {
    seed: intFlag(values.seed, 'seed', 0),
    count: intFlag(values.count, 'count', 16),
    tolerance: numberFlag(values.tolerance, 'tolerance', DEFAULT_TOLERANCE),
    runtimes: values.runtimes ? parseRuntimes(values.runtimes) : undefined,
    backend: values.backend,
    chromium: values.chromium,
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatParity(report));
  return report.ok ? 0 : 1;
}
