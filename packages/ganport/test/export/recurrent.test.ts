/**
 * SimpleRNN, GRU (and Keras's reset_after GRU), LSTM, Bidirectional, TimeDistributed, Masking and
 * stateful layers against onnxruntime-node and -web.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import * as ortNode from 'onnxruntime-node';
import {
  convertLayersModel,
  decodeModel,
  EXPORT_METADATA,
  formatInspection,
  inspectModel,
  modelToBytes,
} from '../../src/export/index.js';
import { selectBackend } from '../../src/tfjs/backend.js';
import { GRUResetAfter, KerasGlobalAveragePooling1D } from '../../src/tfjs/keras-layers.js';
import { saveLayersModel } from '../../src/tfjs/model-io.js';
import { maxAbsDiff, runCli, tempDir } from '../helpers.js';
import { assertRoundTrip, roundTrip, sequential, valueDims } from './helpers.js';

before(async () => {
  await selectBackend('cpu');
});

/** Relative tolerance: 1e-5 of the largest |output|. */
const RELATIVE = 1e-5;

const rnnInit = (seed: number) => ({
  kernelInitializer: tf.initializers.glorotNormal({ seed }),
  recurrentInitializer: tf.initializers.glorotNormal({ seed: seed + 500 }),
  biasInitializer: tf.initializers.randomNormal({ seed: seed + 1000, stddev: 0.5 }),
});

type Kind = 'simpleRNN' | 'gru' | 'lstm';
const KINDS: Kind[] = ['simpleRNN', 'gru', 'lstm'];
const ONNX_OP = { simpleRNN: 'RNN', gru: 'GRU', lstm: 'LSTM' } as const;

const rnn = (kind: Kind, args: Record<string, unknown>): tf.layers.Layer =>
  (tf.layers[kind] as (a: unknown) => tf.layers.Layer)(args);

for (const kind of KINDS)
  describe(`${kind} (ONNX ${ONNX_OP[kind]})`, () => {
    for (const units of [3, 8])
      for (const returnSequences of [false, true])
        for (const goBackwards of [false, true])
          test(`units ${units}, returnSequences ${returnSequences}, goBackwards ${goBackwards}`, async () => {
            const model = sequential(
              [7, 5],
              [rnn(kind, { units, returnSequences, goBackwards, ...rnnInit(units * 10 + Number(goBackwards)) })],
            );
            const bytes = await roundTrip(model, { batch: 4, relative: RELATIVE });
            const ops = decodeModel(bytes).graph.node.map((n) => n.opType);
            assert.equal(ops.filter((op) => op === ONNX_OP[kind]).length, 1);
          });
    test('batch 1 and 9, sequence lengths 1, 2 and 16', async () => {
      for (const steps of [1, 2, 16]) {
        const model = sequential([steps, 4], [rnn(kind, { units: 6, returnSequences: true, ...rnnInit(steps) })]);
        await assertRoundTrip(model, { batch: 1, relative: RELATIVE });
        await assertRoundTrip(model, { batch: 9, seed: 2, relative: RELATIVE });
      }
    });
    test('an unknown number of steps (inputShape [null, 3])', async () => {
      const model = sequential([null as unknown as number, 3], [rnn(kind, { units: 4, ...rnnInit(3) })]);
      // roundTrip feeds the model's own shape; run it with 6 steps.
      const x = tf.randomNormal([2, 6, 3], 0, 1, 'float32', 5);
      const expected = (model.predict(x) as tf.Tensor).dataSync();
      const { modelToBytes } = await import('../../src/export/index.js');
      const ort = await import('onnxruntime-node');
      const session = await ort.InferenceSession.create(modelToBytes(model, { inputNames: ['x'], outputNames: ['y'] }));
      const out = await session.run({ x: new ort.Tensor('float32', x.dataSync() as Float32Array, [2, 6, 3]) });
      const got = out.y.data as Float32Array;
      for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got[i] - expected[i]) <= 1e-5, `${i}`);
    });
    test('activations inside the cell: relu, linear (Affine), elu, softsign, softplus, sigmoid', async () => {
      for (const [i, activation] of ['relu', 'linear', 'elu', 'softsign', 'softplus', 'sigmoid'].entries()) {
        const extra = kind === 'simpleRNN' ? {} : { recurrentActivation: i < 3 ? 'hardSigmoid' : 'sigmoid' };
        const model = sequential(
          [5, 3],
          [rnn(kind, { units: 4, activation, returnSequences: true, ...extra, ...rnnInit(40 + i) })],
        );
        await assertRoundTrip(model, { batch: 3, relative: RELATIVE });
      }
    });
    test('no bias, and two stacked layers with dropout and recurrentDropout (identities at inference)', async () => {
      const model = sequential(
        [6, 4],
        [
          rnn(kind, { units: 5, useBias: false, returnSequences: true, dropout: 0.3, ...rnnInit(51) }),
          rnn(kind, { units: 3, recurrentDropout: 0.2, unroll: true, ...rnnInit(52) }),
        ],
      );
      await assertRoundTrip(model, { batch: 3, relative: RELATIVE });
    });
    test('returnState and an initial state from other inputs (functional)', async () => {
      const states = kind === 'lstm' ? 2 : 1;
      const x = tf.input({ shape: [5, 3] });
      const init = Array.from({ length: states }, () => tf.input({ shape: [4] }));
      const layer = rnn(kind, { units: 4, returnSequences: true, returnState: true, ...rnnInit(61) });
      const outputs = layer.apply(x, { initialState: init }) as tf.SymbolicTensor[];
      assert.equal(outputs.length, 1 + states);
      const model = tf.model({ inputs: [x, ...init], outputs });
      await assertRoundTrip(model, { batch: 3, relative: RELATIVE });
      const back = rnn(kind, { units: 4, returnState: true, goBackwards: true, ...rnnInit(62) });
      const x2 = tf.input({ shape: [5, 3] });
      await assertRoundTrip(tf.model({ inputs: x2, outputs: back.apply(x2) as tf.SymbolicTensor[] }), {
        batch: 2,
        relative: RELATIVE,
      });
    });
  });

