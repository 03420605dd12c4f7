/**
 * tfjs kernels as ONNX nodes: one small handler per kernel name, found through one table (as
 * tf2onnx's op handlers are). Used by the `ort` backend (one kernel per graph) and by the onnx
 * training engine (a whole captured step per graph).
 */
import type { KernelHandler } from './context.js';
import { CONV_HANDLERS } from './conv.js';
import { ELEMENTWISE_HANDLERS } from './elementwise.js';
import { MATMUL_HANDLERS } from './matmul.js';
import { REDUCE_HANDLERS } from './reduce.js';
import { SHAPE_HANDLERS } from './shape.js';

export type { KernelCall, KernelDtype, KernelHandler, KernelValue } from './context.js';
export { ONNX_DTYPE, size } from './context.js';

export const KERNEL_HANDLERS: Readonly<Record<string, KernelHandler>> = {
  ...ELEMENTWISE_HANDLERS,
  ...SHAPE_HANDLERS,
  ...REDUCE_HANDLERS,
  ...CONV_HANDLERS,
  ...MATMUL_HANDLERS,
};
