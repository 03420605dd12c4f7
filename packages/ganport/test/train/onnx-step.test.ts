/**
 * The onnx engine against the tfjs engine it was captured from: every preset and option gives the
 * same losses and weights, over one step and over runs; nothing leaks; what cannot be captured says so.
 */
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { decodeModel, encodeModel } from '../../src/onnx/proto.js';
import { dcgan } from '../../src/presets/dcgan.js';
import { getPreset, PRESETS, type Preset } from '../../src/presets/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { detachGeneratorUpdate } from '../../src/train/host-update.js';
import { ganLoss } from '../../src/train/losses.js';
import { sessionWays } from '../../src/train/onnx-runners.js';
import { OnnxStep, type OnnxStepOptions } from '../../src/train/onnx-step.js';
import { buildTrainingState, disposeTrainingState } from '../../src/train/run-setup.js';
import { splitAtDiscriminatorUpdate, worthSplitting } from '../../src/train/split-step.js';
import { GanStep } from '../../src/train/step.js';
import { RETRIAL_EVERY } from '../../src/train/ways.js';
import { collectGarbage } from '../helpers.js';
import {
  assertSameSteps,
  DCGAN_64_GRADIENT_TOLERANCE,
  oneTrainingStep,
  realBatch,
  type StepResult,
  type TrainingStepOptions,
} from '../tfjs/training-step.js';

async function compareEngines(
  preset: string | Preset,
  batch: number,
  options: TrainingStepOptions = {},
): Promise<StepResult> {
  await selectBackend('wasm');
  const p = typeof preset === 'string' ? getPreset(preset) : preset;
  const tfjs = await oneTrainingStep(p, batch, options);
  // the CPU rewrites must apply, not fall back to the graph as captured (which would equal tfjs's too)
  const log = (line: string) => assert.doesNotMatch(line, /rewrite failed/);
  const onnx = await oneTrainingStep(p, batch, { ...options, engine: 'onnx', log });
  const gradientTolerance = p.name === 'dcgan-64' ? DCGAN_64_GRADIENT_TOLERANCE : undefined;
  assertSameSteps(onnx, tfjs, `${p.name} ${JSON.stringify(options)}`, { gradientTolerance });
  return onnx;
}

for (const preset of Object.values(PRESETS)) {
  test(`one step of ${preset.name}: the onnx engine equals the tfjs engine on wasm`, async () => {
    await compareEngines(preset.name, preset.sampleShape.length === 1 ? 16 : 8);
  });
}

// batch 8 leaves the dcgan's convolutions under the NCHWc rewrite's size; at 64 every CPU rewrite applies.
// Without dropout, as the bench trains it: with it, tfjs's wasm kernels and its cpu backend give generator
// gradients 4.6e-3 (of their largest) apart at this batch, and onnxruntime's agree with the cpu backend's
test('one step of dcgan at batch 64, every CPU rewrite applied: the onnx engine equals the tfjs engine on wasm', async () => {
  const onnx = await compareEngines(
    dcgan({ name: 'dcgan', description: 'no dropout', size: 28, channels: 1, dropout: 0 }),
    64,
  );
  // the rewrites ran: NCHWc convolutions with their reorders, and the one-channel transposed convolution as Col2Im
  for (const op of ['com.microsoft.nchwc:Conv', 'com.microsoft.nchwc:ReorderInput', ':Col2Im'])
    assert.ok(onnx.stepOps?.has(op), `${op} in ${[...(onnx.stepOps ?? [])].join(', ')}`);
  assert.ok(!onnx.stepOps?.has(':ConvTranspose'), 'no transposed convolution left to onnxruntime as it is');
});