describe('Bidirectional (one op, direction "bidirectional")', () => {
  for (const kind of KINDS)
    for (const mergeMode of ['concat', 'sum', 'mul', 'ave'] as const)
      for (const returnSequences of [false, true])
        test(`${kind}, mergeMode ${mergeMode}, returnSequences ${returnSequences}`, async () => {
          const model = sequential(
            [6, 4],
            [
              tf.layers.bidirectional({
                layer: rnn(kind, { units: 5, returnSequences, ...rnnInit(70) }) as tf.RNN,
                mergeMode,
              }),
            ],
          );
          const bytes = await roundTrip(model, { batch: 3, relative: RELATIVE });
          const node = decodeModel(bytes).graph.node.find((n) => n.opType === ONNX_OP[kind])!;
          const direction = node.attribute.find((a) => a.name === 'direction')!;
          assert.equal(new TextDecoder().decode(direction.s), 'bidirectional');
        });
  test('mergeMode null (two outputs), returnState (forward then backward states), stacked, batch 1', async () => {
    const x = tf.input({ shape: [5, 3] });
    const stacked = tf.layers
      .bidirectional({ layer: tf.layers.lstm({ units: 4, returnSequences: true, ...rnnInit(81) }) as tf.RNN })
      .apply(x) as tf.SymbolicTensor;
    const split = tf.layers
      .bidirectional({
        layer: tf.layers.gru({ units: 3, returnSequences: true, ...rnnInit(82) }) as tf.RNN,
        mergeMode: null as unknown as 'concat',
      })
      .apply(stacked) as tf.SymbolicTensor[];
    const withState = tf.layers
      .bidirectional({ layer: tf.layers.lstm({ units: 2, returnState: true, ...rnnInit(83) }) as tf.RNN })
      .apply(split[1]) as tf.SymbolicTensor[];
    assert.equal(withState.length, 5);
    const model = tf.model({ inputs: x, outputs: [...split, ...withState] });
    await assertRoundTrip(model, { batch: 1, relative: RELATIVE });
    await assertRoundTrip(model, { batch: 4, seed: 3, relative: RELATIVE });
  });
});

