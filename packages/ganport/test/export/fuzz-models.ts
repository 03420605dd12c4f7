/**
 * The exporter's differential fuzzer: fast-check draws a genome (a list of small integers), which is
 * decoded into a valid random tfjs model — stacks and DAGs over the supported layers, merges, nested
 * Sequential and functional models, layers called twice (shared weights), one or two inputs (an int
 * label through an Embedding), random shapes — and an export (opset, layout, batch-norm folding). Each
 * case is exported, validated, run in onnxruntime-node and compared with tfjs's predict.
 *
 * A decoded case is plain JSON (`FuzzCase`): what fast-check prints for a counterexample, and what a
 * regression test replays with `checkCase`, independently of the genome it came from.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { decodeModel, findProblems, MAX_OPSET, MIN_OPSET, modelToBytes } from '../../src/export/index.js';
import { Cropping1D, Subtract, TensorFlowOpLayer, ZeroPadding1D } from '../../src/tfjs/keras-layers.js';
import { setBatchNormWeights } from '../fixtures/published-models.js';
import { maxAbsDiff } from '../helpers.js';

/** A shape without the batch dimension; null where free (a sequence length). */
type Shape = (number | null)[];
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Args = Record<string, Json>;

/** One layer of a decoded model: its kind, its inputs (tensor indices: model inputs, then each layer's output). */
export interface LayerSpec {
  kind: string;
  inputs: number[];
  args: Args;
}

export interface ModelSpec {
  /** The model inputs: a float input of a shape, or an int label input ([1], values below `vocab`). */
  inputs: { shape: Shape; vocab?: number }[];
  layers: LayerSpec[];
  /** Tensor indices of the outputs. */
  outputs: number[];
}

/** One fuzz case: a model and how it is exported and run. */
export interface FuzzCase {
  model: ModelSpec;
  opset: number;
  layout: 'nhwc' | 'nchw';
  foldBatchNorm: boolean;
  batch: number;
  /** The length of every free dimension when run. */
  freeLength: number;
}

/**
 * The error allowed: this fraction of the largest |output| (at least 1). Random nets have ill-conditioned
 * spots (a LayerNormalization of a nearly constant vector divides rounding differences by √ε, 1e-4 seen);
 * every exporter bug the fuzzer found erred by 0.03 or more.
 */
export const RELATIVE = 1e-3;
/** The most values a layer may output per sample: tfjs's cpu backend takes minutes over larger convolutions. */
const MAX_VALUES = 4096;

const ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'tanh',
  'sigmoid',
  'hardSigmoid',
  'elu',
  'selu',
  'softplus',
  'softsign',
  'swish',
];

const known = (shape: Shape): shape is number[] => shape.every((d) => d !== null);
const same = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);
const pick = <T>(items: readonly T[], n: number): T => items[n % items.length];

/** Seeded initializers, so a spec always builds the same weights. */
const kernel = (seed: number) => ({
  kernelInitializer: tf.initializers.glorotNormal({ seed }),
  biasInitializer: tf.initializers.randomNormal({ seed: seed + 7919, stddev: 0.2 }),
});

/** How one kind of layer is drawn and built. */
interface LayerKind {
  /** 2 for a merge of two tensors. */
  arity?: 2;
  /** Whether it takes inputs of these shapes. */
  takes: (shapes: Shape[]) => boolean;
  /** Its arguments from three random numbers and the input shapes. */
  args: (p: number[], shapes: Shape[]) => Args;
  /** The tfjs layer. */
  build: (args: Args, seed: number) => tf.layers.Layer;
}

const rank = (n: number) => (shapes: Shape[]) => shapes[0].length === n;
/** An image [h, w, c] of known size at least `min` on each side. */
const image =
  (min = 1) =>
  (shapes: Shape[]) =>
    shapes[0].length === 3 && known(shapes[0]) && Math.min(shapes[0][0], shapes[0][1]) >= min;
/** A window (kernel or pool) that fits a `size` under `valid` padding (an unknown size may be 1). */
const fits = (window: number, size: number | null) => window <= (size ?? 1);

/** A 2-D window's kernel, strides and padding: `same` or `valid` (only where it fits). */
function window2d(p: number[], [h, w]: Shape, maxKernel: number) {
  const kernelSize = 1 + (p[0] % maxKernel);
  const strides = 1 + (p[1] % 2);
  const valid = p[1] % 4 >= 2 && fits(kernelSize, h) && fits(kernelSize, w);
  return { kernelSize, strides, padding: valid ? 'valid' : 'same' };
}

