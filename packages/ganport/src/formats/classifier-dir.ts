/**
 * The classifier directory written by `ganport train-classifier`: classifier.onnx (with
 * `features` and `probabilities` outputs), classifier.json, metrics.jsonl and the tfjs model.
 */
import { join } from 'node:path';

/** What classifier.json records: the settings, and the accuracy measured on the held-out test split. */
export interface ClassifierRecord {
  data: string;
  dataName: string;
  numClasses: number;
  imageShape: number[];
  seed: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  backend: string;
  trainImages: number;
  testImages: number;
  testAccuracy: number;
  trainSeconds: number;
  ganportVersion: string;
}

export const classifierPaths = (dir: string) => ({
  onnx: join(dir, 'classifier.onnx'),
  record: join(dir, 'classifier.json'),
  metrics: join(dir, 'metrics.jsonl'),
  tfjs: join(dir, 'tfjs'),
});
