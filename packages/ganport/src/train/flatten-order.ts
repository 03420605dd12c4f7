/**
 * A convolution's output flattened into a dense layer in channels-first order. tfjs flattens
 * channels-last, so the captured step moves the discriminator's last convolution output from NCHW to
 * NHWC before its dense layer, and the input gradient back: 4-D transposes of the whole batch, which
 * onnxruntime runs as one small matrix transpose per image, split over its threads (about 0.3 ms each
 * at [64, 64, 7, 7] on two threads). Here the dense weight's rows are permuted into channels-first
 * order instead, a transpose of the weight alone (3,136 values for the dcgan's), so that
 * - the forward product reads the NCHW output reshaped: x·W = x_nchw·W';
 * - the weight's gradient comes out in channels-first row order, and is permuted back: xᵀ·dy;
 * - the input gradient dy·Wᵀ, computed as dy·W'ᵀ, is NCHW already.
 * The same sums, taken in another order: within float error.
 *
 * Measured on an Intel Xeon VM (2 vCPUs, AVX-512), the dcgan step graph side by side (three of its
 * batch transposes forward, three backward, go): lower quartiles 36.2–37.2 → 34.5–34.7 ms on two spinning
 * threads, 53.1 → 52.5 on one.
 */
import { type AttrValue, attr } from '../onnx/builder.js';
import { GraphEdit, intAttribute, nodeIndex, transposePerm } from '../onnx/edit.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import { size } from '../tfjs/onnx-kernels/index.js';
import type { ValueInfoSpec } from './value-specs.js';

const TO_CHANNELS_LAST = '0,2,3,1';
const TO_CHANNELS_FIRST = '0,3,1,2';

/** `model` with its flattens into dense layers in channels-first order; undefined where none qualifies. */
export function flattenInChannelOrder(
  model: ModelProto,
  spec: (name: string) => ValueInfoSpec | undefined,
): ModelProto | undefined {
  const graph = new Graph(model, spec);
  const forward = model.graph.node.flatMap((node) => graph.flatten(node) ?? []);
  const backward = model.graph.node.flatMap((node) => graph.unflatten(node) ?? []);
  if (forward.length === 0 && backward.length === 0) return undefined;

  const edit = new GraphEdit(model.graph, 'flatten-order');
  const flattenAt = new Map(forward.map((f) => [f.transpose, f] as const));
  const productOf = new Map(forward.flatMap((f) => f.products.map((gemm) => [gemm, f] as const)));
  const unflattenAt = new Map(backward.map((f) => [f.transpose, f] as const));
  const gone = new Set([...forward, ...backward].flatMap((f) => f.replaced));
  const rows = new Map<Flatten, string>(); // each flatten's NCHW output as [N, C·H·W]
  const permuted = new Map<string, string>(); // a weight's rows in channels-first order
  /** `rows` [H·W·C, units] from channels-last row order to channels-first (or back), written as `out`. */
  const reorderRows = (rows: string, [C, H, W]: number[], units: number, toChannelsFirst: boolean, out: string) => {
    const [grouped, perm] = toChannelsFirst
      ? [
          [H, W, C, units],
          [2, 0, 1, 3],
        ]
      : [
          [C, H, W, units],
          [1, 2, 0, 3],
        ];
    const split = edit.add('Reshape', [rows, edit.int64(`${out}/grouped/shape`, grouped)], `${out}/grouped`);
    const moved = edit.add('Transpose', [split], `${out}/moved`, { perm: attr.ints(perm) });
    return edit.add('Reshape', [moved, edit.int64(`${out}/shape`, [C * H * W, units])], out);
  };
  const channelsFirst = (weight: string, chw: number[]) => {
    const known = permuted.get(weight);
    if (known) return known;
    const name = reorderRows(weight, chw, spec(weight)!.dims[1], true, `${weight}/channels-first`);
    permuted.set(weight, name);
    return name;
  };
  for (const node of model.graph.node) {
    const flat = flattenAt.get(node);
    const product = productOf.get(node);
    const unflat = unflattenAt.get(node);
    if (flat) {
      const name = `${node.output[0]}/flat`;
      rows.set(flat, edit.add('Reshape', [flat.x, edit.int64(`${name}/shape`, [flat.batch, size(flat.chw)])], name));
    } else if (product && !transposed(node, 'transA')) {
      const weight = channelsFirst(node.input[1], product.chw);
      edit.nodes.push({ ...node, input: [rows.get(product)!, weight, ...node.input.slice(2)] });
    } else if (product) {
      // xᵀ·dy, the weight's gradient: its rows come in channels-first order, and are permuted back
      const out = node.output[0];
      const grad = `${out}/channels-first`;
      edit.replacing(out);
      edit.add(node.opType, [rows.get(product)!, node.input[1]], grad, attributes(node));
      reorderRows(grad, product.chw, spec(out)!.dims[1], false, out);
    } else if (unflat) {
      // dy·Wᵀ as dy·W'ᵀ: the input gradient in NCHW order
      const out = node.output[0];
      const weight = channelsFirst(unflat.gemm.input[1], unflat.chw);
      edit.replacing(out);
      const product = edit.add('Gemm', [unflat.gemm.input[0], weight], `${out}/flat`, attributes(unflat.gemm));
      edit.add('Reshape', [product, edit.int64(`${out}/shape`, [unflat.batch, ...unflat.chw])], out);
    } else if (!gone.has(node)) {
      edit.nodes.push(node);
    }
  }
  return edit.model(model);
}

