/** The onnx engine's runners on a made-up step graph: the state moves on, and every per-step input must be fed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeNode } from '../../src/onnx/builder.js';
import { encodeModel } from '../../src/onnx/proto.js';
import type { CapturedGraph, GraphTensor } from '../../src/tfjs/capture.js';
import { createRunner } from '../../src/train/onnx-runners.js';
import { floatModel } from './graph-runs.js';

const tensor = (name: string, shape: number[]): GraphTensor => ({ name, shape, dtype: 'float32' });

/** w' = w + x; both losses the sum of w'; the measurement [Σx, Σw]. */
function graphs(): { train: CapturedGraph; measure: CapturedGraph } {
  const step = floatModel(
    [
      makeNode('Add', ['w', 'x'], ['w_next']),
      makeNode('ReduceSum', ['w_next'], ['dLoss'], {}, 'dLoss'),
      makeNode('Identity', ['dLoss'], ['gLoss']),
    ],
    'step',
    { w: [4], x: [4] },
    { w_next: [4], dLoss: [1], gLoss: [1] },
  );
  const measure = floatModel(
    [
      makeNode('ReduceSum', ['x'], ['sx']),
      makeNode('ReduceSum', ['w'], ['sw']),
      makeNode('Concat', ['sx', 'sw'], ['measured'], { axis: { type: 2, i: 0 } }),
    ],
    'measure',
    { w: [4], x: [4] },
    { measured: [2] },
  );
  return {
    train: {
      model: encodeModel(step),
      inputs: [tensor('w', [4]), tensor('x', [4])],
      outputs: [tensor('w_next', [4]), tensor('dLoss', [1]), tensor('gLoss', [1])],
      updated: new Map([['w', 'w_next']]),
      kernels: 3,
    },
    measure: {
      model: encodeModel(measure),
      inputs: [tensor('w', [4]), tensor('x', [4])],
      outputs: [tensor('measured', [2])],
      updated: new Map(),
      kernels: 3,
    },
  };
}

test('a step moves the state on; a per-step input left unfed is an error, not zeros', async () => {
  const { train, measure } = graphs();
  const state = new Map([['w', Float32Array.of(1, 2, 3, 4)]]);
  const runner = await createRunner(train, measure, state, { threads: 1, hostUpdate: false, nchwc: false });
  try {
    const x = Float32Array.of(0.5, 0.5, 0.5, 0.5);
    const losses = await runner.step(new Map([['x', x]]));
    assert.deepEqual(losses, { dLoss: 12, gLoss: 12 });
    assert.deepEqual([...(await runner.measure(new Map([['x', x]])))], [2, 12]);
    await assert.rejects(runner.step(new Map()), /input x was not fed/);
    await assert.rejects(runner.measure(new Map()), /input x was not fed/);
    assert.deepEqual([...((await runner.read()).get('w') as Float32Array)], [1.5, 2.5, 3.5, 4.5]);
  } finally {
    await runner.dispose();
  }
});
