/** The exported discriminator of a 2-D model directory against its tfjs reference, for the training tests. */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { loadLayersModel } from '../../src/tfjs/model-io.js';
import { maxAbsDiff } from '../helpers.js';

/**
 * Runs `modelDir`'s discriminator.onnx (onnxruntime-node) and tfjs/discriminator on the points
 * `x` ([rows, 2 · pack]); returns the largest difference and the tfjs model, for its layers.
 */
export async function exportedDiscriminatorGap(
  modelDir: string,
  x: Float32Array,
  shape: [number, number],
): Promise<{ gap: number; reference: tf.LayersModel }> {
  const reference = await loadLayersModel(join(modelDir, 'tfjs', 'discriminator', 'model.json'));
  const expected = (reference.predict(tf.tensor2d(x, shape)) as tf.Tensor).dataSync();
  const session = await ort.InferenceSession.create(join(modelDir, 'discriminator.onnx'));
  try {
    const { probability } = await session.run({ point: new ort.Tensor('float32', x, shape) });
    return { gap: maxAbsDiff(probability.data as Float32Array, expected), reference };
  } finally {
    await session.release();
  }
}
