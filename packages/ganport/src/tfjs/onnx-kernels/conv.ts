/**
 * Convolutions and their gradients. tfjs is NHWC with [kh, kw, in, out] filters; ONNX's Conv is
 * NCHW with [out, in, kh, kw] (and ConvTranspose [in, out, kh, kw] of the convolution it inverts:
 * the same permutation). The handlers take activations in either layout and leave their outputs
 * channels-first (layout.ts), so consecutive convolutions need no Transpose between them.
 *
 * The filter gradient dW[i, j, c, o] = Σ_{n,p,q} x_pad[n, p·s + i, q·s + j, c] · dy[n, p, q, o]
 * is a convolution of x's channels (as images of N channels) with dy's (as filters of N channels),
 * dilated by the stride. With onnxruntime's Conv, 2 threads, batch 64, 14×14×32 → 7×7×64 k4 s2:
 * 4.2 ms, against 5.4 ms as one im2col GEMM over strided Slices of the channel-major input,
 * 6.1–6.5 ms with the slices channels-last (one GEMM or one per tap); 28×28×1 → 14×14×32:
 * 0.32 against 0.52–2.8 ms (best of 25). The ort backend's one-kernel graphs use it too.
 */

import type { Layout } from '@ganport/runtime';
import { backend_util } from '@tensorflow/tfjs-core';
import { activation } from '../../onnx/activations.js';
import { type AttrValue, attr } from '../../onnx/builder.js';
import type { OnnxGraph } from '../../onnx/graph.js';
import { input, type KernelCall, type KernelHandler, type KernelValue, size } from './context.js';
import {
  broadcastChannelsFirst,
  inLayout,
  NCHW_TO_NHWC,
  permute,
  physicalShape,
  takesChannelsFirst,
  tfjsLayout,
} from './layout.js';

const FILTER_TO_OIHW = [3, 2, 0, 1];

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
 * The fused bias and activation of FusedConv2D and _FusedMatMul on `y` (channels-first when
 * `layout` says so); `biasDone` when the bias is already in the op.
 */
export function fusedEpilogue(
  g: OnnxGraph,
  y: string,
  call: KernelCall,
  biasDone: boolean,
  layout: Layout = 'NHWC',
): string {
  const bias = call.inputs.bias;
  const biasName = bias && (layout === 'NCHW' ? broadcastChannelsFirst(g, bias) : bias.name);
  const out = bias && !biasDone ? g.op('Add', [y, biasName!]) : y;
  const { activation: name, leakyreluAlpha } = call.attrs as { activation?: string; leakyreluAlpha?: number };
  return activation(g, out, name, 'activation', {
    alpha: leakyreluAlpha,
    preluWeights: call.inputs.preluActivationWeights?.name,
  });
}

/** Conv2D and FusedConv2D: x [N, H, W, C] ⊛ filter [kh, kw, C, O] (+ bias, activation), out channels-first. */
const conv2d: KernelHandler = takesChannelsFirst((call) => {
  const { g } = call;
  const x = input(call, 'x');
  const filter = tfjsLayout(g, input(call, 'filter'));
  const info = convGeometry(x.shape, filter.shape, call.attrs as unknown as ConvAttrs);
  if (!info) return undefined;
  const bias = call.inputs.bias;
  const biasInConv = bias !== undefined && bias.shape.length === 1 && bias.shape[0] === info.outChannels;
  const convInputs = [inLayout(g, x, 'NCHW'), permute(g, filter.name, filter.shape, FILTER_TO_OIHW)];
  const conv = g.op('Conv', biasInConv ? [...convInputs, bias.name] : convInputs, convAttributes(info));
  // PReLU's weights have tfjs's layout: that epilogue runs channels-last
  if (call.inputs.preluActivationWeights) return [fusedEpilogue(g, g.transpose(conv, NCHW_TO_NHWC), call, biasInConv)];
  return [{ name: fusedEpilogue(g, conv, call, biasInConv, 'NCHW'), layout: 'NCHW' }];
});

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
const conv2dBackpropInput: KernelHandler = takesChannelsFirst((call) => {
  const { g } = call;
  const dy = input(call, 'dy');
  const filter = tfjsLayout(g, input(call, 'filter'));
  const attrs = call.attrs as unknown as ConvAttrs & { inputShape: number[] };
  const info = convGeometry(attrs.inputShape, filter.shape, attrs);
  const outputPadding = info && transposeOutputPadding(info);
  if (!info || !outputPadding) return undefined;
  const y = g.op('ConvTranspose', [inLayout(g, dy, 'NCHW'), permute(g, filter.name, filter.shape, FILTER_TO_OIHW)], {
    ...convAttributes(info),
    output_padding: attr.ints(outputPadding),
  });
  return [{ name: y, layout: 'NCHW' }];
});

/**
 * Conv2DBackpropFilter: x [N, H, W, C], dy [N, OH, OW, O] → dW [kh, kw, C, O], as the dilated-
 * convolution identity (see the top): x as a batch of C images of N channels, [C, N, H, W],
 * convolved with dy as O filters of N channels, [O, N, OH, OW], dilated by the stride.
 */
const conv2dBackpropFilter: KernelHandler = takesChannelsFirst((call) => {
  const { g } = call;
  const x = input(call, 'x');
  const dy = input(call, 'dy');
  const attrs = call.attrs as unknown as ConvAttrs & { filterShape: number[] };
  const info = convGeometry(x.shape, attrs.filterShape, attrs);
  if (info?.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const { strideHeight, strideWidth, filterHeight, filterWidth, outHeight, outWidth } = info;
  const { top, left } = info.padInfo;
  const channelMajor = (v: KernelValue) =>
    permute(g, v.name, physicalShape(v), v.layout === 'NCHW' ? [1, 0, 2, 3] : [3, 0, 1, 2]);
  // the far edges padded (or cropped) so that the result is exactly kh × kw
  const bottom = filterHeight + strideHeight * (outHeight - 1) - info.inHeight - top;
  const right = filterWidth + strideWidth * (outWidth - 1) - info.inWidth - left;
  let images = channelMajor(x);
  if (bottom < 0 || right < 0) {
    const ends = [info.inHeight + Math.min(0, bottom), info.inWidth + Math.min(0, right)];
    images = g.op('Slice', [
      images,
      g.constInt64('starts', [0, 0]),
      g.constInt64('ends', ends),
      g.constInt64('axes', [2, 3]),
    ]);
  }
  const gradient = g.op('Conv', [images, channelMajor(dy)], {
    dilations: attr.ints([strideHeight, strideWidth]),
    pads: attr.ints([top, left, Math.max(0, bottom), Math.max(0, right)]),
  }); // [C, O, kh, kw]
  return [g.transpose(gradient, [2, 3, 0, 1])];
});

export const CONV_HANDLERS: Record<string, KernelHandler> = {
  Conv2D: conv2d,
  FusedConv2D: conv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
};
