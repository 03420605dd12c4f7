/**
 * The ort backend against the pure-JS cpu backend (every kernel and its gradient), against
 * wasm (a whole training step of every preset, as training routes it and with every call on ORT),
 * its routing thresholds and thread counts, its session cache, its use of onnxruntime-node's
 * internal synchronous binding, and the parity guard.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import { DataType, makeGraph, makeModel, makeNode, makeValueInfo } from '../../src/onnx/builder.js';
import { encodeModel } from '../../src/onnx/proto.js';
import { runParity } from '../../src/parity/parity.js';
import { PRESETS, type Preset } from '../../src/presets/index.js';
import { selectBackend, selectReferenceBackend } from '../../src/tfjs/backend.js';
import { ORT_BACKEND } from '../../src/tfjs/backend-names.js';
import { ortMinimumSizes, sessions } from '../../src/tfjs/ort-kernels.js';
import { type OrtSession, ortBinding, PINNED_ORT_VERSION, SessionCache } from '../../src/tfjs/ort-session.js';
import { ROOT, SHIPPED_MODEL_DIR } from '../helpers.js';
import { assertSameSteps, DCGAN_64_GRADIENT_TOLERANCE, oneTrainingStep, type StepResult } from './training-step.js';

const defaults = { ...ortMinimumSizes };
before(async () => {
  await selectBackend('wasm');
  await selectBackend(ORT_BACKEND);
  // Every call goes to ORT, however small, except in the training-step tests.
  Object.assign(ortMinimumSizes, { flops: 0, elements: 0 });
});
after(() => Object.assign(ortMinimumSizes, defaults));

function random(shape: number[], rng: Rng): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.nextNormal());
}

/** Largest difference relative to the largest expected magnitude (at least 1). */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'length');
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  return worst;
}

type Values = Record<string, Float32Array | Uint8Array | Int32Array>;

/**
 * Runs `compute` on cpu and on ort, and compares every output; `graphs` are the ORT graphs
 * (session key prefixes: the tfjs kernel names) the ort run must have used.
 */
async function compareWithCpu(
  compute: () => Record<string, tf.Tensor>,
  graphs: string[],
  tolerance = 1e-5,
): Promise<void> {
  sessions.clear();
  const results: Values[] = [];
  for (const backend of ['cpu', ORT_BACKEND]) {
    await tf.setBackend(backend);
    results.push(
      tf.tidy(() => Object.fromEntries(Object.entries(compute()).map(([k, t]) => [k, t.dataSync().slice()]))),
    );
  }
  const [cpu, ort] = results;
  for (const name of Object.keys(cpu)) {
    const error = relativeError(ort[name], cpu[name]);
    assert.ok(error < tolerance, `${name}: error ${error} relative to the largest value`);
  }
  const used = sessions.keys();
  for (const graph of graphs)
    assert.ok(
      used.some((key) => key.startsWith(`${graph} `)),
      `no ${graph} graph ran in ORT`,
    );
}

/** Value and gradients of sum(w ⊙ op(inputs)), w fixed random weights. */
function withGradients(
  op: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: { shape: number[]; values: Float32Array }[],
  seed: number,
) {
  return () => {
    const xs = inputs.map(({ shape, values }) => tf.tensor(values, shape));
    const y = op(...xs);
    const w = tf.tensor(random(y.shape, new Rng(seed)), y.shape);
    const grads = tf.grads((...args: tf.Tensor[]) =>
      op(...args)
        .mul(w)
        .sum(),
    )(xs);
    return { value: y, ...Object.fromEntries(grads.map((g, i) => [`gradient ${i}`, g])) };
  };
}

const convCases: {
  batch: number;
  size: [number, number];
  channels: [number, number];
  kernel: number;
  stride: number;
  pad: 'same' | 'valid';
}[] = [
  { batch: 1, size: [9, 7], channels: [3, 5], kernel: 1, stride: 1, pad: 'same' },
  { batch: 3, size: [9, 7], channels: [3, 5], kernel: 3, stride: 1, pad: 'valid' },
  { batch: 2, size: [8, 9], channels: [9, 4], kernel: 5, stride: 1, pad: 'same' },
  { batch: 2, size: [10, 11], channels: [1, 6], kernel: 2, stride: 2, pad: 'valid' },
  { batch: 3, size: [9, 7], channels: [3, 5], kernel: 3, stride: 2, pad: 'same' },
  { batch: 1, size: [28, 28], channels: [1, 8], kernel: 4, stride: 2, pad: 'same' },
  { batch: 2, size: [11, 9], channels: [8, 3], kernel: 5, stride: 2, pad: 'valid' },
  { batch: 2, size: [10, 11], channels: [3, 4], kernel: 1, stride: 3, pad: 'valid' },
  { batch: 1, size: [13, 10], channels: [10, 2], kernel: 3, stride: 3, pad: 'same' },
  { batch: 2, size: [10, 11], channels: [4, 3], kernel: 4, stride: 3, pad: 'valid' },
  { batch: 2, size: [7, 9], channels: [2, 3], kernel: 5, stride: 3, pad: 'same' },
  { batch: 64, size: [8, 8], channels: [8, 16], kernel: 4, stride: 2, pad: 'same' },
];

