/**
 * Convolutions and their gradients. tfjs is NHWC with [kh, kw, in, out] filters; ONNX's Conv is
 * NCHW with [out, in, kh, kw] (and ConvTranspose [in, out, kh, kw] of the convolution it inverts:
 * the same permutation), so each handler transposes at its edges. In a whole captured step
 * onnxruntime's layout optimizer cancels the transposes between consecutive ops.
 *
 * The filter gradient dW[i, j, c, o] = Σ_{n,p,q} x_pad[n, p·s + i, q·s + j, c] · dy[n, p, q, o]
 * is an im2col GEMM: one strided Slice of the padded input per filter tap (i, j). With few
 * input channels the taps are concatenated into one [N·OH·OW, kh·kw·C] patch matrix and
 * multiplied once; with many, one GEMM per tap beats building the big matrix (batch 64,
 * 14×14×32 → 7×7×64: 4.0 vs 5.6 ms; 28×28×1 → 14×14×32: 1.0 vs 2.2 ms, best of 25; the
 * dilated-convolution identity measured 2–3× slower).
 */
import { backend_util } from '@tensorflow/tfjs-core';
import { activation } from '../../onnx/activations.js';
import { type AttrValue, attr } from '../../onnx/builder.js';
import type { OnnxGraph } from '../../onnx/graph.js';
import { input, type KernelHandler, size } from './context.js';

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];
const FILTER_TO_OIHW = [3, 2, 0, 1];
/** Filter gradients with at least this many input channels run one GEMM per filter tap. */
const GEMM_PER_TAP_MIN_CHANNELS = 8;

export interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The convolution's geometry, or undefined where ONNX's padding arithmetic cannot express tfjs's. */
export function convGeometry(
  xShape: number[],
  filterShape: number[],
  attrs: ConvAttrs,
): backend_util.Conv2DInfo | undefined {
  if (attrs.dataFormat === 'NCHW') return undefined;
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { top, bottom, left, right } = info.padInfo;
  const onnxOut = (n: number, k: number, s: number, before: number, after: number) =>
    Math.floor((n + before + after - k) / s) + 1;
  const matches =
    onnxOut(info.inHeight, info.effectiveFilterHeight, info.strideHeight, top, bottom) === info.outHeight &&
    onnxOut(info.inWidth, info.effectiveFilterWidth, info.strideWidth, left, right) === info.outWidth;
  return matches && Math.min(top, bottom, left, right) >= 0 ? info : undefined;
}

export const convFlops = (info: backend_util.Conv2DInfo): number =>
  2 *
  size([info.batchSize, info.outHeight, info.outWidth, info.outChannels]) *
  size([info.filterHeight, info.filterWidth, info.inChannels]);

function convAttributes(info: backend_util.Conv2DInfo): Record<string, AttrValue> {
  const { top, left, bottom, right } = info.padInfo;
  return {
    kernel_shape: attr.ints([info.filterHeight, info.filterWidth]),
    strides: attr.ints([info.strideHeight, info.strideWidth]),
    pads: attr.ints([top, left, bottom, right]),
    dilations: attr.ints([info.dilationHeight, info.dilationWidth]),
  };
}

/**
 * The fused bias and activation of FusedConv2D and _FusedMatMul on `y` (NHWC, or [.., M, N]);
 * `biasDone` when the bias is already in the op.
 */
export function fusedEpilogue(g: OnnxGraph, y: string, call: Parameters<KernelHandler>[0], biasDone: boolean): string {
  const bias = call.inputs.bias;
  const out = bias && !biasDone ? g.op('Add', [y, bias.name]) : y;
  const { activation: name, leakyreluAlpha } = call.attrs as { activation?: string; leakyreluAlpha?: number };
  return activation(g, out, name, 'activation', {
    alpha: leakyreluAlpha,
    preluWeights: call.inputs.preluActivationWeights?.name,
  });
}

/** Conv2D and FusedConv2D: x [N, H, W, C] ⊛ filter [kh, kw, C, O] (+ bias, activation). */
const conv2d: KernelHandler = (call) => {
  const { g } = call;
  const x = input(call, 'x');
  const filter = input(call, 'filter');
  const info = convGeometry(x.shape, filter.shape, call.attrs as unknown as ConvAttrs);
  if (!info) return undefined;
  const bias = call.inputs.bias;
  const biasInConv = bias !== undefined && bias.shape.length === 1 && bias.shape[0] === info.outChannels;
  const convInputs = [g.transpose(x.name, NHWC_TO_NCHW), g.transpose(filter.name, FILTER_TO_OIHW)];
  const conv = g.op('Conv', biasInConv ? [...convInputs, bias.name] : convInputs, convAttributes(info));
  return [fusedEpilogue(g, g.transpose(conv, NCHW_TO_NHWC), call, biasInConv)];
};

