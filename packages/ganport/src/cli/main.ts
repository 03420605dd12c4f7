/** `ganport` — the command-line entry point. Each subcommand lives in commands/. */
import { GanportError } from '@ganport/runtime';
import { packageVersion } from '../util/files.js';
import { UsageError } from './flags.js';
import { demoCommand, usage as demoUsage } from './commands/demo.js';
import { evalCommand, usage as evalUsage } from './commands/eval.js';
import { exportCommand, usage as exportUsage } from './commands/export.js';
import { generateCommand, usage as generateUsage } from './commands/generate.js';
import { parityCommand, usage as parityUsage } from './commands/parity.js';
import { trainCommand, usage as trainUsage } from './commands/train.js';
import { trainClassifierCommand, usage as trainClassifierUsage } from './commands/train-classifier.js';

type Command = { run: (argv: string[]) => Promise<number>; usage: string; summary: string };

const COMMANDS: Record<string, Command> = {
  train: { run: trainCommand, usage: trainUsage, summary: 'train a GAN in Node with TensorFlow.js' },
  'train-classifier': { run: trainClassifierCommand, usage: trainClassifierUsage, summary: 'train the image classifier that ganport eval measures with' },
  export: { run: exportCommand, usage: exportUsage, summary: 'convert trained tfjs models to ONNX' },
  generate: { run: generateCommand, usage: generateUsage, summary: 'write a PNG grid of generated images (onnxruntime-node)' },
  parity: { run: parityCommand, usage: parityUsage, summary: 'compare tfjs, onnxruntime-node, onnxruntime-web and Chromium outputs' },
  eval: { run: evalCommand, usage: evalUsage, summary: 'measure a generator: FCD, precision/recall, class KL for images; modes, high quality, reverse KL for 2-D mixtures' },
  demo: { run: demoCommand, usage: demoUsage, summary: 'serve the browser demo on 127.0.0.1 and print its URL' },
};

function help(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(16)} ${c.summary}\n      ${c.usage}`);
  return `ganport ${packageVersion()} — train GANs with TensorFlow.js, export to ONNX, run anywhere\n\ncommands:\n${lines.join('\n')}\n`;
}

/** Runs the CLI and returns the exit code: 0 ok, 1 a problem with the input, 2 bad usage. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(packageVersion());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`ganport: unknown command "${name}"; run ganport --help`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: ${command.usage}`);
    return 0;
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
