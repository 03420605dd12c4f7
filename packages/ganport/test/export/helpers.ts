/** Shared by the exporter tests: build small tfjs models, export them, and compare ONNX Runtime with tfjs. */
import assert from 'node:assert/strict';
import { Rng } from '@ganport/runtime';
import * as tf from '@tensorflow/tfjs';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { type ConvertOptions, type ModelProto, modelToBytes } from '../../src/export/index.js';
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

/** Random inputs for every model input: N(0, 1) floats, or integers in [0, 10) for int32 inputs. */
function randomInputs(model: tf.LayersModel, batch: number, seed: number, range?: [number, number]): tf.Tensor[] {
  const rng = new Rng(seed);
  return model.inputs.map((input) => {
    const shape = [batch, ...(input.shape.slice(1) as number[])];
    const size = shape.reduce((a, b) => a * b, 1);
    if (input.dtype === 'int32')
      return tf.tensor(
        Int32Array.from({ length: size }, () => rng.nextInt(10)),
        shape,
        'int32',
      );
    return tf.tensor(
      Float32Array.from({ length: size }, () =>
        range ? range[0] + (range[1] - range[0]) * rng.nextUniform() : rng.nextNormal(),
      ),
      shape,
    );
  });
}

/** Exports `model`, runs it in onnxruntime-node and onnxruntime-web, and checks both against tfjs; returns the ONNX bytes. */
export async function roundTrip(
  model: tf.LayersModel,
  { batch = 3, seed = 1, convert = {}, range, relative }: RoundTripOptions = {},
): Promise<Uint8Array> {
  const xs = randomInputs(model, batch, seed, range);
  const predicted = model.predict(xs);
  const expected = (Array.isArray(predicted) ? predicted : [predicted]).map((t) => t.dataSync());
  const inputNames = model.inputs.map((_, i) => `x${i}`);
  const outputNames = model.outputs.map((_, i) => (i === 0 ? 'y' : `y${i}`));
  const bytes = modelToBytes(model, { inputNames, outputNames, ...convert });
  const feeds = Object.fromEntries(
    xs.map((x, i) => [
      inputNames[i],
      x.dtype === 'int32'
        ? new ortNode.Tensor('int64', BigInt64Array.from(x.dataSync(), BigInt), x.shape)
        : new ortNode.Tensor('float32', x.dataSync() as Float32Array, x.shape),
    ]),
  );
  for (const [name, ort] of [
    ['onnxruntime-node', ortNode],
    ['onnxruntime-web', ortWeb],
  ] as const) {
    const session = await (ort as typeof ortNode).InferenceSession.create(bytes);
    const out = await session.run(feeds);
    outputNames.forEach((output, i) => {
      const err = maxAbsDiff(expected[i], out[output].data as Float32Array);
      const scale = relative === undefined ? 1 : Math.max(1, ...Array.from(expected[i], Math.abs));
      const tolerance = relative === undefined ? TOLERANCE : relative * scale;
      assert.ok(err <= tolerance, `${name}, output ${output}: max abs error ${err} > ${tolerance}`);
    });
    await session.release();
  }
  return bytes;
}

export async function assertRoundTrip(model: tf.LayersModel, options?: RoundTripOptions): Promise<void> {
  await roundTrip(model, options);
}

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
