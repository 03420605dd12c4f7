/** Shared by the exporter tests: build small tfjs models, export them, and compare ONNX Runtime with tfjs. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import {
  type ConvertOptions,
  decodeModel,
  exportModelFile,
  findProblems,
  type ModelProto,
  modelToBytes,
} from '../../src/export/index.js';
import { maxAbsDiff } from '../helpers.js';

/** fp32 outputs must agree with tfjs to this max abs error. */
export const TOLERANCE = 1e-5;

export const init = (seed: number) => ({
  kernelInitializer: tf.initializers.glorotNormal({ seed }),
  biasInitializer: tf.initializers.randomNormal({ seed: seed + 1000 }),
});

export const sequential = (inputShape: number[], layers: tf.layers.Layer[]) => {
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape }));
  for (const l of layers) model.add(l);
  return model;
};

export interface RoundTripOptions {
  batch?: number;
  seed?: number;
  convert?: ConvertOptions;
  /** Float inputs uniform in [lo, hi) instead of N(0, 1): the range a model's real data has. */
  range?: [number, number];
  /** Relative tolerance: the error may be this fraction of the largest |expected| value (default: absolute 1e-5). */
  relative?: number;
}

/**
 * One tensor per model input, `batch` rows (free dimensions `freeLength` long), each value
 * `value(rng, input)` from one Rng(`seed`) in input order.
 */
export function seededInputs(
  model: tf.LayersModel,
  batch: number,
  seed: number,
  value: (rng: Rng, input: number) => number,
  freeLength = 1,
): tf.Tensor[] {
  const rng = new Rng(seed);
  return model.inputs.map((input, i) => {
    const shape = [batch, ...input.shape.slice(1).map((d) => d ?? freeLength)];
    const values = Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => value(rng, i));
    return tf.tensor(values, shape, input.dtype);
  });
}

/** Random inputs for every model input: N(0, 1) floats, or integers in [0, 10) for int32 inputs. */
function randomInputs(model: tf.LayersModel, batch: number, seed: number, range?: [number, number]): tf.Tensor[] {
  return seededInputs(model, batch, seed, (rng, i) => {
    if (model.inputs[i].dtype === 'int32') return rng.nextInt(10);
    return range ? range[0] + (range[1] - range[0]) * rng.nextUniform() : rng.nextNormal();
  });
}

/** The largest |value|, at least 1 (a loop: outputs of a million values overflow a spread). */
function largestMagnitude(values: ArrayLike<number>): number {
  let largest = 1;
  for (let i = 0; i < values.length; i++) largest = Math.max(largest, Math.abs(values[i]));
  return largest;
}

/**
 * Runs the ONNX model `bytes` in onnxruntime-node and onnxruntime-web on `inputs.xs` (int32 fed as
 * int64) and checks every output named in `expected` against those values: within TOLERANCE, or
 * with `relative`, within that fraction of the largest |expected| value (at least 1). Returns the
 * largest error, as that fraction where `relative` is given.
 */
export async function assertRuntimesAgree(
  label: string,
  bytes: Uint8Array,
  inputs: { names: string[]; xs: tf.Tensor[] },
  expected: Record<string, ArrayLike<number>>,
  relative?: number,
): Promise<number> {
  const feeds = Object.fromEntries(
    inputs.xs.map((x, i) => [
      inputs.names[i],
      x.dtype === 'int32'
        ? new ortNode.Tensor('int64', BigInt64Array.from(x.dataSync(), BigInt), x.shape)
        : new ortNode.Tensor('float32', x.dataSync() as Float32Array, x.shape),
    ]),
  );
  let worst = 0;
  for (const [runtime, ort] of [
    ['onnxruntime-node', ortNode],
    ['onnxruntime-web', ortWeb],
  ] as const) {
    const session = await (ort as typeof ortNode).InferenceSession.create(bytes);
    const out = await session.run(feeds);
    for (const [output, values] of Object.entries(expected)) {
      const err = maxAbsDiff(values, out[output].data as Float32Array);
      const scale = relative === undefined ? 1 : largestMagnitude(values);
      const tolerance = relative === undefined ? TOLERANCE : relative * scale;
      assert.ok(err <= tolerance, `${label} in ${runtime}, output ${output}: max abs error ${err} > ${tolerance}`);
      worst = Math.max(worst, err / scale);
    }
    await session.release();
  }
  return worst;
}

