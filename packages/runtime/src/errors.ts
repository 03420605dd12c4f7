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

export type GanportErrorCode = 'invalid-input' | 'invalid-model' | 'not-found' | 'unsupported' | 'unavailable';