/** A 1-D window over steps; stride 2 and `same` only where the length is known (TensorFlow's pads need it). */
function window1d(p: number[], [steps]: Shape, maxKernel: number) {
  const size = 1 + (p[0] % maxKernel);
  const strides = steps === null ? 1 : 1 + (p[1] % 2);
  const valid = p[1] % 4 >= 2 && fits(size, steps);
  return { size, strides, padding: valid ? 'valid' : 'same' };
}

const activationArg = (p: number) => pick(ACTIVATIONS, p);

/** A TensorFlowOpLayer as tf.keras 2.2 saves one: the op, its attributes (json_format's), its constants by input index. */
function tfOp(args: Args): tf.layers.Layer {
  const { op, inputs, attr, constants } = args as { op: string; inputs: number; attr: Args; constants: Args };
  const input = Array.from({ length: inputs }, (_, i) => `in_${i}`);
  return new TensorFlowOpLayer({ nodeDef: { name: op, op, input, attr }, constants } as never);
}
const int = (i: number) => ({ i: String(i) });
const flag = (b: boolean) => ({ b });

const LAYER_KINDS: Record<string, LayerKind> = {
  dense: {
    takes: (s) => s[0].length >= 1 && s[0].at(-1) !== null,
    args: (p) => ({ units: 1 + (p[0] % 8), activation: activationArg(p[1]), useBias: p[2] % 4 !== 0 }),
    build: (a, seed) => tf.layers.dense({ ...(a as { units: number }), ...kernel(seed) }),
  },
  conv2d: {
    takes: image(),
    args: (p, [shape]) => {
      const w = window2d(p, shape, 3);
      const dilationRate = w.strides === 1 && w.padding === 'same' && p[2] % 3 === 0 ? 2 : 1;
      return { filters: 1 + (p[2] % 5), ...w, dilationRate, activation: activationArg(p[2] >> 3) };
    },
    build: (a, seed) => tf.layers.conv2d({ ...(a as { filters: number; kernelSize: number }), ...kernel(seed) }),
  },
  conv2dTranspose: {
    takes: image(),
    args: (p, [shape]) => ({ filters: 1 + (p[2] % 4), ...window2d(p, shape, 4), activation: activationArg(p[2] >> 2) }),
    build: (a, seed) =>
      tf.layers.conv2dTranspose({ ...(a as { filters: number; kernelSize: number }), ...kernel(seed) }),
  },
  depthwiseConv2d: {
    takes: image(),
    args: (p, [shape]) => ({ ...window2d(p, shape, 3), depthMultiplier: 1 + (p[2] % 2), useBias: p[2] % 3 !== 0 }),
    build: (a, seed) =>
      tf.layers.depthwiseConv2d({
        ...(a as { kernelSize: number }),
        depthwiseInitializer: tf.initializers.glorotNormal({ seed }),
        biasInitializer: tf.initializers.randomNormal({ seed: seed + 1, stddev: 0.2 }),
      }),
  },
  separableConv2d: {
    takes: image(),
    args: (p, [shape]) => ({ filters: 1 + (p[2] % 4), ...window2d(p, shape, 3) }),
    build: (a, seed) =>
      tf.layers.separableConv2d({
        ...(a as { filters: number; kernelSize: number }),
        depthwiseInitializer: tf.initializers.glorotNormal({ seed }),
        pointwiseInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }),
        biasInitializer: tf.initializers.randomNormal({ seed: seed + 2, stddev: 0.2 }),
      }),
  },
  pooling2d: {
    takes: image(),
    args: (p, [shape]) => {
      const w = window2d(p, shape, 3);
      return { op: p[2] % 2 ? 'max' : 'average', poolSize: w.kernelSize, strides: w.strides, padding: w.padding };
    },
    build: ({ op, ...a }) => (op === 'max' ? tf.layers.maxPooling2d(a) : tf.layers.averagePooling2d(a)),
  },
  globalPooling: {
    takes: (s) => (s[0].length === 3 && known(s[0])) || s[0].length === 2,
    args: (p, [shape]) => ({ op: p[0] % 2 ? 'max' : 'average', rank: shape.length }),
    build: ({ op, rank: r }) =>
      r === 3
        ? op === 'max'
          ? tf.layers.globalMaxPooling2d({})
          : tf.layers.globalAveragePooling2d({})
        : op === 'max'
          ? tf.layers.globalMaxPooling1d({})
          : tf.layers.globalAveragePooling1d({}),
  },
  upSampling2d: {
    takes: image(),
    args: (p) => ({ size: [1 + (p[0] % 2), 1 + (p[1] % 3)], interpolation: p[2] % 2 ? 'bilinear' : 'nearest' }),
    build: (a) => tf.layers.upSampling2d(a as { size: number[] }),
  },
  zeroPadding2d: {
    takes: image(),
    args: (p) => ({
      padding: [
        [p[0] % 2, (p[0] >> 1) % 3],
        [p[1] % 3, (p[1] >> 2) % 2],
      ],
    }),
    build: (a) => tf.layers.zeroPadding2d(a as { padding: [[number, number], [number, number]] }),
  },
  cropping2d: {
    takes: image(3),
    args: (p) => ({
      cropping: [
        [p[0] % 2, (p[0] >> 1) % 2],
        [p[1] % 2, (p[1] >> 1) % 2],
      ],
    }),
    build: (a) => tf.layers.cropping2D(a as { cropping: [[number, number], [number, number]] }),
  },
  batchNormalization: {
    takes: (s) => s[0].length >= 1 && s[0].at(-1) !== null,
    args: (p) => ({ epsilon: pick([1e-3, 1e-5, 0.01], p[0]) }),
    build: (a) => tf.layers.batchNormalization(a),
  },
  layerNormalization: {
    takes: (s) => s[0].length >= 1 && s[0].at(-1) !== null,
    args: (p) => ({ epsilon: pick([1e-3, 1e-5], p[0]), center: p[1] % 3 !== 0, scale: p[2] % 3 !== 0 }),
    build: (a, seed) =>
      tf.layers.layerNormalization({
        ...a,
        betaInitializer: tf.initializers.randomNormal({ seed, stddev: 0.3 }),
        gammaInitializer: tf.initializers.randomNormal({ seed: seed + 1, mean: 1, stddev: 0.3 }),
      }),
  },
  activation: {
    takes: () => true,
    args: (p, [shape]) => ({
      activation: shape.length === 1 && p[1] % 5 === 0 ? 'softmax' : activationArg(p[0]),
    }),
    build: (a) => tf.layers.activation(a as { activation: 'relu' }),
  },
  elementwiseActivation: {
    takes: () => true,
    args: (p) => ({
      op: pick(['reLU', 'leakyReLU', 'elu', 'thresholdedReLU', 'softmax'], p[0]),
      value: (p[1] % 5) / 4,
    }),
    build: ({ op, value }) =>
      op === 'reLU'
        ? tf.layers.reLU(value ? { maxValue: 2 * (value as number) } : {})
        : op === 'leakyReLU'
          ? tf.layers.leakyReLU({ alpha: value as number })
          : op === 'elu'
            ? tf.layers.elu({})
            : op === 'thresholdedReLU'
              ? tf.layers.thresholdedReLU({ theta: value as number })
              : tf.layers.softmax({ axis: -1 }), // tfjs defaults to axis 1, and runs only the last,
  },
  prelu: {
    takes: (s) => known(s[0]) && s[0].length >= 1,
    args: (p, [shape]) => ({ sharedAxes: shape.length === 3 && p[0] % 2 ? [1, 2] : null }),
    build: (a, seed) =>
      tf.layers.prelu({
        ...(a.sharedAxes ? { sharedAxes: a.sharedAxes as number[] } : {}),
        alphaInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed }),
      }),
  },
  flatten: {
    takes: (s) => s[0].length >= 2 && known(s[0]),
    args: () => ({}),
    build: () => tf.layers.flatten(),
  },
  reshape: {
    takes: (s) => known(s[0]) && s[0].length >= 1,
    args: (p, [shape]) => {
      const size = (shape as number[]).reduce((a, b) => a * b, 1);
      const divisors = Array.from({ length: size }, (_, i) => i + 1).filter((d) => size % d === 0);
      const a = pick(divisors, p[0]);
      const rest = size / a;
      const b = pick(
        Array.from({ length: rest }, (_, i) => i + 1).filter((d) => rest % d === 0),
        p[1],
      );
      const targets = [[size], [a, rest], [a, b, rest / b], [-1, rest]];
      return { targetShape: pick(targets, p[2]) };
    },
    build: (a) => tf.layers.reshape(a as { targetShape: number[] }),
  },
  repeatVector: {
    takes: rank(1),
    args: (p) => ({ n: 1 + (p[0] % 3) }),
    build: (a) => tf.layers.repeatVector(a as { n: number }),
  },
  permute: {
    takes: (s) => s[0].length >= 2,
    args: (p, [shape]) => {
      const dims = shape.map((_, i) => i + 1);
      // An image keeps its channels last: ONNX Runtime's layout optimizer moves a Transpose that moves them
      // through a linear Resize, leaving scales its kernel refuses (found by the fuzzer; not the exporter's).
      for (let i = shape.length === 3 ? dims.length - 2 : dims.length - 1; i > 0; i--) {
        const j = p[i % 3] % (i + 1);
        [dims[i], dims[j]] = [dims[j], dims[i]];
      }
      return { dims };
    },
    build: (a) => tf.layers.permute(a as { dims: number[] }),
  },
  conv1d: {
    takes: rank(2),
    args: (p, [shape]) => {
      const w = window1d(p, shape, 3);
      return { filters: 1 + (p[2] % 4), kernelSize: w.size, strides: w.strides, padding: w.padding };
    },
    build: (a, seed) => tf.layers.conv1d({ ...(a as { filters: number; kernelSize: number }), ...kernel(seed) }),
  },
  pooling1d: {
    takes: rank(2),
    args: (p, [shape]) => {
      const w = window1d(p, shape, 3);
      return { op: p[2] % 2 ? 'max' : 'average', poolSize: w.size, strides: w.strides, padding: w.padding };
    },
    build: ({ op, ...a }) => (op === 'max' ? tf.layers.maxPooling1d(a) : tf.layers.averagePooling1d(a)),
  },
  padOrCrop1d: {
    takes: (s) => s[0].length === 2 && s[0][0] !== null && s[0][0] > 2,
    args: (p) => ({ crop: p[0] % 2 === 0, edges: [p[1] % 2, p[2] % 2] }),
    build: ({ crop, edges }) =>
      crop
        ? new Cropping1D({ cropping: edges as [number, number] })
        : new ZeroPadding1D({ padding: edges as [number, number] }),
  },
  recurrent: {
    takes: (s) => s[0].length === 2 && s[0][1] !== null,
    args: (p) => ({
      cell: pick(['simpleRNN', 'gru', 'lstm'], p[0]),
      units: 1 + (p[1] % 5),
      returnSequences: p[2] % 2 === 1,
      goBackwards: (p[2] >> 1) % 3 === 0,
      bidirectional: pick([null, 'concat', 'sum', 'ave', 'mul'], p[1] >> 3),
    }),
    build: ({ cell, bidirectional, ...a }, seed) => {
      const layer = (tf.layers[cell as 'lstm'] as (args: object) => tf.RNN)({
        ...a,
        ...kernel(seed),
        recurrentInitializer: tf.initializers.glorotNormal({ seed: seed + 1 }),
        ...(bidirectional ? { goBackwards: false } : {}),
      });
      return bidirectional
        ? tf.layers.bidirectional({ layer, mergeMode: bidirectional as 'concat' })
        : (layer as unknown as tf.layers.Layer);
    },
  },
  timeDistributedDense: {
    takes: (s) => s[0].length === 2 && s[0][1] !== null,
    args: (p) => ({ units: 1 + (p[0] % 4) }),
    build: (a, seed) =>
      tf.layers.timeDistributed({ layer: tf.layers.dense({ units: a.units as number, ...kernel(seed) }) }),
  },
  dropout: {
    takes: () => true,
    args: (p) => ({ rate: (p[0] % 5) / 10 }),
    build: (a) => tf.layers.dropout(a as { rate: number }),
  },
  tfElementwise: {
    takes: () => true,
    args: (p, [shape]) => {
      const op = pick(
        ['Relu6', 'Sigmoid', 'Tanh', 'Square', 'AddV2', 'Sub', 'Mul', 'RealDiv', 'Maximum', 'Minimum'],
        p[0],
      );
      const last = shape.at(-1);
      const constant =
        p[1] % 2 && typeof last === 'number'
          ? Array.from({ length: last }, (_, i) => 0.5 + ((p[2] + i) % 5) / 4)
          : 1.25;
      const binary = !['Relu6', 'Sigmoid', 'Tanh', 'Square'].includes(op);
      // the constant first or second, but never a divisor a layer computes (it may be exactly 0, or −0)
      const at = op === 'RealDiv' ? 1 : p[2] % 2;
      return { op, inputs: binary ? 2 : 1, attr: {}, constants: binary ? { [at]: constant } : {} };
    },
    build: tfOp,
  },
  tfBlocks: {
    takes: (s) =>
      image(2)(s) &&
      ((s[0][2] as number) % 4 === 0 || ((s[0][0] as number) % 2 === 0 && (s[0][1] as number) % 2 === 0)),
    args: (_, [[, , channels]]) => ({
      op: (channels as number) % 4 === 0 ? 'DepthToSpace' : 'SpaceToDepth',
      inputs: 1,
      attr: { block_size: int(2) },
      constants: {},
    }),
    build: tfOp,
  },
  tfPad: {
    takes: image(2),
    args: (p, [[h, w]]) => {
      const op = pick(['Pad', 'MirrorPad', 'MirrorPad'], p[0]);
      const mode = p[0] % 3 === 1 ? 'REFLECT' : 'SYMMETRIC';
      const limit = (size: number) => (op === 'Pad' ? 2 : mode === 'REFLECT' ? size - 1 : size);
      const edge = (n: number, size: number) => n % (Math.min(2, limit(size)) + 1);
      const paddings = [
        [0, 0],
        [edge(p[1], h as number), edge(p[1] >> 2, h as number)],
        [edge(p[2], w as number), edge(p[2] >> 2, w as number)],
        [0, 0],
      ];
      return {
        op,
        inputs: 2,
        attr: (op === 'MirrorPad' ? { mode: { s: Buffer.from(mode).toString('base64') } } : {}) as Args,
        constants: { 1: paddings },
      };
    },
    build: tfOp,
  },
  tfResize: {
    takes: image(),
    args: (p) => ({
      op: p[0] % 2 ? 'ResizeBilinear' : 'ResizeNearestNeighbor',
      inputs: 2,
      attr: pick<Args>([{}, { align_corners: flag(true) }, { half_pixel_centers: flag(true) }], p[1]),
      constants: { 1: [1 + (p[2] % 7), 1 + ((p[2] >> 3) % 7)] },
    }),
    build: tfOp,
  },
  tfReduce: {
    takes: (s) => s[0].length >= 1,
    args: (p, [shape]) => {
      const axes = shape.map((_, i) => i + 1).filter((_, i) => (p[1] >> i) % 2 === 1);
      return {
        op: pick(['Mean', 'Sum', 'Max'], p[0]),
        inputs: 2,
        attr: { keep_dims: flag(p[2] % 2 === 1) },
        constants: { 1: axes.map((a) => (p[2] % 4 >= 2 ? a - shape.length - 1 : a)) },
      };
    },
    build: tfOp,
  },
  tfStridedSlice: {
    takes: (s) => s[0].length >= 1 && known(s[0]),
    args: (p, [shape]) => {
      const dims = shape as number[];
      const begin = [0, ...dims.map((d, i) => (p[i % 3] >> 2) % d)];
      const strides = [1, ...dims.map((_, i) => ((p[(i + 1) % 3] >> 4) % 2 ? -1 : 1 + ((p[i % 3] >> 5) % 2)))];
      const end = [0, ...dims.map((d, i) => (strides[i + 1] > 0 ? d : -d - 1))];
      const bits = (n: number) => n % 2 ** (dims.length + 1);
      return {
        op: 'StridedSlice',
        inputs: 4,
        attr: {
          begin_mask: int(1 | bits(p[1])),
          end_mask: int(1 | bits(p[2])),
          // TensorFlow refuses a negative stride on a shrunk axis
          shrink_axis_mask: int(p[0] % 5 === 0 && strides[1] > 0 ? 2 : 0),
        },
        constants: { 1: begin, 2: end, 3: strides },
      };
    },
    build: tfOp,
  },
  merge: {
    arity: 2,
    // same shapes; or the second's shape a suffix of the first's (tfjs broadcasts it over the leading axes)
    takes: ([a, b]) => known(a) && known(b) && b.length <= a.length && same(a.slice(a.length - b.length), b),
    args: (p, [a, b]) => ({
      op: pick(
        a.length === b.length
          ? ['add', 'subtract', 'multiply', 'average', 'maximum', 'minimum']
          : ['add', 'multiply', 'maximum'],
        p[0],
      ),
    }),
    build: ({ op }) =>
      op === 'subtract' ? new Subtract({}) : (tf.layers[op as 'add'] as (a: object) => tf.layers.Layer)({}),
  },
  concatenate: {
    arity: 2,
    // (not rank 0: the last axis would be the batch)
    takes: ([a, b]) =>
      known(a) && known(b) && a.length === b.length && a.length > 0 && same(a.slice(0, -1), b.slice(0, -1)),
    args: () => ({}),
    build: () => tf.layers.concatenate(),
  },
  embedding: {
    takes: () => false, // only ever the first layer on the label input, which decode adds
    args: () => ({}),
    build: (a, seed) =>
      tf.layers.embedding({
        inputDim: a.inputDim as number,
        outputDim: a.outputDim as number,
        embeddingsInitializer: tf.initializers.randomNormal({ seed }),
      }),
  },
  dot: {
    arity: 2,
    takes: ([a, b]) =>
      known(a) && known(b) && a.length === b.length && [1, 2].includes(a.length) && a.at(-1) === b.at(-1),
    args: (p) => ({ normalize: p[0] % 3 === 0 }),
    build: (a) => tf.layers.dot({ axes: -1, normalize: a.normalize as boolean }),
  },
};