const OPTIONS: [string, number, TrainingStepOptions][] = [
  ['dcgan', 8, { loss: 'lsgan', labelSmoothing: 0.1 }],
  ['dcgan', 8, { loss: 'hinge', emaDecay: 0.9, steps: 3 }],
  ['dcgan', 8, { r1Gamma: 1, spectralNorm: true }],
  ['dcgan', 8, { pack: 2, learningRate: 1e-4, discriminatorLearningRate: 4e-4 }],
  ['cdcgan-projection', 8, { r1Gamma: 0.5, spectralNorm: true, loss: 'hinge' }],
  ['cdcgan', 8, { labelSmoothing: 0.2, emaDecay: 0.99, steps: 2 }],
  ['pacgan-2d', 24, { pack: 4, steps: 2 }],
  ['mlp-2d', 16, { lrDecay: true, steps: 4, emaDecay: 0.5 }],
  ['seed-mlp', 8, { loss: 'lsgan', lrDecay: true, steps: 3, r1Gamma: 2 }],
];

for (const [preset, batch, options] of OPTIONS) {
  test(`${preset} with ${JSON.stringify(options)}: the onnx engine equals the tfjs engine`, async () => {
    await compareEngines(preset, batch, options);
  });
}

test('200 steps of seed-mlp on a fixed batch: the onnx loss curve follows the wasm one', async () => {
  await selectBackend('wasm');
  const options: TrainingStepOptions = { steps: 200, emaDecay: 0.999 };
  const tfjs = await oneTrainingStep(getPreset('seed-mlp'), 32, options);
  const onnx = await oneTrainingStep(getPreset('seed-mlp'), 32, { ...options, engine: 'onnx' });
  // float summation order differs (XNNPACK vs MLAS), so the runs drift apart slowly; each loss stays close
  for (const [s, losses] of onnx.curve.entries()) {
    for (const [i, l] of losses.entries()) {
      const expected = tfjs.curve[s][i];
      assert.ok(
        Math.abs(l - expected) <= 1e-2 * Math.max(1, Math.abs(expected)),
        `step ${s + 1} loss ${i}: ${l} vs ${expected}`,
      );
    }
  }
  const moved = Math.abs(tfjs.curve[199][1] - tfjs.curve[0][1]);
  assert.ok(moved > 0.05, `the generator loss moved over the run (${moved})`);
});

test('the onnx engine: the same seed gives the same losses; a step leaves no tensor behind', async () => {
  await selectBackend('wasm');
  const options: TrainingStepOptions = { steps: 3, engine: 'onnx', emaDecay: 0.99 };
  const first = await oneTrainingStep(getPreset('dcgan'), 8, options);
  const second = await oneTrainingStep(getPreset('dcgan'), 8, options);
  assert.deepEqual(first.curve, second.curve);

  const { state, engine, step, dispose } = await handMadeEngine('dcgan', 8, 0.99);
  await step(1, true);
  const before = tf.memory().numTensors;
  await step(2, true);
  await step(3, false);
  assert.equal(tf.memory().numTensors, before, 'steps make no tensors');
  await engine.sync();
  assert.equal(tf.memory().numTensors, before, 'sync replaces the state, it does not add to it');
  assert.equal(state.dOptimizer.iterations, 3);
  await dispose();
});

test('the onnx engine gives the same losses on one onnxruntime thread as on two (so it may choose the faster)', async () => {
  await selectBackend('wasm');
  const single = await oneTrainingStep(getPreset('dcgan'), 8, { steps: 2, engine: 'onnx', threads: 1 });
  const double = await oneTrainingStep(getPreset('dcgan'), 8, { steps: 2, engine: 'onnx', threads: 2 });
  assert.deepEqual(single.curve, double.curve);
  assert.deepEqual(single.weights, double.weights);
});

