/**
 * The classifier directory written by `ganport train-classifier`: classifier.onnx (with
 * `features` and `probabilities` outputs), classifier.json, metrics.jsonl and the tfjs model.
 */
import { join } from 'node:path';
import type { FileFieldNames } from '../util/file-fields.js';

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

/** One line of metrics.jsonl per epoch. */
export interface ClassifierMetricsLine {
  epoch: number;
  /** The mean loss of the epoch's steps. */
  trainLoss: number;
  testAccuracy: number;
  elapsedSeconds: number;
}

/** A metrics line's fields as metrics.jsonl names them. */
export const CLASSIFIER_METRICS_FILE_NAMES: FileFieldNames<ClassifierMetricsLine> = {
  epoch: 'epoch',
  trainLoss: 'train_loss',
  testAccuracy: 'test_accuracy',
  elapsedSeconds: 'elapsed_s',
};

export type ClassifierPaths = ReturnType<typeof classifierPaths>;

export const classifierPaths = (dir: string) => ({
  onnx: join(dir, 'classifier.onnx'),
  record: join(dir, 'classifier.json'),
  metrics: join(dir, 'metrics.jsonl'),
  tfjs: join(dir, 'tfjs'),
});