/** The kinds a nested model's chain draws from: one input, any shape it takes. */
const SINGLE_INPUT_KINDS = Object.keys(LAYER_KINDS).filter((k) => LAYER_KINDS[k].arity !== 2);

/** A layer of the spec as tfjs layer: one of LAYER_KINDS, or a nested Sequential / functional model of a chain. */
function buildLayer(spec: LayerSpec, shape: Shape, seed: number): tf.layers.Layer {
  // (a copy: tfjs writes into some of its arguments, e.g. Reshape's -1 as null)
  if (spec.kind !== 'nested') return LAYER_KINDS[spec.kind].build(structuredClone(spec.args), seed);
  const chain = spec.args.chain as unknown as LayerSpec[];
  const input = tf.input({ shape: shape as number[] });
  let x = input;
  chain.forEach((inner, i) => {
    x = buildLayer(inner, x.shape.slice(1), seed * 31 + i).apply(x) as tf.SymbolicTensor;
  });
  if (spec.args.sequential) {
    const model = tf.sequential();
    model.add(tf.layers.inputLayer({ inputShape: shape as number[] }));
    chain.forEach((inner, i) => {
      model.add(buildLayer(inner, model.outputs[0].shape.slice(1), seed * 31 + i));
    });
    return model;
  }
  const skip = spec.args.skip && same(x.shape.slice(1), shape);
  return tf.model({ inputs: input, outputs: skip ? (tf.layers.add().apply([input, x]) as tf.SymbolicTensor) : x });
}

