/**
 * Choosing the way to run the step: the trial's turns, rounds and choice, its log lines, and a way
 * that fails left out while others are left, the step run again on one of them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Feed } from '../../src/tfjs/ort-session.js';
import {
  type Candidate,
  fastestByLowerQuartile,
  RETRIAL_EVERY,
  StepNotRepeatable,
  Trial,
  trialReport,
  trialRounds,
  Ways,
} from '../../src/train/ways.js';

test('the trial reports its choice, and after a re-trial whether the way changed', () => {
  assert.equal(
    trialReport(undefined, 'a', 'a 1.0 ms; b 2.0 ms'),
    'onnx engine: a chosen; lower quartiles of the first steps: a 1.0 ms; b 2.0 ms',
  );
  assert.equal(
    trialReport('a', 'a', 'a 1.0 ms; b 2.0 ms'),
    'onnx engine: a kept; lower quartiles of the re-trial: a 1.0 ms; b 2.0 ms',
  );
  assert.equal(
    trialReport('a', 'b', 'a 2.0 ms; b 1.0 ms'),
    'onnx engine: b chosen over a; lower quartiles of the re-trial: a 2.0 ms; b 1.0 ms',
  );
});

test("the trial takes turns, leaves out each way's warm-up steps, and picks the lowest lower quartile", () => {
  const ways = ['a', 'b', 'c'].map((threading) => ({ executor: { run() {}, dispose() {} }, threading }));
  const trial = new Trial(ways);
  assert.equal(trial.stepsLeft, 3 * (5 + 9)); // before any times: 9 timed rounds each
  const turns: string[] = [];
  let chosen: number | undefined;
  while (chosen === undefined) {
    const { threading } = trial.turn;
    const turn = turns.filter((t) => t === threading).length;
    turns.push(threading);
    // b: fast in its warm-up turns (5), slower than a and c afterwards; c a little slower than a
    chosen = trial.record(threading === 'b' ? (turn < 5 ? 1 : 50) : threading === 'a' ? 40 : 41);
  }
  assert.equal(chosen, 0);
  // 600 ms of a's 40 ms steps (the fastest way's, which needs the most): 15 timed rounds each
  assert.equal(turns.length, 3 * (5 + 15));
  assert.equal(trial.stepsLeft, 0);
  assert.deepEqual(turns.slice(0, 6), ['a', 'b', 'c', 'a', 'b', 'c']);
  assert.equal(trial.summary(), 'a 40.0 ms; b 50.0 ms; c 41.0 ms');
});

test('a trial whose steps grow slower ends after a whole round, never counting below zero', () => {
  const ways = ['a', 'b'].map((threading) => ({ executor: { run() {}, dispose() {} }, threading }));
  const trial = new Trial(ways);
  let chosen: number | undefined;
  let steps = 0;
  // 10 ms steps ask for 60 rounds; from the 20th timed step on, 1 s steps ask for 9, fewer than already run
  while (chosen === undefined && steps < 1000) {
    chosen = trial.record(steps < 2 * (5 + 10) ? 10 : 1000);
    steps++;
    assert.ok(trial.stepsLeft >= 0, `${trial.stepsLeft} steps left after ${steps}`);
  }
  assert.notEqual(chosen, undefined);
  assert.equal(steps % 2, 0);
  assert.equal(trial.stepsLeft, 0);
});

test('short steps get more timed rounds in the trial, up to a cap; long ones the minimum', () => {
  assert.equal(trialRounds([]), 9);
  assert.equal(trialRounds([1.5], 9), 9); // a re-trial's cap
  assert.equal(trialRounds([50, 50, 60, 500]), 12); // 600 ms of the lower quartile's 50 ms
  assert.equal(trialRounds([200, 210]), 9);
  assert.equal(trialRounds([1.5, 1.6, 1.4]), 60);
});

test('the thread setting is chosen by its lower quartile: not by one lucky run, nor by a few unlucky ones', () => {
  // one setting with a single fast run among slow ones, one steadily a little slower than that run
  const lucky = [40, 70, 72, 75, 71, 70, 73];
  const steady = [50, 49, 51, 50, 52, 50, 51];
  assert.equal(fastestByLowerQuartile([lucky, steady]), 1);
  assert.equal(fastestByLowerQuartile([steady, lucky]), 0);
  // the lanes' bimodal runs (fast, or slowed when a turn finds the other core busy) against one thread's
  const bimodal = [34, 62, 35, 51, 65, 36, 36];
  const oneThread = [42, 49, 42, 42, 53, 43, 41];
  assert.equal(fastestByLowerQuartile([oneThread, bimodal]), 1);
  assert.equal(fastestByLowerQuartile([[3], [2], [4]]), 1);
});

/**
 * Fake ways: way i writes i + 1 into the output (or throws while `failing` says so, its error where it
 * gives one) and counts its runs.
 */
