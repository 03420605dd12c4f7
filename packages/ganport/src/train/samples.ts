/** The picture written after every epoch: the same seeded latents each time, so epochs compare at a glance. */

import { defaultLabels, encodePng, sampleLatents, scatterPlot, toGrid } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/files.js';

export interface SampleSpec {
  seed: number;
  latentSize: number;
  /** Per-sample shape: [h, w, c] images, or [2] points. */
  sampleShape: number[];
  numClasses?: number;
  /** Set when the labels are self-conditioning clusters (`train --clusters`), not classes. */
  clusters?: number;
  /** A mixture's modes, drawn under the points of a 2-D generator. */
  modes?: [number, number][];
}

const rowPerClass = (spec: SampleSpec) => spec.numClasses !== undefined && spec.clusters === undefined;

export class SampleWriter {
  private readonly latents: tf.Tensor2D;
  private readonly labels: tf.Tensor2D | undefined;

  constructor(private readonly spec: SampleSpec) {
    const { seed, latentSize, numClasses } = spec;
    // 2,500 points show a mixture; images a grid of 64 (clusters spread over it), or 8 per class for class-conditional models
    const count = spec.sampleShape.length === 1 ? 2500 : rowPerClass(spec) ? numClasses! * 8 : 64;
    this.latents = tf.tensor2d(sampleLatents({ seed, count, dim: latentSize }), [count, latentSize]);
    this.labels = numClasses
      ? tf.tensor2d(Int32Array.from(defaultLabels(count, numClasses)), [count, 1], 'int32')
      : undefined;
  }

  /** A grid of images, or a scatter plot of points over the mixture's modes. */
  async write(generator: tf.LayersModel, path: string): Promise<void> {
    const { sampleShape: shape, modes } = this.spec;
    const output = tf.tidy(
      () => generator.predict(this.labels ? [this.latents, this.labels] : this.latents) as tf.Tensor,
    );
    const data = (await output.data()) as Float32Array;
    output.dispose();
    const count = this.latents.shape[0];
    const picture =
      shape.length === 1
        ? scatterPlot(data, { modes })
        : toGrid(
            { data, count, height: shape[0], width: shape[1], channels: shape[2], layout: 'NHWC', valueRange: [-1, 1] },
            { columns: rowPerClass(this.spec) ? 8 : undefined },
          );
    await writeFileAtomic(path, encodePng(picture));
  }

  dispose(): void {
    tf.dispose([this.latents, ...(this.labels ? [this.labels] : [])]);
  }
}