interface Built {
  tensors: tf.SymbolicTensor[];
  /** The layer each spec entry built (a `call` entry reuses an earlier one). */
  layers: tf.layers.Layer[];
}

/** Applies one spec entry; throws where tfjs refuses it. */
function applySpec(spec: LayerSpec, index: number, built: Built): tf.SymbolicTensor {
  const inputs = spec.inputs.map((i) => built.tensors[i]);
  const layer =
    spec.kind === 'call'
      ? built.layers[spec.args.layer as number]
      : buildLayer(spec, inputs[0].shape.slice(1), 1000 + 17 * index);
  const output = layer.apply(inputs.length === 1 ? inputs[0] : inputs) as tf.SymbolicTensor;
  const size = output.shape.slice(1).reduce((a: number, d) => a * (d ?? 1), 1);
  if (size === 0 || size > MAX_VALUES) throw new Error(`an output of ${size} values`);
  built.layers.push(layer);
  return output;
}

function modelInputs(spec: ModelSpec): tf.SymbolicTensor[] {
  return spec.inputs.map((input) =>
    input.vocab ? tf.input({ shape: [1], dtype: 'int32' }) : tf.input({ shape: input.shape as number[] }),
  );
}

/** Builds the tfjs model a spec describes, with trained-like batch-norm statistics. */
export function buildModel(spec: ModelSpec): tf.LayersModel {
  const inputs = modelInputs(spec);
  const built: Built = { tensors: [...inputs], layers: [] };
  spec.layers.forEach((layer, i) => {
    built.tensors.push(applySpec(layer, i, built));
  });
  const model = tf.model({ inputs, outputs: spec.outputs.map((i) => built.tensors[i]) });
  setBatchNormWeights(model, 5, (rng, i) =>
    i === 3 ? 0.3 + rng.nextUniform() : i === 0 ? 1 + 0.3 * rng.nextNormal() : 0.3 * rng.nextNormal(),
  );
  return model;
}

