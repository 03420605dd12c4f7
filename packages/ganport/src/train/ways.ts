/**
 * The ways to run the step graph, and which one runs it: the run's first steps are a trial that
 * chooses (Trial), a re-trial every RETRIAL_EVERY steps checks the choice, and a way that fails is
 * left out while another is left (Ways).
 */
import type { Feed } from '../tfjs/ort-session.js';

/**
 * What runs the step graph: one onnxruntime session, or the lanes. A run that fails leaves its
 * inputs as they were, so that another way can run the step again, or throws StepNotRepeatable.
 */
export interface StepExecutor {
  run(inputs: Feed[], outputs: Feed[], whileWaiting?: () => void): void;
  dispose(): void;
}

/** An error's message, or what was thrown as text. */
export const messageOf = (error: unknown) => String(error instanceof Error ? error.message : error);

/** A step that failed after it changed its inputs (the split step's update between its graphs): no way can run it again. */
export class StepNotRepeatable extends Error {
  constructor(error: unknown) {
    super(messageOf(error), { cause: error });
  }
}

export interface Candidate {
  executor: StepExecutor;
  /** In words: "1 thread", "2 threads, spinning", "2 lanes (3 + 3 segments)". */
  threading: string;
}

/**
 * The trial: the run's first steps take turns on each way to run the step (its warm-up steps, then its
 * timed ones). Every way gives the same numbers bit for bit (tested), so trying them costs only the
 * slower ones' extra time, and they are timed on the run's own steps, with its JavaScript between
 * them. A trial of extra runs on made-up feeds before training, as before, took 1.7 s and, in five
 * of ten CLI dcgan runs here, picked a single session (one thread: 46–50 ms a step) over the lanes
 * (39 ms).
 */
export class Trial {
  private readonly times: number[][];
  private steps = 0;

  /** `warmUp` untimed turns of each way first; each way's timed rounds at most `maxRounds` (trialRounds). */
  constructor(
    readonly candidates: Candidate[],
    private readonly warmUp = TRIAL_WARM_UP_RUNS,
    private readonly maxRounds = TRIAL_MAX_ROUNDS,
  ) {
    this.times = candidates.map(() => []);
  }

  /**
   * Steps left as far as the times so far tell: short steps get more timed rounds (trialRounds). Never
   * negative, and 0 only after a whole round, however the times move: a way's rounds already run count.
   */
  get stepsLeft(): number {
    const needs = this.times.map((times) => Math.max(trialRounds(times, this.maxRounds), times.length));
    return this.candidates.length * (this.warmUp + Math.max(...needs)) - this.steps;
  }

  /** The candidate whose turn the next step is. */
  get turn(): Candidate {
    return this.candidates[this.steps % this.candidates.length];
  }

  /**
   * Records the step just run (on `turn`); returns the chosen candidate's index when this step ends the
   * trial (the caller then stops recording).
   */
  record(ms: number): number | undefined {
    const n = this.candidates.length;
    if (this.steps >= n * this.warmUp) this.times[this.steps % n].push(ms);
    this.steps++;
    return this.stepsLeft === 0 ? fastestByLowerQuartile(this.times) : undefined;
  }

  /** Each candidate's lower quartile, in words. */
  summary(): string {
    return this.candidates.map((c, i) => `${c.threading} ${lowerQuartile(this.times[i]).toFixed(1)} ms`).join('; ');
  }
}

/** The trial's log line: the way `chosen`, and whether it was the way before (`previous`; none after the first). */
export function trialReport(previous: string | undefined, chosen: string, summary: string): string {
  if (previous === undefined) return `onnx engine: ${chosen} chosen; lower quartiles of the first steps: ${summary}`;
  const outcome = chosen === previous ? 'kept' : `chosen over ${previous}`;
  return `onnx engine: ${chosen} ${outcome}; lower quartiles of the re-trial: ${summary}`;
}

/**
 * Steps of each way before its timed ones: the first runs of a session (more so of the lanes, whose
 * worker thread allocates its own memory) are slower, a dcgan step's first five 330 → 51 ms.
 */
const TRIAL_WARM_UP_RUNS = 5;
/**
 * Timed steps of each way: at least TRIAL_ROUNDS, and, where steps are short, enough for about
 * TRIAL_TIMED_MS of the way's time, at most TRIAL_MAX_ROUNDS. A burst of the machine's other work
 * then spoils a smaller share of them: in one bench run of 9 rounds here, the mlp (9.5 ms a step on
 * two spinning threads) was left on one thread at 13.9 ms.
 */
const TRIAL_ROUNDS = 9;
const TRIAL_TIMED_MS = 600;
const TRIAL_MAX_ROUNDS = 60;

/** The timed rounds a way needs, judged by its `times` so far (TRIAL_ROUNDS before it has any). */
export function trialRounds(times: number[], maxRounds = TRIAL_MAX_ROUNDS): number {
  if (times.length === 0) return TRIAL_ROUNDS;
  const rounds = Math.ceil(TRIAL_TIMED_MS / lowerQuartile(times));
  return Math.min(maxRounds, Math.max(TRIAL_ROUNDS, rounds));
}

/**
 * Steps between re-trials. The machine's other work comes and goes: on this project's VM, two spinning
 * threads won one CLI trial at 30.8 ms a step and lost the next two at 45.1–63.6 ms to the lanes'
 * 36.3–52.4, so a choice made once would hold a whole run to the machine's state in its first steps.
 * A re-trial gives each way one warm-up turn and TRIAL_ROUNDS timed ones (about 30 of each 1,000
 * steps; the sessions stay loaded in between).
 */
export const RETRIAL_EVERY = 1000;
const RETRIAL_WARM_UP_RUNS = 1;

