/** Training speed for the progress bar and the metrics lines: images per second, time spent and time left. */
export class Throughput {
  private readonly start = Date.now();

  /**
   * `startStep`: the step this process starts from (a resumed run's checkpoint), so the speed is this
   * process's own; `earlierSeconds`: the time trained before it, which the elapsed time goes on from.
   */
  constructor(
    private readonly startStep: number,
    private readonly batchSize: number,
    private readonly totalSteps: number,
    private readonly earlierSeconds = 0,
  ) {}

  /** Seconds spent training: this process's, after the earlier processes' of a resumed run. */
  elapsedSeconds(): number {
    return this.earlierSeconds + this.ownSeconds();
  }

  /** Images per second since this process started training, and the time left to the last step. */
  at(step: number): { imagesPerSecond: number; etaSeconds: number; elapsedSeconds: number } {
    const imagesPerSecond = ((step - this.startStep) * this.batchSize) / Math.max(this.ownSeconds(), 1e-3);
    return {
      imagesPerSecond,
      elapsedSeconds: this.elapsedSeconds(),
      etaSeconds: ((this.totalSteps - step) * this.batchSize) / imagesPerSecond,
    };
  }

  private ownSeconds(): number {
    return (Date.now() - this.start) / 1000;
  }
}
