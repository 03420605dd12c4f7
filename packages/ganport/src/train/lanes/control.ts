/**
 * The lanes' shared control words and error message: how the main thread and the workers signal
 * steps, segments, readiness and failure. No imports, so that a worker can load it before anything
 * that could fail to load.
 */

/** The control words: the step the lanes are on, the error flag, then each segment's done step. */
export const CONTROL = { step: 0, failed: 1, firstSegment: 2 } as const;
/** ctrl[step] set to this stops the workers. */
export const STOP = -1;
/** A worker lane's state word: its sessions loaded, then released (the worker is ending). */
export const LANE_READY = 1;
export const LANE_DONE = 2;
/** Spins before sleeping on a flag: a lane is usually waiting for a segment that is about to end. */
const SPINS = 2000;

/** Waits until control word `index` reaches `step`; throws if a lane failed or the lanes stopped. */
export function awaitFlag(control: Int32Array, index: number, step: number, failure: () => string): void {
  // waits on the value the loop read: a fresh read could already see the flag raised, and sleep the 20 ms
  for (let spin = 0, seen = Atomics.load(control, index); seen < step; spin++, seen = Atomics.load(control, index)) {
    if (Atomics.load(control, CONTROL.failed) !== 0) throw new Error(failure());
    if (Atomics.load(control, CONTROL.step) === STOP) throw new Error('the lanes were stopped');
    if (spin > SPINS) Atomics.wait(control, index, seen, 20);
  }
}

/** Waits, at most `ms`, until control word `index` reaches `value`, whatever the other words say. */
export function awaitWord(control: Int32Array, index: number, value: number, ms: number): boolean {
  const deadline = performance.now() + ms;
  for (let now = performance.now(), seen = Atomics.load(control, index); seen < value; ) {
    if (now > deadline) return false;
    Atomics.wait(control, index, seen, deadline - now);
    [now, seen] = [performance.now(), Atomics.load(control, index)];
  }
  return true;
}

export function raiseFlag(control: Int32Array, index: number, step: number): void {
  Atomics.store(control, index, step);
  Atomics.notify(control, index);
}

/** Records a lane's failure where the other lanes look for it: the message cut at a whole character. */
export function fail(control: Int32Array, message: Uint8Array, error: unknown): void {
  const { written } = new TextEncoder().encodeInto(String(error instanceof Error ? error.message : error), message);
  message.fill(0, written);
  Atomics.store(control, CONTROL.failed, 1);
  for (let i = 0; i < control.length; i++) Atomics.notify(control, i);
}

export function failureText(message: Uint8Array): string {
  const end = message.indexOf(0);
  return `a training lane failed: ${new TextDecoder().decode(message.slice(0, end < 0 ? undefined : end))}`;
}