for (const [index, { batch, size, channels, kernel, stride, pad }] of convCases.entries()) {
  const shape = `${size.join('×')}×${channels[0]} → ${channels[1]}`;
  const name = `batch ${batch}, ${shape}, kernel ${kernel}, stride ${stride}, ${pad}`;
  test(`Conv2D and its gradients: ${name}`, async () => {
    const rng = new Rng(index);
    const x = { shape: [batch, ...size, channels[0]], values: random([batch, ...size, channels[0]], rng) };
    const f = { shape: [kernel, kernel, ...channels], values: random([kernel, kernel, ...channels], rng) };
    const op = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad);
    await compareWithCpu(withGradients(op, [x, f], index), ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
  });
  test(`Conv2DTranspose and its gradients: ${name}`, async () => {
    const rng = new Rng(100 + index);
    const [inC, outC] = channels;
    const x = { shape: [batch, ...size, inC], values: random([batch, ...size, inC], rng) };
    const f = { shape: [kernel, kernel, outC, inC], values: random([kernel, kernel, outC, inC], rng) };
    const extra = pad === 'same' ? 0 : Math.max(kernel - stride, 0);
    const outShape: [number, number, number, number] = [
      batch,
      size[0] * stride + extra,
      size[1] * stride + extra,
      outC,
    ];
    const op = (a: tf.Tensor, b: tf.Tensor) =>
      tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, outShape, stride, pad);
    await compareWithCpu(withGradients(op, [x, f], index), ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter']);
  });
}

test('FusedConv2D: bias and activations, a dilated convolution', async () => {
  const rng = new Rng(7);
  const x = tf.tensor4d(random([2, 9, 8, 3], rng), [2, 9, 8, 3]);
  const filter = tf.tensor4d(random([3, 3, 3, 4], rng), [3, 3, 3, 4]);
  const bias = tf.tensor1d(random([4], rng));
  const prelu = tf.tensor1d(random([4], rng).map(Math.abs));
  const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const;
  await compareWithCpu(
    () => ({
      ...Object.fromEntries(
        activations.map((activation) => [
          activation,
          tf.fused.conv2d({ x, filter, strides: 2, pad: 'same', bias, activation, leakyreluAlpha: 0.1 }),
        ]),
      ),
      prelu: tf.fused.conv2d({
        x,
        filter,
        strides: 1,
        pad: 'valid',
        bias,
        activation: 'prelu',
        preluActivationWeights: prelu,
      }),
      dilated: tf.conv2d(x, filter, 1, 'same', 'NHWC', 2),
    }),
    ['FusedConv2D'],
  );
  tf.dispose([x, filter, bias, prelu]);
});

test('BatchMatMul and _FusedMatMul: transposes, broadcast batches, bias, activation, and their gradients', async () => {
  const rng = new Rng(8);
  const input = (shape: number[]) => ({ shape, values: random(shape, rng) });
  const [a, b, a3, b3, b1] = [input([6, 5]), input([7, 5]), input([3, 6, 5]), input([3, 5, 4]), input([1, 5, 4])];
  const bias = tf.tensor1d(random([7], rng));
  const tensor = ({ shape, values }: { shape: number[]; values: Float32Array }) => tf.tensor(values, shape);
  await compareWithCpu(
    withGradients((x, y) => tf.matMul(x, y, false, true), [a, b], 1),
    ['BatchMatMul'],
  );
  await compareWithCpu(
    withGradients((x, y) => tf.matMul(x, y, true, false), [input([5, 6]), input([5, 7])], 2),
    ['BatchMatMul'],
  );
  await compareWithCpu(
    withGradients((x, y) => tf.matMul(x, y), [a3, b3], 3),
    ['BatchMatMul'],
  );
  // tfjs's own BatchMatMul gradient does not sum over broadcast batches, on any backend: the value only.
  await compareWithCpu(() => ({ broadcast: tf.matMul(tensor(a3), tensor(b1)) }), ['BatchMatMul']);
  for (const activation of ['relu', 'leakyrelu'] as const) {
    const op = (x: tf.Tensor, y: tf.Tensor) =>
      tf.fused.matMul({ a: x, b: y, transposeB: true, bias, activation, leakyreluAlpha: 0.2 });
    await compareWithCpu(withGradients(op, [a, b], 5), ['_FusedMatMul']);
  }
  bias.dispose();
});

