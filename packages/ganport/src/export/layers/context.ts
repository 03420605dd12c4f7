/** What a layer handler is given, and what it must return. */

import { GanportError } from '@ganport/runtime';
import type * as tf from '@tensorflow/tfjs';
import { spectralNormFolded } from '../../tfjs/spectral-norm.js';
import type { GraphBuilder, Value } from '../graph.js';

/** A tfjs shape: null for the batch (or any unknown) dimension. */
export type Shape = (number | null)[];

export interface LayerWeight {
  /** The weight's own name within the layer: 'kernel', 'bias', 'gamma', … */
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * A mask as tfjs propagates it (an Embedding with maskZero, a Masking layer, passed on by the layers that
 * support masking): the layer that made it, and its values, a bool [batch, steps] ONNX value built on first use.
 */
export interface Mask {
  origin: string;
  value: () => string;
}

/** How a mask-making layer's mask is computed from its call (its handler's context). */
export type MaskMaker = (ctx: LayerContext) => string;

export interface LayerContext {
  g: GraphBuilder;
  className: string;
  /** The tfjs layer name, used as the prefix of every ONNX name the handler creates. */
  name: string;
  config: Record<string, unknown>;
  inputs: Value[];
  /** The tfjs (channels-last) shapes of the inputs and output. */
  inputShapes: Shape[];
  /** The tfjs dtypes of the inputs (an int32 input is an int64 ONNX value). */
  inputDtypes: tf.DataType[];
  outputShape: Shape;
  /** Every output's shape, for layers with several outputs. */
  outputShapes: Shape[];
  weights: LayerWeight[];
  /** For each input, the mask it carries, if any. */
  inputMasks?: (Mask | undefined)[];
  /**
   * Where the first input carries no mask: the mask tfjs's executor may hand the call all the same
   * (`executorMask` in convert.ts), which a layer that applies masks would apply.
   */
  strayMask?: Pick<Mask, 'origin'>;
}

/**
 * Emits the ONNX nodes for one tfjs layer; returns the value holding its output (one per output
 * for layers with several), in whichever layout is cheapest.
 */
export type LayerHandler = (ctx: LayerContext) => Value | Value[];

export function weight(ctx: LayerContext, name: string): LayerWeight {
  const w = ctx.weights.find((x) => x.name === name);
  if (!w) throw new GanportError(`layer ${ctx.name} (${ctx.className}) has no weight "${name}"`, 'invalid-model');
  return w;
}

export function unsupportedConfig(ctx: LayerContext, what: string): never {
  throw new GanportError(
    `layer ${ctx.name} (${ctx.className}): ${what} is not supported by the ONNX exporter`,
    'unsupported',
  );
}

/** A value with the same rank and layout as `like`. */
export const sameLayout = (like: Value, name: string): Value => ({ ...like, name });

/** A value in tfjs layout of the given rank. */
export const tfjsValue = (name: string, rank: number): Value => ({ name, rank, layout: 'NHWC' });

/** Requires channels-last data format (tfjs's default); channels-first tfjs layers are rare and not supported. */
export function requireChannelsLast(ctx: LayerContext): void {
  if (ctx.config.dataFormat !== undefined && ctx.config.dataFormat !== 'channelsLast')
    unsupportedConfig(ctx, `dataFormat ${String(ctx.config.dataFormat)}`);
}

/** Refuses a call whose input carries a mask the layer would apply (tfjs changes its values there). */
export function refuseMask(ctx: LayerContext, effect: string): void {
  const mask = ctx.inputMasks?.[0];
  if (mask) unsupportedConfig(ctx, `an input masked by ${mask.origin} (${effect})`);
  refuseStrayMask(ctx);
}

/** Refuses a call that tfjs's executor may hand another layer's mask (see `strayMask`). */
export function refuseStrayMask(ctx: LayerContext): void {
  if (ctx.strayMask)
    unsupportedConfig(
      ctx,
      `a layer that applies masks in a model where tfjs's predict may hand it ${ctx.strayMask.origin}'s mask (its executor passes a mask on to every later layer)`,
    );
}

/**
 * The context of a spectrally normalized layer (src/tfjs/spectral-norm.ts) with W / σ folded into a plain
 * kernel (its weight `kernelName`: an Embedding's is `embeddings`).
 */
export function foldSpectralNorm(ctx: LayerContext, kernelName = 'kernel'): LayerContext {
  const kernel = weight(ctx, kernelName);
  const u = weight(ctx, 'u');
  const folded = { ...kernel, data: spectralNormFolded(kernel.data, u.data) };
  return { ...ctx, weights: ctx.weights.map((w) => (w === kernel ? folded : w)).filter((w) => w !== u) };
}
