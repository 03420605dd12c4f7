/**
 * The exporter's differential fuzzer (fuzz-models.ts) in the test suite: a fixed number of seeded random
 * models exported and compared with tfjs in onnxruntime-node, and the shrunk counterexamples its long runs
 * (`npm run fuzz:export -- --runs N`) found, each replayed in onnxruntime-node and -web.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { selectBackend } from '../../src/tfjs/backend.js';
import { checkCase, type FuzzCase, fuzzCases, type Runtime } from './fuzz-models.js';

before(async () => {
  await selectBackend('cpu');
});

/** The cases each `npm test` runs (a few seconds), from a fixed seed. */
const SEEDED_RUNS = 300;
const SEED = 20261205;

describe('differential fuzzing of the exporter against tfjs', () => {
  test(`${SEEDED_RUNS} random models from seed ${SEED}: stacks and DAGs, nested models, opsets, layouts`, async () => {
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(fuzzCases, async (c) => {
        if (await checkCase(c)) compared++;
      }),
      { numRuns: SEEDED_RUNS, seed: SEED },
    );
    // a case whose tfjs output overflows compares nothing: they must stay rare (all 300 compare today)
    assert.ok(compared >= 0.9 * SEEDED_RUNS, `${compared} of ${SEEDED_RUNS} cases compared with tfjs`);
  });
});

/** A case as fast-check printed it once shrunk, with the export options every one of these shares. */
const found = (model: FuzzCase['model'], layout: FuzzCase['layout'], batch = 1): FuzzCase => ({
  model,
  opset: 13,
  layout,
  foldBatchNorm: false,
  batch,
  freeLength: 2,
});

const layer = (kind: string, inputs: number[], args: Record<string, unknown> = {}) =>
  ({ kind, inputs, args }) as FuzzCase['model']['layers'][number];

const zeroPad = (padding: number[][]) => layer('zeroPadding2d', [1], { padding });
const pool = (input: number, op: string, poolSize: number, strides: number, padding: string) =>
  layer('pooling2d', [input], { op, poolSize, strides, padding });
const dense = (input: number, units: number) =>
  layer('dense', [input], { units, activation: 'linear', useBias: false });
const slice = (input: number, masks: Record<string, number>, bounds: number[][]) =>
  layer('tfStridedSlice', [input], {
    op: 'StridedSlice',
    inputs: 4,
    attr: Object.fromEntries(Object.entries(masks).map(([k, v]) => [k, { i: String(v) }])),
    constants: { 1: bounds[0], 2: bounds[1], 3: bounds[2] },
  });

/** What each counterexample showed, and the case. */
const REGRESSIONS: Record<string, FuzzCase> = {
  // ONNX Runtime's PadFusion folded the Pad into the pool's own pads (convert.ts keepPadsBeforePooling)
  'ZeroPadding2D → AveragePooling2D 1×1 channels-first: the folded pad is wider than the window': found(
    {
      inputs: [{ shape: [3, 3, 1] }],
      layers: [
        layer('activation', [0], { activation: 'linear' }),
        zeroPad([
          [1, 0],
          [0, 0],
        ]),
        pool(2, 'average', 1, 1, 'same'),
        dense(3, 1),
      ],
      outputs: [4, 3],
    },
    'nchw',
  ),
  'ZeroPadding2D → MaxPooling2D channels-first: folded, the pad stops being a 0 next to negatives': found(
    {
      inputs: [{ shape: [4, 4, 1] }],
      layers: [
        layer('activation', [0], { activation: 'linear' }),
        zeroPad([
          [1, 1],
          [1, 1],
        ]),
        pool(2, 'max', 2, 2, 'valid'),
      ],
      outputs: [3],
    },
    'nchw',
    3,
  ),
  'a channels-last Pad reaching a pool through a Transpose, which ONNX Runtime moves out of the way': found(
    {
      inputs: [{ shape: [1, 1, 1] }],
      layers: [
        layer('layerNormalization', [0], { epsilon: 0.001, center: false, scale: false }),
        zeroPad([
          [0, 0],
          [1, 0],
        ]),
        dense(2, 1),
        pool(2, 'average', 1, 1, 'same'),
      ],
      outputs: [4],
    },
    'nchw',
  ),
  // ONNX Runtime's layout optimizer left a channels-last linear Resize with scales it refuses (spatial.ts)
  'Permute → UpSampling2D bilinear, channels-first export': found(
    {
      inputs: [{ shape: [3, 2, 4] }],
      layers: [
        layer('permute', [0], { dims: [2, 3, 1] }),
        layer('upSampling2d', [1], { size: [2, 2], interpolation: 'bilinear' }),
      ],
      outputs: [2],
    },
    'nchw',
  ),
  // tfjs's stridedSlice mishandles shrunk axes (tf-op-layer.ts computes them itself)
  'StridedSlice shrinking an axis whose stride is 2 (TensorFlow ignores it)': found(
    {
      inputs: [{ shape: [1, 1] }],
      layers: [
        dense(0, 7),
        slice(1, { begin_mask: 1, end_mask: 1, shrink_axis_mask: 2 }, [
          [0, 0, 5],
          [0, 1, 7],
          [1, 1, 2],
        ]),
      ],
      outputs: [2, 1],
    },
    'nhwc',
  ),
  'StridedSlice shrinking one axis and reversing another': found(
    {
      inputs: [{ shape: [3, 2] }],
      layers: [
        slice(0, { begin_mask: 5, end_mask: 1, shrink_axis_mask: 2 }, [
          [0, 0, 1],
          [0, 3, -3],
          [1, 1, -1],
        ]),
        dense(1, 1),
      ],
      outputs: [2, 1],
    },
    'nhwc',
  ),
  // ONNX Runtime's nearest Resize floors out / (out/in) in float32 (tf-ops.ts gathers the rows instead)
  'ResizeNearestNeighbor 14×4 → 4×5: row 2 reads row 7 (2 · 3.5), not 6': found(
    {
      inputs: [{ shape: [7, 4, 1] }],
      layers: [
        layer('upSampling2d', [0], { size: [2, 1], interpolation: 'bilinear' }),
        layer('tfResize', [1], { op: 'ResizeNearestNeighbor', inputs: 2, attr: {}, constants: { 1: [4, 5] } }),
        dense(2, 1),
      ],
      outputs: [3, 2],
    },
    'nhwc',
  ),
};

describe('counterexamples the fuzzer found, replayed in onnxruntime-node and -web', () => {
  for (const [what, c] of Object.entries(REGRESSIONS))
    test(what, async () => {
      assert.ok(await checkCase(c, [ortNode, ortWeb as unknown as Runtime]), 'compared with tfjs');
    });
});
