/** What a layer handler is given, and what it must return. */
import type { GraphBuilder } from '../graph.js';
import { GanportError } from '../../runtime/errors.js';

/** A tfjs shape: null for the batch (or any unknown) dimension. */
export type Shape = (number | null)[];

export interface LayerWeight {
  /** The weight's own name within the layer: 'kernel', 'bias', 'gamma', … */
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface LayerContext {
  g: GraphBuilder;
  className: string;
  /** The tfjs layer name, used as the prefix of every ONNX name the handler creates. */
  name: string;
  config: Record<string, unknown>;
  inputs: string[];
  inputShapes: Shape[];
  outputShape: Shape;
  weights: LayerWeight[];
}

/** Emits the ONNX nodes for one tfjs layer; returns the name of the value holding its output. */
export type LayerHandler = (ctx: LayerContext) => string;

export function weight(ctx: LayerContext, name: string): LayerWeight {
  const w = ctx.weights.find((x) => x.name === name);
  if (!w) throw new GanportError(`layer ${ctx.name} (${ctx.className}) has no weight "${name}"`, 'invalid-model');
  return w;
}

export function unsupportedConfig(ctx: LayerContext, what: string): never {
  throw new GanportError(`layer ${ctx.name} (${ctx.className}): ${what} is not supported by the ONNX exporter`, 'unsupported');
}
