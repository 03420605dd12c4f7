import { defineCommand } from '../flags.js';
import { backendFlag, dataFlag, quietFlag } from '../shared-flags.js';

/** Trains the classifier `ganport eval` measures images with, on labelled IDX data (train and t10k splits). */
export const trainClassifierCommand = defineCommand({
  name: 'train-classifier',
  summary: 'train the image classifier that ganport eval measures with',
  flags: {
    out: { type: 'string', value: 'DIR', option: 'outDir', required: true, help: 'where the classifier goes' },
    data: dataFlag('labelled IDX data with train and t10k splits (default: Fashion-MNIST)'),
    epochs: { type: 'int', value: 'N', help: 'epochs to train (default 5)' },
    batch: { type: 'int', value: 'B', option: 'batchSize', help: 'batch size (default 64)' },
    lr: { type: 'number', value: 'LR', option: 'learningRate', help: 'Adam learning rate (default 0.001)' },
    seed: { type: 'int', value: 'S', help: 'seeds weights and shuffling (default 0)' },
    backend: backendFlag,
    limit: { type: 'int', value: 'N', help: 'use only the first N training images' },
    overwrite: { type: 'boolean', help: 'replace a classifier already in --out' },
    quiet: quietFlag,
  },
  examples: [
    'ganport train-classifier --out models/classifier --epochs 8',
    'ganport train-classifier --out runs/classifier --data data/mnist --limit 10000',
  ],
  async run(options) {
    const { trainClassifier } = await import('../../train/classifier.js');
    const { record } = await trainClassifier({ ...options, log: (line) => console.log(line) });
    const accuracy = (100 * record.testAccuracy).toFixed(2);
    console.log(
      `test accuracy ${accuracy} % on ${record.testImages} ${record.dataName} test images ` +
        `after ${record.epochs} epochs (${record.trainSeconds} s on ${record.backend})`,
    );
    return 0;
  },
});