test('on 2 cores too, the spinning way keeps 2 threads only where they give the same bits as one (here: seed-mlp at batch 16, whichever it is on this machine)', async () => {
  await selectBackend('wasm');
  const preset = getPreset('seed-mlp');
  const lines: string[] = [];
  const single = await oneTrainingStep(preset, 16, { steps: 2, engine: 'onnx', threads: 1 });
  const double = await oneTrainingStep(preset, 16, { steps: 2, engine: 'onnx', threads: 2 });
  const ways = await oneTrainingStep(preset, 16, { steps: 2, engine: 'onnx', cores: 2, log: (l) => lines.push(l) });
  // measured on this project's machines: 2 threads sum these small products in another order
  const agree = isDeepStrictEqual(double.weights, single.weights);
  assert.equal(ways.threading, agree ? 'trying 2 threads, spinning; 1 thread in turn' : '1 thread');
  if (!agree)
    assert.match(lines.join('\n'), /2 onnxruntime threads sum the step's products in another order .*one thread only/);
  assert.deepEqual(ways.weights, single.weights);
});

test('on a GPU provider (CUDA) the step runs in one session: threads mean nothing there, and two could differ', () => {
  assert.deepEqual(sessionWays([], { providers: ['cuda', 'cpu'], cores: 4 }), [{ threads: 1 }]);
  assert.deepEqual(sessionWays([], { providers: ['cpu'], cores: 4, threads: 3 }), [{ threads: 3 }], 'fixed threads');
});

test('above 2 cores the spinning way takes the most threads that give the same bits as one: the ways stand in for each other', async () => {
  await selectBackend('wasm');
  // the mlp's products, 4 threads (on 2 cores here: the sums' order follows the threads, not the cores)
  const lines: string[] = [];
  const single = await oneTrainingStep(getPreset('mlp'), 64, { steps: 2, engine: 'onnx', threads: 1 });
  const four = await oneTrainingStep(getPreset('mlp'), 64, { steps: 2, engine: 'onnx', threads: 4 });
  const ways = await oneTrainingStep(getPreset('mlp'), 64, {
    steps: 2,
    engine: 'onnx',
    cores: 4,
    log: (l) => lines.push(l),
  });
  // on this project's machines 4 threads sum in another order; where they do not, the probe keeps them
  const agree = isDeepStrictEqual(four.weights, single.weights);
  const capped =
    "onnx engine: 4 onnxruntime threads sum the step's products in another order than one thread, and the ways must give the same bits to stand in for each other: 2 threads, which agree";
  assert.deepEqual(lines, agree ? [] : [capped]);
  assert.equal(ways.threading, `trying ${agree ? 4 : 2} threads, spinning; 1 thread in turn`);
  assert.deepEqual(ways.weights, single.weights);
});

const LANE_CASES: [string, number, TrainingStepOptions][] = [
  ['dcgan', 8, { steps: 2, emaDecay: 0.99 }],
  ['cdcgan-projection', 8, { r1Gamma: 0.5, spectralNorm: true, loss: 'hinge' }],
  ['pacgan-2d', 16, { pack: 4, steps: 2 }],
];

for (const [preset, batch, options] of LANE_CASES) {
  test(`${preset} with ${JSON.stringify(options)}: the step split over two lanes gives the same losses and weights as one thread`, async () => {
    await selectBackend('wasm');
    const single = await oneTrainingStep(getPreset(preset), batch, { ...options, engine: 'onnx', threads: 1 });
    const split = await oneTrainingStep(getPreset(preset), batch, { ...options, engine: 'onnx', lanes: 2 });
    assert.match(split.threading ?? '', /^2 lanes \(\d+ \+ \d+ segments\)$/);
    assert.deepEqual(split.curve, single.curve);
    assert.deepEqual(split.weights, single.weights);
  });
}

test("the trial: the run's first steps take turns on each way to run the step, bit for bit as one thread, then one is chosen and reported", async () => {
  await selectBackend('wasm');
  const lines: string[] = [];
  // steps enough for the longest trial: 3 ways × (5 warm-up + 60 timed rounds)
  const steps = 3 * (5 + 60) + 3;
  const single = await oneTrainingStep(getPreset('dcgan'), 8, { steps, engine: 'onnx', threads: 1 });
  const tried = await oneTrainingStep(getPreset('dcgan'), 8, { steps, engine: 'onnx', log: (l) => lines.push(l) });
  assert.deepEqual(tried.curve, single.curve);
  assert.deepEqual(tried.weights, single.weights);
  if (cpus().length === 1) return; // one way only: nothing to try
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /^onnx engine: (.+) chosen; lower quartiles of the first steps: (.+ \d+\.\d ms; )+.+ \d+\.\d ms$/,
  );
  assert.ok(lines[0].includes(`${tried.threading} chosen`), tried.threading);
});