/** One gene: which kind of layer (or a repeated call), on which earlier tensor, with three argument numbers. */
interface Gene {
  op: number;
  input: number;
  other: number;
  p: number[];
}

/**
 * Decodes a genome into a model spec: each gene adds the layer kind it picks among those that take
 * the tensor it picks (recent ones first), or a nested model of the next genes, or calls an earlier
 * layer again; a gene tfjs refuses adds nothing. A second input (a class label) goes through an
 * Embedding and is joined to the main branch at the end.
 */
function decode(first: Shape, label: number | null, genes: Gene[]): ModelSpec {
  const inputs: ModelSpec['inputs'] = [{ shape: first }, ...(label ? [{ shape: [1], vocab: label }] : [])];
  const spec: ModelSpec = { inputs, layers: [], outputs: [] };
  const built: Built = { tensors: modelInputs(spec), layers: [] };
  const shapes = () => built.tensors.map((t) => t.shape.slice(1));
  const add = (layer: LayerSpec): boolean => {
    try {
      built.tensors.push(applySpec(layer, spec.layers.length, built));
      spec.layers.push(layer);
      return true;
    } catch {
      return false;
    }
  };
  // the main branch's tensors: not the label's (which only its Embedding reads)
  const main = (i: number) => !(label && i === 1);
  if (label)
    add({ kind: 'embedding', inputs: [1], args: { inputDim: label, outputDim: 1 + ((genes[0]?.p[0] ?? 0) % 4) } });
  for (let g = 0; g < genes.length; g++) {
    const { op, input, other, p } = genes[g];
    const candidates = shapes()
      .map((_, i) => i)
      .filter(main);
    const x = candidates[candidates.length - 1 - (input % Math.min(candidates.length, 4))];
    if (op % 16 === 15) {
      // call an earlier layer again, on a tensor of the shape it was first called on (shared weights)
      const reusable = spec.layers.flatMap((l, i) =>
        l.kind !== 'call' &&
        l.kind !== 'embedding' &&
        l.inputs.length === 1 &&
        same(shapes()[l.inputs[0]], shapes()[x]) &&
        l.inputs[0] !== x
          ? [i]
          : [],
      );
      if (reusable.length) add({ kind: 'call', inputs: [x], args: { layer: pick(reusable, other) } });
      continue;
    }
    if (op % 16 === 14) {
      const chain: LayerSpec[] = [];
      let shape = shapes()[x];
      for (const inner of genes.slice(g + 1, g + 2 + (p[0] % 3))) {
        const kinds = SINGLE_INPUT_KINDS.filter((k) => LAYER_KINDS[k].takes([shape]));
        const kind = pick(kinds, inner.op);
        const layer = { kind, inputs: [], args: LAYER_KINDS[kind].args(inner.p, [shape]) };
        try {
          shape = (
            buildLayer(layer, shape, 0).apply(tf.input({ shape: shape as number[] })) as tf.SymbolicTensor
          ).shape.slice(1);
          chain.push(layer);
        } catch {}
      }
      g += 1 + (p[0] % 3);
      if (chain.length)
        add({
          kind: 'nested',
          inputs: [x],
          args: { chain: chain as unknown as Json, sequential: p[1] % 2 === 0, skip: p[2] % 2 === 0 },
        });
      continue;
    }
    const kinds = Object.keys(LAYER_KINDS).filter((k) => {
      const kind = LAYER_KINDS[k];
      if (kind.arity !== 2) return kind.takes([shapes()[x]]);
      return candidates.some((y) => y !== x && kind.takes([shapes()[x], shapes()[y]]));
    });
    const kind = pick(kinds, op);
    const layerInputs = [x];
    if (LAYER_KINDS[kind].arity === 2) {
      const partners = candidates.filter((y) => y !== x && LAYER_KINDS[kind].takes([shapes()[x], shapes()[y]]));
      layerInputs.push(pick(partners, other));
    }
    add({
      kind,
      inputs: layerInputs,
      args: LAYER_KINDS[kind].args(
        p,
        layerInputs.map((i) => shapes()[i]),
      ),
    });
  }
  if (spec.layers.length === (label ? 1 : 0)) add({ kind: 'activation', inputs: [0], args: { activation: 'tanh' } });
  const last = built.tensors.length - 1;
  spec.outputs = [last];
  if (label) {
    // the label's Embedding joined to the main branch's last tensor, each flattened
    const flat = (t: number) =>
      shapes()[t].length > 1 && add({ kind: 'flatten', inputs: [t], args: {} }) ? built.tensors.length - 1 : t;
    const embedded = inputs.length;
    const joined = [flat(last === embedded ? 0 : last), flat(embedded)];
    if (add({ kind: 'concatenate', inputs: joined, args: {} })) spec.outputs = [built.tensors.length - 1];
  }
  // sometimes a second output: the tensor before the last
  if ((genes.at(-1)?.other ?? 0) % 3 === 0 && last - 1 >= inputs.length && !spec.outputs.includes(last - 1))
    spec.outputs.push(last - 1);
  return spec;
}

