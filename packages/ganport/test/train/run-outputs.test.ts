/**
 * What a run writes, as the README promises it: the EMA generator with its warm-up, in the epoch
 * pictures and in generator/ (so in exports); the epoch picture drawn from the latents that
 * `generate --seed S` draws; loss.svg.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { Rng } from '@ganport/runtime';
import type * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { exportRun } from '../../src/export/index.js';
import type { RunConfig } from '../../src/formats/run-dir.js';
import { getPreset } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { loadLayersModel } from '../../src/tfjs/model-io.js';
import { ganLoss } from '../../src/train/losses.js';
import { readMetrics } from '../../src/train/metrics.js';
import { buildTrainingState } from '../../src/train/run-setup.js';
import { SampleWriter } from '../../src/train/samples.js';
import { GanStep } from '../../src/train/step.js';
import { train } from '../../src/train/train.js';
import { maxAbsDiff, runCli, SAMPLE_DATA, tempDir } from '../helpers.js';
import { realBatch } from '../tfjs/training-step.js';

before(async () => {
  await selectBackend('cpu');
});

const weightsOf = (model: tf.LayersModel) => Float32Array.from(model.getWeights().flatMap((w) => [...w.dataSync()]));

test('EMA warm-up: step t moves the average with decay min(decay, (1 + t)/(10 + t))', async () => {
  const preset = getPreset('seed-mlp');
  for (const [decay, steps] of [
    [0.5, [1, 9, 30]], // (1 + t)/(10 + t): 0.18, then 0.53 and 0.74, both above 0.5
    [0.999, [1, 100]], // 0.18, 0.92: the warm-up is still below 0.999
  ] as const) {
    // a large learning rate, so that each step moves the generator far from its average
    const config = { seed: 1, emaDecay: decay, learningRate: 0.05, discriminatorLearningRate: 0.05, beta1: 0.5 };
    const state = buildTrainingState(preset, { ...config, pack: 1, images: 8 } as RunConfig);
    const stepper = new GanStep(state, ganLoss('bce'), { latentSize: 64, batchSize: 8, emaDecay: decay }, new Rng(3));
    const real = realBatch([8, 28, 28, 1]);
    for (const t of steps) {
      const before = weightsOf(state.ema);
      await stepper.run(t, real, undefined, false);
      const [generator, after] = [weightsOf(state.generator), weightsOf(state.ema)];
      // after = d · before + (1 − d) · generator, so d is the least-squares ratio of (after − g) to (before − g)
      let [num, den] = [0, 0];
      for (let i = 0; i < after.length; i++) {
        num += (after[i] - generator[i]) * (before[i] - generator[i]);
        den += (before[i] - generator[i]) ** 2;
      }
      const expected = Math.min(decay, (1 + t) / (10 + t));
      assert.ok(Math.abs(num / den - expected) < 1e-3, `decay ${decay}, step ${t}: ${num / den} vs ${expected}`);
    }
    real.dispose();
  }
});

const seed = 5;
let trained: Promise<string> | undefined;
/** One run for the tests below: 2 epochs of 2 steps, every step logged, a learning rate that moves the generator far. */
function trainedRun(): Promise<string> {
  trained ??= (async () => {
    const outDir = tempDir();
    const options = { preset: 'seed-mlp', dataDir: SAMPLE_DATA, limit: 128, epochs: 2, seed, backend: 'cpu' };
    await train({ ...options, outDir, emaDecay: 0.9, learningRate: 0.05, logEvery: 1, quiet: true });
    return outDir;
  })();
  return trained;
}

test("the epoch PNG and generator/ (so exports) are the EMA generator's; generate --seed S draws the epoch PNG", async () => {
  const run = await trainedRun();
  // the epoch-end checkpoint holds the weights the last picture and generator/ were made from
  const load = (dir: string) => loadLayersModel(join(run, dir, 'model.json'));
  const [ema, raw, saved] = [await load('checkpoint/ema'), await load('checkpoint/generator'), await load('generator')];
  assert.deepEqual(weightsOf(saved), weightsOf(ema), 'generator/ holds the EMA weights');
  assert.ok(maxAbsDiff(weightsOf(raw), weightsOf(ema)) > 1e-2, 'the raw generator has moved away from the EMA');
  const picture = readFileSync(join(run, 'samples', 'epoch-002.png'));
  const drawn = async (model: tf.LayersModel) => {
    const file = join(tempDir(), 'epoch.png');
    const writer = new SampleWriter({ seed, latentSize: 64, sampleShape: [28, 28, 1] });
    await writer.write(model, file);
    writer.dispose();
    return readFileSync(file);
  };
  assert.deepEqual(picture, await drawn(ema), 'the epoch PNG is the EMA generator on the fixed latents');
  assert.notDeepEqual(picture, await drawn(raw));

  // generate --seed S on the export: the same 64 latents, so the same picture up to ONNX Runtime's rounding
  const model = tempDir();
  await exportRun(run, model);
  const generated = (s: number) => {
    const out = join(model, `seed-${s}.png`);
    const result = runCli(['generate', model, '--seed', String(s), '--count', '64', '--out', out]);
    assert.equal(result.status, 0, result.stderr);
    return PNG.sync.read(readFileSync(out)).data;
  };
  const epoch = PNG.sync.read(picture).data;
  assert.ok(maxAbsDiff(generated(seed), epoch) <= 1, 'generate --seed S: within one gray level of the epoch PNG');
  assert.ok(maxAbsDiff(generated(seed + 1), epoch) > 50, 'another seed draws other images');
});

test('loss.svg charts the D and G losses of every metrics line', async () => {
  const run = await trainedRun();
  const lines = await readMetrics(join(run, 'metrics.jsonl'));
  assert.equal(lines.length, 4);
  const svg = readFileSync(join(run, 'loss.svg'), 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  const paths = [...svg.matchAll(/<path d="([^"]*)"/g)].map(([, d]) => d.match(/[ML]/g)?.length);
  assert.deepEqual(paths, [4, 4], 'one vertex per metrics line, in each of the two paths');
  for (const label of ['D loss', 'G loss']) assert.ok(svg.includes(label), label);
});

test('elapsed_s counts on over a resume, from the time its checkpoint recorded', async () => {
  const outDir = tempDir();
  const options = { preset: 'seed-mlp', dataDir: SAMPLE_DATA, limit: 128, seed, backend: 'cpu', quiet: true };
  await train({ ...options, outDir, epochs: 1, logEvery: 1 });
  const { step, elapsedSeconds } = JSON.parse(readFileSync(join(outDir, 'checkpoint', 'position.json'), 'utf8'));
  assert.equal(step, 2);
  assert.ok(elapsedSeconds > 0, `the checkpoint records the time trained: ${elapsedSeconds}`);
  await train({ outDir, resume: true, epochs: 2, quiet: true });
  const lines = await readMetrics(join(outDir, 'metrics.jsonl'));
  assert.deepEqual(
    lines.map((line) => line.step),
    [1, 2, 3, 4],
  );
  for (const line of lines.slice(2))
    assert.ok(line.elapsedSeconds >= elapsedSeconds, `step ${line.step}: ${line.elapsedSeconds} s`);
});
