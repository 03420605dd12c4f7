/**
 * A declarative command line: each command is one table of flags, from which come the parsing
 * (node:util parseArgs underneath, each value converted to its type), the usage line and --help.
 * The domain functions check what the values mean; this only checks the command line's shape.
 */
import { parseArgs } from 'node:util';
import { GanportError } from '@ganport/runtime';

/** A malformed command line: exit status 2. */
export class UsageError extends GanportError {}

interface FlagValueTypes {
  string: string;
  int: number;
  number: number;
  boolean: boolean;
}

interface FlagBase {
  help: string;
  /** The name the value arrives under, the domain option it feeds; default: the flag's own name. */
  option?: string;
  /** The command line must give it (a flag with a default need not). */
  required?: boolean;
}

/** `value` is how the flag's value reads in the usage line and help: N, DIR, FILE.png, nhwc|nchw. */
export type Flag =
  | (FlagBase & { type: 'string'; value: string; default?: string })
  | (FlagBase & { type: 'int' | 'number'; value: string; default?: number })
  | (FlagBase & { type: 'boolean' });

export type FlagTable = Record<string, Flag>;

/** An operand after the command: a model, a run directory. */
export interface Positional {
  name: string;
  help: string;
  required?: boolean;
}

/** Always present: required flags, flags with a default, and booleans (false when absent). */
type FlagValue<F extends Flag> = F extends { required: true } | { default: unknown } | { type: 'boolean' }
  ? FlagValueTypes[F['type']]
  : FlagValueTypes[F['type']] | undefined;

type OptionName<Name extends string, F extends Flag> = F extends { option: infer O extends string } ? O : Name;

/** The parsed command line, keyed by option name, each value of its flag's type. */
type FlagValues<T extends FlagTable> = {
  [Name in keyof T & string as OptionName<Name, T[Name]>]: FlagValue<T[Name]>;
};

type PositionalValue<P extends Positional | undefined> = P extends { required: true } ? string : string | undefined;

interface CommandSpec<T extends FlagTable, P extends Positional | undefined> {
  name: string;
  /** One line for `ganport --help`. */
  summary: string;
  positional?: P;
  flags: T;
  examples: readonly [string, ...string[]];
  /** Does the work and returns the exit status. */
  run(values: FlagValues<T>, positional: PositionalValue<P>): Promise<number>;
}

/** A command's declaration less its `run`: what its usage line and help are made of. */
type CommandText = Omit<CommandSpec<FlagTable, Positional | undefined>, 'run'>;

export interface Command extends CommandText {
  /** `usage: ganport NAME ...`, wrapped. */
  usage: string;
  /** What `ganport NAME --help` prints. */
  help: string;
  /** Parses `argv` (the words after the command's name) and runs the command; --help prints the help. */
  run(argv: string[]): Promise<number>;
}

export function defineCommand<const T extends FlagTable, const P extends Positional | undefined = undefined>(
  spec: CommandSpec<T, P>,
): Command {
  const { run, ...text } = spec;
  const usage = usageText(text);
  const help = helpText(text, usage);
  const usageError = (message: string) => new UsageError(`${message}\n${usage}`);
  return {
    ...text,
    usage,
    help,
    async run(argv) {
      if (argv.includes('--help') || argv.includes('-h')) {
        process.stdout.write(help);
        return 0;
      }
      const { values, positional } = parseCommandLine(text, argv, usageError);
      try {
        return await run(values as FlagValues<T>, positional as PositionalValue<P>);
      } catch (err) {
        throw err instanceof UsageError ? usageError(err.message) : err;
      }
    },
  };
}

/** The flag (`--data`) whose value arrives as `option` (`dataDir`). */
export function flagFor(flags: FlagTable, option: string): string {
  const name = Object.keys(flags).find((flag) => (flags[flag].option ?? flag) === option);
  if (name === undefined) throw new Error(`no flag feeds the option "${option}"`);
  return `--${name}`;
}

