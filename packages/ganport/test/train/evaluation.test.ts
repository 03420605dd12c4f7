/**
 * train --eval-every: measurements written into metrics.jsonl and eval.svg during training, kept across a resume;
 * the best measurement's models kept in best/ and exported with export --best.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EvalReport } from '../../src/eval/index.js';
import { exportRun } from '../../src/export/index.js';
import type { EvalScores } from '../../src/formats/eval-scores.js';
import { bestMeasurementMetadata, readBestMeasurement, replaceBest } from '../../src/formats/run-dir.js';
import { trainClassifier } from '../../src/train/classifier.js';
import { isBetter } from '../../src/train/evaluation.js';
import { readEvalLines, readMetrics } from '../../src/train/metrics.js';
import { train } from '../../src/train/train.js';
import { assertCleanFailure, runCli, SAMPLE_DATA, SHIPPED_MODELS, tempDir } from '../helpers.js';

/** A measurement as ganport eval --json reports it, as a run's measurements hold it. */
function asEvalScores(report: EvalReport): EvalScores {
  if (report.kind === 'points') {
    const { modesCaptured, highQualityPercent, reverseKl } = report;
    return { modes: modesCaptured.mean, highQualityPercent: highQualityPercent.mean, reverseKl: reverseKl.mean };
  }
  const { fcd, precision, recall, classKl, classAccuracy } = report.generated;
  return { fcd, precision, recall, classKl, ...(classAccuracy === undefined ? {} : { classAccuracy }) };
}

/**
 * Exports the run's best/ with `ganport export --best`, measures the export with `ganport eval
 * ... evalArgs --json`, and requires the measurement best/ was kept for: the same numbers.
 */
