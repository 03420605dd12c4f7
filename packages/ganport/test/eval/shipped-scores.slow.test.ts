/**
 * The shipped Fashion-MNIST generators score what the README reports, under its protocol
 * (`ganport eval NAME --json`: N = 10,000, seed 0, the full Fashion-MNIST test set), and the
 * cdcgan keeps issue #16's conditional goal. Eval is seeded, so a changed model, sampler, metric
 * or classifier moves these numbers.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { DEBIAN_FASHION_MNIST } from '../../src/datasets/fashion-mnist.js';
import type { ImageEvalReport } from '../../src/eval/images.js';
import { runCli } from '../helpers.js';

const skip =
  !existsSync(DEBIAN_FASHION_MNIST) && `${DEBIAN_FASHION_MNIST} is absent (apt-get install dataset-fashion-mnist)`;

const evalShipped = (name: string): ImageEvalReport['generated'] => {
  const result = runCli(['eval', name, '--json']);
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as ImageEvalReport;
  assert.equal(report.samples, 10000);
  return report.generated;
};

/** The README's Evaluation table, rounded as it prints them. */
const REPORTED = {
  dcgan: { fcd: 24.19, precision: 0.524, recall: 0.623 },
  cdcgan: { fcd: 9.32, precision: 0.746, recall: 0.549, classAccuracy: 0.898 },
};

for (const [name, reported] of Object.entries(REPORTED)) {
  test(`the shipped ${name} scores what the README reports`, { skip }, () => {
    const scores = evalShipped(name);
    for (const [metric, value] of Object.entries(reported)) {
      const measured = scores[metric as keyof typeof reported] as number;
      const digits = metric === 'fcd' ? 2 : 3;
      assert.equal(measured.toFixed(digits), value.toFixed(digits), `${name} ${metric}`);
    }
    if (name === 'cdcgan') {
      assert.ok(scores.classAccuracy! >= 0.88, `requested-class accuracy ${scores.classAccuracy}`);
      assert.ok(scores.recall >= 0.4, `recall ${scores.recall}`);
    }
  });
}
