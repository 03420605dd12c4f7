/**
 * ReduceSum and ReduceMean over a tensor's leading axes — a dense layer's bias gradient, batch norm's
 * statistics over [batch, units] — as one vector–matrix product: Gemm(ones[1, R], x as [R, C]), where R
 * is the reduced values' count and C the kept ones' (a mean's vector holds 1/R). onnxruntime's CPU
 * reduction over leading axes goes a column at a time and loses on two threads; a Gemm whose A has
 * one row runs MLAS's GEMV kernel, which reads x once, row by row. Within float error: the sums are
 * taken in another order, and a mean scales each value instead of the sum (relative differences of
 * 5e-7–2e-6 measured at R = 64–3,136).
 *
 * Measured on an Intel Xeon VM (2 vCPUs, AVX-512), 20 reductions of distinct inputs in one graph, µs
 * each, one thread / two (spinning): [400, 400] 35.4 → 31.7 / 61.2 → 28.5; [64, 512] 11.2 → 10.9 /
 * 19.1 → 10.6; [64, 3136] 41.5 → 34.5 / 38.1 → 26.1; [3136, 64] 44.2 → 37.3 / 77.1 → 37.1. Not for
 * C = 1 (a dot product; 3.6 against 4.0 µs at R = 64), nor with Gemm's alpha for the mean (the GEMV
 * kernel takes alpha = 1 only: 34.6 µs on two threads at [400, 400]).
 */
import { DataType, makeTensor } from '../onnx/builder.js';
import { GraphEdit, intsAttribute } from '../onnx/edit.js';
import type { ModelProto, NodeProto, TensorProto } from '../onnx/proto.js';
import type { ValueInfoSpec } from './value-specs.js';

/** `model` with its float ReduceSum and ReduceMean over leading axes as Gemms; undefined where none qualifies. */
export function leadingSumsAsProducts(
  model: ModelProto,
  spec: (name: string) => ValueInfoSpec | undefined,
): ModelProto | undefined {
  const constants = new Map(model.graph.initializer.map((t) => [t.name, t]));
  const edit = new GraphEdit(model.graph, 'leading-sums');
  const made = new Map<string, string>(); // the constants written, by what they hold
  const constant = (key: string, write: (name: string) => void) => {
    const known = made.get(key);
    if (known) return known;
    const name = `leading-sums/${key}`;
    write(name);
    made.set(key, name);
    return name;
  };
  let changed = false;
  for (const node of model.graph.node) {
    const split = leadingSplit(node, constants, spec);
    if (!split) {
      edit.nodes.push(node);
      continue;
    }
    const { rows, columns, outDims } = split;
    const [input] = node.input;
    const [output] = node.output;
    const weight = node.opType === 'ReduceMean' ? Math.fround(1 / rows) : 1;
    const vector = constant(`${node.opType === 'ReduceMean' ? 'means' : 'ones'}${rows}`, (name) =>
      edit.initializers.push(makeTensor(name, DataType.FLOAT, [1, rows], new Float32Array(rows).fill(weight))),
    );
    const matrixShape = constant(`shape${rows}x${columns}`, (name) => edit.int64(name, [rows, columns]));
    const outShape = constant(`shape${outDims.join('x') || 'scalar'}`, (name) => edit.int64(name, outDims));
    edit.replacing(output);
    const matrix = edit.add('Reshape', [input, matrixShape], `${output}/matrix`);
    const product = edit.add('Gemm', [vector, matrix], `${output}/product`);
    edit.add('Reshape', [product, outShape], output);
    changed = true;
  }
  return changed ? edit.model(model) : undefined;
}

/**
 * For a float ReduceSum or ReduceMean whose reduced axes all come before its kept ones (axes of size 1
 * aside): the reduced values' count, the kept ones', and the output's dims. Undefined for any other node,
 * and where either count is under 2.
 */
function leadingSplit(
  node: NodeProto,
  constants: Map<string, TensorProto>,
  spec: (name: string) => ValueInfoSpec | undefined,
): { rows: number; columns: number; outDims: number[] } | undefined {
  if ((node.opType !== 'ReduceSum' && node.opType !== 'ReduceMean') || node.domain) return undefined;
  const input = spec(node.input[0]);
  const output = spec(node.output[0]);
  if (input?.dtype !== 'float32' || !output) return undefined;
  const rank = input.dims.length;
  const axes = reducedAxes(node, constants)?.map((a) => (a < 0 ? a + rank : a));
  if (!axes?.length) return undefined; // no axes: every axis, or none (noop_with_empty_axes)
  const reduced = new Set(axes);
  let rows = 1;
  let columns = 1;
  let lastReduced = -1;
  let firstKept = rank;
  for (const [axis, size] of input.dims.entries()) {
    if (reduced.has(axis)) rows *= size;
    else columns *= size;
    if (size === 1) continue;
    if (reduced.has(axis)) lastReduced = axis;
    else firstKept = Math.min(firstKept, axis);
  }
  return lastReduced < firstKept && rows >= 2 && columns >= 2 ? { rows, columns, outDims: output.dims } : undefined;
}

/** The axes a reduction names: its `axes` attribute (ReduceMean before opset 18) or its int64 constant input. */
function reducedAxes(node: NodeProto, constants: Map<string, TensorProto>): number[] | undefined {
  const attribute = intsAttribute(node, 'axes');
  if (attribute) return attribute;
  if (!node.input[1]) return [];
  const tensor = constants.get(node.input[1]);
  if (tensor?.dataType !== DataType.INT64) return undefined;
  if (tensor.rawData?.length) {
    const bytes = new Uint8Array(tensor.rawData); // a copy: the decoded bytes may sit at any offset
    return Array.from(new BigInt64Array(bytes.buffer), Number);
  }
  return (tensor.int64Data ?? []).map(Number);
}
