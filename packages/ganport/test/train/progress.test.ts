/**
 * The training progress bar: redrawn in place on a terminal, plain throttled lines in a log, nothing when
 * quiet; a line printed while it shows (the onnx engine's trial report) goes above it, and the bar comes back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProgress, ProgressBar, type ProgressState } from '../../src/train/progress.js';

const state = (step: number, losses: ProgressState['losses'] = { D: 0.5, G: undefined }): ProgressState => ({
  epoch: 1,
  epochs: 2,
  step,
  steps: 10,
  imagesPerSecond: 1234.4,
  losses,
  etaSeconds: 75,
});

function stream(isTTY: boolean): { out: string[]; stream: NodeJS.WriteStream } {
  const out: string[] = [];
  return { out, stream: { isTTY, write: (chunk: string) => out.push(chunk) > 0 } as unknown as NodeJS.WriteStream };
}

test('a progress line: the bar filled by the step, the speed, the losses (a dash before the first), the time left', () => {
  assert.equal(formatProgress(state(5), 10), 'epoch 1/2 █████░░░░░  5/10 | 1234 img/s | D 0.500 G   -   | ETA 01:15');
});

test('on a terminal the bar redraws in place, at most every 100 ms unless forced, and a printed line goes above it', () => {
  const { out, stream: s } = stream(true);
  const bar = new ProgressBar(s, 10);
  bar.update(state(1));
  bar.update(state(2)); // within 100 ms: skipped
  bar.update(state(3), true);
  assert.equal(out.length, 2);
  assert.ok(out.every((chunk) => chunk.startsWith('\r') && chunk.endsWith('\x1b[K')));
  const printed: string[] = [];
  bar.interrupt(() => printed.push('onnx engine: 2 lanes chosen'));
  assert.deepEqual(printed, ['onnx engine: 2 lanes chosen']);
  // the bar's line cleared before the print, then drawn again
  assert.equal(out[2], '\r\x1b[K');
  assert.equal(out[3], formatProgress(state(3), 10));
  bar.done();
  assert.equal(out.at(-1), '\n');
  bar.interrupt(() => printed.push('after'));
  assert.equal(out.length, 5, 'after done, nothing to clear or redraw');
});

test('in a log the bar prints plain lines at most every 5 s unless forced; a printed line needs no clearing', () => {
  const { out, stream: s } = stream(false);
  const bar = new ProgressBar(s, 10);
  bar.update(state(1));
  bar.update(state(2));
  bar.update(state(10), true);
  assert.deepEqual(out, [`${formatProgress(state(1), 10)}\n`, `${formatProgress(state(10), 10)}\n`]);
  let printed = 0;
  bar.interrupt(() => printed++);
  bar.done();
  assert.equal(printed, 1);
  assert.equal(out.length, 2);
});

test('quiet: no bar at all', () => {
  const { out, stream: s } = stream(true);
  const bar = new ProgressBar(s, 10, true);
  bar.update(state(1), true);
  bar.interrupt(() => {});
  bar.done();
  assert.deepEqual(out, []);
});
