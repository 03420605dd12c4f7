/** train --eval-every: measurements written into metrics.jsonl and eval.svg during training, kept across a resume. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readEvalLines, readMetrics } from '../../src/train/metrics.js';
import { train } from '../../src/train/train.js';
import { SAMPLE_DATA, tempDir } from '../helpers.js';

test('a 2-D run measured every 4 steps: modes, high-quality share and reverse KL in metrics.jsonl and eval.svg', async () => {
  const outDir = tempDir();
  await train({ outDir, preset: 'mlp-2d', dataDir: 'grid', limit: 2048, epochs: 1, evalEvery: 4, quiet: true });
  const lines = await readEvalLines(join(outDir, 'metrics.jsonl'));
  assert.deepEqual(
    lines.map((l) => l.step),
    [4, 8],
  );
  for (const { eval: scores } of lines) {
    assert.ok('modes' in scores && scores.modes >= 0 && scores.modes <= 25, JSON.stringify(scores));
    assert.ok(scores.high_quality_percent >= 0 && scores.high_quality_percent <= 100);
    assert.ok(scores.reverse_kl >= 0 && scores.reverse_kl <= Math.log(25) + 1e-9);
  }
  assert.equal((await readMetrics(join(outDir, 'metrics.jsonl'))).length, 1, 'loss lines read apart from eval lines');
  const svg = readFileSync(join(outDir, 'eval.svg'), 'utf8');
  for (const label of ['modes', 'high quality percent', 'reverse kl']) assert.ok(svg.includes(label), label);
});

test('an image run measured as ganport eval measures: FCD, precision, recall, class KL', async () => {
  const outDir = tempDir();
  const options = { outDir, preset: 'dcgan', dataDir: SAMPLE_DATA, limit: 256, epochs: 1, evalEvery: 2 };
  await train({ ...options, evalSamples: 100, quiet: true });
  const lines = await readEvalLines(join(outDir, 'metrics.jsonl'));
  assert.deepEqual(
    lines.map((l) => l.step),
    [2, 4],
  );
  for (const { eval: scores } of lines) {
    assert.ok('fcd' in scores && Number.isFinite(scores.fcd) && scores.fcd > 0, JSON.stringify(scores));
    assert.ok(scores.precision >= 0 && scores.precision <= 1 && scores.recall >= 0 && scores.recall <= 1);
    assert.ok(scores.class_kl >= 0);
  }
  assert.match(readFileSync(join(outDir, 'eval.svg'), 'utf8'), /fcd/);
});

test('a resumed run keeps the measurements up to its checkpoint and adds the rest once', async () => {
  const outDir = tempDir();
  const options = { outDir, preset: 'mlp-2d', dataDir: 'grid', limit: 2048, evalEvery: 4, evalSamples: 500 };
  await train({ ...options, epochs: 1, quiet: true });
  await train({ outDir, resume: true, epochs: 2, quiet: true });
  const steps = (await readEvalLines(join(outDir, 'metrics.jsonl'))).map((l) => l.step);
  assert.deepEqual(steps, [4, 8, 12, 16]);
});

test('eval options are checked before a run starts', async () => {
  await assert.rejects(
    train({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'grid', evalEvery: 0, quiet: true }),
    /eval interval must be a positive integer, got 0/,
  );
  await assert.rejects(
    train({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'grid', evalEvery: 5, evalSamples: -3, quiet: true }),
    /eval samples must be a positive integer/,
  );
  const outDir = tempDir();
  await assert.rejects(
    train({ outDir, preset: 'mlp-2d', dataDir: 'grid', evalEvery: 5, evalSamples: 5, quiet: true }),
    /eval samples must be an integer of at least 10, got 5/,
  );
  assert.ok(!existsSync(join(outDir, 'config.json')), 'refused before the run is written');
});
