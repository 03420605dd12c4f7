/**
 * The --fp16 pass: weights stored and computed in float16, graph inputs and
 * outputs kept float32 (a Cast at each end) so callers feed and read the same
 * arrays as with an fp32 model. Resize's scales must stay float32 by the spec. Casts to
 * float32 inside the graph (Masking's mask, a TF Cast op) cast to float16 instead, to meet the rest;
 * a Cast of a graph input reads it in float32 (float ids above 2048 would round in float16).
 */
import { attr, DataType, makeNode, makeTensor } from '../onnx/builder.js';
import type { ValueInfoProto } from '../onnx/proto.js';
import type { GraphBuilder } from './graph.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of a float32, rounded to nearest even; overflow becomes ±Infinity. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf / NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    mantissa |= 0x800000; // subnormal half: shift in the implicit bit
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  const rounded = half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0);
  return sign | rounded; // a carry into the exponent is correct, up to Infinity
}

export function toFloat16(g: GraphBuilder, inputs: ValueInfoProto[], outputs: ValueInfoProto[]): void {
  const resizes = g.nodes.filter((n) => n.opType === 'Resize');
  // scales stored once with a weight of the same values (constFloat shares them) get a float32 copy of their own
  for (const resize of resizes) {
    const scales = g.floatData.get(resize.input[2]);
    const readers = g.nodes.filter((n) => n.input.includes(resize.input[2]) && !resizes.includes(n));
    if (scales && readers.length > 0)
      resize.input[2] = g.constFloat(`${resize.input[2]}/float32`, scales.dims, scales.data, false);
  }
  const keepFloat32 = new Set(resizes.map((n) => n.input[2]));
  g.initializers.forEach((tensor, i) => {
    const values = g.floatData.get(tensor.name);
    if (!values || keepFloat32.has(tensor.name)) return;
    g.initializers[i] = makeTensor(
      tensor.name,
      DataType.FLOAT16,
      values.dims,
      Uint16Array.from(values.data, toHalfBits),
    );
  });
  for (const node of g.nodes.filter((n) => n.opType === 'Cast'))
    for (const a of node.attribute) if (a.name === 'to' && Number(a.i) === DataType.FLOAT) a.i = DataType.FLOAT16;
  const casts = [];
  for (const input of inputs.filter((v) => v.type.tensorType.elemType === DataType.FLOAT)) {
    const readers = g.nodes.filter((n) => n.opType !== 'Cast' && n.input.includes(input.name));
    if (readers.length === 0) continue;
    const half = g.unique(`${input.name}/fp16`);
    for (const node of readers) node.input = node.input.map((x) => (x === input.name ? half : x));
    casts.push(makeNode('Cast', [input.name], [half], { to: attr.int(DataType.FLOAT16) }));
  }
  g.nodes.unshift(...casts);
  for (const output of outputs.filter((v) => v.type.tensorType.elemType === DataType.FLOAT)) {
    const half = g.unique(`${output.name}/fp16`);
    for (const node of g.nodes) {
      node.output = node.output.map((x) => (x === output.name ? half : x));
      node.input = node.input.map((x) => (x === output.name ? half : x));
    }
    g.nodes.push(makeNode('Cast', [half], [output.name], { to: attr.int(DataType.FLOAT) }));
  }
}
