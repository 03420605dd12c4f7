/** Where the package's shipped assets live: trained models and a small Fashion-MNIST sample. */
import { join } from 'node:path';
import { packageRoot } from './util/files.js';

/** The directory of the shipped trained model directories (seed-mlp, dcgan, …, classifier). */
export const shippedModelsDir = (): string => join(packageRoot(), 'assets', 'models');

/** The generator `ganport generate` and the demo use when none is named. */
export const defaultGenerator = (): string => join(shippedModelsDir(), 'seed-mlp', 'generator.onnx');

/** The Fashion-MNIST classifier `ganport eval` measures with. */
export const shippedClassifier = (): string => join(shippedModelsDir(), 'classifier', 'classifier.onnx');

/** 2,000 train and 2,000 test images, for checkouts without the full dataset. */
export const shippedFashionMnistSample = (): string => join(packageRoot(), 'assets', 'data', 'fashion-mnist-sample');