interface Flatten {
  /** Transpose(x, 0 2 3 1), read only through Reshapes by `products`. */
  transpose: NodeProto;
  x: string;
  batch: number;
  /** x's channels, height and width. */
  chw: number[];
  /** Gemms reading the flattened value as A: x·W (W [H·W·C, units]) or xᵀ·dy. */
  products: NodeProto[];
  /** The nodes the rewrite drops: the transpose and the Reshapes between. */
  replaced: NodeProto[];
}

interface Unflatten {
  /** Transpose(·, 0 3 1 2), of dy·Wᵀ reshaped to [N, H, W, C] through Reshapes only. */
  transpose: NodeProto;
  gemm: NodeProto;
  batch: number;
  chw: number[];
  replaced: NodeProto[];
}

class Graph {
  private readonly madeBy: Map<string, NodeProto>;
  private readonly readers: Map<string, NodeProto[]>;
  private readonly outputs: Set<string>;
  private readonly soleReader: (value: string) => NodeProto | undefined;

  constructor(
    model: ModelProto,
    private readonly spec: (name: string) => ValueInfoSpec | undefined,
  ) {
    const outputs = model.graph.output.map((o) => o.name);
    ({
      producer: this.madeBy,
      readers: this.readers,
      soleReader: this.soleReader,
    } = nodeIndex(model.graph.node, outputs));
    this.outputs = new Set(outputs);
  }

  /** The flatten `node` starts, where it is a Transpose to NHWC read only as the rule needs. */
  flatten(node: NodeProto): Flatten | undefined {
    const dims = this.batchImage(node, TO_CHANNELS_LAST);
    if (!dims) return undefined;
    const [batch, ...chw] = dims;
    const features = size(chw);
    const products: NodeProto[] = [];
    const replaced: NodeProto[] = [node];
    const reach = (value: string): boolean => {
      if (this.outputs.has(value)) return false;
      return (this.readers.get(value) ?? []).every((reader) => {
        if (reader.opType === 'Reshape' && !reader.domain && reader.input[0] === value) {
          replaced.push(reader);
          return reach(reader.output[0]);
        }
        const flat = this.spec(value)?.dims;
        const usable =
          reader.opType === 'Gemm' &&
          !reader.domain &&
          reader.input[0] === value &&
          reader.input[1] !== value &&
          flat?.join() === [batch, features].join() &&
          !transposed(reader, 'transB') &&
          (transposed(reader, 'transA')
            ? reader.input.length === 2
            : this.spec(reader.input[1])?.dims.length === 2 && this.spec(reader.input[1])?.dims[0] === features);
        if (usable) products.push(reader);
        return usable;
      });
    };
    return reach(node.output[0]) && products.length > 0
      ? { transpose: node, x: node.input[0], batch, chw, products, replaced }
      : undefined;
  }

  /** The input gradient `node` ends, where it is a Transpose to NCHW of dy·Wᵀ reshaped, as the rule needs. */
  unflatten(node: NodeProto): Unflatten | undefined {
    const dims = this.batchImage(node, TO_CHANNELS_FIRST);
    if (!dims) return undefined;
    const [batch, H, W, C] = dims;
    const replaced: NodeProto[] = [node];
    let value = node.input[0];
    let maker = this.madeBy.get(value);
    while (maker?.opType === 'Reshape' && !maker.domain && this.readOnlyBy(value, replaced.at(-1)!)) {
      replaced.push(maker);
      value = maker.input[0];
      maker = this.madeBy.get(value);
    }
    const weight = maker ? this.spec(maker.input[1])?.dims : undefined;
    const qualifies =
      maker?.opType === 'Gemm' &&
      !maker.domain &&
      maker.input.length === 2 &&
      replaced.length > 1 &&
      this.readOnlyBy(value, replaced.at(-1)!) &&
      !transposed(maker, 'transA') &&
      transposed(maker, 'transB') &&
      this.spec(value)?.dims.join() === [batch, H * W * C].join() &&
      weight?.length === 2 &&
      weight[0] === H * W * C;
    return qualifies
      ? { transpose: node, gemm: maker!, batch, chw: [C, H, W], replaced: [...replaced, maker!] }
      : undefined;
  }

  /** A float Transpose's input dims where `node` is one with `perm` of a 4-D batch of images. */
  private batchImage(node: NodeProto, perm: string): number[] | undefined {
    if (transposePerm(node)?.join() !== perm) return undefined;
    const input = this.spec(node.input[0]);
    return input?.dtype === 'float32' && input.dims.length === 4 ? input.dims : undefined;
  }

  private readOnlyBy(value: string, reader: NodeProto): boolean {
    return this.soleReader(value) === reader;
  }
}

const attributes = (node: NodeProto): Record<string, AttrValue> =>
  Object.fromEntries(node.attribute.map(({ name, ...value }) => [name, value]));

const transposed = (gemm: NodeProto, which: 'transA' | 'transB') => intAttribute(gemm, which, 0) === 1;
