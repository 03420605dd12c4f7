/**
 * Errors that describe a problem with the user's input (a missing file, a bad
 * argument, a corrupt model). The CLI prints their message on one line without
 * a stack trace; anything else is a bug and is shown in full.
 */
export class GanportError extends Error {
  constructor(
    message: string,
    readonly code: GanportErrorCode = 'invalid-input',
  ) {
    super(message);
    this.name = 'GanportError';
  }
}

/** @internal `value` if an integer in [min, max], else throws. */
export function integerIn(name: string, value: number, min: number, max = Number.POSITIVE_INFINITY): number {
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  const range = max < Number.POSITIVE_INFINITY ? `from ${min} to ${max}` : `≥ ${min}`;
  throw new GanportError(`${name} must be an integer ${range}, got ${value}`);
}

export type GanportErrorCode = 'invalid-input' | 'invalid-model' | 'not-found' | 'unsupported' | 'unavailable';