test('the elementwise, reduction, batch-norm and tile kernels, and their gradients', async () => {
  const rng = new Rng(9);
  const shape = [4, 5, 6, 3];
  const x = { shape, values: random(shape, rng) };
  const y = { shape, values: random(shape, rng) };
  const channel = { shape: [3], values: random([3], rng) };
  const positive = { shape, values: random(shape, rng).map((v) => Math.abs(v) + 0.1) };
  const variance = { shape: [3], values: Float32Array.of(0.5, 1, 2) };
  type Case = [(...xs: tf.Tensor[]) => tf.Tensor, { shape: number[]; values: Float32Array }[], string[]];
  const cases: Case[] = [
    [(a) => tf.leakyRelu(a, 0.2), [x], ['LeakyRelu']],
    [tf.tanh, [x], ['Tanh']],
    [tf.exp, [x], ['Exp']],
    [tf.rsqrt, [positive], ['Rsqrt']],
    [tf.maximum, [x, y], ['Maximum']],
    [
      (a, b) => tf.where(tf.greater(tf.tensor(x.values, shape), tf.tensor(y.values, shape)), a, b),
      [x, y],
      ['Greater', 'Select'],
    ],
    [(a) => tf.sum(a, [0, 1, 2], true), [x], ['Sum']],
    [(a) => tf.sum(a), [x], ['Sum']],
    [(a) => tf.mean(a, -1), [x], ['Mean']],
    [(a) => tf.max(a, -1), [x], ['Equal']], // Max's gradient: Equal of the input and its broadcast max (Maxout)
    [(a, m, v, s, o) => tf.batchNorm(a, m, v, o, s, 1e-3), [x, channel, variance, channel, channel], ['Tile', 'Rsqrt']],
    [(c) => tf.tile(c.reshape([1, 1, 1, 3]), [4, 5, 6, 1]), [channel], ['Tile']],
  ];
  for (const [i, [op, inputs, graphs]] of cases.entries()) await compareWithCpu(withGradients(op, inputs, i), graphs);
  await compareWithCpu(() => {
    const [a, b, c] = [
      tf.tensor(x.values, shape),
      tf.tensor(y.values, shape),
      tf.tensor(channel.values, channel.shape),
    ];
    const comparisons = {
      greater: tf.greater(a, b),
      greaterEqual: tf.greaterEqual(a, b),
      less: tf.less(a, b),
      lessEqual: tf.lessEqual(a, b),
      equalBroadcast: tf.equal(a, tf.max(a, -1, true)),
    };
    // The value only: tfjs's Maximum gradient does not sum over broadcast axes, on any backend.
    return { ...comparisons, maximumBroadcast: tf.maximum(a, c) };
  }, ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'Maximum']);
});

test('the ort kernels leave no tensors or backend data behind', async () => {
  await tf.setBackend(ORT_BACKEND);
  const x = tf.randomNormal<tf.Rank.R4>([4, 8, 8, 3]);
  const f = tf.randomNormal<tf.Rank.R4>([3, 3, 3, 5]);
  const step = () =>
    tf.tidy(() => {
      const [dx, df] = tf.grads((a: tf.Tensor, k: tf.Tensor) =>
        tf.leakyRelu(tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 2, 'same'), 0.2).sum(),
      )([x, f]);
      return tf.add(dx.sum(), df.sum());
    });
  step().dispose();
  const tensors = tf.memory().numTensors;
  const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
  for (let i = 0; i < 5; i++) step().dispose();
  assert.equal(tf.memory().numTensors, tensors, 'tensors');
  const original = tf.tensor1d([1, 2, 3]);
  const clone = tf.clone(original); // Identity shares the data: it must outlive the original
  original.dispose();
  assert.deepEqual(Array.from(clone.dataSync()), [1, 2, 3]);
  clone.dispose();
  assert.equal((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), dataIds, 'backend data');
  tf.dispose([x, f]);
});