describe('TimeDistributed (steps folded into the batch)', () => {
  test('Dense, softmax, 7 steps', () =>
    assertRoundTrip(
      sequential(
        [7, 5],
        [tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 4, activation: 'softmax', ...rnnInit(91) }) })],
      ),
      { batch: 3, relative: RELATIVE },
    ));
  test('Conv2D then Flatten on [steps, h, w, c] frames, then an LSTM over the frames', () =>
    assertRoundTrip(
      sequential(
        [4, 6, 5, 2],
        [
          tf.layers.timeDistributed({
            layer: tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', ...rnnInit(92) }),
          }),
          tf.layers.timeDistributed({ layer: tf.layers.flatten() }),
          tf.layers.lstm({ units: 4, ...rnnInit(93) }),
        ],
      ),
      { batch: 2, relative: RELATIVE },
    ));
  test('an LSTM encoder with TimeDistributed(Dense) after it, unknown steps', async () => {
    const model = sequential(
      [null as unknown as number, 3],
      [
        tf.layers.lstm({ units: 5, returnSequences: true, ...rnnInit(94) }),
        tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2, ...rnnInit(95) }) }),
      ],
    );
    const x = tf.randomNormal([3, 8, 3], 0, 1, 'float32', 9);
    const expected = (model.predict(x) as tf.Tensor).dataSync();
    const ort = await import('onnxruntime-node');
    const { modelToBytes } = await import('../../src/export/index.js');
    const session = await ort.InferenceSession.create(modelToBytes(model, { inputNames: ['x'], outputNames: ['y'] }));
    const got = (await session.run({ x: new ort.Tensor('float32', x.dataSync() as Float32Array, [3, 8, 3]) })).y;
    assert.deepEqual(got.dims, [3, 8, 2]);
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs((got.data as Float32Array)[i] - expected[i]) <= 1e-5);
  });
  test("two inputs' sequences of unknown, independent lengths: their sizes have names of their own", async () => {
    // one shared name told onnxruntime the lengths were equal, and it failed reusing a buffer
    const [a, b] = [tf.input({ shape: [null, 3] }), tf.input({ shape: [null, 3] })];
    const joined = tf.layers
      .concatenate()
      .apply([
        tf.layers.lstm({ units: 2, ...rnnInit(96) }).apply(a) as tf.SymbolicTensor,
        tf.layers.gru({ units: 2, ...rnnInit(97) }).apply(b) as tf.SymbolicTensor,
      ]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: joined });
    const xs = [tf.randomNormal([2, 7, 3], 0, 1, 'float32', 10), tf.randomNormal([2, 4, 3], 0, 1, 'float32', 11)];
    const expected = (model.predict(xs) as tf.Tensor).dataSync();
    const { modelToBytes } = await import('../../src/export/index.js');
    const bytes = modelToBytes(model, { inputNames: ['a', 'b'], outputNames: ['y'] });
    const session = await ortNode.InferenceSession.create(bytes);
    const feeds = Object.fromEntries(
      xs.map((x, i) => [['a', 'b'][i], new ortNode.Tensor('float32', x.dataSync() as Float32Array, x.shape)]),
    );
    assert.ok(maxAbsDiff(expected, (await session.run(feeds)).y.data as Float32Array) <= 1e-5);
  });
});