function fakeWays(names: string[], failing: (name: string, run: number) => boolean | Error = () => false) {
  const runs = new Map(names.map((n) => [n, 0]));
  const disposed: string[] = [];
  const ways: Candidate[] = names.map((threading, i) => ({
    threading,
    executor: {
      run(_inputs: Feed[], outputs: Feed[], whileWaiting?: () => void) {
        const run = runs.get(threading)!;
        runs.set(threading, run + 1);
        whileWaiting?.(); // as the lanes do: while the other lane finishes, so before a failure there
        const failure = failing(threading, run);
        if (failure) throw failure === true ? new Error(`${threading} broke\nat a second line`) : failure;
        (outputs[0].data as Float32Array)[0] = i + 1;
      },
      dispose: () => void disposed.push(threading),
    },
  }));
  const output = { name: 'y', data: new Float32Array(1), dims: [1] };
  /** Runs a step and returns what it wrote (NaN: nothing). */
  const step = (chooser: Ways, whileWaiting?: () => void) => {
    output.data[0] = Number.NaN;
    chooser.run([], [output], whileWaiting);
    return output.data[0];
  };
  return { ways, runs, disposed, output, step };
}

test('a way that fails in the first trial is left out: the step runs again, the trial starts over on the others', () => {
  const { ways, runs, disposed, step } = fakeWays(['a', 'b', 'c'], (name) => name === 'b');
  const lines: string[] = [];
  const chooser = new Ways(ways, (line) => lines.push(line));
  let waits = 0;
  assert.equal(
    step(chooser, () => waits++),
    1,
  ); // a
  assert.equal(
    step(chooser, () => waits++),
    1,
    "b failed, then a ran the step: the new trial's first turn",
  );
  assert.equal(waits, 2, 'once a step, though the second ran twice');
  assert.deepEqual([runs.get('a'), runs.get('b')], [2, 1]);
  assert.deepEqual(disposed, ['b']);
  assert.deepEqual(lines, [
    'onnx engine: b failed (b broke) and is left out; the trial starts again: trying a; c in turn',
  ]);
  assert.equal(chooser.threading, 'trying a; c in turn');
  while (chooser.trialStepsLeft > 0) step(chooser);
  assert.match(lines[1], /^onnx engine: (a|c) chosen; lower quartiles of the first steps: a .* ms; c .* ms$/);
  assert.equal(runs.get('b'), 1);
});

test('outside the first trial, a failing way is left out and the run goes on with another; the last one left fails the step', () => {
  const broken = new Set<string>();
  const { ways, step } = fakeWays(['a', 'b'], (name) => broken.has(name));
  const lines: string[] = [];
  const chooser = new Ways(ways, (line) => lines.push(line));
  while (chooser.trialStepsLeft > 0) step(chooser);
  const chosen = chooser.threading;
  const other = chosen === 'a' ? 'b' : 'a';
  broken.add(chosen);
  assert.equal(step(chooser), other === 'a' ? 1 : 2);
  assert.equal(
    lines[1],
    `onnx engine: ${chosen} failed (${chosen} broke) and is left out; the run goes on with ${other}`,
  );
  assert.equal(chooser.threading, other);
  chooser.retry();
  assert.equal(chooser.trialStepsLeft, 0, 'no re-trial with one way left');
  broken.add(other);
  assert.throws(() => step(chooser), new RegExp(`${other} broke`));
});

