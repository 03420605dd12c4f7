/**
 * Every shipped model whose scores the README prints scores them again, under the README's protocol:
 * image models with `ganport eval NAME --json` (N = 10,000, seed 0, the full Fashion-MNIST test set),
 * the 2-D models with `ganport eval NAME --seeds 10 --json` (2,500 points per seed). The numbers are
 * read from the README's tables, so retraining a shipped model needs only its row updated. Eval is
 * seeded; ONNX Runtime's CPU kernels differ by instruction set in the last bits, so each number must
 * agree within two units of the last digit the README prints (half a unit is the README's rounding).
 * The cdcgan and dcgan also keep the goals of issues #16 and #24.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEBIAN_FASHION_MNIST } from '../../src/datasets/fashion-mnist.js';
import type { ImageEvalReport } from '../../src/eval/images.js';
import type { MixtureEvalReport } from '../../src/eval/mixtures.js';
import { ROOT, runCli } from '../helpers.js';

const README = readFileSync(join(ROOT, '..', '..', 'README.md'), 'utf8');

/** A number as the README prints it, and the tolerance its digits give it. */
interface Printed {
  value: number;
  tolerance: number;
}

const printed = (text: string): Printed => {
  const decimals = text.split('.')[1]?.length ?? 0;
  return { value: Number(text), tolerance: 2 * 10 ** -decimals };
};

/** The rows of the README table whose header row starts with `firstHeaders`, as header → cell. */
function readmeTable(firstHeaders: string[]): Record<string, string>[] {
  const lines = README.split('\n');
  const cells = (line: string) =>
    line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  const start = lines.findIndex(
    (l) => l.startsWith('|') && cells(l).slice(0, firstHeaders.length).join() === firstHeaders.join(),
  );
  assert.ok(start >= 0, `the README has a table headed ${firstHeaders.join(' | ')}`);
  const headers = cells(lines[start]);
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(Object.fromEntries(cells(line).map((cell, i) => [headers[i], cell])));
  }
  return rows;
}

/**
 * The row of shipped model `name`: the one whose first cell names it (markup and a parenthesised note
 * aside); where earlier runs of the same model have rows too, the bold one, which the README ships.
 */
function shippedRow(rows: Record<string, string>[], column: string, name: string): Record<string, string> {
  const named = rows.filter(
    (r) =>
      r[column]
        .replace(/[*`]/g, '')
        .replace(/\(.*\)/, '')
        .trim() === name,
  );
  const rowsOf = named.length > 1 ? named.filter((r) => r[column].startsWith('**')) : named;
  assert.equal(rowsOf.length, 1, `one README row for the shipped ${name}: ${named.map((r) => r[column])}`);
  return rowsOf[0];
}

function assertScore(what: string, measured: number | undefined, { value, tolerance }: Printed): void {
  assert.ok(
    measured !== undefined && Math.abs(measured - value) <= tolerance + 1e-12,
    `${what}: measured ${measured}, the README prints ${value} (±${tolerance})`,
  );
}

type ImageScore = 'fcd' | 'precision' | 'recall' | 'classKl' | 'classAccuracy';
const IMAGE_COLUMNS: Record<string, ImageScore> = {
  FCD: 'fcd',
  precision: 'precision',
  recall: 'recall',
  'class KL': 'classKl',
  'requested class': 'classAccuracy',
};
/** Issue #16's goals (floors) and #24's (the dcgan's FCD, a ceiling), which the shipped models must keep. */
const GOALS: Record<string, Partial<Record<ImageScore, number>>> = {
  dcgan: { recall: 0.5 },
  cdcgan: { recall: 0.4, classAccuracy: 0.88 },
};
const CEILINGS: Record<string, Partial<Record<ImageScore, number>>> = { dcgan: { fcd: 10 } };
const noFashionMnist =
  !existsSync(DEBIAN_FASHION_MNIST) && `${DEBIAN_FASHION_MNIST} is absent (apt-get install dataset-fashion-mnist)`;

const imageRows = readmeTable(['preset', 'epochs', 'backend', 'FCD']);
for (const name of ['seed-mlp', 'dcgan', 'cdcgan']) {
  test(`the shipped ${name} scores what the README's Evaluation table prints`, { skip: noFashionMnist }, () => {
    const row = shippedRow(imageRows, 'preset', name);
    const result = runCli(['eval', name, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as ImageEvalReport;
    assert.equal(report.samples, 10000);
    for (const [column, score] of Object.entries(IMAGE_COLUMNS)) {
      if (row[column] === '–') assert.equal(report.generated[score], undefined, `${name} has no ${column}`);
      else assertScore(`${name} ${column}`, report.generated[score], printed(row[column]));
    }
    for (const [score, floor] of Object.entries(GOALS[name] ?? {}))
      assert.ok(report.generated[score as ImageScore]! >= floor, `${name} ${score} below its goal ${floor}`);
    for (const [score, ceiling] of Object.entries(CEILINGS[name] ?? {}))
      assert.ok(report.generated[score as ImageScore]! <= ceiling, `${name} ${score} above its goal ${ceiling}`);
  });
}

const mixtureRows = readmeTable(['model', 'data', 'training', 'modes']);
const MIXTURE_COLUMNS = {
  modes: 'modesCaptured',
  'high quality': 'highQualityPercent',
  'reverse KL': 'reverseKl',
} as const;
for (const name of ['mlp-2d-grid', 'mlp-2d-ring']) {
  test(`the shipped ${name} scores what the README's 2-D table prints (mean ± std over 10 seeds)`, () => {
    const row = shippedRow(mixtureRows, 'model', name);
    const result = runCli(['eval', name, '--seeds', '10', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as MixtureEvalReport;
    assert.equal(report.samples, 2500);
    for (const [column, score] of Object.entries(MIXTURE_COLUMNS)) {
      const [, mean, std] = /([\d.]+) ± ([\d.]+)/.exec(row[column].replace(/\*/g, '')) ?? [];
      assert.ok(mean && std, `${name} ${column}: "${row[column]}" is not mean ± std`);
      assertScore(`${name} ${column} (mean)`, report[score].mean, printed(mean));
      assertScore(`${name} ${column} (std)`, report[score].std, printed(std));
    }
  });
}
