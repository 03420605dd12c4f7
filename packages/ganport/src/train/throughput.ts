/** Training speed for the progress bar and the metrics lines: images per second, time spent and time left. */
export class Throughput {
  private readonly start = Date.now();

  /** `startStep`: the step this process starts from (a resumed run's checkpoint), so the speed is this process's own. */
  constructor(
    private readonly startStep: number,
    private readonly batchSize: number,
    private readonly totalSteps: number,
  ) {}

  /** Seconds since this process started training. */
  elapsedSeconds(): number {
    return (Date.now() - this.start) / 1000;
  }

  /** Images per second since this process started training, and the time left to the last step. */
  at(step: number): { imagesPerSecond: number; etaSeconds: number; elapsedSeconds: number } {
    const elapsedSeconds = this.elapsedSeconds();
    const imagesPerSecond = ((step - this.startStep) * this.batchSize) / Math.max(elapsedSeconds, 1e-3);
    return {
      imagesPerSecond,
      elapsedSeconds,
      etaSeconds: ((this.totalSteps - step) * this.batchSize) / imagesPerSecond,
    };
  }
}
