/** The checks the trainers apply to their numeric options, with one wording for the errors. */
import { GanportError } from '@ganport/runtime';

export function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0)
    throw new GanportError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export function nonNegativeInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0)
    throw new GanportError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}

export function positiveNumber(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new GanportError(`${name} must be a positive number, got ${value}`);
  return value;
}

export function nonNegativeNumber(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0))
    throw new GanportError(`${name} must be a non-negative number, got ${value}`);
  return value;
}