test('a re-trial after the first thousand steps gives each way its turns again, and the log says how it ended', async () => {
  await selectBackend('wasm');
  const lines: string[] = [];
  // at most 3 ways: the first trial (5 warm-up turns, at most 60 timed), 1,000 steps, the re-trial (1 + 9)
  const steps = 3 * (5 + 60) + RETRIAL_EVERY + 3 * (1 + 9) + 1;
  // (the ways' numbers are the same bit for bit, whenever the run switches: the trial test above)
  const tried = await oneTrainingStep(getPreset('mlp-2d'), 16, { steps, engine: 'onnx', log: (l) => lines.push(l) });
  if (cpus().length === 1) return; // one way only: nothing to try
  assert.equal(lines.length, 2, lines.join('\n'));
  const first = /^onnx engine: (.+) chosen; lower quartiles of the first steps: /.exec(lines[0])?.[1];
  assert.ok(first, lines[0]);
  assert.match(lines[1], /; lower quartiles of the re-trial: (.+ \d+\.\d ms; )+.+ \d+\.\d ms$/);
  // the way the run ends on, and whether it is the one the first trial chose
  const outcome = tried.threading === first ? 'kept' : `chosen over ${first}`;
  assert.ok(lines[1].startsWith(`onnx engine: ${tried.threading} ${outcome}; `), lines[1]);
});

// mlp-2d runs one graph; the mlp (batch 16) two, with Adam and the EMA outside them (split-step.ts)
for (const [preset, batch] of [
  ['mlp-2d', 64],
  ['mlp', 16],
] as const) {
  test(`the onnx engine keeps its memory flat over 1,000 steps (${preset})`, async () => {
    await selectBackend('wasm');
    const { step, dispose } = await handMadeEngine(preset, batch, 0.99);
    const rss = () => process.memoryUsage().rss;
    for (let n = 1; n <= 100; n++) await step(n, n % 50 === 0);
    collectGarbage();
    const warm = rss();
    const tensors = tf.memory().numTensors;
    for (let n = 101; n <= 1000; n++) await step(n, n % 50 === 0);
    collectGarbage();
    const grown = (rss() - warm) / 2 ** 20;
    assert.ok(grown < 20, `RSS grew by ${grown.toFixed(1)} MB over 900 steps`);
    assert.equal(tf.memory().numTensors, tensors);
    await dispose();
  });
}

test('a kernel the engine cannot write stops the capture with one line naming it', async () => {
  await selectBackend('wasm');
  const { captureGraph } = await import('../../src/tfjs/capture.js');
  const x = tf.tensor1d([1, 2, 3]);
  assert.throws(
    () => captureGraph({ name: 'fft', inputs: [{ name: 'x', tensor: x }], state: [], fn: () => ({ y: tf.cumsum(x) }) }),
    /the onnx engine cannot capture the tfjs kernel Cumsum yet/,
  );
  x.dispose();
});

test('a capture that fails midway puts the tfjs state back as it was: weights, moments, iterations', async () => {
  await selectBackend('wasm');
  const p = getPreset('seed-mlp');
  const config = stateConfig(p.latentSize, 8);
  const state = buildTrainingState(p, config);
  const real = realBatch([8, ...p.sampleShape]);
  const stepper = new GanStep(state, ganLoss('bce'), config, new Rng(3));
  const capturing = new GanStep(state, ganLoss('bce'), config, new Rng(4));
  const values = () =>
    [state.generator, state.discriminator].flatMap((m) => m.weights.map((w) => Array.from(w.read().dataSync())));
  const moments = () =>
    [state.dOptimizer, state.gOptimizer].flatMap((o) => o.firstMoments.map((m) => Array.from(m.dataSync())));
  const before = { weights: values(), moments: moments(), iterations: state.dOptimizer.iterations };
  const train = capturing.train.bind(capturing);
  capturing.train = (tensors) => {
    train(tensors); // both updates ran
    throw new Error('a kernel it cannot write');
  };
  await assert.rejects(OnnxStep.create(capturing, stepper, real, undefined, {}), /a kernel it cannot write/);
  assert.deepEqual({ weights: values(), moments: moments(), iterations: state.dOptimizer.iterations }, before);
  stepper.dispose();
  real.dispose();
  disposeTrainingState(state);
});

