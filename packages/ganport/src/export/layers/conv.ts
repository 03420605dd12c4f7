/**
 * Conv2D and Conv2DTranspose, computed channels-first as ONNX requires.
 * `same` padding is always written as explicit pads (TensorFlow's rule: the odd
 * pixel goes at the end), never auto_pad, which runtimes implement inconsistently.
 */
import { attr } from '../../onnx/builder.js';
import { applyActivation } from './activation.js';
import {
  type LayerContext,
  type LayerHandler,
  type LayerWeight,
  requireChannelsLast,
  unsupportedConfig,
  weight,
} from './context.js';
import { pair, refuseStridedDilation, windowPads } from './geometry.js';

/** tfjs kernels are [kh, kw, a, b]; ONNX wants [b, a, kh, kw] (Conv: out, in; ConvTranspose: in, out). */
function toOnnxKernel(kernel: LayerWeight): { dims: number[]; data: Float32Array } {
  const [kh, kw, a, b] = kernel.shape;
  const out = new Float32Array(kernel.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < a; i++)
        for (let o = 0; o < b; o++) out[((o * a + i) * kh + y) * kw + x] = kernel.data[((y * kw + x) * a + i) * b + o];
  return { dims: [b, a, kh, kw], data: out };
}

function convInputs(ctx: LayerContext): string[] {
  const { g, name } = ctx;
  const kernel = toOnnxKernel(weight(ctx, 'kernel'));
  const inputs = [g.inLayout(ctx.inputs[0], 'NCHW').name, g.constFloat(`${name}/kernel`, kernel.dims, kernel.data)];
  if (ctx.config.useBias !== false) {
    const bias = weight(ctx, 'bias');
    inputs.push(g.constFloat(`${name}/bias`, bias.shape, bias.data));
  }
  return inputs;
}

/**
 * DepthwiseConv2D as a grouped Conv (group = input channels): tfjs's depthwise kernel
 * [kh, kw, in, multiplier] becomes [in·multiplier, 1, kh, kw], output channel c·multiplier + m
 * as in TensorFlow. Returns the channels-first output before bias and activation are known.
 */
function depthwise(ctx: LayerContext, bias: string | undefined, base: string): string {
  const { g, name } = ctx;
  const kernel = weight(ctx, 'depthwise_kernel');
  const [kh, kw, channels, multiplier] = kernel.shape;
  const data = new Float32Array(kernel.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < channels; c++)
        for (let m = 0; m < multiplier; m++)
          data[((c * multiplier + m) * kh + y) * kw + x] = kernel.data[((y * kw + x) * channels + c) * multiplier + m];
  const kernelSize = pair(ctx.config.kernelSize);
  const strides = pair(ctx.config.strides ?? 1);
  const dilations = pair(ctx.config.dilationRate ?? 1);
  refuseStridedDilation(ctx, strides, dilations);
  const inputs = [
    g.inLayout(ctx.inputs[0], 'NCHW').name,
    g.constFloat(`${name}/depthwise_kernel`, [channels * multiplier, 1, kh, kw], data),
  ];
  if (bias) inputs.push(bias);
  return g.op(
    'Conv',
    inputs,
    {
      group: attr.int(channels),
      kernel_shape: attr.ints(kernelSize),
      strides: attr.ints(strides),
      dilations: attr.ints(dilations),
      pads: attr.ints(windowPads(ctx, kernelSize, strides, dilations)),
    },
    base,
  );
}

export const depthwiseConv2d: LayerHandler = (ctx) => {
  requireChannelsLast(ctx);
  // tfjs's DepthwiseConv2D ignores dilationRate (it convolves undilated), Keras applies it: no one answer to match.
  if (pair(ctx.config.dilationRate ?? 1).some((d) => d !== 1))
    unsupportedConfig(ctx, 'dilationRate > 1 (tfjs computes this layer without the dilation, Keras with it)');
  let bias: string | undefined;
  if (ctx.config.useBias !== false) {
    const b = weight(ctx, 'bias');
    bias = ctx.g.constFloat(`${ctx.name}/bias`, b.shape, b.data);
  }
  const y = depthwise(ctx, bias, `${ctx.name}/depthwise`);
  return applyActivation(ctx.g, { name: y, rank: 4, layout: 'NCHW' }, ctx.config.activation as string, ctx.name);
};

