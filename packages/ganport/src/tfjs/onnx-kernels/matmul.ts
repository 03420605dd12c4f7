/** Matrix products and batch normalization. */
import { backend_util } from '@tensorflow/tfjs-core';
import { attr } from '../../onnx/builder.js';
import { input, type KernelHandler, size } from './context.js';
import { fusedEpilogue } from './conv.js';
import { broadcastChannelsFirst, takesChannelsFirst } from './layout.js';

/** BatchMatMul and _FusedMatMul: a [..., M, K] · b [..., K, N] (+ bias, activation), batch dimensions broadcast. */
const matMul: KernelHandler = (call) => {
  const { g } = call;
  const a = input(call, 'a');
  const b = input(call, 'b');
  const { transposeA, transposeB } = call.attrs as { transposeA: boolean; transposeB: boolean };
  if (a.shape.length < 2 || b.shape.length < 2) return undefined;
  const batch = backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outputShape = call.outputs[0].shape;
  const bias = call.inputs.bias;
  let y: string;
  let biasInGemm = false;
  if (size(batch) === 1) {
    // Without batch dimensions, Gemm takes the transposes (and a rank ≤ 2 bias) as attributes, copying nothing.
    biasInGemm = bias !== undefined && bias.shape.length <= 2;
    const a2 = a.shape.length === 2 ? a.name : g.reshape(a.name, a.shape.slice(-2));
    const b2 = b.shape.length === 2 ? b.name : g.reshape(b.name, b.shape.slice(-2));
    y = g.op('Gemm', [a2, b2, ...(biasInGemm ? [bias!.name] : [])], {
      transA: attr.int(transposeA ? 1 : 0),
      transB: attr.int(transposeB ? 1 : 0),
    });
    if (outputShape.length !== 2) y = g.reshape(y, outputShape);
  } else {
    const lastTwoSwapped = (rank: number) => [...Array(rank - 2).keys(), rank - 1, rank - 2];
    y = g.op('MatMul', [
      transposeA ? g.transpose(a.name, lastTwoSwapped(a.shape.length)) : a.name,
      transposeB ? g.transpose(b.name, lastTwoSwapped(b.shape.length)) : b.name,
    ]);
  }
  return [fusedEpilogue(g, y, call, biasInGemm)];
};

/**
 * FusedBatchNorm: (x − mean) · scale / √(variance + ε) + offset over the last axis, as tfjs
 * computes it (elementwise, so any layout and rank; training mode passes the batch moments).
 */
const fusedBatchNorm: KernelHandler = takesChannelsFirst((call) => {
  const { g } = call;
  const x = input(call, 'x');
  // the per-channel vectors broadcast against x in its layout
  const vector = (name: string) => {
    const v = call.inputs[name];
    return v && (x.layout === 'NCHW' ? broadcastChannelsFirst(g, v) : v.name);
  };
  const [mean, variance, offset, scale] = ['mean', 'variance', 'offset', 'scale'].map(vector);
  const epsilon = g.scalar(call.attrs.varianceEpsilon as number);
  const inverse = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance!, epsilon])])]);
  const factor = scale ? g.op('Mul', [inverse, scale]) : inverse;
  const y = g.op('Mul', [g.op('Sub', [x.name, mean!]), factor]);
  const out = offset ? g.op('Add', [y, offset]) : y;
  return [x.layout === 'NCHW' ? { name: out, layout: 'NCHW' } : out];
});

export const MATMUL_HANDLERS: Record<string, KernelHandler> = {
  BatchMatMul: matMul,
  _FusedMatMul: matMul,
  FusedBatchNorm: fusedBatchNorm,
};
