/**
 * Elementwise ops whose input repeats along a short last axis ([…, 1] against […, k], k ≤ MAX_SPAN)
 * read that input spread out first: k copies side by side (Concat), the same bytes, −0 and NaNs
 * included. onnxruntime's CPU broadcast calls its inner loop once per span of k values, so over many
 * short spans the calls cost more than the arithmetic.
 *
 * A maxout layer's gradient is the case (tfjs's Max gradient: dy · (x == max), over [N, units, pieces]).
 * Measured on this project's 2-vCPU machine, lower quartiles of 250 runs, its Equal, Cast and Mul with
 * both repeated inputs spread, on one thread and on two (spinning): 20,000 × 5 (PacGAN's) 0.40 → 0.17
 * and 0.32 → 0.17 ms; 12,500 × 8: 0.27 → 0.18 and 0.43 → 0.22 ms; 6,250 × 16: 0.30 → 0.22 but
 * 0.18 → 0.31 ms; 3,125 × 32: slower either way. A MatMul by a row of ones spreads a little faster,
 * but turns −0 into +0; an Expand along the outer axis and a Transpose, exact too, ran slower on two threads.
 */
import { attr } from '../onnx/builder.js';
import { GraphEdit } from '../onnx/edit.js';
import type { GraphProto, ModelProto, NodeProto } from '../onnx/proto.js';
import { size } from '../tfjs/onnx-kernels/index.js';
import type { ValueInfoSpec } from './value-specs.js';

/** The longest last axis whose broadcast is spread out. */
export const MAX_SPAN = 8;
/** Spans below this many (the output's size / k) are too few for their calls to matter. */
export const MIN_SPANS = 1024;
/**
 * Ops that broadcast their inputs against each other, on onnxruntime's CPU broadcast helper. Not Max
 * and Min: their paths there differ on NaN and on −0 against +0 (a scalar one from a vector one), so
 * spreading an input would change which value comes out.
 */
const ELEMENTWISE = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Equal',
  'Greater',
  'GreaterOrEqual',
  'Less',
  'LessOrEqual',
  'Where',
]);

/**
 * `model` with the repeated inputs of its elementwise ops spread out over their output's shape;
 * undefined where none qualifies. `spec` gives a value's type and shape.
 */
export function expandInnerBroadcasts(
  model: ModelProto,
  spec: (name: string) => ValueInfoSpec | undefined,
): ModelProto | undefined {
  const edit = new Spreader(model.graph);
  let changed = false;
  for (const node of model.graph.node) {
    const output = spec(node.output[0])?.dims;
    const repeated = output && !node.domain && ELEMENTWISE.has(node.opType) ? repeatedInputs(node, output, spec) : [];
    const input = node.input.map((name) => (repeated.includes(name) ? edit.spread(name, output as number[]) : name));
    edit.nodes.push(repeated.length ? { ...node, input } : node);
    changed ||= repeated.length > 0;
  }
  return changed ? edit.model(model) : undefined;
}

/**
 * The float inputs of `node` that repeat along its output's short last axis, where every other
 * input has the output's shape or one value (so that, spread out, the op broadcasts nothing).
 */
function repeatedInputs(
  node: NodeProto,
  output: number[],
  spec: (name: string) => ValueInfoSpec | undefined,
): string[] {
  const span = output[output.length - 1];
  if (output.length < 2 || span < 2 || span > MAX_SPAN || size(output) / span < MIN_SPANS) return [];
  const repeated: string[] = [];
  for (const name of node.input) {
    const input = spec(name);
    if (!input) return [];
    // numpy broadcasting: a shorter shape is read with 1s in front
    const dims = [...Array(Math.max(0, output.length - input.dims.length)).fill(1), ...input.dims];
    const same = (length: number) =>
      dims.length === output.length && dims.slice(0, length).every((d, i) => d === output[i]);
    if (same(output.length) || size(dims) === 1) continue;
    if (input.dtype !== 'float32' || !same(output.length - 1) || dims[dims.length - 1] !== 1) return [];
    if (!repeated.includes(name)) repeated.push(name);
  }
  return repeated;
}

class Spreader extends GraphEdit {
  /** Spread-out values (named by input and shape): each is made once, before its first reader. */
  private readonly spreads = new Set<string>();

  constructor(graph: GraphProto) {
    super(graph, 'broadcast');
  }

  /** `name` ([…, 1]) spread out to `shape` ([…, k]): k copies of it side by side (Concat copies values as they are). */
  spread(name: string, shape: number[]): string {
    const spread = `${name}/spread_${shape.join('x')}`;
    if (this.spreads.has(spread)) return spread;
    this.add('Concat', Array(shape[shape.length - 1]).fill(name), spread, { axis: attr.int(-1) });
    this.spreads.add(spread);
    return spread;
  }
}