test('a way failing in a re-trial ends it; the next re-trial comes RETRIAL_EVERY steps later', () => {
  let failAt = Number.POSITIVE_INFINITY;
  const { ways, runs, step } = fakeWays(['a', 'b', 'c'], (name, run) => name === 'c' && run >= failAt);
  const lines: string[] = [];
  const chooser = new Ways(ways, (line) => lines.push(line));
  while (chooser.trialStepsLeft > 0) step(chooser);
  for (let i = 0; i < RETRIAL_EVERY; i++) step(chooser);
  failAt = runs.get('c')!; // c fails at its next turn: in the re-trial the next step starts
  for (let steps = 0; lines.length < 2; steps++) {
    assert.ok(steps < 10, 'c failed in the re-trial');
    step(chooser);
  }
  assert.equal(chooser.trialStepsLeft, 0, 'the failure ended the re-trial at once');
  assert.match(lines[1], /^onnx engine: c failed \(c broke\) and is left out; the run goes on with (a|b)$/);
  for (let i = 0; i < RETRIAL_EVERY; i++) {
    step(chooser);
    assert.equal(chooser.trialStepsLeft, 0, `a re-trial ${i + 1} steps after the last ended`);
  }
  step(chooser);
  assert.ok(chooser.trialStepsLeft > 0);
});

test("a failure the next way shares is the step's own: it fails the step, and that way stays in", () => {
  const { ways, disposed, step } = fakeWays(['a', 'b', 'c'], () => new Error('index 70 out of range'));
  const lines: string[] = [];
  const chooser = new Ways(ways, (line) => lines.push(line));
  assert.throws(() => step(chooser), /index 70 out of range/);
  assert.deepEqual(disposed, ['a'], 'only the first way is left out: the second failed alike');
  assert.equal(lines.length, 1);
});

test('a step that failed after changing its inputs is not run again on another way', () => {
  const { ways, runs, disposed, step } = fakeWays(['a', 'b'], (name) =>
    name === 'a' ? new StepNotRepeatable(new Error('out of memory in the second graph')) : false,
  );
  const lines: string[] = [];
  const chooser = new Ways(ways, (line) => lines.push(line));
  assert.throws(
    () => step(chooser),
    (error: Error) => !(error instanceof StepNotRepeatable) && error.message === 'out of memory in the second graph',
  );
  assert.deepEqual([runs.get('a'), runs.get('b'), disposed, lines], [1, 0, [], []]);
});

test("disposing the ways disposes each, though one's dispose throws; that error goes on", () => {
  const { ways, disposed } = fakeWays(['a', 'b', 'c']);
  ways[0].executor.dispose = () => {
    throw new Error('a would not stop');
  };
  assert.throws(() => new Ways(ways).dispose(), /a would not stop/);
  assert.deepEqual(disposed, ['b', 'c']);
});

test("the step's own callback failing fails the step, and leaves the way in", () => {
  const { ways, disposed, step } = fakeWays(['a', 'b']);
  const chooser = new Ways(ways);
  assert.throws(
    () =>
      step(chooser, () => {
        throw new Error('the callback broke');
      }),
    /the callback broke/,
  );
  assert.deepEqual(disposed, []);
  assert.equal(chooser.threading, 'trying a; b in turn');
});

test('re-trials come every RETRIAL_EVERY steps after a trial, with one warm-up turn and 9 timed ones each', () => {
  const { ways, runs, step } = fakeWays(['a', 'b']);
  const lines: string[] = [];
  const chooser = new Ways(ways, (line) => lines.push(line));
  while (chooser.trialStepsLeft > 0) step(chooser);
  const before = runs.get('a')! + runs.get('b')!;
  for (let i = 0; i < RETRIAL_EVERY; i++) step(chooser);
  assert.equal(chooser.trialStepsLeft, 0);
  step(chooser);
  assert.equal(chooser.trialStepsLeft, 2 * (1 + 9) - 1);
  while (chooser.trialStepsLeft > 0) step(chooser);
  assert.equal(runs.get('a')! + runs.get('b')! - before, RETRIAL_EVERY + 2 * (1 + 9));
  assert.match(lines[1], /^onnx engine: (a|b) (kept|chosen over (a|b)); lower quartiles of the re-trial: /);
});