const byte = fc.nat(255);
const gene = fc.record({ op: byte, input: byte, other: byte, p: fc.array(byte, { minLength: 3, maxLength: 3 }) });
const size = fc.integer({ min: 1, max: 9 });

/** A random input shape: a vector, a sequence (its length known or free) or an image. */
const inputShape: fc.Arbitrary<Shape> = fc.oneof(
  fc.tuple(size).map(([n]) => [n + 1]),
  fc.tuple(fc.option(size, { nil: null }), fc.integer({ min: 1, max: 5 })),
  fc.tuple(size, size, fc.integer({ min: 1, max: 4 })),
);

/** Random fuzz cases: a model decoded from a genome of 1 to 10 genes, and how it is exported and run. */
export const fuzzCases: fc.Arbitrary<FuzzCase> = fc
  .record({
    shape: inputShape,
    // a second input, a class label, in one case of four
    label: fc.oneof(
      { arbitrary: fc.constant(null), weight: 3 },
      { arbitrary: fc.integer({ min: 2, max: 12 }), weight: 1 },
    ),
    genes: fc.array(gene, { minLength: 1, maxLength: 10 }),
    opset: fc.integer({ min: MIN_OPSET, max: MAX_OPSET }),
    layout: fc.constantFrom('nhwc' as const, 'nchw' as const),
    foldBatchNorm: fc.boolean(),
    batch: fc.integer({ min: 1, max: 4 }),
    freeLength: fc.integer({ min: 2, max: 6 }),
  })
  .map(({ shape, label, genes, ...run }) => ({ model: decode(shape, label, genes), ...run }));

