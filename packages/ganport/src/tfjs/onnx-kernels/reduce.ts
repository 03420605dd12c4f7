/** Reductions over axes (tfjs's `axis` attribute, or `reductionIndices` for Max; `keepDims`). */
import { util } from '@tensorflow/tfjs-core';
import type { ReduceOp } from '../../onnx/opsets.js';
import { input, type KernelHandler } from './context.js';
import { NHWC_TO_NCHW, takesChannelsFirst, tfjsLayout } from './layout.js';

/**
 * A channels-first input is reduced where it is when the result's dimensions come out in tfjs's
 * order: kept rank 4 (then channels-first too), or with the channels reduced, or with only the
 * channels and the batch left.
 */
const reduction = (op: ReduceOp): KernelHandler =>
  takesChannelsFirst((call) => {
    let x = input(call, 'x');
    const axis = (call.attrs.axis ?? call.attrs.reductionIndices) as number | number[];
    const axes = util.parseAxisParam(axis, x.shape);
    const keepDims = Boolean(call.attrs.keepDims);
    if (axes.length === 0) return [x.layout ? { name: x.name, layout: x.layout } : x.name];
    if (x.layout === 'NCHW') {
      const physical = axes.map((a) => NHWC_TO_NCHW.indexOf(a));
      const left = NHWC_TO_NCHW.filter((a) => !axes.includes(a));
      const inOrder = left.every((a, i) => i === 0 || left[i - 1] < a);
      if (keepDims) return [{ name: call.g.reduce(op, x.name, physical, true), layout: 'NCHW' }];
      if (inOrder) return [call.g.reduce(op, x.name, physical, false)];
      x = tfjsLayout(call.g, x);
    }
    return [call.g.reduce(op, x.name, axes, keepDims)];
  });

export const REDUCE_HANDLERS: Record<string, KernelHandler> = {
  Sum: reduction('ReduceSum'),
  Mean: reduction('ReduceMean'),
  Max: reduction('ReduceMax'),
  Min: reduction('ReduceMin'),
  Prod: reduction('ReduceProd'),
};
