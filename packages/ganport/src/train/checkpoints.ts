/** When the trainer writes checkpoints: every N steps and at each epoch's end. */
import { GanportError } from '@ganport/runtime';
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
    await this.refuseNonFiniteWeights(position.step);
    await saveCheckpoint(this.runDir, this.state, position);
    this.lastStep = position.step;
  }

  /**
   * Stops the run where a model it saves holds a NaN or an infinity, before that replaces anything on
   * disk: finite losses do not rule it out (a generator's weights can overflow behind a saturated tanh).
   * `state` must be up to date (`sync`).
   */
  async refuseNonFiniteWeights(step: number): Promise<void> {
    const { generator, discriminator, ema } = this.state;
    const models = [
      ['generator', generator],
      ['discriminator', discriminator],
      ...(ema !== generator ? [['EMA generator', ema] as const] : []),
    ] as const;
    for (const [role, model] of models) {
      for (const weight of model.weights) {
        // data(), not dataSync(): tfjs-backend-webgpu cannot read synchronously in Node
        if (((await weight.read().data()) as Float32Array).every(Number.isFinite)) continue;
        throw new GanportError(
          `training diverged by step ${step}: the ${role}'s weight ${weight.originalName} holds a NaN or an infinity (the losses were finite); ${this.describe()}; try a lower --lr`,
        );
      }
    }
  }

  /** What a failed run leaves to resume from, in words. */
  describe(): string {
    return this.lastStep
      ? `the checkpoint of step ${this.lastStep} is kept in ${this.runDir}`
      : 'no checkpoint had been written yet';
  }
}