describe('masks', () => {
  test('Masking zeroes the steps equal to maskValue; layers that ignore the mask export', async () => {
    const model = sequential(
      [6, 3],
      [tf.layers.masking({ maskValue: 0.5 }), tf.layers.dense({ units: 2, ...rnnInit(101) })],
    );
    const x = tf.tensor3d(
      Array.from({ length: 2 }, (_, b) =>
        Array.from({ length: 6 }, (_, t) => (t % 2 === b ? [0.5, 0.5, 0.5] : [t / 7, 0.5, -b])),
      ),
    );
    const expected = (model.predict(x) as tf.Tensor).dataSync();
    const ort = await import('onnxruntime-node');
    const { modelToBytes } = await import('../../src/export/index.js');
    const session = await ort.InferenceSession.create(modelToBytes(model, { inputNames: ['x'], outputNames: ['y'] }));
    const got = (await session.run({ x: new ort.Tensor('float32', x.dataSync() as Float32Array, [2, 6, 3]) })).y
      .data as Float32Array;
    for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(got[i] - expected[i]) <= 1e-6);
    // --fp16: the mask's Cast to float computes in float16 too, beside the halved weights
    const half = await ort.InferenceSession.create(
      modelToBytes(model, { inputNames: ['x'], outputNames: ['y'], fp16: true }),
    );
    const fromHalf = (await half.run({ x: new ort.Tensor('float32', x.dataSync() as Float32Array, [2, 6, 3]) })).y;
    assert.equal(fromHalf.type, 'float32');
    assert.ok(maxAbsDiff(expected, fromHalf.data as Float32Array) <= 1e-2);
  });
  test('a mask reaching a recurrent layer or a Softmax is refused, saying where it comes from', async () => {
    const masked = sequential(
      [5],
      [
        tf.layers.embedding({ inputDim: 10, outputDim: 4, maskZero: true }),
        tf.layers.dense({ units: 4 }),
        tf.layers.lstm({ units: 3 }),
      ],
    );
    assert.throws(() => convertLayersModel(masked), /lstm.*an input masked by embedding.*skips the masked steps/s);
    // inspect follows the mask as export does: it says no on the LSTM's row, not only on its last line
    const lstmRow = inspectModel(masked).find((r) => r.className === 'LSTM')!;
    assert.equal(lstmRow.support, 'no');
    assert.match(lstmRow.reason!, /an input masked by embedding.*skips the masked steps/);
    assert.equal(inspectModel(masked).find((r) => r.className === 'Dense')!.support, 'yes');
    // and ganport inspect exits 1, so a script can ask it first
    const dir = tempDir();
    await saveLayersModel(masked, dir);
    const inspected = runCli(['inspect', join(dir, 'model.json')]);
    assert.equal(inspected.status, 1, inspected.stderr);
    assert.match(inspected.stdout, /^export: fails: .*an input masked by embedding/m);
    const bi = sequential(
      [5, 2],
      [tf.layers.masking(), tf.layers.bidirectional({ layer: tf.layers.gru({ units: 2 }) as tf.RNN })],
    );
    assert.throws(() => convertLayersModel(bi), /an input masked by masking/);
    // Without maskZero the same model exports.
    const unmasked = sequential(
      [5],
      [tf.layers.embedding({ inputDim: 10, outputDim: 4 }), tf.layers.lstm({ units: 3 })],
    );
    assert.ok(convertLayersModel(unmasked).graph.node.some((n) => n.opType === 'LSTM'));
  });
  test("a layer that applies masks is refused where tfjs's predict may hand it another layer's mask", async () => {
    // tfjs's executor passes the Embedding's mask on past the Conv1D (which drops it) to the layers after it
    const behindConv = (last: () => tf.layers.Layer, maskZero = true) =>
      sequential(
        [6],
        [
          tf.layers.embedding({ inputDim: 10, outputDim: 4, maskZero }),
          tf.layers.conv1d({ filters: 3, kernelSize: 1 }),
          last(),
        ],
      );
    const x = tf.tensor2d([[1, 2, 0, 0, 3, 0]]);
    for (const last of [
      () => tf.layers.simpleRNN({ units: 2, returnSequences: true }),
      () => new KerasGlobalAveragePooling1D({}),
    ]) {
      const model = behindConv(last);
      const unmasked = behindConv(last, false);
      unmasked.setWeights(model.getWeights());
      const stray = maxAbsDiff(
        (model.predict(x) as tf.Tensor).dataSync(),
        (unmasked.predict(x) as tf.Tensor).dataSync(),
      );
      assert.ok(stray > 1e-3, `${last().getClassName()}: predict applies the Embedding's mask (${stray})`);
      assert.throws(
        () => convertLayersModel(model),
        /tfjs's predict may hand it embedding.*'s mask \(its executor passes a mask on to every later layer\)/,
      );
      const row = inspectModel(model).find((r) => r.className === last().getClassName())!;
      assert.equal(row.support, 'no', 'inspect says so too');
      await assertRoundTrip(unmasked, { range: [0, 9] }); // ids
    }
    // TimeDistributed hands its own input's mask to the layer it wraps, which would apply it
    const wrapped = sequential(
      [6],
      [
        tf.layers.embedding({ inputDim: 10, outputDim: 4, maskZero: true }),
        tf.layers.timeDistributed({ layer: tf.layers.softmax() }),
      ],
    );
    assert.throws(() => convertLayersModel(wrapped), /\(Softmax\): .*may hand it embedding.*'s mask/);
    // a layer that ignores masks after it still exports
    await assertRoundTrip(
      behindConv(() => tf.layers.dense({ units: 2 })),
      { range: [0, 9] },
    );
  });
});

