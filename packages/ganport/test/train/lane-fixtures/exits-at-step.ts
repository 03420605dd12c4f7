/** A worker lane that reports ready, then ends its thread at the first step, outside any error handling. */
import { workerData } from 'node:worker_threads';
import { CONTROL, LANE_READY, raiseFlag } from '../../../src/train/lanes/control.js';
import type { WorkerData } from '../../../src/train/lanes/worker.js';

const { control: buffer, state } = workerData as WorkerData;
const control = new Int32Array(buffer);
raiseFlag(control, state, LANE_READY);
while (Atomics.load(control, CONTROL.step) === 0) Atomics.wait(control, CONTROL.step, 0);
process.exit(9);
