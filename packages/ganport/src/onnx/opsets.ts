/**
 * ONNX version facts ganport relies on, as data (onnx/docs/Operators.md, onnx/docs/Versioning.md):
 * the opsets it writes, and the opset in which an op's signature changed.
 */

/**
 * The opset ganport writes unless told otherwise, and the range it can write. 17 is the first with
 * LayerNormalization as a single op, and onnxruntime (node and web) has supported it since 1.13, as have
 * TensorRT 8.5+ and OpenVINO; newer opsets add nothing these models use.
 */
export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

/**
 * The opset captured training steps are written in (tfjs/capture.ts): the first with Col2Im, which the
 * training engine's CPU rewrite of transposed convolutions writes (train/col2im.ts). The step graph runs
 * only in the onnxruntime it is made for, and is never exported.
 */
export const STEP_OPSET = 18;

export type ReduceOp =
  | 'ReduceSum'
  | 'ReduceMean'
  | 'ReduceMax'
  | 'ReduceMin'
  | 'ReduceProd'
  | 'ReduceSumSquare'
  | 'ReduceL2'
  | 'ReduceLogSumExp';

/** The opset from which a reduction takes its axes as an input rather than an attribute. */
const AXES_INPUT_SINCE: Record<ReduceOp, number> = {
  ReduceSum: 13,
  ReduceMean: 18,
  ReduceMax: 18,
  ReduceMin: 18,
  ReduceProd: 18,
  ReduceSumSquare: 18,
  ReduceL2: 18,
  ReduceLogSumExp: 18,
};

export const axesAreInputs = (op: ReduceOp, opset: number): boolean => opset >= AXES_INPUT_SINCE[op];

/** The IR version each supported opset was released with. */
export function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}