describe('stateful layers: the state carried between calls as graph inputs and outputs', () => {
  const stateNames = (kind: Kind) => (kind === 'lstm' ? ['h', 'c'] : ['h']);
  /**
   * Runs two calls in a row in tfjs and in onnxruntime-node, feeding ONNX's final states (graph outputs
   * `states`) back; compares the outputs and the states with tfjs's (`tfjsStates`, after each call).
   */
  async function assertCarried(
    model: tf.LayersModel,
    states: string[],
    tfjsStates: () => tf.Tensor[],
    seed: number,
  ): Promise<void> {
    const bytes = modelToBytes(model, { inputNames: ['x'], outputNames: ['y'] });
    const session = await ortNode.InferenceSession.create(bytes);
    const [batch, steps, features] = model.inputs[0].shape as number[];
    let carried: ortNode.Tensor[] = states.map(
      () => new ortNode.Tensor('float32', new Float32Array(batch * 4), [batch, 4]),
    );
    for (const call of [0, 1]) {
      const x = tf.randomNormal([batch, steps, features], 0, 1, 'float32', seed + call);
      const expected = (model.predict(x) as tf.Tensor).dataSync();
      const out = await session.run({
        x: new ortNode.Tensor('float32', x.dataSync() as Float32Array, x.shape),
        ...Object.fromEntries(states.map((s, i) => [s.replace('final', 'initial'), carried[i]])),
      });
      assert.ok(maxAbsDiff(expected, out.y.data as Float32Array) <= 1e-5, `call ${call}: output`);
      const expectedStates = tfjsStates().map((t) => t.dataSync());
      states.forEach((s, i) => {
        assert.ok(maxAbsDiff(expectedStates[i], out[s].data as Float32Array) <= 1e-5, `call ${call}: ${s}`);
      });
      carried = states.map((s) => out[s] as ortNode.Tensor);
    }
  }

  for (const kind of KINDS)
    test(`${kind}: two calls in a row, the state fed back, as tfjs carries it`, async () => {
      const model = tf.sequential({
        layers: [
          rnn(kind, { units: 4, stateful: true, returnSequences: true, batchInputShape: [3, 5, 2], ...rnnInit(80) }),
        ],
      });
      const layer = model.layers[0].name;
      const onnx = convertLayersModel(model, { inputNames: ['x'], outputNames: ['y'] });
      const states = stateNames(kind);
      assert.deepEqual(
        onnx.graph.input.map((i) => i.name),
        ['x', ...states.map((s) => `${layer}/initial_${s}`)],
      );
      assert.deepEqual(
        onnx.graph.output.map((o) => o.name),
        ['y', ...states.map((s) => `${layer}/final_${s}`)],
      );
      assert.deepEqual(valueDims(onnx.graph.input[1]), [3, 4]);
      const metadata = JSON.parse(onnx.metadataProps.find((p) => p.key === EXPORT_METADATA.recurrentState)!.value);
      assert.deepEqual(
        metadata.states.map((c: { input: string; output: string }) => [c.input, c.output]),
        states.map((s) => [`${layer}/initial_${s}`, `${layer}/final_${s}`]),
      );
      assert.match(
        formatInspection(model),
        new RegExp(`stateful: its state is carried in graph inputs ${layer}/initial_h`),
      );
      assert.match(formatInspection(model), /^recurrent state carried between calls/m);
      const finals = states.map((s) => `${layer}/final_${s}`);
      await assertCarried(model, finals, () => (model.layers[0] as tf.RNN).states, 90);
    });

  test('a stateful Bidirectional LSTM: each direction its own state', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.bidirectional({
          layer: rnn('lstm', { units: 4, stateful: true, ...rnnInit(85) }) as tf.RNN,
          batchInputShape: [2, 6, 3],
        }),
      ],
    });
    const layer = model.layers[0] as unknown as { name: string; forwardLayer: tf.RNN; backwardLayer: tf.RNN };
    const finals = ['h_forward', 'c_forward', 'h_backward', 'c_backward'].map((s) => `${layer.name}/final_${s}`);
    assert.deepEqual(
      convertLayersModel(model)
        .graph.output.slice(1)
        .map((o) => o.name),
      finals,
    );
    await assertCarried(model, finals, () => [...layer.forwardLayer.states, ...layer.backwardLayer.states], 95);
  });
});