/**
 * The padding ConvTranspose adds at the end of each spatial axis so that its output has the
 * convolution input's shape: the rows and columns the convolution never reached (zero gradient).
 */
export function transposeOutputPadding(info: backend_util.Conv2DInfo): number[] | undefined {
  const { top, left, bottom, right } = info.padInfo;
  const padding = [
    info.inHeight - (info.strideHeight * (info.outHeight - 1) + info.filterHeight - top - bottom),
    info.inWidth - (info.strideWidth * (info.outWidth - 1) + info.filterWidth - left - right),
  ];
  const strides = [info.strideHeight, info.strideWidth];
  return padding.every((p, axis) => p >= 0 && p < strides[axis]) ? padding : undefined;
}

/** Conv2DBackpropInput, also conv2dTranspose's forward pass: dy [N, OH, OW, O], filter [kh, kw, C, O] → x's shape. */
const conv2dBackpropInput: KernelHandler = (call) => {
  const { g } = call;
  const dy = input(call, 'dy');
  const filter = input(call, 'filter');
  const attrs = call.attrs as unknown as ConvAttrs & { inputShape: number[] };
  const info = convGeometry(attrs.inputShape, filter.shape, attrs);
  const outputPadding = info && transposeOutputPadding(info);
  if (!info || !outputPadding) return undefined;
  const y = g.op('ConvTranspose', [g.transpose(dy.name, NHWC_TO_NCHW), g.transpose(filter.name, FILTER_TO_OIHW)], {
    ...convAttributes(info),
    output_padding: attr.ints(outputPadding),
  });
  return [g.transpose(y, NCHW_TO_NHWC)];
};

/** Conv2DBackpropFilter: x [N, H, W, C], dy [N, OH, OW, O] → dW [kh, kw, C, O], as im2col GEMMs (see the top). */
const conv2dBackpropFilter: KernelHandler = (call) => {
  const { g } = call;
  const x = input(call, 'x');
  const dy = input(call, 'dy');
  const attrs = call.attrs as unknown as ConvAttrs & { filterShape: number[] };
  const info = convGeometry(x.shape, attrs.filterShape, attrs);
  if (!info || info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const { batchSize, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { inChannels, outChannels } = info;
  const { top, left } = info.padInfo;
  const rows = batchSize * outHeight * outWidth;
  // Zero padding so that every tap's strided slice lies inside the padded input.
  const bottom = Math.max(0, filterHeight + strideHeight * (outHeight - 1) - info.inHeight - top);
  const right = Math.max(0, filterWidth + strideWidth * (outWidth - 1) - info.inWidth - left);
  const pads = [0, top, left, 0, 0, bottom, right, 0];
  const padded = pads.some((p) => p > 0) ? g.op('Pad', [x.name, g.constInt64('pads', pads)]) : x.name;
  const gradients = g.reshape(dy.name, [rows, outChannels]);
  const axes = g.constInt64('axes', [1, 2]);
  const steps = g.constInt64('steps', [strideHeight, strideWidth]);
  const taps: string[] = [];
  for (let i = 0; i < filterHeight; i++) {
    for (let j = 0; j < filterWidth; j++) {
      const ends = [i + strideHeight * (outHeight - 1) + 1, j + strideWidth * (outWidth - 1) + 1];
      const tap = [padded, g.constInt64('starts', [i, j]), g.constInt64('ends', ends), axes, steps];
      taps.push(g.op('Slice', tap)); // [N, OH, OW, C]
    }
  }
  const gemm = (patches: string) => g.op('Gemm', [patches, gradients], { transA: attr.int(1) });
  let columns: string; // [kh·kw·C, O], rows ordered (i, j, c)
  if (inChannels >= GEMM_PER_TAP_MIN_CHANNELS) {
    const perTap = taps.map((tap) => gemm(g.reshape(tap, [rows, inChannels])));
    columns = g.op('Concat', perTap, { axis: attr.int(0) });
  } else {
    const patches = g.op('Concat', taps, { axis: attr.int(3) });
    columns = gemm(g.reshape(patches, [rows, filterHeight * filterWidth * inChannels]));
  }
  return [g.reshape(columns, [filterHeight, filterWidth, inChannels, outChannels])];
};

export const CONV_HANDLERS: Record<string, KernelHandler> = {
  Conv2D: conv2d,
  FusedConv2D: conv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
};
