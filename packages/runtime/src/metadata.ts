/**
 * The metadata_props keys ganport writes into every exported model, and how the
 * runtime derives the same facts from the graph when a model (from elsewhere) has none.
 */

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
  /** The integer class-label input of a conditional generator, and its rank ([batch] or [batch, 1]). */
  labelInput?: string;
  labelRank?: number;
  output: string;
  latentSize: number;
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
const INTEGER_TYPES = new Set([6, 7]); // int32, int64

export function generatorInfo(onnx: OnnxInfo): GeneratorInfo {
  const meta = onnx.metadata;
  const latent = onnx.inputs.find((t) => t.elemType === FLOAT);
  if (!latent) throw new GanportError('the model has no float input to take latent vectors', 'invalid-model');
  const label = onnx.inputs.find((t) => INTEGER_TYPES.has(t.elemType));
  const output = onnx.outputs[0];

  const latentSize = intMeta(meta, META.latentSize) ?? fixedDim(latent, latent.dims.length - 1, 'latent size');
  const outputShape =
    jsonMeta<number[]>(meta, META.outputShape) ??
    output.dims.slice(1).map((_, i) => fixedDim(output, i + 1, 'output shape'));
  const layout = oneOf<OutputLayout>(META.layout, meta[META.layout] ?? guessLayout(outputShape), [
    'NHWC',
    'NCHW',
    'flat',
  ]);
  return {
    latentInput: latent.name,
    labelInput: label?.name,
    labelRank: label?.dims.length,
    output: output.name,
    latentSize,
    numClasses: intMeta(meta, META.numClasses),
    labelKind: label
      ? oneOf<LabelKind>(META.labelKind, meta[META.labelKind] ?? 'class', ['class', 'cluster'])
      : undefined,
    outputShape,
    layout,
    valueRange: jsonMeta<[number, number]>(meta, META.valueRange) ?? [-1, 1],
    producer: [onnx.producerName, onnx.producerVersion].filter(Boolean).join(' '),
    opsetVersion: onnx.opsetVersion,
    metadata: meta,
  };
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
  const isChannels = (n: number) => n === 1 || n === 3 || n === 4;
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

function jsonMeta<T>(meta: Record<string, string>, key: string): T | undefined {
  if (meta[key] === undefined) return undefined;
  try {
    return JSON.parse(meta[key]) as T;
  } catch {
    throw new GanportError(`metadata ${key} is not valid JSON: ${meta[key]}`, 'invalid-model');
  }
}
