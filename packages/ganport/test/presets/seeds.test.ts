/** Every preset's initial weights follow its seed, seed 0 included (tfjs's normal initializers take 0 for none). */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type * as tf from '@tensorflow/tfjs';
import { PRESETS } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';

before(async () => {
  await selectBackend('cpu');
});

/** Every weight of the models `build` makes, as plain arrays; the models are disposed. */
function weightsOf(build: () => tf.LayersModel[]): number[][] {
  const models = build();
  const values = models.flatMap((model) => model.getWeights().map((w) => Array.from(w.dataSync())));
  for (const model of models) model.dispose();
  return values;
}

for (const preset of Object.values(PRESETS))
  test(`${preset.name}: the same seed builds the same weights, 0 as well as others; another seed others`, () => {
    const build = (seed: number) => () => [
      preset.buildGenerator(seed),
      preset.buildDiscriminator(seed),
      ...(preset.numClasses ? [] : [preset.buildDiscriminator(seed, 2)]), // packing: unconditional presets only
    ];
    for (const seed of [0, 5]) assert.deepEqual(weightsOf(build(seed)), weightsOf(build(seed)), `seed ${seed}`);
    assert.notDeepEqual(weightsOf(build(0)), weightsOf(build(5)));
  });
