/**
 * Pairwise squared Euclidean distances between feature rows, computed by a
 * small ONNX graph in onnxruntime-node (10,000 × 10,000 rows of 128: 0.5 s
 * there, about 20 s as a plain JS loop, on a 2-core machine):
 *   D = ‖a‖² + ‖b‖²ᵀ − 2 a bᵀ, clamped at 0 against round-off.
 */
import * as ort from 'onnxruntime-node';
import { attr, DataType, makeNode, makeValueInfo } from '../onnx/builder.js';
import { OnnxGraph } from '../onnx/graph.js';
import { DEFAULT_OPSET } from '../onnx/opsets.js';
import { encodeModel } from '../onnx/proto.js';

/** Rows of `a` per onnxruntime call: bounds one block of the matrix to rows × |b| floats. */
const BLOCK_ROWS = 1024;

function distanceModel(): Uint8Array {
  const g = new OnnxGraph(DEFAULT_OPSET);
  const aNorms = g.reduce('ReduceSumSquare', 'a', [1], true, 'a_norms');
  const bNorms = g.reduce('ReduceSumSquare', 'b', [1], true, 'b_norms');
  const partial = g.op('Gemm', ['a', 'b', g.transpose(bNorms, [1, 0])], { alpha: attr.float(-2), transB: attr.int(1) });
  g.nodes.push(makeNode('Relu', [g.op('Add', [partial, aNorms])], ['distances']));
  const model = g.toModel(
    'pairwise_squared_distances',
    [makeValueInfo('a', DataType.FLOAT, ['n', 'd']), makeValueInfo('b', DataType.FLOAT, ['m', 'd'])],
    [makeValueInfo('distances', DataType.FLOAT, ['n', 'm'])],
  );
  return encodeModel(model);
}

export class PairwiseDistances {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(): Promise<PairwiseDistances> {
    return new PairwiseDistances(await ort.InferenceSession.create(distanceModel()));
  }

  /**
   * Calls `visit` with consecutive blocks of the |a| × |b| squared-distance matrix:
   * rows [from, from + rows) of `a` against all of `b`, row-major.
   */
  async forEachBlock(
    a: Float32Array,
    b: Float32Array,
    dim: number,
    visit: (block: Float32Array, from: number, rows: number) => void,
  ): Promise<void> {
    const na = a.length / dim;
    const bTensor = new ort.Tensor('float32', b, [b.length / dim, dim]);
    for (let from = 0; from < na; from += BLOCK_ROWS) {
      const rows = Math.min(BLOCK_ROWS, na - from);
      const aTensor = new ort.Tensor('float32', a.subarray(from * dim, (from + rows) * dim), [rows, dim]);
      const { distances } = await this.session.run({ a: aTensor, b: bTensor });
      visit(distances.data as Float32Array, from, rows);
      distances.dispose();
    }
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