/** Exports `model`, runs it in onnxruntime-node and -web, and checks both against tfjs; returns the ONNX bytes. */
export async function roundTrip(
  model: tf.LayersModel,
  { batch = 3, seed = 1, convert = {}, range, relative }: RoundTripOptions = {},
): Promise<Uint8Array> {
  const xs = randomInputs(model, batch, seed, range);
  const predicted = model.predict(xs);
  const values = (Array.isArray(predicted) ? predicted : [predicted]).map((t) => t.dataSync());
  const inputNames = model.inputs.map((_, i) => `x${i}`);
  const outputNames = model.outputs.map((_, i) => (i === 0 ? 'y' : `y${i}`));
  const bytes = modelToBytes(model, { inputNames, outputNames, ...convert });
  const expected = Object.fromEntries(outputNames.map((name, i) => [name, values[i]]));
  await assertRuntimesAgree(model.name, bytes, { names: inputNames, xs }, expected, relative);
  return bytes;
}

/** Relative tolerance of the models exported from files: 1e-5 of the largest output magnitude (at least 1). */
const FILE_RELATIVE = 1e-5;

/**
 * Exports the model file `file` (a tfjs model.json, a Keras .h5 or .keras; `submodel`: one nested
 * model of it) to `out` with inputs `inputs.names` and output `y`, checks that the ONNX model is
 * structurally valid, and runs it in both runtimes against `reference` on `inputs.xs`; returns the model.
 */
export async function exportFileAndCompare(
  file: string,
  out: string,
  reference: tf.LayersModel,
  inputs: { names: string[]; xs: tf.Tensor[] },
  submodel?: string,
): Promise<ModelProto> {
  await exportModelFile(file, out, { submodel, inputNames: inputs.names, outputNames: ['y'] });
  const bytes = new Uint8Array(await readFile(out));
  const onnx = decodeModel(bytes);
  assert.deepEqual(findProblems(onnx), []);
  const expected = (reference.predict(inputs.xs) as tf.Tensor).dataSync();
  await assertRuntimesAgree(file, bytes, inputs, { y: expected }, FILE_RELATIVE);
  return onnx;
}

export async function assertRoundTrip(model: tf.LayersModel, options?: RoundTripOptions): Promise<void> {
  await roundTrip(model, options);
}

/** A graph input's or output's dims: each a size, or the name of a symbolic one ('batch'). */
export const valueDims = (value: ModelProto['graph']['output'][number]) =>
  value.type.tensorType.shape.dim.map((d) => ('dimValue' in d ? d.dimValue : d.dimParam));

/** How many nodes of ONNX op type `op` the graph has. */
export const opCount = (model: ModelProto, op: string) => model.graph.node.filter((n) => n.opType === op).length;

/** How many Transpose nodes, and how many feed straight into a Transpose that undoes them. */
export function transposeCount(model: ModelProto): { total: number; inversePairs: number } {
  const transposes = model.graph.node.filter((n) => n.opType === 'Transpose');
  const perm = (n: (typeof transposes)[number]) => (n.attribute.find((a) => a.name === 'perm')!.ints ?? []).map(Number);
  let inversePairs = 0;
  for (const t of transposes) {
    const source = transposes.find((s) => s.output[0] === t.input[0]);
    if (source && perm(source).every((_, i) => perm(source)[perm(t)[i]] === i)) inversePairs++;
  }
  return { total: transposes.length, inversePairs };
}
