import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareRounds, median } from '../../bench/stats.js';

test('median: the middle value, or the mean of the two middle ones', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
});

test("compareRounds: the medians' ratio, and each round's ratio against its own reference", () => {
  const figures = [
    { round: 1, ms: 30 },
    { round: 2, ms: 40 },
    { round: 3, ms: 35 },
  ];
  // the reference's fastest round is not the figures' fastest: a round's ratio pairs them by round
  const reference = [
    { round: 1, ms: 60 },
    { round: 2, ms: 50 },
    { round: 3, ms: 100 },
  ];
  const { ratio, lowest, highest } = compareRounds(figures, reference);
  assert.equal(ratio, 35 / 60);
  assert.equal(lowest, 0.35);
  assert.equal(highest, 0.8);
});

test('compareRounds: a round that only one side ran in has no ratio of its own', () => {
  const { ratio, lowest, highest } = compareRounds(
    [
      { round: 1, ms: 10 },
      { round: 2, ms: 30 },
    ],
    [{ round: 2, ms: 40 }],
  );
  assert.equal(ratio, 20 / 40);
  assert.equal(lowest, 0.75);
  assert.equal(highest, 0.75);
});
