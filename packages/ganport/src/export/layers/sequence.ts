/**
 * The 1-D (sequence) layers on tfjs's [batch, steps, channels]: Conv1D and MaxPooling1D /
 * AveragePooling1D run channels-first as ONNX requires (a Transpose each side; the converter
 * cancels the inverse pairs between consecutive layers), the global poolings reduce the steps axis.
 */
import { type AttrValue, attr, DataType } from '../../onnx/builder.js';
import { applyActivation } from './activation.js';
import {
  type LayerContext,
  type LayerHandler,
  refuseStrayMask,
  tfjsValue,
  unsupportedConfig,
  weight,
} from './context.js';
import { refuseStridedDilation, samePads } from './geometry.js';
import { INT64_MAX } from './spatial.js';

const single = (v: unknown, fallback: number): number =>
  v === undefined || v === null ? fallback : Array.isArray(v) ? (v[0] as number) : (v as number);

const SWAP_LAST = [0, 2, 1];

function requireStepsLast(ctx: LayerContext): void {
  if (ctx.config.dataFormat !== undefined && ctx.config.dataFormat !== 'channelsLast')
    unsupportedConfig(ctx, `dataFormat ${String(ctx.config.dataFormat)}`);
}

/** Pads [begin, end] of the steps axis for `valid`, `same` (TensorFlow's rule) or `causal` (all at the start). */
function stepPads(ctx: LayerContext, kernel: number, stride: number, dilation: number): number[] {
  const padding = ctx.config.padding as string;
  if (padding === 'valid') return [0, 0];
  if (padding === 'causal') return [(kernel - 1) * dilation, 0];
  if (padding !== 'same') unsupportedConfig(ctx, `padding "${padding}"`);
  return samePads(ctx.inputShapes[0][1], kernel, stride, dilation);
}

/**
 * [batch, steps, channels] → [batch, channels, steps], through `op`, an elementwise activation
 * (any but softmax, which needs the channels last), and back.
 */
function channelsFirst(
  ctx: LayerContext,
  op: string,
  inputs: string[],
  attributes: Record<string, AttrValue>,
  activation = 'linear',
): string {
  const { g, name } = ctx;
  const x = g.op('Transpose', [g.tfjsLayout(ctx.inputs[0]).name], { perm: attr.ints(SWAP_LAST) }, `${name}/ncl`);
  let y = g.op(op, [x, ...inputs], attributes, `${name}/${op.toLowerCase()}`);
  if (activation !== 'softmax') y = applyActivation(g, tfjsValue(y, 3), activation, `${name}/activation`).name;
  y = g.op('Transpose', [y], { perm: attr.ints(SWAP_LAST) }, name);
  return activation === 'softmax' ? applyActivation(g, tfjsValue(y, 3), activation, `${name}/softmax`).name : y;
}

export const conv1d: LayerHandler = (ctx) => {
  requireStepsLast(ctx);
  const { g, name } = ctx;
  const k = single(ctx.config.kernelSize, 1);
  const stride = single(ctx.config.strides, 1);
  const dilation = single(ctx.config.dilationRate, 1);
  refuseStridedDilation(ctx, [stride], [dilation]);
  const kernel = weight(ctx, 'kernel');
  const [kw, inC, filters] = kernel.shape;
  const data = new Float32Array(kernel.data.length);
  for (let x = 0; x < kw; x++)
    for (let i = 0; i < inC; i++)
      for (let o = 0; o < filters; o++) data[(o * inC + i) * kw + x] = kernel.data[(x * inC + i) * filters + o];
  const inputs = [g.constFloat(`${name}/kernel`, [filters, inC, kw], data)];
  if (ctx.config.useBias !== false) {
    const bias = weight(ctx, 'bias');
    inputs.push(g.constFloat(`${name}/bias`, bias.shape, bias.data));
  }
  const attributes = {
    kernel_shape: attr.ints([k]),
    strides: attr.ints([stride]),
    dilations: attr.ints([dilation]),
    pads: attr.ints(stepPads(ctx, k, stride, dilation)),
  };
  return tfjsValue(channelsFirst(ctx, 'Conv', inputs, attributes, ctx.config.activation as string), 3);
};

const pool1d =
  (op: 'MaxPool' | 'AveragePool'): LayerHandler =>
  (ctx) => {
    requireStepsLast(ctx);
    const k = single(ctx.config.poolSize, 2);
    const stride = single(ctx.config.strides, k);
    const attributes = {
      kernel_shape: attr.ints([k]),
      strides: attr.ints([stride]),
      pads: attr.ints(stepPads(ctx, k, stride, 1)),
      ...(op === 'AveragePool' ? { count_include_pad: attr.int(0) } : {}),
    };
    return tfjsValue(channelsFirst(ctx, op, [], attributes), 3);
  };

export const maxPooling1d = pool1d('MaxPool');
export const averagePooling1d = pool1d('AveragePool');

/** [batch, steps, channels] → [batch, channels]: a reduction over the steps axis, no transposes. */
const globalPool1d =
  (op: 'ReduceMean' | 'ReduceMax'): LayerHandler =>
  (ctx) => {
    requireStepsLast(ctx);
    const keep = ctx.config.keepDims === true;
    return tfjsValue(ctx.g.reduce(op, ctx.g.tfjsLayout(ctx.inputs[0]).name, [1], keep, ctx.name), keep ? 3 : 2);
  };

export const globalAveragePooling1d = globalPool1d('ReduceMean');

/**
 * KerasGlobalAveragePooling1D (src/tfjs/keras-layers.ts): with an input mask, the mean over the steps it
 * keeps, as Keras computes it (sum(x · mask) / sum(mask)); without one, tfjs's ReduceMean.
 */
export const kerasGlobalAveragePooling1d: LayerHandler = (ctx) => {
  const mask = ctx.inputMasks?.[0];
  if (!mask) {
    refuseStrayMask(ctx);
    return globalAveragePooling1d(ctx);
  }
  const { g, name } = ctx;
  const x = g.tfjsLayout(ctx.inputs[0]);
  const keep = g.unsqueeze(g.op('Cast', [mask.value()], { to: attr.int(DataType.FLOAT) }, `${name}/keep`), [2]);
  const kept = g.reduce('ReduceSum', g.op('Mul', [x.name, keep], {}, `${name}/masked`), [1], false, `${name}/sum`);
  const count = g.reduce('ReduceSum', keep, [1], false, `${name}/count`);
  return tfjsValue(g.op('Div', [kept, count], {}, name), 2);
};
export const globalMaxPooling1d = globalPool1d('ReduceMax');

/** Cropping1D (src/tfjs/keras-layers.ts): Slice of the steps axis. */
export const cropping1d: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const x = g.tfjsLayout(ctx.inputs[0]);
  const [begin, end] = ctx.config.cropping as [number, number];
  const inputs = [
    x.name,
    g.constInt64(`${name}/starts`, [begin]),
    g.constInt64(`${name}/ends`, [end ? -end : INT64_MAX]),
    g.constInt64(`${name}/axes`, [1]),
  ];
  return tfjsValue(g.op('Slice', inputs, {}, name), 3);
};

/** ZeroPadding1D (src/tfjs/keras-layers.ts): Pad of the steps axis with zeros. */
export const zeroPadding1d: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const x = g.tfjsLayout(ctx.inputs[0]);
  const [begin, end] = ctx.config.padding as [number, number];
  const pads = g.constInt64(`${name}/pads`, [0, begin, 0, 0, end, 0]);
  return tfjsValue(g.op('Pad', [x.name, pads], { mode: attr.string('constant') }, name), 3);
};
