/**
 * What a lane runs, shared by the main thread's lane and the workers': its segments in order, what
 * each reads and writes, and the shared memory through which the lanes hand values over.
 *
 * onnxruntime-node's binding refuses typed arrays on a SharedArrayBuffer, so each lane feeds its
 * sessions from arrays of its own and copies values in from, and out to, the shared slots.
 */
import { size } from '../../tfjs/onnx-kernels/index.js';
import type { Feed } from '../../tfjs/ort-session.js';
import { awaitFlag, CONTROL, raiseFlag } from './control.js';

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

const ARRAY_TYPES = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array, bool: Uint8Array };

export function typedArray(spec: ValueSpec, buffer?: SharedArrayBuffer): Feed['data'] {
  const Type = ARRAY_TYPES[spec.dtype];
  return buffer ? new Type(buffer as unknown as ArrayBuffer, 0, size(spec.dims)) : new Type(size(spec.dims));
}

export const byteSize = (spec: ValueSpec): number => size(spec.dims) * ARRAY_TYPES[spec.dtype].BYTES_PER_ELEMENT;

export function sharedSlot(spec: ValueSpec): Feed['data'] {
  return typedArray(spec, new SharedArrayBuffer(Math.max(8, byteSize(spec))));
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
