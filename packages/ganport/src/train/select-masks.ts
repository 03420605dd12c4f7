/**
 * tfjs's ReLU and LeakyReLU gradients select with Where: ReLU's step(x) as Where(x > 0, 1, 0),
 * LeakyReLU's as Where(x > 0, dy, dy · α). onnxruntime's CPU Where goes element by element; Cast, Mul
 * and Clip run vectorised. So here step(x) becomes Cast(x > 0), and LeakyReLU's gradient dy · mask with
 * the mask exactly 1 or α:
 * - for 0 < α < 1, Clip(x · 2^126, α, 1): every positive normal float times 2^126 is at least 1, and
 *   +0, −0 and every negative value come out at most 0 (three passes where the Cast form takes five);
 * - for other slopes, and where x > 0 is not read from x itself, Cast(x > 0) · (1 − α) + α, exact where
 *   (1 − α) + α rounds to 1 in float32 (checked; it does for the usual slopes).
 * That gives tfjs's values bit for bit, since dy · 1 is dy (NaN and ±∞ included) and dy · α is the Mul
 * the graph had. One difference from onnxruntime's Where, which turns a chosen −0 into +0: the mask
 * keeps it, as tfjs's select does. The exceptions: a subnormal dy on the chosen side comes out ±0 (dy · 1
 * runs with denormals flushed, as every session here does), where Where copied it, and a NaN x gives a NaN
 * gradient in the Clip form, where tfjs's select took dy · α; dy and x made by the step's own arithmetic
 * are never subnormal, for the same reason, and a NaN activation has made that sample's loss NaN already.
 * Where the forward pass's LeakyReLU of x is in the graph, the Clip form reads that instead (the same
 * mask), so that x's one reader is the activation, which the NCHWc rewrite runs inside x's convolution.
 *
 * Measured on an Intel Xeon VM (2 vCPUs, AVX-512), 64 × 32 × 14 × 14 values, lower quartiles of 200 runs,
 * one thread and two (spinning): the ReLU gradient (Greater, Where, Mul) 0.90 → 0.61 and 0.83 → 0.53 ms;
 * LeakyReLU's 0.94–0.95 → 0.85–0.90 and 0.82–0.85 → 0.55–0.66 ms in the Cast form. The Clip form against
 * the Cast form, lower quartiles of 300 runs on one thread, a graph's input and output copies included
 * (0.31–0.34 ms alone): 0.81–0.86 → 0.56–0.60 ms.
 */
import { attr, DataType } from '../onnx/builder.js';
import { type FloatScalar, floatAttribute, floatScalar, GraphEdit, nodeIndex } from '../onnx/edit.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import type { ValueInfoSpec } from './value-specs.js';

/**
 * `model` with its float Where(c, 1, 0) and Where(c, a, a · α) written as masks; undefined where none
 * qualifies. `spec` gives a value's type and shape.
 */
export function selectsAsMasks(
  model: ModelProto,
  spec: (name: string) => ValueInfoSpec | undefined,
): ModelProto | undefined {
  const scalars = new Map(model.graph.initializer.map((t) => [t.name, floatScalar(t)]));
  const {
    producer: madeBy,
    readers,
    soleReader,
  } = nodeIndex(
    model.graph.node,
    model.graph.output.map((o) => o.name),
  );
  const position = new Map(model.graph.node.map((node, i) => [node, i]));
  const edit = new GraphEdit(model.graph, 'select-mask');
  const unread = new Set<NodeProto>(); // slope Muls and conditions whose one reader was a rewritten Where
  let changed = false;
  for (const node of model.graph.node) {
    const [condition, chosen, otherwise] = node.input;
    const out = spec(node.output[0]);
    // the condition (and the value chosen) as big as the output: the masks then broadcast nothing new
    const sameShape = (name: string) => spec(name)?.dims.join() === out?.dims.join();
    const rewrite = node.opType === 'Where' && !node.domain && out?.dtype === 'float32' && sameShape(condition);
    const slope = rewrite ? slopeOf(madeBy.get(otherwise), chosen, scalars) : undefined;
    const [output] = node.output;
    if (rewrite && scalars.get(chosen)?.value === 1 && scalars.get(otherwise)?.bits === 0) {
      edit.replacing(output);
      edit.add('Cast', [condition], output, { to: attr.int(DataType.FLOAT) });
    } else if (slope && sameShape(chosen)) {
      edit.replacing(output);
      const positive = madeBy.get(condition);
      const source = positive && clipSource(positive, slope.value, scalars);
      const x = source && sameShape(source) && spec(source)?.dtype === 'float32' ? source : undefined;
      const mask = x
        ? clipMask(edit, output, leakyReluOf(x, readers, position, node) ?? x, slope.value)
        : castMask(edit, output, condition, slope);
      edit.add('Mul', [chosen, mask], output);
      // read by this Where alone
      if (soleReader(otherwise)) unread.add(madeBy.get(otherwise)!);
      if (x && positive && soleReader(condition)) unread.add(positive);
    } else {
      edit.nodes.push(node);
      continue;
    }
    changed = true;
  }
  if (!changed) return undefined;
  const kept = edit.nodes.filter((node) => !unread.has(node));
  edit.nodes.splice(0, edit.nodes.length, ...kept);
  return edit.model(model);
}

