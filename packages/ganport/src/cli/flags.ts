/** Small helpers over node:util parseArgs that turn bad flags into one clear line. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GanportError } from '@ganport/runtime';

export class UsageError extends GanportError {}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

export function parse<T extends Options>(argv: string[], options: T, usage: string): Parsed<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}\nusage: ${usage}`);
  }
}

/** An integer flag, or `fallback` when absent. */
export function intFlag(value: string | undefined, name: string, fallback: number): number;
export function intFlag(value: string | undefined, name: string): number | undefined;
export function intFlag(value: string | undefined, name: string, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} must be an integer, got "${value}"`);
  return n;
}

export function numberFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
  return n;
}

export function requireFlag(value: string | undefined, name: string, usage: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required\nusage: ${usage}`);
  return value;
}