function parseCommandLine(
  spec: CommandText,
  argv: string[],
  usageError: (message: string) => UsageError,
): { values: Record<string, unknown>; positional: string | undefined } {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, flag] of Object.entries(spec.flags)) {
    options[name] = { type: flag.type === 'boolean' ? 'boolean' : 'string' };
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const { code, message } = err as Error & { code?: string };
    // node follows an unknown flag with advice on positionals that start with '-'; its other messages help as they are
    throw usageError(code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? message.split('. ')[0] : message.replaceAll('\n', ' '));
  }
  const [positional, extra] = parsed.positionals;
  if (extra !== undefined || (positional !== undefined && !spec.positional)) {
    throw usageError(`unexpected argument "${extra ?? positional}"`);
  }
  if (spec.positional?.required && positional === undefined) throw usageError(`${spec.positional.name} is required`);
  // an empty word (a shell variable that was not set) names nothing: "" as a model or a path is not "here"
  if (positional?.trim() === '') throw usageError(`${spec.positional!.name} is empty`);
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(spec.flags)) {
    const given = parsed.values[name];
    if (flag.required && (given === undefined || given === '')) throw usageError(`--${name} is required`);
    const absent = flag.type === 'boolean' ? false : flag.default;
    values[flag.option ?? name] = typeof given === 'string' ? convert(name, flag, given) : (given ?? absent);
  }
  return { values, positional };
}

/** A bad value is one line: the flag, what it must be, what it got. */
function convert(name: string, flag: Flag, text: string): string | number {
  if (flag.type === 'int') {
    if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${name} must be an integer, got "${text}"`);
    if (!Number.isSafeInteger(Number(text)))
      throw new UsageError(`--${name} is too large: an integer flag takes at most ±(2^53 − 1), got "${text}"`);
    return Number(text);
  }
  if (flag.type === 'number') {
    // decimal only: Number() also reads hex, binary and octal ('0x10' is 16)
    if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(text) || !Number.isFinite(Number(text))) {
      throw new UsageError(`--${name} must be a number, got "${text}"`);
    }
    return Number(text);
  }
  if (text.trim() === '') throw new UsageError(`--${name} needs a value, got "${text}"`);
  return text;
}

const USAGE_WIDTH = 100;

/** `--name VALUE`, as the usage line and the help show it. */
const flagWords = (name: string, flag: Flag) => (flag.type === 'boolean' ? `--${name}` : `--${name} ${flag.value}`);

function usageText(spec: CommandText): string {
  const { positional } = spec;
  const words = Object.entries(spec.flags)
    .sort(([, a], [, b]) => Number(Boolean(b.required)) - Number(Boolean(a.required)))
    .map(([name, flag]) => (flag.required ? flagWords(name, flag) : `[${flagWords(name, flag)}]`));
  if (positional) words.unshift(positional.required ? positional.name : `[${positional.name}]`);
  const head = `usage: ganport ${spec.name}`;
  const lines = [head];
  for (const word of words) {
    if (lines[lines.length - 1].length + 1 + word.length > USAGE_WIDTH) lines.push(' '.repeat(head.length));
    lines[lines.length - 1] += ` ${word}`;
  }
  return lines.join('\n');
}

function helpText(spec: CommandText, usage: string): string {
  const rows: [string, string][] = Object.entries(spec.flags).map(([name, flag]) => [
    flagWords(name, flag),
    flag.type !== 'boolean' && flag.default !== undefined ? `${flag.help} (default ${flag.default})` : flag.help,
  ]);
  if (spec.positional) rows.unshift([spec.positional.name, spec.positional.help]);
  const width = Math.max(...rows.map(([words]) => words.length)) + 2;
  return [
    `ganport ${spec.name}: ${spec.summary}`,
    '',
    usage,
    '',
    ...rows.map(([words, help]) => `  ${words.padEnd(width)}${help}`),
    '',
    'examples:',
    ...spec.examples.map((example) => `  ${example}`),
    '',
  ].join('\n');
}
