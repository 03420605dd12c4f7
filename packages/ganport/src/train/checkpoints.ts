/** When the trainer writes checkpoints: every N steps and at each epoch's end. */
import { saveCheckpoint } from '../formats/checkpoint.js';
import type { RunPosition, TrainingState } from './state.js';

export class CheckpointPolicy {
  constructor(
    private readonly runDir: string,
    private readonly state: TrainingState,
    private readonly every: number,
    /** The step of the newest checkpoint on disk (0: none yet). */
    public lastStep: number,
    /** Brings `state` up to date first (the onnx engine keeps it in onnxruntime between steps). */
    private readonly sync: () => Promise<void> = async () => {},
  ) {}

  /** After a step: saves when the step is a multiple of the interval. */
  async afterStep(position: RunPosition): Promise<void> {
    if (position.step % this.every === 0) await this.save(position);
  }

  async save(position: RunPosition): Promise<void> {
    await this.sync();
    await saveCheckpoint(this.runDir, this.state, position);
    this.lastStep = position.step;
  }

  /** What a failed run leaves to resume from, in words. */
  describe(): string {
    return this.lastStep
      ? `the checkpoint of step ${this.lastStep} is kept in ${this.runDir}`
      : 'no checkpoint had been written yet';
  }
}
