/**
 * metrics.jsonl and a kept measurement's model.json keep the snake_case field names ganport has always
 * written, while the code reads them in camelCase: what is written has the file's names, and what
 * earlier runs wrote (the shipped models') still reads.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EvalScores } from '../../src/formats/eval-scores.js';
import { bestMeasurementMetadata, readBestMeasurement, runPaths } from '../../src/formats/run-dir.js';
import { type MetricsLine, MetricsWriter, readEvalLines, readMetrics } from '../../src/train/metrics.js';
import { SHIPPED_MODELS, tempDir } from '../helpers.js';

const lossLine = (step: number): MetricsLine => ({
  step,
  epoch: 1,
  dLoss: 1.25,
  gLoss: 0.75,
  dReal: 0.6,
  dFake: 0.4,
  imagesPerSecond: 512.5,
  elapsedSeconds: step / 10,
});
const imageScores: EvalScores = { fcd: 30.5, precision: 0.6, recall: 0.5, classKl: 0.01, classAccuracy: 0.9 };
const mixtureScores: EvalScores = { modes: 24, highQualityPercent: 91.5, reverseKl: 0.05 };

const fieldsOfLines = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const record = JSON.parse(line);
      return [...Object.keys(record), ...Object.keys(record.eval ?? {}).map((key) => `eval.${key}`)];
    });

test('metrics.jsonl is written with snake_case fields and read back as written', async () => {
  const dir = tempDir();
  const path = join(dir, 'metrics.jsonl');
  const writer = new MetricsWriter(path, join(dir, 'loss.svg'), 'test: losses');
  await writer.append(lossLine(10));
  await writer.appendEval({ step: 10, epoch: 1, eval: imageScores }, join(dir, 'eval.svg'));
  await writer.appendEval({ step: 20, epoch: 1, eval: mixtureScores }, join(dir, 'eval.svg'));
  assert.deepEqual(fieldsOfLines(path), [
    ['step', 'epoch', 'd_loss', 'g_loss', 'd_real', 'd_fake', 'images_per_sec', 'elapsed_s'],
    ['step', 'epoch', 'eval', 'eval.fcd', 'eval.precision', 'eval.recall', 'eval.class_kl', 'eval.class_accuracy'],
    ['step', 'epoch', 'eval', 'eval.modes', 'eval.high_quality_percent', 'eval.reverse_kl'],
  ]);
  assert.deepEqual(await readMetrics(path), [lossLine(10)]);
  assert.deepEqual(await readEvalLines(path), [
    { step: 10, epoch: 1, eval: imageScores },
    { step: 20, epoch: 1, eval: mixtureScores },
  ]);
  assert.match(readFileSync(join(dir, 'eval.svg'), 'utf8'), /high quality percent/);
});

test('resuming keeps the lines up to the checkpoint as they were and drops the rest', async () => {
  const dir = tempDir();
  const path = join(dir, 'metrics.jsonl');
  const writer = new MetricsWriter(path, join(dir, 'loss.svg'), 'test: losses');
  for (const step of [10, 20, 30]) await writer.append(lossLine(step));
  const before = readFileSync(path, 'utf8').split('\n');
  await writer.truncateAfter(20);
  assert.equal(readFileSync(path, 'utf8'), `${before.slice(0, 2).join('\n')}\n`);
});

test("the shipped models' metrics.jsonl read: every loss line and every measurement", async () => {
  const path = join(SHIPPED_MODELS, 'cdcgan', 'metrics.jsonl');
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const losses = await readMetrics(path);
  const measurements = await readEvalLines(path);
  assert.equal(losses.length + measurements.length, lines.length);
  assert.ok(measurements.length > 0);
  for (const line of losses) {
    const values = [line.dLoss, line.gLoss, line.dReal, line.dFake, line.imagesPerSecond, line.elapsedSeconds];
    assert.ok(values.every(Number.isFinite), JSON.stringify(line));
  }
  for (const { eval: scores } of measurements)
    assert.ok('classKl' in scores && typeof scores.classAccuracy === 'number', JSON.stringify(scores));
});

test("a kept measurement is recorded in model.json with the file's names, and the shipped one reads", async () => {
  assert.deepEqual(bestMeasurementMetadata({ step: 5, epoch: 1, eval: mixtureScores }), {
    step: 5,
    epoch: 1,
    eval: { modes: 24, high_quality_percent: 91.5, reverse_kl: 0.05 },
  });
  const run = tempDir();
  const kept = runPaths(run).bestGenerator;
  mkdirSync(kept, { recursive: true });
  copyFileSync(join(SHIPPED_MODELS, 'cdcgan', 'tfjs', 'generator', 'model.json'), join(kept, 'model.json'));
  const best = await readBestMeasurement(run);
  assert.equal(best?.step, 16866);
  assert.ok(best && 'classKl' in best.eval && best.eval.classKl > 0 && best.eval.classAccuracy! > 0.5);
});
