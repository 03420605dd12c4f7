/** The evaluation classifier (trained by `ganport train-classifier`) run in onnxruntime-node. */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { GanportError, META, readOnnxInfo } from '@ganport/runtime';
import * as ort from 'onnxruntime-node';
import { shippedClassifier } from '../assets.js';
import { classifierPaths } from '../formats/classifier-dir.js';
import { verifyModelDir } from '../formats/model-dir.js';
import { readInputFile } from '../util/files.js';

/** Images per onnxruntime call. */
const BATCH = 1000;

export interface Embeddings {
  count: number;
  /** count × featureSize penultimate-layer activations. */
  features: Float32Array;
  /** count × numClasses softmax outputs. */
  probabilities: Float32Array;
}

export class Classifier {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly path: string,
    /** [height, width, channels] of the NHWC images it takes, in [-1, 1]. */
    readonly imageShape: number[],
    readonly numClasses: number,
    readonly featureSize: number,
    /** What it was trained on and its accuracy on that data's test split, from its metadata. */
    readonly dataName: string,
    readonly testAccuracy: number,
  ) {}

  /** Loads classifier.onnx, or the one in a directory train-classifier wrote. */
  static async load(model = shippedClassifier()): Promise<Classifier> {
    const path = existsSync(model) && statSync(model).isDirectory() ? classifierPaths(model).onnx : model;
    if (!existsSync(path))
      throw new GanportError(`no classifier at ${path}; train one with ganport train-classifier`, 'not-found');
    await verifyModelDir(dirname(path), [basename(path)]);
    const bytes = await readInputFile(path);
    let info: ReturnType<typeof readOnnxInfo>;
    try {
      info = readOnnxInfo(bytes);
    } catch (err) {
      throw new GanportError(`${path}: ${(err as Error).message}`, 'invalid-model');
    }
    if (info.metadata[META.role] !== 'classifier')
      throw new GanportError(
        `${path} is not a ganport classifier (its ${META.role} is ${info.metadata[META.role] ?? 'missing'})`,
        'invalid-model',
      );
    const features = info.outputs.find((o) => o.name === 'features');
    const probabilities = info.outputs.find((o) => o.name === 'probabilities');
    if (!features || !probabilities)
      throw new GanportError(`${path} lacks the features and probabilities outputs`, 'invalid-model');
    const imageShape = info.inputs[0]?.dims.slice(1) ?? [];
    const dims = [features.dims[1], probabilities.dims[1]];
    if (imageShape.length !== 3 || ![...imageShape, ...dims].every((d): d is number => typeof d === 'number')) {
      throw new GanportError(
        `${path}: the image shape (h, w, c) and the feature and class sizes must be fixed dimensions`,
        'invalid-model',
      );
    }
    const session = await ort.InferenceSession.create(bytes).catch((err: Error) => {
      throw new GanportError(`${path}: onnxruntime cannot load it: ${err.message.split('\n')[0]}`, 'invalid-model');
    });
    return new Classifier(
      session,
      path,
      imageShape as number[],
      dims[1] as number,
      dims[0] as number,
      info.metadata[META.data] ?? '?',
      Number(info.metadata[META.testAccuracy]),
    );
  }

  /** Features and class probabilities of `count` NHWC images in [-1, 1]. */
  async embed(images: Float32Array, count: number): Promise<Embeddings> {
    const size = this.imageShape.reduce((a, b) => a * b, 1);
    if (images.length !== count * size)
      throw new Error(`internal error: ${images.length} values for ${count} images of ${size}`);
    const features = new Float32Array(count * this.featureSize);
    const probabilities = new Float32Array(count * this.numClasses);
    for (let from = 0; from < count; from += BATCH) {
      const n = Math.min(BATCH, count - from);
      const input = new ort.Tensor('float32', images.subarray(from * size, (from + n) * size), [n, ...this.imageShape]);
      const out = await this.session.run({ image: input }).catch((err: Error) => {
        throw new GanportError(
          `${this.path}: onnxruntime cannot run it: ${err.message.split('\n')[0]}`,
          'invalid-model',
        );
      });
      features.set(out.features.data as Float32Array, from * this.featureSize);
      probabilities.set(out.probabilities.data as Float32Array, from * this.numClasses);
    }
    return { count, features, probabilities };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** The most probable class of each row. */
export function predictedClasses({ count, probabilities }: Embeddings, numClasses: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++)
      if (probabilities[i * numClasses + c] > probabilities[i * numClasses + best]) best = c;
    out[i] = best;
  }
  return out;
}

/** KL(histogram of predicted classes ‖ uniform): 0 when every class is equally common, log K when all are one class. */
export function classHistogramKl(classes: Uint8Array, numClasses: number): { histogram: number[]; kl: number } {
  const histogram = new Array<number>(numClasses).fill(0);
  for (const c of classes) histogram[c]++;
  const kl = histogram.reduce(
    (sum, h) => (h ? sum + (h / classes.length) * Math.log((h / classes.length) * numClasses) : sum),
    0,
  );
  return { histogram, kl };
}