/**
 * Which setting's runs were fastest: the lowest lower quartile (of 9 runs, the third fastest). Not
 * the single best run, which one burst of luck decides; nor the median, because the lanes' runs in
 * the trial are bimodal (the dcgan's: 33–37 ms, or 45–80 ms when a turn finds the other core busy,
 * in a trial of extra runs before training: two or three runs in seven), and over a run of steps they
 * keep to the fast mode: there the median picked one thread (42 ms a step) over the lanes (34 ms) in
 * one trial in four.
 */
export function fastestByLowerQuartile(times: number[][]): number {
  const quartiles = times.map(lowerQuartile);
  return quartiles.indexOf(Math.min(...quartiles));
}

const lowerQuartile = (runs: number[]): number => [...runs].sort((a, b) => a - b)[runs.length >> 2];

/**
 * The ways to run the step and the one running it. Every way gives the same numbers bit for bit, so
 * the run may switch at any step: to the trials' choice, or, when a way fails (a worker lane that
 * stops, a session out of memory), to a way left, running the step again on it.
 */
export class Ways {
  /** The way steps run on outside trials (the first until the first trial has chosen). */
  chosen: Candidate;
  private readonly ways: Candidate[];
  private trial: Trial | undefined;
  /** Trials ended so far (the first, then the re-trials), and steps since the last. */
  private trials = 0;
  private stepsSinceTrial = 0;

  constructor(
    ways: Candidate[],
    private readonly log?: (line: string) => void,
  ) {
    this.ways = [...ways];
    this.chosen = ways[0];
    if (ways.length > 1) this.trial = new Trial([...ways]);
  }

  /** In words: the chosen way, or, in the first trial, the ways it tries. */
  get threading(): string {
    if (this.inFirstTrial) return `trying ${this.ways.map((w) => w.threading).join('; ')} in turn`;
    return this.chosen.threading;
  }

  /** Steps left in the trial under way, the first or a re-trial (0: none, or nothing to choose). */
  get trialStepsLeft(): number {
    return this.trial?.stepsLeft ?? 0;
  }

  private get inFirstTrial(): boolean {
    return this.trial !== undefined && this.trials === 0;
  }

  /** Starts a re-trial with the next step, where there is a choice and no trial under way. */
  retry(): void {
    if (!this.trial && this.ways.length > 1) this.trial = new Trial([...this.ways], RETRIAL_WARM_UP_RUNS, TRIAL_ROUNDS);
  }

  /**
   * Runs a step on the way whose turn it is (a trial's, or the chosen way; a re-trial starts every
   * RETRIAL_EVERY steps), timing it for the trial. Where the way fails, it is left out and the step
   * runs again on another: `inputs` must be what the step reads, untouched by the failed run.
   * `whileWaiting` runs once all the same; its own error is the caller's, not the way's.
   */
  run(inputs: Feed[], outputs: Feed[], whileWaiting?: () => void): void {
    if (!this.trial && ++this.stepsSinceTrial > RETRIAL_EVERY) this.retry();
    let called = false;
    let callbackError: { error: unknown } | undefined;
    const callback =
      whileWaiting &&
      (() => {
        if (called) return;
        called = true;
        try {
          whileWaiting();
        } catch (error) {
          callbackError = { error };
          throw error;
        }
      });
    let failure: string | undefined;
    for (let way = this.trial?.turn ?? this.chosen; ; ) {
      const t0 = performance.now();
      try {
        way.executor.run(inputs, outputs, callback);
      } catch (error) {
        if (callbackError) throw callbackError.error;
        if (error instanceof StepNotRepeatable) throw error.cause;
        // the same failure on the next way is the step's own (its inputs), not the ways'
        if (failure !== undefined && failure === messageOf(error)) throw error;
        failure = messageOf(error);
        way = this.drop(way, error);
        continue;
      }
      this.record(performance.now() - t0);
      return;
    }
  }

  /** Records a trial's step, `ms` long; its last step makes and logs the trial's choice. */
  private record(ms: number): void {
    const index = this.trial?.record(ms);
    if (index === undefined) return;
    const trial = this.trial!;
    const previous = this.trials++ === 0 ? undefined : this.chosen.threading;
    this.chosen = trial.candidates[index];
    this.trial = undefined;
    this.stepsSinceTrial = 0;
    this.log?.(trialReport(previous, this.chosen.threading, trial.summary()));
  }

  /**
   * Leaves out `way`, whose step failed with `error` (thrown on where no other way is left): a first
   * trial starts again on the ways left, a re-trial ends. Returns the way to run the step again on.
   */
  private drop(way: Candidate, error: unknown): Candidate {
    if (this.ways.length < 2) throw error;
    this.ways.splice(this.ways.indexOf(way), 1);
    try {
      way.executor.dispose();
    } catch {
      // it failed already: what it holds goes with the process
    }
    if (this.chosen === way) this.chosen = this.ways[0];
    if (this.trial && this.trials > 0) this.stepsSinceTrial = 0; // a re-trial ends: the next comes as after one
    this.trial = this.trials === 0 && this.ways.length > 1 ? new Trial([...this.ways]) : undefined;
    const reason = messageOf(error).split('\n')[0];
    const goesOn = this.trial
      ? `the trial starts again: ${this.threading}`
      : `the run goes on with ${this.chosen.threading}`;
    this.log?.(`onnx engine: ${way.threading} failed (${reason}) and is left out; ${goesOn}`);
    return this.trial?.turn ?? this.chosen;
  }

  /** Disposes every way, the others too where one's dispose throws (the first error then goes on). */
  dispose(): void {
    const errors: unknown[] = [];
    for (const way of this.ways) {
      try {
        way.executor.dispose();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length) throw errors[0];
  }
}