const HOST_UPDATE_CASES: [string, number, TrainingStepOptions][] = [
  ['dcgan', 8, { steps: 3, emaDecay: 0.9, loss: 'hinge' }],
  ['pacgan-2d', 24, { pack: 4, steps: 2, beta1: 0.8 }],
  ['mlp-2d', 16, { lrDecay: true, steps: 3, emaDecay: 0.5, spectralNorm: true }],
  // a discriminator of 533,000 values: the step runs as two graphs (split-step.ts)
  ['mlp', 16, { steps: 3, emaDecay: 0.9, r1Gamma: 1, beta1: 0.9 }],
  // spectral norm's power iteration reads the old weights (the first graph); TTUR and lr decay, both Adams' scalars
  ['mlp', 16, { steps: 2, spectralNorm: true, lrDecay: true, learningRate: 1e-4, discriminatorLearningRate: 4e-4 }],
];

for (const [preset, batch, options] of HOST_UPDATE_CASES) {
  test(`${preset} with ${JSON.stringify(options)}: the generator's update after the graph gives the same bits as in it`, async () => {
    await selectBackend('wasm');
    const log = (line: string) => assert.doesNotMatch(line, /rewrite failed/);
    const base = { ...options, engine: 'onnx', threads: 1 } as const;
    const inGraph = await oneTrainingStep(getPreset(preset), batch, { ...base, hostUpdate: false });
    const after = await oneTrainingStep(getPreset(preset), batch, { ...base, log });
    assert.equal(inGraph.hostUpdateMs, 0);
    assert.ok(after.hostUpdateMs! > 0, 'the default run updated the generator after the graph');
    assert.deepEqual(after.curve, inGraph.curve);
    assert.deepEqual(after.weights, inGraph.weights);
    assert.deepEqual(after.moments, inGraph.moments);
  });
}

