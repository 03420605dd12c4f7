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
  assert.deepEqual(compareRounds(figures, reference), { ratio: 35 / 60, lowest: 0.35, highest: 0.8, paired: 3 });
});

test('compareRounds: a round that only one side ran in counts for neither, so the ratio lies within the range', () => {
  const compared = compareRounds(
    [
      { round: 1, ms: 10 },
      { round: 2, ms: 100 },
      { round: 3, ms: 12 },
    ],
    [
      { round: 1, ms: 20 },
      { round: 3, ms: 22 },
    ],
  );
  assert.deepEqual(compared, { ratio: 11 / 21, lowest: 0.5, highest: 12 / 22, paired: 2 });
  assert.ok(compared!.ratio >= compared!.lowest && compared!.ratio <= compared!.highest);
  assert.equal(compareRounds([{ round: 1, ms: 10 }], [{ round: 2, ms: 40 }]), undefined, 'no round in common');
});