/** A rank-4 tensor as an `nchw` export takes or gives it. */
const channelsFirst = (x: tf.Tensor, layout: FuzzCase['layout']) =>
  x.rank === 4 && layout === 'nchw' ? tf.transpose(x, [0, 3, 1, 2]) : x;

/** An ONNX Runtime package: onnxruntime-node, or onnxruntime-web (the same API). */
export type Runtime = typeof ort;

/**
 * Exports the case's model, checks it structurally (and that every fixed output size it declares is
 * tfjs's), and runs it in each of `runtimes` against tfjs (inputs N(0, 1), labels below their
 * vocabulary); false where tfjs's own output is not finite (a random deep net can overflow), which says
 * nothing about the exporter.
 */
export async function checkCase(c: FuzzCase, runtimes: Runtime[] = [ort]): Promise<boolean> {
  const model = buildModel(c.model);
  try {
    const xs = c.model.inputs.map((input, i) => {
      const shape = [c.batch, ...input.shape.map((d) => d ?? c.freeLength)];
      return input.vocab
        ? tf.randomUniform(shape, 0, input.vocab, 'int32', 100 + i)
        : tf.randomNormal(shape, 0, 1, 'float32', 100 + i);
    });
    const expected = ([model.predict(xs)].flat() as tf.Tensor[]).map((y) => channelsFirst(y, c.layout));
    if (expected.some((y) => !y.dataSync().every(Number.isFinite))) return false;
    const inputNames = xs.map((_, i) => `x${i}`);
    const outputNames = expected.map((_, i) => `y${i}`);
    const { opset, layout, foldBatchNorm } = c;
    const onnx = modelToBytes(model, { opset, layout, foldBatchNorm, inputNames, outputNames });
    const graph = decodeModel(onnx);
    assert.deepEqual(findProblems(graph), []);
    graph.graph.output.forEach((o, i) => {
      const declared = o.type.tensorType.shape.dim.map((d) => ('dimValue' in d ? Number(d.dimValue) : null));
      assert.deepEqual(
        declared.map((d, k) => d ?? expected[i].shape[k]),
        expected[i].shape,
        `output ${i}: declared shape`,
      );
    });
    const feeds = Object.fromEntries(
      xs.map((x, i) => {
        const fed = channelsFirst(x, layout);
        return [
          inputNames[i],
          fed.dtype === 'int32'
            ? new ort.Tensor('int64', BigInt64Array.from(fed.dataSync(), BigInt), fed.shape)
            : new ort.Tensor('float32', fed.dataSync() as Float32Array, fed.shape),
        ];
      }),
    );
    for (const runtime of runtimes) {
      const session = await runtime.InferenceSession.create(onnx);
      const out = await session.run(feeds);
      await session.release();
      expected.forEach((y, i) => {
        const values = y.dataSync() as Float32Array;
        const scale = values.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
        const got = out[outputNames[i]];
        assert.deepEqual(got.dims, y.shape, `output ${i}: shape`);
        const err = maxAbsDiff(values, got.data as Float32Array);
        assert.ok(err <= RELATIVE * scale, `output ${i}: max abs error ${err} > ${RELATIVE * scale}`);
      });
    }
    return true;
  } finally {
    model.dispose();
  }
}
