/** `ganport` — the command-line entry point. Each subcommand lives in commands/, declared with flags.ts. */
import { GanportError } from '@ganport/runtime';
import * as ort from 'onnxruntime-node';
import { packageVersion } from '../util/files.js';
import { demoCommand } from './commands/demo.js';
import { doctorCommand } from './commands/doctor.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { generateCommand } from './commands/generate.js';
import { inspectCommand } from './commands/inspect.js';
import { parityCommand } from './commands/parity.js';
import { trainCommand } from './commands/train.js';
import { trainClassifierCommand } from './commands/train-classifier.js';
import { type Command, UsageError } from './flags.js';

export const COMMANDS: readonly Command[] = [
  trainCommand,
  trainClassifierCommand,
  exportCommand,
  inspectCommand,
  generateCommand,
  parityCommand,
  evalCommand,
  demoCommand,
  doctorCommand,
];

function help(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(18)}${c.summary}`);
  return [
    `ganport ${packageVersion()} — train GANs with TensorFlow.js, export to ONNX, run anywhere`,
    '',
    'commands:',
    ...lines,
    '',
    'ganport COMMAND --help shows the flags of a command, with examples.',
    '',
  ].join('\n');
}

/** Runs the CLI and returns the exit code: 0 ok, 1 a problem with the input, 2 bad usage. */
export async function main(argv: string[]): Promise<number> {
  // onnxruntime's own log (a provider whose libraries are missing prints a block of it) would add lines
  // to ganport's one-line errors; its failures reach ganport as exceptions, which say what went wrong
  ort.env.logLevel = 'fatal';
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(packageVersion());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`ganport: unknown command "${name}"; run ganport --help`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof GanportError) {
      console.error(`ganport ${name}: ${err.message}`);
      return err instanceof UsageError ? 2 : 1;
    }
    throw err;
  }
}