/**
 * α where `mul` is a · α (either order) with α a float constant, +0 or normal, for which the mask
 * (1 − α) + α is exactly 1. A subnormal α is flushed to zero in the Mul, not alike in the mask's
 * arithmetic; −0 would come out of the mask as +0.
 */
function slopeOf(
  mul: NodeProto | undefined,
  chosen: string,
  scalars: Map<string, FloatScalar | undefined>,
): { name: string; value: number } | undefined {
  if (mul?.opType !== 'Mul' || mul.domain || !mul.input.includes(chosen)) return undefined;
  const name = mul.input[0] === chosen ? mul.input[1] : mul.input[0];
  const slope = scalars.get(name);
  const exponent = slope ? (slope.bits >>> 23) & 0xff : 0;
  const normal = slope !== undefined && (slope.bits === 0 || (exponent > 0 && exponent < 0xff));
  return normal && Math.fround(Math.fround(1 - slope.value) + slope.value) === 1
    ? { name, value: slope.value }
    : undefined;
}

/**
 * LeakyReLU's mask Clip(x · 2^126, α, 1), for a slope strictly between 0 and 1 (clipSource); α as a
 * constant of its own, of rank 0 as ONNX's Clip asks of its bounds (the graph's may be of shape [1], which
 * onnxruntime's CPU kernel takes as well).
 */
function clipMask(edit: GraphEdit, output: string, x: string, slope: number): string {
  const scaled = edit.add('Mul', [x, edit.float(`${output}/mask/normal_scale`, 2 ** 126)], `${output}/mask/scaled`);
  const bounds = [edit.float(`${output}/mask/slope`, slope), edit.float(`${output}/mask/one`, 1)];
  return edit.add('Clip', [scaled, ...bounds], `${output}/mask`);
}

/** LeakyReLU's mask Cast(c) · (1 − α) + α. */
function castMask(edit: GraphEdit, output: string, condition: string, slope: { name: string; value: number }): string {
  const ones = edit.add('Cast', [condition], `${output}/mask/ones`, { to: attr.int(DataType.FLOAT) });
  const rest = edit.float(`${output}/mask/rest`, Math.fround(1 - slope.value));
  const scaled = edit.add('Mul', [ones, rest], `${output}/mask/scaled`);
  return edit.add('Add', [scaled, slope.name], `${output}/mask`);
}

/**
 * A LeakyReLU of `x` with a slope above 0, made before `where` (the graph stays in order), where `x` has
 * one: it is x where x > 0 and at most 0 elsewhere (NaN where x is), so the Clip mask of it is x's bit for
 * bit. Read from it, the mask leaves the activation x's one reader, which the NCHWc rewrite then runs
 * inside x's convolution (nchwc.ts).
 */
function leakyReluOf(
  x: string,
  readers: Map<string, NodeProto[]>,
  position: Map<NodeProto, number>,
  where: NodeProto,
): string | undefined {
  const activation = readers
    .get(x)
    ?.find(
      (node) =>
        node.opType === 'LeakyRelu' &&
        !node.domain &&
        floatAttribute(node, 'alpha', 0.01) > 0 &&
        position.get(node)! < position.get(where)!,
    );
  return activation?.output[0];
}

/**
 * x where `positive` is x > 0 (Greater against a float zero of either sign) and the slope α lies strictly
 * between 0 and 1, so that Clip(x · 2^126, α, 1) is exactly 1 or α.
 */
function clipSource(
  positive: NodeProto,
  slope: number,
  scalars: Map<string, FloatScalar | undefined>,
): string | undefined {
  const zero = scalars.get(positive.input[1]);
  const againstZero = zero !== undefined && (zero.bits & 0x7fffffff) === 0;
  return positive.opType === 'Greater' && !positive.domain && againstZero && slope > 0 && slope < 1
    ? positive.input[0]
    : undefined;
}
