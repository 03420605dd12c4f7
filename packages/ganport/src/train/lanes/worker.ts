/**
 * A worker thread's entry: loads its lane (worker-lane.ts) and makes sure that however the worker
 * ends (its lane failing to load, an uncaught error, `process.exit`), the main thread, blocked in a
 * synchronous wait on the control words, sees it there: a failure, and the lane done. Its only
 * import is control.ts, which has none.
 */
import { workerData } from 'node:worker_threads';
import { CONTROL, fail, LANE_DONE, raiseFlag, STOP } from './control.js';
import type { LaneProgram, ValueSpec } from './program.js';

export interface WorkerData {
  program: LaneProgram;
  slots: Record<string, { buffer: SharedArrayBuffer; spec: ValueSpec }>;
  control: SharedArrayBuffer;
  message: SharedArrayBuffer;
  /** The control word the worker raises to LANE_READY once its sessions are loaded, to LANE_DONE once released. */
  state: number;
  /** The lane's module: worker-lane.js (tests give one that fails). */
  lane: string;
}

const { control: controlBuffer, message: messageBuffer, state, lane } = workerData as WorkerData;
const control = new Int32Array(controlBuffer);
const message = new Uint8Array(messageBuffer);

function ended(why: string): void {
  if (Atomics.load(control, state) === LANE_DONE) return;
  if (Atomics.load(control, CONTROL.step) !== STOP) fail(control, message, why);
  raiseFlag(control, state, LANE_DONE);
}

process.on('exit', (code) => ended(`its worker thread ended unexpectedly (exit code ${code})`));
try {
  await import(lane);
} catch (error) {
  ended(`its worker thread could not load its lane: ${error instanceof Error ? error.message : error}`);
}