test('the session cache is bounded, evicts the least recently used session and releases it', async () => {
  const released: string[] = [];
  const fake = (name: string) => ({ dispose: () => released.push(name) }) as unknown as OrtSession;
  const cache = new SessionCache(2);
  cache.get('a', () => fake('a'));
  cache.get('b', () => fake('b'));
  cache.get('a', () => assert.fail('a is cached'));
  cache.get('c', () => fake('c'));
  assert.deepEqual(released, ['b']);
  assert.equal(cache.size, 2);
  cache.clear();
  assert.deepEqual(released.sort(), ['a', 'b', 'c']);

  // The kernels' own cache: more shapes than it holds still give right answers, and it stays at its bound.
  await tf.setBackend(ORT_BACKEND);
  const capacity = sessions.capacity;
  sessions.capacity = 3;
  try {
    for (let batch = 1; batch <= 6; batch++) {
      const a = tf.tensor2d(random([batch, 4], new Rng(batch)), [batch, 4]);
      const product = tf.matMul(a, tf.ones([4, 2]));
      const expected = tf.sum(a, 1, true).tile([1, 2]);
      assert.ok(relativeError(product.dataSync(), expected.dataSync()) < 1e-6);
      assert.ok(sessions.size <= 3, `${sessions.size} sessions cached`);
      tf.dispose([a, product, expected]);
    }
  } finally {
    sessions.capacity = capacity;
  }
});

test('a call goes to ORT when it computes ≥ 1 MFLOP or touches ≥ 32k elements, and stays on wasm below both', async () => {
  await tf.setBackend(ORT_BACKEND);
  /** The ORT graphs one op ran (none: it stayed on wasm). */
  const graphsOf = (op: () => tf.Tensor) => {
    sessions.clear();
    tf.tidy(() => op().dataSync());
    return [...graphsRun()];
  };
  await withThresholds(defaults, async () => {
    // [50, 100] · [100, n] computes 2 · 50 · 100 · n FLOP, no tensor near 32k elements; tanh counts no FLOP, only size
    const cases: [string, () => tf.Tensor, string[]][] = [
      ['0.99 MFLOP', () => tf.matMul(tf.ones([50, 100]), tf.ones([100, 99])), []],
      ['1 MFLOP', () => tf.matMul(tf.ones([50, 100]), tf.ones([100, 100])), ['BatchMatMul']],
      ['32,767 elements', () => tf.tanh(tf.ones([32767])), []],
      ['32,768 elements', () => tf.tanh(tf.ones([32768])), ['Tanh']],
    ];
    for (const [what, op, graphs] of cases) assert.deepEqual(graphsOf(op), graphs, what);
  });
});

/**
 * The intra-op threads of the ORT sessions a fresh process (environment + `env`) makes for a
 * 67-MFLOP and a 2-MFLOP matrix product: the variable is read once, when ganport loads.
 */
function ortThreadsInChild(env: Record<string, string | undefined>): { big: number; small: number } {
  const url = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
  const script = `
    const tf = await import('@tensorflow/tfjs');
    const { selectBackend } = await import(${url('../../src/tfjs/backend.js')});
    const { sessions } = await import(${url('../../src/tfjs/ort-kernels.js')});
    await selectBackend('ort');
    tf.matMul(tf.ones([256, 512]), tf.ones([512, 256])).dataSync();
    tf.matMul(tf.ones([64, 128]), tf.ones([128, 128])).dataSync();
    console.log(JSON.stringify(sessions.keys()));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  assert.equal(child.status, 0, child.stderr);
  const keys = JSON.parse(child.stdout) as string[];
  const threads = (shapes: string) => Number(/threads (\d+)$/.exec(keys.find((k) => k.includes(shapes)) ?? '')?.[1]);
  return { big: threads('256x512, 512x256'), small: threads('64x128, 128x128') };
}

test('ORT runs ops on 1 thread, those above 50 MFLOP on cores − 1 (at most 4), or on GANPORT_ORT_THREADS', () => {
  const cores = Math.max(1, Math.min(4, cpus().length - 1));
  assert.deepEqual(ortThreadsInChild({ GANPORT_ORT_THREADS: undefined }), { big: cores, small: 1 });
  assert.deepEqual(ortThreadsInChild({ GANPORT_ORT_THREADS: '3' }), { big: 3, small: 1 });
});

test(`onnxruntime-node's internal synchronous binding is still the one the ort backend calls`, () => {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies['onnxruntime-node'], PINNED_ORT_VERSION, 'package.json pins the exact version');
  assert.equal(
    (require('onnxruntime-node/package.json') as { version: string }).version,
    PINNED_ORT_VERSION,
    'installed',
  );
  const { binding, Tensor } = ortBinding();
  const session = new binding.InferenceSession();
  const graph = makeGraph(
    [makeNode('Relu', ['x'], ['y'])],
    'check',
    [makeValueInfo('x', DataType.FLOAT, [3])],
    [makeValueInfo('y', DataType.FLOAT, [3])],
    [],
  );
  const model = encodeModel(makeModel(graph, { opset: 17, producerName: 'test', producerVersion: '0' }));
  session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {});
  const out = new Float32Array(3);
  const result = session.run(
    { x: new Tensor('float32', Float32Array.of(-1, 0, 2), [3]) },
    { y: new Tensor('float32', out, [3]) },
    {},
  );
  assert.ok(!(result instanceof Promise), 'run returns synchronously');
  assert.deepEqual(Array.from(out), [0, 0, 2], 'run writes into a pre-allocated output');
  session.dispose();
});

