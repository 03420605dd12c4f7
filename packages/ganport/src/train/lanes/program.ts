/**
 * What a lane runs, shared by the main thread's lane and the workers': its segments in order, what
 * each reads and writes, and the shared memory through which the lanes hand values over.
 *
 * onnxruntime-node's binding refuses typed arrays on a SharedArrayBuffer, so each lane feeds its
 * sessions from arrays of its own and copies values in from, and out to, the shared slots.
 */
import { size } from '../../tfjs/onnx-kernels/index.js';
import type { Feed } from '../../tfjs/ort-session.js';

export type LaneDtype = 'float32' | 'int32' | 'int64' | 'bool';

export interface ValueSpec {
  dtype: LaneDtype;
  dims: number[];
}

export interface SegmentStep {
  /** The segment's index in the plan (its done flag). */
  index: number;
  model: Uint8Array;
  /** Segments on other lanes to wait for. */
  waits: number[];
  inputs: string[];
  outputs: string[];
  /** Inputs to copy from their shared slot first (made on another lane, or graph inputs on a worker lane). */
  copyIn: string[];
  /** Outputs to copy to their shared slot afterwards (read on another lane, or graph outputs of a worker lane). */
  copyOut: string[];
}

export interface LaneProgram {
  lane: number;
  steps: SegmentStep[];
  /** The type and shape of every value the steps read or write. */
  values: Record<string, ValueSpec>;
}

/** The control words: the step the lanes are on, the error flag, then each segment's done step. */
export const CONTROL = { step: 0, failed: 1, firstSegment: 2 } as const;
/** ctrl[step] set to this stops the workers. */
export const STOP = -1;
/** A worker lane's state word: its sessions loaded, then released (the worker is ending). */
export const LANE_READY = 1;
export const LANE_DONE = 2;
/** Spins before sleeping on a flag: a lane is usually waiting for a segment that is about to end. */
const SPINS = 2000;

const ARRAY_TYPES = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array, bool: Uint8Array };

export function typedArray(spec: ValueSpec, buffer?: SharedArrayBuffer): Feed['data'] {
  const Type = ARRAY_TYPES[spec.dtype];
  return buffer ? new Type(buffer as unknown as ArrayBuffer, 0, size(spec.dims)) : new Type(size(spec.dims));
}

export const byteSize = (spec: ValueSpec): number => size(spec.dims) * ARRAY_TYPES[spec.dtype].BYTES_PER_ELEMENT;

export function sharedSlot(spec: ValueSpec): Feed['data'] {
  return typedArray(spec, new SharedArrayBuffer(Math.max(8, byteSize(spec))));
}

/** Waits until control word `index` reaches `step`; throws if a lane failed or the lanes stopped. */
export function awaitFlag(control: Int32Array, index: number, step: number, failure: () => string): void {
  for (let spin = 0; Atomics.load(control, index) < step; spin++) {
    if (Atomics.load(control, CONTROL.failed) !== 0) throw new Error(failure());
    if (Atomics.load(control, CONTROL.step) === STOP) throw new Error('the lanes were stopped');
    if (spin > SPINS) Atomics.wait(control, index, Atomics.load(control, index), 20);
  }
}

/** Waits, at most `ms`, until control word `index` reaches `value`, whatever the other words say. */
export function awaitWord(control: Int32Array, index: number, value: number, ms: number): boolean {
  const deadline = performance.now() + ms;
  for (let now = performance.now(); Atomics.load(control, index) < value; now = performance.now()) {
    if (now > deadline) return false;
    Atomics.wait(control, index, Atomics.load(control, index), deadline - now);
  }
  return true;
}

export function raiseFlag(control: Int32Array, index: number, step: number): void {
  Atomics.store(control, index, step);
  Atomics.notify(control, index);
}

/** Records a lane's failure where the other lanes look for it. */
export function fail(control: Int32Array, message: Uint8Array, error: unknown): void {
  const text = new TextEncoder().encode(String(error instanceof Error ? error.message : error));
  message.set(text.subarray(0, message.length));
  Atomics.store(control, CONTROL.failed, 1);
  for (let i = 0; i < control.length; i++) Atomics.notify(control, i);
}

export function failureText(message: Uint8Array): string {
  const end = message.indexOf(0);
  return `a training lane failed: ${new TextDecoder().decode(message.slice(0, end < 0 ? undefined : end))}`;
}

/** What runs a segment (an OrtSession). */
export interface SegmentSession {
  run(inputs: Feed[], outputs: Feed[]): void;
}

/**
 * Runs one step of a lane: each segment after those it waits for, its inputs copied in from other
 * lanes and its outputs out to them. `arrays` holds every value the lane's segments read or write.
 */
export function runLane(
  program: LaneProgram,
  sessions: SegmentSession[],
  arrays: Map<string, Feed['data']>,
  slots: Map<string, Feed['data']>,
  control: Int32Array,
  step: number,
  failure: () => string,
): void {
  const feed = (name: string): Feed => ({ name, data: arrays.get(name)!, dims: program.values[name].dims });
  for (const [k, s] of program.steps.entries()) {
    for (const w of s.waits) awaitFlag(control, CONTROL.firstSegment + w, step, failure);
    for (const name of s.copyIn) copy(slots.get(name)!, arrays.get(name)!);
    sessions[k].run(s.inputs.map(feed), s.outputs.map(feed));
    for (const name of s.copyOut) copy(arrays.get(name)!, slots.get(name)!);
    raiseFlag(control, CONTROL.firstSegment + s.index, step);
  }
}

/** Copies a value between a lane's own array and its shared slot (the same type and length). */
export function copy(from: Feed['data'], to: Feed['data']): void {
  (to as Float32Array).set(from as Float32Array);
}
