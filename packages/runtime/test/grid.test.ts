import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultLabels, gridCount, MAX_COUNT } from '../src/core.js';
import type { GeneratorInfo } from '../src/metadata.js';

const conditional = { numClasses: 10 } as GeneratorInfo;
const unconditional = {} as GeneratorInfo;

test('a conditional grid without labels draws a whole row per class: the count rounded up to a multiple of the classes', () => {
  assert.equal(gridCount(conditional, 64), 70);
  assert.equal(gridCount(conditional, 80), 80);
  assert.equal(gridCount(conditional, 1), 10);
  assert.equal(gridCount(conditional, MAX_COUNT), 4090, 'never above the count limit');
  const labels = defaultLabels(gridCount(conditional, 64), 10);
  for (let c = 0; c < 10; c++) assert.deepEqual(labels.slice(c * 7, c * 7 + 7), Array(7).fill(c), `row ${c}`);
});

test('the count stays as asked with labels, for unconditional models, and when invalid (for its own error)', () => {
  assert.equal(gridCount(conditional, 64, [3]), 64);
  assert.equal(gridCount(unconditional, 64), 64);
  assert.equal(gridCount(conditional, 0), 0);
  assert.equal(gridCount(conditional, 2.5), 2.5);
  assert.equal(gridCount(conditional, MAX_COUNT + 1), MAX_COUNT + 1, 'too many is refused, not clamped');
});
