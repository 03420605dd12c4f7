/** Reductions over axes (tfjs's `axis` attribute, `keepDims`). */
import { util } from '@tensorflow/tfjs-core';
import type { ReduceOp } from '../../onnx/opsets.js';
import { input, type KernelHandler } from './context.js';

const reduction =
  (op: ReduceOp): KernelHandler =>
  (call) => {
    const x = input(call, 'x');
    // Max names its axes reductionIndices; the others, axis
    const axis = (call.attrs.axis ?? call.attrs.reductionIndices) as number | number[];
    const axes = util.parseAxisParam(axis, x.shape);
    if (axes.length === 0) return [x.name];
    return [call.g.reduce(op, x.name, axes, Boolean(call.attrs.keepDims))];
  };

export const REDUCE_HANDLERS: Record<string, KernelHandler> = {
  Sum: reduction('ReduceSum'),
  Mean: reduction('ReduceMean'),
  Max: reduction('ReduceMax'),
  Min: reduction('ReduceMin'),
  Prod: reduction('ReduceProd'),
};
