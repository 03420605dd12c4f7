// The metadata_props keys ganport writes into every exported model, and how the
// runtime derives the same facts from the graph when a model (from elsewhere) has none.

import { GanportError } from './errors.js';
import type { Layout } from './image.js';
import type { OnnxInfo, TensorInfo } from './onnx-info.js';

export const META = {
  role: 'ganport.role', // 'generator' | 'discriminator' | 'classifier'
  preset: 'ganport.preset',
  latentSize: 'ganport.latent_size',
  numClasses: 'ganport.num_classes',
  labelKind: 'ganport.label_kind',
  outputShape: 'ganport.output_shape', // JSON, per sample, without the batch dimension
  layout: 'ganport.layout', // 'NHWC' | 'NCHW' | 'flat'
  valueRange: 'ganport.value_range', // JSON [lo, hi]
  data: 'ganport.data', // what it was trained on: a mixture's name, or the data directory's name
  pack: 'ganport.pack', // discriminators: how many samples one input joins (PacGAN)
  testAccuracy: 'ganport.test_accuracy', // classifiers: accuracy on the held-out split
} as const;

export type OutputLayout = Layout | 'flat';
/** 'cluster': k-means clusters of the training images (`ganport train --clusters`). */
export type LabelKind = 'class' | 'cluster';

export interface GeneratorInfo {
  latentInput: string;
  /** The integer class-label input of a conditional generator, its rank ([batch] or [batch, 1]) and type. */
  labelInput?: string;
  labelRank?: number;
  labelType?: 'int32' | 'int64';
  output: string;
  latentSize: number;
  /** Per-sample latent shape as the graph takes it: [latentSize], or e.g. [latentSize, 1, 1]. */
  latentShape: number[];
  /** The batch size the graph fixes, if it fixes one: `generate` then runs in batches of it. */
  batchSize?: number;
  numClasses?: number;
  labelKind?: LabelKind;
  /** Per-sample output shape, without the batch dimension. */
  outputShape: number[];
  layout: OutputLayout;
  valueRange: [number, number];
  producer: string;
  opsetVersion: number;
  metadata: Record<string, string>;
}

const FLOAT = 1;
const LABEL_TYPES: Record<number, 'int32' | 'int64'> = { 6: 'int32', 7: 'int64' };

export function generatorInfo(onnx: OnnxInfo): GeneratorInfo {
  const meta = onnx.metadata;
  const role = meta[META.role];
  if (role !== undefined && role !== 'generator')
    throw new GanportError(`the model is a ${role}, not a generator`, 'invalid-model');
  const latent = onnx.inputs.find((t) => t.elemType === FLOAT);
  if (!latent) throw new GanportError('the model has no float input to take latent vectors', 'invalid-model');
  const label = onnx.inputs.find((t) => t.elemType in LABEL_TYPES);
  const other = onnx.inputs.find((t) => t !== latent && t !== label);
  if (other)
    throw new GanportError(
      `the model's input "${other.name}" is neither its latent vectors nor an integer label, the only inputs the runtime feeds`,
      'unsupported',
    );
  const output = onnx.outputs[0];
  if (output.elemType !== FLOAT)
    throw new GanportError(
      `the model's output "${output.name}" has ONNX element type ${output.elemType}; the runtime reads float32 (1)`,
      'unsupported',
    );

  const latentShape = latentShapeOf(latent, intMeta(meta, META.latentSize));
  const outputShape =
    jsonMeta(meta, META.outputShape, isShape, 'a list of positive integers') ??
    output.dims.slice(1).map((_, i) => fixedDim(output, i + 1, 'output shape'));
  const layout = oneOf<OutputLayout>(META.layout, meta[META.layout] ?? guessLayout(outputShape), [
    'NHWC',
    'NCHW',
    'flat',
  ]);
  const batch = latent.dims[0];
  return {
    latentInput: latent.name,
    labelInput: label?.name,
    labelRank: label?.dims.length,
    labelType: label && LABEL_TYPES[label.elemType],
    output: output.name,
    latentSize: product(latentShape),
    latentShape,
    batchSize: typeof batch === 'number' ? batch : undefined,
    numClasses: intMeta(meta, META.numClasses),
    labelKind: label
      ? oneOf<LabelKind>(META.labelKind, meta[META.labelKind] ?? 'class', ['class', 'cluster'])
      : undefined,
    outputShape,
    layout,
    valueRange: jsonMeta(meta, META.valueRange, isRange, '[lo, hi] with lo < hi') ?? [-1, 1],
    producer: [onnx.producerName, onnx.producerVersion].filter(Boolean).join(' '),
    opsetVersion: onnx.opsetVersion,
    metadata: meta,
  };
}

/** @internal How many values a shape holds. */
export const product = (shape: number[]) => shape.reduce((n, d) => n * d, 1);
const isShape = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length > 0 && v.every((d) => Number.isInteger(d) && d > 0);
const isRange = (v: unknown): v is [number, number] =>
  Array.isArray(v) && v.length === 2 && v.every(Number.isFinite) && v[0] < v[1];

/** The latent's per-sample shape: the graph's where fixed (and of the metadata's size), else [latent_size]. */
function latentShapeOf(latent: TensorInfo, metaSize: number | undefined): number[] {
  const shape = latent.dims.slice(1);
  if (metaSize === undefined) {
    if (shape.length === 0) fixedDim(latent, 1, 'latent size');
    return shape.map((_, i) => fixedDim(latent, i + 1, 'latent size'));
  }
  return isShape(shape) && product(shape) === metaSize ? shape : [metaSize];
}

/** `value` (of metadata `key`) if `allowed`. */
function oneOf<T extends string>(key: string, value: string, allowed: T[]): T {
  if (!allowed.includes(value as T))
    throw new GanportError(`the model's ${key} "${value}" is not one of ${allowed.join(', ')}`, 'invalid-model');
  return value as T;
}

/** 2-D point generators (the mixture presets): drawn as scatter plots rather than image grids. */
export const isPointGenerator = (info: GeneratorInfo) =>
  info.layout === 'flat' && info.outputShape.length === 1 && info.outputShape[0] === 2;

function guessLayout(shape: number[]): OutputLayout {
  if (shape.length !== 3) return 'flat';
  const isChannels = (n: number) => n > 0 && n < 5; // gray, gray and alpha, RGB, RGBA
  return isChannels(shape[2]) || !isChannels(shape[0]) ? 'NHWC' : 'NCHW';
}

function fixedDim(tensor: TensorInfo, axis: number, what: string): number {
  const d = tensor.dims[axis];
  if (typeof d !== 'number' || d <= 0) {
    throw new GanportError(
      `cannot tell the ${what}: dimension ${axis} of "${tensor.name}" is not fixed and the model has no ganport metadata`,
      'invalid-model',
    );
  }
  return d;
}

function intMeta(meta: Record<string, string>, key: string): number | undefined {
  if (meta[key] === undefined) return undefined;
  const n = Number(meta[key]);
  if (!Number.isInteger(n) || n <= 0)
    throw new GanportError(`metadata ${key}="${meta[key]}" is not a positive integer`, 'invalid-model');
  return n;
}

function jsonMeta<T>(
  meta: Record<string, string>,
  key: string,
  valid: (v: unknown) => v is T,
  expected: string,
): T | undefined {
  if (meta[key] === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(meta[key]);
  } catch {
    throw new GanportError(`metadata ${key} is not valid JSON: ${meta[key]}`, 'invalid-model');
  }
  if (!valid(value)) throw new GanportError(`metadata ${key} must be ${expected}, got ${meta[key]}`, 'invalid-model');
  return value;
}
