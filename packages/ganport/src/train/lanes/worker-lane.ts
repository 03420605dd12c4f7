/**
 * A worker thread's lane, loaded by worker.ts: one onnxruntime session (one thread) per segment, run
 * step after step as the main thread raises the step word, until it is set to STOP; then the worker
 * releases its sessions and ends.
 */
import { workerData } from 'node:worker_threads';
import { OrtSession } from '../../tfjs/ort-session.js';
import { CONTROL, fail, failureText, LANE_DONE, LANE_READY, raiseFlag, STOP } from './control.js';
import { runLane, typedArray } from './program.js';
import type { WorkerData } from './worker.js';

const { program, slots, control: controlBuffer, message: messageBuffer, state } = workerData as WorkerData;
const control = new Int32Array(controlBuffer);
const message = new Uint8Array(messageBuffer);
const failure = () => failureText(message);
const sessions: OrtSession[] = [];
try {
  for (const s of program.steps) sessions.push(new OrtSession(s.model, { threads: 1 }));
  const arrays = new Map(Object.entries(program.values).map(([name, spec]) => [name, typedArray(spec)]));
  const shared = new Map(Object.entries(slots).map(([name, { buffer, spec }]) => [name, typedArray(spec, buffer)]));
  raiseFlag(control, state, LANE_READY);
  for (let last = 0; ; ) {
    while (Atomics.load(control, CONTROL.step) === last) Atomics.wait(control, CONTROL.step, last);
    const step = Atomics.load(control, CONTROL.step);
    if (step === STOP) break;
    runLane(program, sessions, arrays, shared, control, step, failure);
    last = step;
  }
} catch (error) {
  if (Atomics.load(control, CONTROL.step) !== STOP) fail(control, message, error);
} finally {
  // released here, by the worker itself: terminating a worker inside onnxruntime's native code aborts the process
  for (const session of sessions) session.dispose();
  raiseFlag(control, state, LANE_DONE);
}