/** One training step of `preset` on `backend`: the losses and every weight afterwards. */
async function trainingStep(preset: Preset, backend: string, batch: number): Promise<StepResult> {
  await tf.setBackend(backend);
  return oneTrainingStep(preset, batch);
}

/** Runs `body` with ORT's routing thresholds set to `sizes`, then restores every-call-to-ORT for the kernel tests. */
async function withThresholds<T>(sizes: typeof ortMinimumSizes, body: () => Promise<T>): Promise<T> {
  Object.assign(ortMinimumSizes, sizes);
  try {
    return await body();
  } finally {
    Object.assign(ortMinimumSizes, { flops: 0, elements: 0 });
  }
}

/**
 * The ORT graphs (tfjs kernel names) a preset's step must run, each as the kernels that may compute it:
 * its dense layers' matrix products; with convolutions, the convolutions and both their gradients.
 */
function expectedGraphs(preset: Preset): string[][] {
  const classes = [preset.buildGenerator(1), preset.buildDiscriminator(1)].flatMap((model) => {
    const names = model.layers.map((l) => l.getClassName());
    model.dispose();
    return names;
  });
  const matMul = ['BatchMatMul', '_FusedMatMul'];
  const convolutions = [['Conv2D', 'FusedConv2D'], ['Conv2DBackpropInput'], ['Conv2DBackpropFilter']];
  return classes.some((c) => c.startsWith('Conv2D')) ? [matMul, ...convolutions] : [matMul];
}

/** The ops (session key prefixes) that ran in ORT since the cache was last cleared. */
const graphsRun = () => new Set(sessions.keys().map((key) => key.split(' ')[0]));

for (const preset of Object.values(PRESETS)) {
  // The 2-D presets train at their own batch size (256, 100): smaller, their layers stay under the thresholds.
  const batch = preset.sampleShape.length === 1 ? preset.defaults!.batchSize! : 8;
  for (const [routing, sizes] of [
    ['as training routes it', defaults],
    ['every call on ORT', { flops: 0, elements: 0 }],
  ] as const) {
    test(`one training step of ${preset.name} (batch ${batch}, ${routing}): ort and wasm within 1e-4 (losses, relative), 1e-5 (weights)`, async () => {
      const wasm = await trainingStep(preset, 'wasm', batch);
      sessions.clear();
      const ort = await withThresholds(sizes, () => trainingStep(preset, ORT_BACKEND, batch));
      const ran = graphsRun();
      for (const kernels of expectedGraphs(preset))
        assert.ok(
          kernels.some((k) => ran.has(k)),
          `no ${kernels.join(' or ')} graph ran in ORT: ${[...ran]}`,
        );
      const gradientTolerance = preset.name === 'dcgan-64' ? DCGAN_64_GRADIENT_TOLERANCE : undefined;
      assertSameSteps(ort, wasm, `${preset.name} on ort`, { gradientTolerance });
    });
  }
}

test('parity and the exporter never take their tfjs reference from the ort backend', async () => {
  await assert.rejects(selectReferenceBackend(ORT_BACKEND), /cannot be the tfjs reference/);
  await selectBackend(ORT_BACKEND);
  const choice = await selectReferenceBackend();
  assert.notEqual(choice.name, ORT_BACKEND);
  assert.equal(tf.getBackend(), choice.name);
  await assert.rejects(
    runParity(SHIPPED_MODEL_DIR, { backend: ORT_BACKEND, runtimes: ['tfjs', 'ort-node'] }),
    /cannot be the tfjs reference/,
  );
  const report = await runParity(SHIPPED_MODEL_DIR, { runtimes: ['tfjs', 'ort-node'], count: 2 });
  assert.notEqual(report.rows[0].provider, `tfjs-${ORT_BACKEND}`);
  assert.ok(report.ok);
});
