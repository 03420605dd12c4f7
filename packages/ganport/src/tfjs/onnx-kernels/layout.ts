/**
 * Channels-first values in captured graphs. tfjs computes channels-last; ONNX's convolutions are
 * channels-first. Writing each convolution with a Transpose on either side leaves a whole step
 * moving every activation back and forth (onnxruntime's optimizer cancelled 12 of 48 in a DCGAN
 * step, 13 of its 80 ms). Instead a convolution's output stays channels-first, and the kernels that
 * do not care (elementwise ones, reductions, batch norm, the other convolutions) take it as it is:
 * a value changes layout only where a kernel needs tfjs's (a Reshape, a Transpose), once per value.
 */
import type { Layout } from '@ganport/runtime';
import type { OnnxGraph } from '../../onnx/graph.js';
import type { KernelCall, KernelHandler, KernelOutput, KernelValue } from './context.js';

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

const permuted = new WeakMap<OnnxGraph, Map<string, string>>();

/**
 * `x` (of shape `shape`) transposed by `perm`, once per graph: a Reshape where the dimensions larger
 * than 1 keep their order (no data moves: a single-channel image, a per-channel vector), else a Transpose.
 */
export function permute(g: OnnxGraph, x: string, shape: number[], perm: number[]): string {
  const memo = permuted.get(g) ?? new Map<string, string>();
  permuted.set(g, memo);
  const key = `${x}|${perm}`;
  let name = memo.get(key);
  if (!name) {
    const order = perm.filter((p) => shape[p] !== 1);
    const dataStays = order.every((p, i) => i === 0 || order[i - 1] < p);
    name = dataStays
      ? g.reshape(
          x,
          perm.map((p) => shape[p]),
        )
      : g.transpose(x, perm);
    memo.set(key, name);
    // and back: the inverse permutation of the result is x
    memo.set(`${name}|${perm.map((_, i) => perm.indexOf(i))}`, x);
  }
  return name;
}

/** The physical shape of a value in its layout. */
export const physicalShape = (v: KernelValue): number[] =>
  v.layout === 'NCHW' ? NHWC_TO_NCHW.map((p) => v.shape[p]) : v.shape;

/** The value's name in `layout` (rank-4 values only; converted once per value). */
export function inLayout(g: OnnxGraph, v: KernelValue, layout: Layout): string {
  if (v.shape.length !== 4 || (v.layout ?? 'NHWC') === layout) return v.name;
  return permute(g, v.name, physicalShape(v), layout === 'NCHW' ? NHWC_TO_NCHW : NCHW_TO_NHWC);
}

/** The value in tfjs's own layout. */
export const tfjsLayout = (g: OnnxGraph, v: KernelValue): KernelValue =>
  v.layout === 'NCHW' ? { ...v, name: inLayout(g, v, 'NHWC'), layout: undefined } : v;

/**
 * A value of lower rank, broadcast against channels-first rank-4 ones: numpy aligns its dimensions
 * with the trailing (H, W, C) of tfjs's shape, so it is lifted to rank 4 and laid out channels-first.
 */
export function broadcastChannelsFirst(g: OnnxGraph, v: KernelValue): string {
  if (v.shape.length === 4) return inLayout(g, v, 'NCHW');
  if (v.shape.length === 0) return v.name;
  const lifted = [...Array(4 - v.shape.length).fill(1), ...v.shape];
  return permute(g, g.reshape(v.name, lifted), lifted, NHWC_TO_NCHW);
}

/** Marks a handler as taking channels-first inputs. */
export const takesChannelsFirst = (handler: KernelHandler): KernelHandler =>
  Object.assign((call: KernelCall) => handler(call), { channelsFirst: true });

/**
 * An elementwise handler that also runs channels-first: where any rank-4 input is, every input
 * is given to `handler` channels-first (lower ranks broadcast accordingly) and the output is too.
 */
export function elementwiseAnyLayout(handler: KernelHandler): KernelHandler {
  return takesChannelsFirst((call) => {
    const inputs = Object.values(call.inputs).filter((v): v is KernelValue => v !== undefined);
    if (!inputs.some((v) => v.layout === 'NCHW')) return handler(call);
    const { g } = call;
    const channelsFirst = Object.fromEntries(
      Object.entries(call.inputs).map(([key, v]) => [key, v && { ...v, name: broadcastChannelsFirst(g, v) }]),
    );
    const outputs = handler({ ...call, inputs: channelsFirst });
    return outputs?.map((o): KernelOutput => ({ name: typeof o === 'string' ? o : o.name, layout: 'NCHW' }));
  });
}
