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

type Scores = Partial<Record<'fcd' | 'precision' | 'recall' | 'classAccuracy', number>>;

/** The README's Evaluation table, rounded as it prints them, and the goals of issue #16 each model meets. */
const SHIPPED: Record<string, { reported: Scores; atLeast: Scores }> = {
  dcgan: { reported: { fcd: 24.19, precision: 0.524, recall: 0.623 }, atLeast: { recall: 0.5 } },
  cdcgan: {
    reported: { fcd: 9.32, precision: 0.746, recall: 0.549, classAccuracy: 0.898 },
    atLeast: { recall: 0.4, classAccuracy: 0.88 },
  },
};

for (const [name, { reported, atLeast }] of Object.entries(SHIPPED)) {
  test(`the shipped ${name} scores what the README reports and keeps its goals`, { skip }, () => {
    const scores = evalShipped(name);
    for (const [metric, value] of Object.entries(reported)) {
      const digits = metric === 'fcd' ? 2 : 3;
      assert.equal(scores[metric as keyof Scores]?.toFixed(digits), value.toFixed(digits), `${name} ${metric}`);
    }
    for (const [metric, floor] of Object.entries(atLeast))
      assert.ok(scores[metric as keyof Scores]! >= floor, `${name} ${metric} ${scores[metric as keyof Scores]}`);
  });
}