test("the host update's rewrite: the step graph ends at the generator's gradients; another form of update is refused", async () => {
  await selectBackend('wasm');
  const { engine, dispose } = await handMadeEngine('dcgan', 8, 0.9, { threads: 1, hostUpdate: false });
  const graph = engine.stepGraph;
  const { graph: detached, plan } = detachGeneratorUpdate(graph);
  assert.ok(!worthSplitting(detached), 'a convolutional discriminator is not split');
  const optimized = [...graph.updated.keys()].filter((s) => /^gOptimizer\/m\//.test(s));
  assert.ok(optimized.length >= 4);
  assert.deepEqual(
    plan.generator.variables.map((v) => v.firstMoment),
    optimized,
  );
  assert.ok(plan.ema && plan.ema.weights.length >= optimized.length, 'every EMA weight follows the generator');
  const onHost = [
    ...plan.generator.variables.flatMap((v) => [v.weight, v.firstMoment, v.secondMoment]),
    ...plan.ema.weights.map((e) => e.average),
  ];
  for (const state of onHost) assert.ok(!detached.updated.has(state), `${state} is left to the host update`);
  assert.ok(detached.updated.has('gOptimizer/accBeta1') && detached.updated.has('dOptimizer/m/0'));
  const nodes = (g: typeof graph) => decodeModel(g.model).graph.node.length;
  assert.ok(nodes(graph) - nodes(detached) >= 12 * optimized.length, `${nodes(graph)} → ${nodes(detached)} nodes`);
  assert.deepEqual(
    detached.outputs
      .filter((o) => o.name.startsWith('hostUpdate/'))
      .map((o) => o.name)
      .sort(),
    [
      'ema/decay',
      'ema/keep',
      ...['beta1', 'beta2', 'epsilon', 'negativeStep', 'oneMinusBeta1', 'oneMinusBeta2'].map((r) => `generator/${r}`),
    ].map((r) => `hostUpdate/${r}`),
  );
  const model = decodeModel(graph.model);
  const sqrt = model.graph.node.find((n) => n.opType === 'Sqrt' && n.input[0] === graph.updated.get('gOptimizer/v/0'))!;
  sqrt.opType = 'Abs';
  assert.throws(() => detachGeneratorUpdate({ ...graph, model: encodeModel(model) }), /is not made by Sqrt/);
  const withoutGenerator = new Map([...graph.updated].filter(([s]) => !s.startsWith('gOptimizer/')));
  assert.throws(() => detachGeneratorUpdate({ ...graph, updated: withoutGenerator }), /no generator variables/);
  await dispose();
});

test("the split step: through the trial, each way gives the update in the graph's bits; the first graph ends at the discriminator's gradients", async () => {
  await selectBackend('wasm');
  const lines: string[] = [];
  const steps = 2 * (5 + 60) + 3; // two ways (no lanes for two graphs) through their longest trial
  const options = { steps, engine: 'onnx', emaDecay: 0.9 } as const;
  const inGraph = await oneTrainingStep(getPreset('mlp'), 16, { ...options, threads: 1, hostUpdate: false });
  const tried = await oneTrainingStep(getPreset('mlp'), 16, { ...options, log: (l) => lines.push(l) });
  assert.deepEqual(tried.curve, inGraph.curve);
  assert.deepEqual(tried.weights, inGraph.weights);
  for (const line of lines) assert.doesNotMatch(line, /rewrite failed|lanes/);

  const { engine, dispose } = await handMadeEngine('mlp', 16, 0, { threads: 1, hostUpdate: false });
  const whole = engine.stepGraph;
  const detached = detachGeneratorUpdate(whole).graph;
  assert.ok(worthSplitting(detached), 'a dense discriminator of 533,000 values is split');
  const { parts, crossing, discriminator, updatedInputs } = await splitAtDiscriminatorUpdate(detached);
  const [first, second] = parts.map((p) => decodeModel(p.model).graph);
  const outputs = new Set(first.output.map((o) => o.name));
  for (const v of discriminator.variables) assert.ok(outputs.has(v.gradient), `${v.weight}'s gradient`);
  for (const scalar of Object.values(discriminator.scalars)) assert.ok(outputs.has(scalar), scalar);
  const secondReads = new Set(second.node.flatMap((n) => n.input));
  for (const [weight, input] of updatedInputs) {
    assert.ok(secondReads.has(input), `the second graph reads ${input}`);
    assert.ok(!secondReads.has(weight), `the second graph does not read the old ${weight}`);
  }
  // what the second graph reads of the first's: a few per-unit statistics and loss terms, no activations
  const handed = crossing.reduce((total, t) => total + t.shape.reduce((a, b) => a * b, 1), 0);
  assert.ok(handed < 16 * 1024, `${handed} values handed over`);
  await dispose();
});

/** A fresh state of `preset` and an onnx engine over it, stepping on a fixed real batch. */
async function handMadeEngine(preset: string, batchSize: number, emaDecay = 0, options: OnnxStepOptions = {}) {
  const p = getPreset(preset);
  const config = { ...stateConfig(p.latentSize, batchSize), emaDecay };
  const state = buildTrainingState(p, config);
  const real = realBatch([batchSize, ...p.sampleShape]);
  const stepper = new GanStep(state, ganLoss('bce'), config, new Rng(3));
  const engine = await OnnxStep.create(
    new GanStep(state, ganLoss('bce'), config, new Rng(4)),
    stepper,
    real,
    undefined,
    options,
  );
  const step = (n: number, measure: boolean) => engine.run(n, real, undefined, measure);
  const dispose = async () => {
    await engine.dispose();
    stepper.dispose();
    real.dispose();
    disposeTrainingState(state);
  };
  return { state, engine, step, dispose };
}

/** What buildTrainingState and GanStep read, for the hand-made engines above. */
function stateConfig(latentSize: number, batchSize: number) {
  return {
    seed: 1,
    emaDecay: 0,
    pack: 1,
    spectralNorm: false,
    learningRate: 2e-4,
    discriminatorLearningRate: 2e-4,
    beta1: 0.5,
    images: 0,
    latentSize,
    batchSize,
  };
}