/** SeparableConv2D: the depthwise grouped Conv, then a 1×1 Conv with the pointwise kernel and the bias. */
export const separableConv2d: LayerHandler = (ctx) => {
  requireChannelsLast(ctx);
  const { g, name } = ctx;
  const depthwiseOut = depthwise(ctx, undefined, `${name}/depthwise`);
  const pointwise = toOnnxKernel(weight(ctx, 'pointwise_kernel'));
  const inputs = [depthwiseOut, g.constFloat(`${name}/pointwise_kernel`, pointwise.dims, pointwise.data)];
  if (ctx.config.useBias !== false) {
    const b = weight(ctx, 'bias');
    inputs.push(g.constFloat(`${name}/bias`, b.shape, b.data));
  }
  const y = g.op('Conv', inputs, { kernel_shape: attr.ints([1, 1]) }, `${name}/pointwise`);
  return applyActivation(g, { name: y, rank: 4, layout: 'NCHW' }, ctx.config.activation as string, name);
};

export const conv2d: LayerHandler = (ctx) => {
  requireChannelsLast(ctx);
  const kernel = pair(ctx.config.kernelSize);
  const strides = pair(ctx.config.strides ?? 1);
  const dilations = pair(ctx.config.dilationRate ?? 1);
  refuseStridedDilation(ctx, strides, dilations);
  if ((ctx.config.groups as number | undefined) && (ctx.config.groups as number) !== 1)
    unsupportedConfig(ctx, 'groups');
  const y = ctx.g.op(
    'Conv',
    convInputs(ctx),
    {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(strides),
      dilations: attr.ints(dilations),
      pads: attr.ints(windowPads(ctx, kernel, strides, dilations)),
    },
    `${ctx.name}/conv`,
  );
  return applyActivation(ctx.g, { name: y, rank: 4, layout: 'NCHW' }, ctx.config.activation as string, ctx.name);
};

/**
 * tfjs computes Conv2DTranspose as the gradient of a `same`/`valid` forward
 * convolution: the output is in·s (same) or in·s + max(k − s, 0) (valid), and
 * `same` crops the forward pads, floor(P/2) at the start, P = max(k − s, 0).
 * Where the stride exceeds the kernel, output_padding makes up the difference.
 */
export const conv2dTranspose: LayerHandler = (ctx) => {
  requireChannelsLast(ctx);
  const kernel = pair(ctx.config.kernelSize);
  const strides = pair(ctx.config.strides ?? 1);
  if (pair(ctx.config.dilationRate ?? 1).some((d) => d !== 1)) unsupportedConfig(ctx, 'dilationRate > 1');
  const padding = ctx.config.padding as string;
  if (padding !== 'same' && padding !== 'valid') unsupportedConfig(ctx, `padding "${padding}"`);
  const cropped = (axis: 0 | 1) => (padding === 'same' ? Math.max(kernel[axis] - strides[axis], 0) : 0);
  const [ph, pw] = [cropped(0), cropped(1)];
  const pads = [Math.floor(ph / 2), Math.floor(pw / 2), ph - Math.floor(ph / 2), pw - Math.floor(pw / 2)];
  const outputPadding = [0, 1].map((a) => Math.max(strides[a] - kernel[a], 0));
  const y = ctx.g.op(
    'ConvTranspose',
    convInputs(ctx),
    {
      kernel_shape: attr.ints(kernel),
      strides: attr.ints(strides),
      pads: attr.ints(pads),
      output_padding: attr.ints(outputPadding),
    },
    `${ctx.name}/conv_transpose`,
  );
  return applyActivation(ctx.g, { name: y, rank: 4, layout: 'NCHW' }, ctx.config.activation as string, ctx.name);
};
