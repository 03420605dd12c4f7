/** Where the package's shipped assets live: trained models and a small Fashion-MNIST sample. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GanportError } from '@ganport/runtime';
import { packageRoot } from './util/files.js';

/** The directory of the shipped trained model directories (seed-mlp, dcgan, …, classifier). */
export const shippedModelsDir = (): string => join(packageRoot(), 'assets', 'models');

/**
 * The shipped model `ganport generate` and `npm start` use when none is named: the best one
 * (the class-conditional cdcgan, FCD 9.3, a row per class). The others are there by name.
 */
export const DEFAULT_SHIPPED_MODEL = 'cdcgan';

/** The shipped generator `ganport generate` uses when none is named. */
export const defaultGenerator = (): string => join(shippedModelsDir(), DEFAULT_SHIPPED_MODEL, 'generator.onnx');

/** The smallest shipped generator (the beginner's seed-mlp), for quick checks such as `ganport doctor`'s. */
export const smallestGenerator = (): string => join(shippedModelsDir(), 'seed-mlp', 'generator.onnx');

/** The shipped generators' names (the model directories with generator.onnx), sorted. */
export function shippedModelNames(): string[] {
  const dir = shippedModelsDir();
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'generator.onnx')))
    .map((e) => e.name)
    .sort();
}

/**
 * MODEL as given where that path exists, else the shipped model directory it names (`dcgan`,
 * `seed-mlp`, …); a GanportError naming the shipped models where it is neither.
 */
export function resolveShippedModel(model: string): string {
  if (existsSync(model)) return model;
  if (!/^[a-z0-9-]+$/.test(model)) throw new GanportError(`${model} does not exist`, 'not-found');
  const shipped = join(shippedModelsDir(), model);
  if (existsSync(shipped)) return shipped;
  throw new GanportError(
    `no model ${model}: no such path, and no shipped model of that name (${shippedModelNames().join(', ')})`,
    'not-found',
  );
}

/** The Fashion-MNIST classifier `ganport eval` measures with. */
export const shippedClassifier = (): string => join(shippedModelsDir(), 'classifier', 'classifier.onnx');

/** 2,000 train and 2,000 test images, for checkouts without the full dataset. */
export const shippedFashionMnistSample = (): string => join(packageRoot(), 'assets', 'data', 'fashion-mnist-sample');