async function assertBestExportEvaluatesAsMeasured(
  runDir: string,
  evalArgs: string[],
): Promise<{ modelDir: string; stdout: string }> {
  const modelDir = tempDir();
  const exported = runCli(['export', runDir, '--best', '--out', modelDir]);
  assert.equal(exported.status, 0, exported.stderr);
  const evaluated = runCli(['eval', modelDir, ...evalArgs, '--json']);
  assert.equal(evaluated.status, 0, evaluated.stderr);
  const measured = (await readBestMeasurement(runDir))!.eval as EvalScores;
  const scores = asEvalScores(JSON.parse(evaluated.stdout) as EvalReport);
  assert.deepEqual(Object.keys(scores).sort(), Object.keys(measured).sort());
  for (const [key, value] of Object.entries(scores)) {
    const expected = measured[key as keyof EvalScores] as number;
    assert.ok(Math.abs(value - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${key}: ${value} vs ${expected}`);
  }
  return { modelDir, stdout: exported.stdout };
}

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
    assert.ok(scores.highQualityPercent >= 0 && scores.highQualityPercent <= 100);
    assert.ok(scores.reverseKl >= 0 && scores.reverseKl <= Math.log(25) + 1e-9);
  }
  assert.equal((await readMetrics(join(outDir, 'metrics.jsonl'))).length, 1, 'loss lines read apart from eval lines');
  const svg = readFileSync(join(outDir, 'eval.svg'), 'utf8');
  for (const label of ['modes', 'high quality percent', 'reverse kl']) assert.ok(svg.includes(label), label);
});

test('an image run measured as ganport eval measures: its best measurement is what ganport eval gives the export', async () => {
  const outDir = tempDir();
  const options = { outDir, preset: 'dcgan', dataDir: SAMPLE_DATA, limit: 256, epochs: 1, evalEvery: 2 };
  const log: string[] = [];
  await train({ ...options, evalSamples: 100, quiet: true, log: (line) => log.push(line) });
  assert.ok(
    log.some((line) => /^--eval-samples: 100 samples are no more than the classifier's \d+ features/.test(line)),
    'the warning ganport eval gives, given once before the run',
  );
  const lines = await readEvalLines(join(outDir, 'metrics.jsonl'));
  assert.deepEqual(
    lines.map((l) => l.step),
    [2, 4],
  );
  for (const { eval: scores } of lines) assert.ok('fcd' in scores && scores.fcd > 0, JSON.stringify(scores));
  assert.match(readFileSync(join(outDir, 'eval.svg'), 'utf8'), /fcd/);
  // training measured with seed 0 on its data; ganport eval, at the same samples and seed, must agree
  await assertBestExportEvaluatesAsMeasured(outDir, ['--samples', '100', '--seed', '0', '--data', SAMPLE_DATA]);
});

test('--eval-classifier: the measurements use the classifier given, as ganport eval --classifier does; fixed for the run', async () => {
  const classifier = tempDir();
  await trainClassifier({
    outDir: classifier,
    dataDir: SAMPLE_DATA,
    epochs: 1,
    limit: 256,
    quiet: true,
    overwrite: true,
  });
  const outDir = tempDir();
  const options = {
    outDir,
    preset: 'dcgan',
    dataDir: SAMPLE_DATA,
    limit: 128,
    epochs: 1,
    evalEvery: 2,
    evalSamples: 100,
  };
  await train({ ...options, evalClassifier: classifier, quiet: true });
  assert.equal(JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8')).evalClassifier, classifier);
  const args = ['--samples', '100', '--seed', '0', '--data', SAMPLE_DATA, '--classifier', classifier];
  await assertBestExportEvaluatesAsMeasured(outDir, args);
  await assert.rejects(
    train({ outDir, resume: true, epochs: 2, evalClassifier: join(SHIPPED_MODELS, 'classifier'), quiet: true }),
    /config\.json fixes evalClassifier for the whole run/,
  );
  // what is not a classifier is refused before the first step
  await assert.rejects(
    train({
      ...options,
      outDir: tempDir(),
      evalClassifier: join(SHIPPED_MODELS, 'dcgan', 'generator.onnx'),
      quiet: true,
    }),
    /--eval-classifier: .*generator\.onnx is not a ganport classifier/,
  );
});

test('a resumed run keeps the measurements up to its checkpoint and adds the rest once', async () => {
  const outDir = tempDir();
  const options = { outDir, preset: 'mlp-2d', dataDir: 'grid', limit: 2048, evalEvery: 4, evalSamples: 500 };
  await train({ ...options, epochs: 1, quiet: true });
  assert.equal((await readBestMeasurement(outDir))?.samples, 500, 'best/ records the samples it took');
  // a measurement of another count would be compared with best/'s: refused, before the data loads
  await assert.rejects(
    train({ outDir, resume: true, epochs: 2, evalSamples: 2000, quiet: true }),
    /--eval-samples 2000: best\/ holds a measurement of 500 samples \(step \d+\), which one of another count does not compare with; resume with --eval-samples 500/,
  );
  // a dry run reads best/ without the run's lock: a swap killed midway is left for the run to finish
  renameSync(join(outDir, 'best'), join(outDir, 'best.tmp'));
  assertCleanFailure(
    runCli(['train', '--resume', outDir, '--eval-samples', '600', '--dry-run']),
    /--eval-samples 600: best\/ holds a measurement of 500 samples/,
  );
  assert.ok(existsSync(join(outDir, 'best.tmp')) && !existsSync(join(outDir, 'best')));
  await train({ outDir, resume: true, epochs: 2, quiet: true });
  const steps = (await readEvalLines(join(outDir, 'metrics.jsonl'))).map((l) => l.step);
  assert.deepEqual(steps, [4, 8, 12, 16]);
});

test('a resume drops a best/ measured after its checkpoint (a step it redoes): best/ is always a measurement metrics.jsonl holds', async () => {
  const outDir = tempDir();
  const options = { outDir, preset: 'mlp-2d', dataDir: 'grid', limit: 2048, evalEvery: 4, evalSamples: 500 };
  await train({ ...options, epochs: 1, quiet: true }); // 8 steps, the checkpoint at step 8
  // as a run killed after measuring step 12 leaves it: better than any measurement, of a step the resume redoes
  const perfect = { modes: 25, highQualityPercent: 100, reverseKl: 0 };
  await replaceBest(outDir, async (dirs) => {
    for (const role of ['generator', 'discriminator'] as const) {
      cpSync(join(outDir, role), dirs[role], { recursive: true });
      const path = join(dirs[role], 'model.json');
      const json = JSON.parse(readFileSync(path, 'utf8'));
      Object.assign(json.userDefinedMetadata.ganport, bestMeasurementMetadata({ step: 12, epoch: 2, eval: perfect }));
      writeFileSync(path, JSON.stringify(json));
    }
  });
  const lines: string[] = [];
  await train({ outDir, resume: true, epochs: 2, quiet: true, log: (line) => lines.push(line) });
  const dropped = 'best/ held the measurement of step 12, after the checkpoint: removed, as its metrics line was';
  assert.ok(lines.includes(dropped), lines.join('\n'));
  const best = await readBestMeasurement(outDir);
  const measured = (await readEvalLines(join(outDir, 'metrics.jsonl'))).find((line) => line.step === best?.step);
  assert.ok(best && measured, `best/ at step ${best?.step}`);
  assert.deepEqual(best.eval, measured.eval);

  // a best/ whose model.json is damaged goes too, in one line, and the next measurement keeps a new one
  const damaged = join(outDir, 'best', 'generator', 'model.json');
  writeFileSync(damaged, readFileSync(damaged, 'utf8').slice(0, 100));
  const after: string[] = [];
  await train({ outDir, resume: true, epochs: 3, quiet: true, log: (line) => after.push(line) });
  assert.ok(
    after.some((line) =>
      /best\/generator\/model\.json is not JSON .*: best\/ removed; the next measurement keeps a new one$/.test(line),
    ),
    after.join('\n'),
  );
  assert.ok(((await readBestMeasurement(outDir))?.step ?? 0) > 16, 'a new best/ from the third epoch');
});

test('eval options are checked before a run starts', async () => {
  await assert.rejects(
    train({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'grid', evalEvery: -1, quiet: true }),
    /eval interval must be a non-negative integer, got -1/,
  );
  await assert.rejects(
    train({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'grid', evalEvery: 5, evalSamples: -3, quiet: true }),
    /eval samples must be a positive integer/,
  );
  await assert.rejects(
    train({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'grid', evalEvery: 5, evalSamples: 10_000, quiet: true }),
    /eval samples are capped at 4096 for 2-D points, got 10000/,
  );
  const outDir = tempDir();
  await assert.rejects(
    train({ outDir, preset: 'mlp-2d', dataDir: 'grid', evalEvery: 5, evalSamples: 5, quiet: true }),
    /eval samples must be an integer of at least 10, got 5/,
  );
  assert.ok(!existsSync(join(outDir, 'config.json')), 'refused before the run is written');
});

test('which measurement is better: lower FCD; for 2-D more modes, then more high-quality samples, then lower reverse KL', () => {
  const image = (fcd: number): EvalScores => ({ fcd, precision: 0.5, recall: 0.5, classKl: 0.1 });
  const points = (modes: number, hq: number, rkl: number): EvalScores => ({
    modes,
    highQualityPercent: hq,
    reverseKl: rkl,
  });
  assert.ok(isBetter(image(30), undefined));
  assert.ok(isBetter(image(30), image(31)) && !isBetter(image(31), image(30)) && !isBetter(image(30), image(30)));
  assert.ok(isBetter(points(25, 50, 0.5), points(24, 90, 0.01)));
  assert.ok(isBetter(points(25, 60, 0.5), points(25, 50, 0.01)));
  assert.ok(isBetter(points(25, 60, 0.1), points(25, 60, 0.2)) && !isBetter(points(25, 60, 0.2), points(25, 60, 0.1)));
});

test('best/ keeps the best measurement; export --best writes it, and ganport eval of its generator measures the same', async () => {
  const outDir = tempDir();
  await train({ outDir, preset: 'mlp-2d', dataDir: 'grid', limit: 2048, epochs: 2, evalEvery: 2, quiet: true });
  const lines = await readEvalLines(join(outDir, 'metrics.jsonl'));
  const best = lines.reduce((a, b) => (isBetter(b.eval, a.eval) ? b : a));
  const kept = await readBestMeasurement(outDir);
  assert.deepEqual(kept, { step: best.step, epoch: best.epoch, eval: best.eval, samples: 2000 });
  // best/ is replaced whole: a failed write keeps the old pair, a swap killed midway is finished on the next read
  await assert.rejects(
    replaceBest(outDir, async () => {
      throw new Error('disk full');
    }),
    /disk full/,
  );
  assert.deepEqual(await readBestMeasurement(outDir), kept);
  renameSync(join(outDir, 'best'), join(outDir, 'best.tmp'));
  assert.deepEqual(await readBestMeasurement(outDir), kept);
  assert.ok(existsSync(join(outDir, 'best')) && !existsSync(join(outDir, 'best.tmp')));

  // training measured 2,000 points (the default) from sampling seed 0: ganport eval of the export must agree
  const { modelDir, stdout } = await assertBestExportEvaluatesAsMeasured(outDir, ['--samples', '2000', '--seeds', '1']);
  assert.match(stdout, new RegExp(`the best measurement: step ${best.step} \\(epoch ${best.epoch}\\), modes`));
  const exported = JSON.parse(readFileSync(join(modelDir, 'tfjs', 'generator', 'model.json'), 'utf8'));
  assert.equal(exported.userDefinedMetadata.ganport.step, best.step);

  const noEval = tempDir();
  await train({ outDir: noEval, preset: 'mlp-2d', dataDir: 'grid', limit: 512, epochs: 1, quiet: true });
  // a first best/ killed while written is no best/: its half is never taken for one
  await assert.rejects(
    replaceBest(noEval, async (dirs) => {
      cpSync(join(noEval, 'generator'), dirs.generator, { recursive: true });
      throw new Error('killed');
    }),
    /killed/,
  );
  assert.equal(await readBestMeasurement(noEval), undefined);
  assert.ok(!existsSync(join(noEval, 'best')));
  await assert.rejects(
    exportRun(noEval, tempDir(), { best: true }),
    /has no best measurement \(best\/\); train it with --eval-every/,
  );
});

test('a resume may add --eval-every (recorded in config.json, the manifest still verifying) but not change what is learnt', async () => {
  const outDir = tempDir();
  await train({ outDir, preset: 'mlp-2d', dataDir: 'grid', limit: 1024, epochs: 1, seed: 4, quiet: true });
  await assert.rejects(
    train({ outDir, resume: true, epochs: 2, learningRate: 0.1, seed: 4, pack: 2, quiet: true }),
    /config.json fixes learningRate, pack for the whole run; a resume cannot change them/,
  );
  await train({ outDir, resume: true, epochs: 2, seed: 4, evalEvery: 2, quiet: true });
  const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  assert.deepEqual([config.epochs, config.evalEvery], [2, 2]);
  const steps = (await readEvalLines(join(outDir, 'metrics.jsonl'))).map((l) => l.step);
  assert.deepEqual(steps, [6, 8]);
  await exportRun(outDir, tempDir(), { best: true }); // verifies the run's manifest first
});
