/** Flags that several commands take with the same meaning, declared once. */
import { BACKENDS } from '../tfjs/backend.js';

export const backendFlag = {
  type: 'string',
  value: 'NAME',
  help: `tfjs backend: ${BACKENDS.join(', ')} (default: the fastest present)`,
} as const;

export const quietFlag = { type: 'boolean', help: 'no progress bar' } as const;