describe('refused configurations, each saying why', () => {
  test('an activation the recurrent ops cannot apply, initial states given to a stateful layer', () => {
    const selu = sequential([3, 2], [tf.layers.simpleRNN({ units: 2, activation: 'selu' })]);
    assert.throws(() => convertLayersModel(selu), /activation "selu" inside a recurrent cell/);
    const x = tf.input({ batchShape: [2, 3, 2] });
    const h = tf.input({ batchShape: [2, 2] });
    const layer = tf.layers.simpleRNN({ units: 2, stateful: true });
    const given = tf.model({ inputs: [x, h], outputs: layer.apply(x, { initialState: [h] }) as tf.SymbolicTensor });
    assert.throws(() => convertLayersModel(given), /stateful: true with initial states from other inputs/);
  });
});

describe("Keras's GRU with reset_after (ganport's GRUResetAfter → GRU, linear_before_reset 1)", () => {
  const gruResetAfter = (args: Record<string, unknown>) =>
    new GRUResetAfter({ units: 4, ...args } as ConstructorParameters<typeof GRUResetAfter>[0]);
  /** Sets random weights (the bias's two rows differ) on a built model's recurrent layers. */
  const randomize = (model: tf.LayersModel, seed: number) => {
    model.setWeights(model.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.6, 'float32', seed + i)));
    return model;
  };

  test('its tfjs cell computes Keras reset_after exactly (against a plain float64 loop)', () => {
    const layer = gruResetAfter({ returnSequences: true, recurrentActivation: 'sigmoid' });
    const model = randomize(sequential([5, 3], [layer]), 1);
    const [kernel, recurrent, bias] = model.getWeights().map((w) => w.arraySync() as number[][]);
    const x = tf.randomNormal([2, 5, 3], 0, 1, 'float32', 9);
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    const expected = (x.arraySync() as number[][][]).map((sequence) => {
      let h = [0, 0, 0, 0];
      return sequence.map((xt) => {
        const gate = (g: number, u: number) => {
          const j = g * 4 + u;
          const fromX = xt.reduce((s, v, i) => s + v * kernel[i][j], bias[0][j]);
          const fromH = h.reduce((s, v, i) => s + v * recurrent[i][j], bias[1][j]);
          return [fromX, fromH];
        };
        h = h.map((hu, u) => {
          const z = sigmoid(gate(0, u)[0] + gate(0, u)[1]);
          const r = sigmoid(gate(1, u)[0] + gate(1, u)[1]);
          const [xh, uh] = gate(2, u);
          return z * hu + (1 - z) * Math.tanh(xh + r * uh);
        });
        return h;
      });
    });
    const actual = (model.predict(x) as tf.Tensor).dataSync();
    assert.ok(maxAbsDiff(actual, Float32Array.from(expected.flat(2))) < 1e-5);
  });

  for (const returnSequences of [false, true])
    for (const goBackwards of [false, true])
      test(`returnSequences ${returnSequences}, goBackwards ${goBackwards}`, async () => {
        const layer = gruResetAfter({ returnSequences, goBackwards });
        const bytes = await roundTrip(randomize(sequential([6, 3], [layer]), 2), { batch: 3, relative: RELATIVE });
        const gru = decodeModel(bytes).graph.node.find((n) => n.opType === 'GRU')!;
        assert.equal(Number(gru.attribute.find((a) => a.name === 'linear_before_reset')!.i), 1);
      });
  test('no bias, sigmoid and hardSigmoid gates, and inside a Bidirectional (concat)', async () => {
    await assertRoundTrip(randomize(sequential([5, 2], [gruResetAfter({ useBias: false })]), 3), {
      relative: RELATIVE,
    });
    const inner = gruResetAfter({ recurrentActivation: 'sigmoid', returnSequences: true });
    const model = randomize(sequential([5, 2], [tf.layers.bidirectional({ layer: inner as tf.RNN })]), 4);
    await assertRoundTrip(model, { relative: RELATIVE });
  });
});
