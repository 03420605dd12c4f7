import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readRunConfig } from '../../src/formats/run-dir.js';
import { buildTrainingState, openRun } from '../../src/train/run-setup.js';
import { tempDir } from '../helpers.js';

test('TTUR: --lr-d gives the discriminator its own Adam learning rate, recorded in config.json', async () => {
  const outDir = tempDir();
  const base = { outDir, preset: 'mlp-2d', dataDir: 'grid', backend: 'cpu', quiet: true };
  const { config, preset } = await openRun({ ...base, learningRate: 1e-4, discriminatorLearningRate: 4e-4 });
  const state = buildTrainingState(preset, config);
  assert.equal(state.gOptimizer.rate, 1e-4);
  assert.equal(state.dOptimizer.rate, 4e-4);
  assert.ok(Math.abs(state.dOptimizer.learningRate.dataSync()[0] - 4e-4) < 1e-10, 'the rate the step reads');
  const saved = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  assert.deepEqual([saved.learningRate, saved.discriminatorLearningRate], [1e-4, 4e-4]);

  const same = await openRun({ ...base, outDir: tempDir(), learningRate: 3e-4 });
  assert.equal(same.config.discriminatorLearningRate, 3e-4, 'without --lr-d, D uses --lr');
});

test('learning rates must be positive numbers, checked before a run is written', async () => {
  for (const options of [{ learningRate: 0 }, { discriminatorLearningRate: -1 }, { learningRate: Number.NaN }]) {
    await assert.rejects(
      openRun({ outDir: tempDir(), preset: 'mlp-2d', dataDir: 'grid', backend: 'cpu', ...options }),
      /learning rate must be a positive number/,
    );
  }
});

test('a run from before TTUR reads back with the discriminator on the common learning rate', async () => {
  const outDir = tempDir();
  const { config } = await openRun({ outDir, preset: 'mlp-2d', dataDir: 'grid', backend: 'cpu', learningRate: 2e-3 });
  const { discriminatorLearningRate: _, ...old } = config;
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(old));
  assert.equal((await readRunConfig(outDir)).discriminatorLearningRate, 2e-3);
});
