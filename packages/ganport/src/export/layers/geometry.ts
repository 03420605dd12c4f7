/**
 * Window geometry shared by the convolution, pooling, padding and 1-D handlers: tfjs's pair-or-number
 * arguments, and TensorFlow's `same` padding as explicit ONNX pads (never auto_pad, which runtimes
 * implement inconsistently).
 */
import { GanportError } from '@ganport/runtime';
import { type LayerContext, unsupportedConfig } from './context.js';

export const pair = (v: unknown): [number, number] =>
  Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v as number, v as number];

/** Refuses a convolution that both strides and dilates, which TensorFlow and tfjs cannot run either. */
export function refuseStridedDilation(ctx: LayerContext, strides: number[], dilations: number[]): void {
  if (dilations.some((d) => d !== 1) && strides.some((s) => s !== 1))
    unsupportedConfig(ctx, 'dilationRate > 1 with strides > 1 (TensorFlow rejects it too)');
}

/** TensorFlow's `same` padding for one spatial axis of a forward convolution or pooling. */
export function samePads(size: number | null, kernel: number, stride: number, dilation = 1): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  if (size === null) {
    if (stride !== 1) throw new GanportError('same padding with stride > 1 needs a known input size', 'unsupported');
    const total = effective - 1;
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  }
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** ONNX pads [top, left, bottom, right] for a 2-D window over an NHWC tfjs shape. */
export function windowPads(
  ctx: LayerContext,
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number] = [1, 1],
): number[] {
  const padding = ctx.config.padding as string;
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') unsupportedConfig(ctx, `padding "${padding}"`);
  const [top, bottom] = samePads(ctx.inputShapes[0][1], kernel[0], strides[0], dilations[0]);
  const [left, right] = samePads(ctx.inputShapes[0][2], kernel[1], strides[1], dilations[1]);
  return [top, left, bottom, right];
}
