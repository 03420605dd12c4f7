/** A width preset's weights counted at any width from three tiny builds equal those of the models built there. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { getPreset } from '../../src/presets/index.js';
import { weightCounts, weightCountsAtWidth } from '../../src/presets/weight-count.js';
import { selectBackend } from '../../src/tfjs/backend.js';

before(async () => {
  await selectBackend('cpu');
});

test('weightCountsAtWidth equals the built models’ counts, for every variant that changes them', () => {
  for (const [name, clusters, pack, spectralNorm] of [
    ['dcgan', undefined, 1, false],
    ['dcgan', 10, 1, true], // a label embedding and a projection
    ['cdcgan', undefined, 1, false],
    ['cdcgan-projection', undefined, 1, true],
    ['dcgan-32', undefined, 2, false],
    ['dcgan-64', undefined, 1, false],
  ] as const) {
    const base = getPreset(name, { clusters });
    for (const width of [5, 12]) {
      const built = weightCounts(base.withWidth!(width), pack, { spectralNorm });
      assert.deepEqual(weightCountsAtWidth(base, width, pack, { spectralNorm }), built, `${name} at width ${width}`);
    }
  }
  // the DCGAN at its own width: its README row (a generator of 1,116,547 weights at 64×64)
  assert.equal(weightCountsAtWidth(getPreset('dcgan-64'), 32).generator, 1116547);
});
