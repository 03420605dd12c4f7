/**
 * The filter gradients of layers that read an image's few channels, as one product with the input's
 * patches. tfjs computes a layer's filter gradient as a convolution whose batch is the layer's input
 * channels, whose channels are the batch, and whose kernel is the output gradient (14×14, dilated by
 * the layer's stride): for a one-channel image, a batch of one, a 4×4 output, and a kernel far larger
 * than it, which onnxruntime's plain Conv computes through one image-sized im2col on one thread.
 *
 * Here each input channel's patches come from a convolution with a one-hot kernel per output position
 * (stride: the dilation), which nchwc.ts runs on NCHWc's kernel for narrow inputs, writing channels-last,
 * and the gradient is one MatMul of the filter, as [out channels, channels · kernel taps], by the
 * patches, as [channels · kernel taps, output positions]: the products of the plain Conv's GEMM.
 *
 * Where the filter is the output gradient with its first two axes swapped, as tfjs makes it, the product
 * reads it unswapped instead, one product per channel (per image of the layer's batch) and then their sum,
 * and the swap, which moved every value, goes: 0.22 → 0.10 ms alone for the dcgan's.
 *
 * Measured on an Intel Xeon VM (2 vCPUs, AVX-512), two spinning threads. Profiled in the dcgan step
 * graph (batch 64, 28×28 images, k4 s2): the plain Convs 0.35–0.42 ms each; the patches' convolution
 * 0.06 and the one MatMul 0.14–0.19 (the patches' reorder to channels-last, 0.10 more, became a Reshape:
 * see nchwc.ts's reorderOutput). The step graphs side by side (blocks of 30 runs alternating, medians of
 * their lower quartiles, each order once), with the one product: dcgan with its dropout 24.57 → 24.11 and
 * 24.34 → 23.56 ms; cdcgan (a label map beside the image: a batch of 2) 29.01 → 28.19 and 29.06 → 28.26;
 * dcgan-64 (3 channels, batch 32) 185.9 → 183.4 and 189.0 → 180.8 — the weights after a few steps bit for
 * bit as before but dcgan-64's. Then the products per channel, the dcgan: 22.65 → 22.20 and 23.48 → 22.98,
 * the weights different in the last bits (the sums in another order), the loss curves the same to 5 digits.
 */
import { attr } from '../onnx/builder.js';
import { GraphEdit, intAttribute, intsAttribute, liveNodes, nodeIndex, swappedFrom } from '../onnx/edit.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import type { ValueInfoSpec } from './value-specs.js';

export interface PatchProducts {
  model: ModelProto;
  /** The shapes of the values the rewrite made, for the rewrites after it. */
  dims: Map<string, number[]>;
}

/**
 * `model` with its image-batch filter gradients as patch products, for NCHWc blocks of `block` channels;
 * undefined where none qualifies.
 */
export function filterGradientsAsPatchProducts(
  model: ModelProto,
  spec: (name: string) => ValueInfoSpec | undefined,
  block: number,
): PatchProducts | undefined {
  const edit = new GraphEdit(model.graph, 'patch-products');
  const dims = new Map<string, number[]>();
  const made = (name: string, shape: number[]) => {
    dims.set(name, shape);
    return name;
  };
  const { producer } = nodeIndex(model.graph.node);
  const oneHots = new Map<string, string>(); // the one-hot kernels written, by output size
  const onesOf = new Map<number, string>(); // rows of ones [1, n] (a sum over n as a product), by n
  const ones = (n: number) => {
    let name = onesOf.get(n);
    if (!name) {
      name = edit.floats(`patch-products/ones${n}`, [1, n], new Float32Array(n).fill(1));
      onesOf.set(n, name);
    }
    return name;
  };
  for (const node of model.graph.node) {
    const geometry = imageFilterGradient(node, spec, block);
    if (!geometry) {
      edit.nodes.push(node);
      continue;
    }
    const { batch, channels, size, outputs, filter, out } = geometry;
    const [x, w] = node.input;
    const [y] = node.output;
    const positions = out[0] * out[1];
    const key = out.join('x');
    let oneHot = oneHots.get(key);
    if (!oneHot) {
      const values = new Float32Array(positions * positions);
      for (let p = 0; p < positions; p++) values[p * positions + p] = 1;
      const shape = [positions, 1, ...out];
      oneHot = made(edit.floats(`patch-products/one-hot${key}`, shape, values), shape);
      oneHots.set(key, oneHot);
    }
    const images = edit.add('Reshape', [x, edit.int64Of([batch * channels, 1, ...size])], `${y}/patches/images`);
    made(images, [batch * channels, 1, ...size]);
    const patches = edit.add('Conv', [images, oneHot], `${y}/patches`, {
      kernel_shape: attr.ints(out),
      strides: attr.ints(intsAttribute(node, 'dilations') ?? [1, 1]),
      pads: attr.ints(intsAttribute(node, 'pads') ?? [0, 0, 0, 0]),
    });
    made(patches, [batch * channels, positions, ...filter]);
    const channelsLast = edit.add('Transpose', [patches], `${y}/patches/channels_last`, {
      perm: attr.ints([0, 2, 3, 1]),
    });
    made(channelsLast, [batch * channels, ...filter, positions]);
    const taps = filter[0] * filter[1];
    const unswapped = swappedFrom(producer.get(w));
    let product: string;
    if (unswapped) {
      // the filter as tfjs made it before swapping its first axes ([channels, outputs, fh, fw]: an output
      // gradient): a product per channel, then their sum, where the swap moved every value (0.22 → 0.10 ms alone)
      const perChannel = edit.add(
        'MatMul',
        [
          edit.add('Reshape', [unswapped, edit.int64Of([channels, outputs, taps])], `${y}/patches/filters`),
          edit.add('Reshape', [channelsLast, edit.int64Of([batch, channels, taps, positions])], `${y}/patches/columns`),
        ],
        `${y}/patches/products`,
      );
      const flat = edit.add(
        'Reshape',
        [perChannel, edit.int64Of([batch, channels, outputs * positions])],
        `${y}/patches/flat`,
      );
      product = edit.add('MatMul', [ones(channels), flat], `${y}/patches/product`);
    } else {
      const columns = edit.add(
        'Reshape',
        [channelsLast, edit.int64Of([batch, channels * taps, positions])],
        `${y}/patches/columns`,
      );
      const rows = edit.add('Reshape', [w, edit.int64Of([outputs, channels * taps])], `${y}/patches/filter`);
      product = edit.add('MatMul', [rows, columns], `${y}/patches/product`);
    }
    edit.replacing(y);
    edit.add('Reshape', [product, edit.int64Of([batch, outputs, ...out])], y);
  }
  if (!dims.size) return undefined;
  // a swap whose one reader was the gradient's Conv is read by nothing
  const live = liveNodes(
    edit.nodes,
    model.graph.output.map((o) => o.name),
  );
  const rewritten = edit.model(model);
  return { model: { ...rewritten, graph: { ...rewritten.graph, node: live } }, dims };
}

interface Geometry {
  batch: number;
  channels: number;
  size: [number, number];
  outputs: number;
  filter: [number, number];
  out: [number, number];
}

/**
 * A Conv of a batch of fewer than `block` (a layer's input channels) by a kernel with more taps than its
 * output has positions, those positions whole blocks of `block` (for NCHWc's kernel), unstrided, one
 * group, no bias, pads narrower than the output: its sizes; undefined for any other node.
 */
function imageFilterGradient(
  node: NodeProto,
  spec: (name: string) => ValueInfoSpec | undefined,
  block: number,
): Geometry | undefined {
  if (node.opType !== 'Conv' || node.domain || node.input.length !== 2) return undefined;
  const x = spec(node.input[0])?.dims;
  const w = spec(node.input[1])?.dims;
  const y = spec(node.output[0])?.dims;
  if (x?.length !== 4 || w?.length !== 4 || y?.length !== 4) return undefined;
  if (intAttribute(node, 'group', 1) !== 1 || node.attribute.some((a) => a.name === 'auto_pad')) return undefined;
  if ((intsAttribute(node, 'strides') ?? [1, 1]).some((s) => s !== 1)) return undefined;
  const positions = y[2] * y[3];
  const pads = intsAttribute(node, 'pads') ?? [0, 0, 0, 0];
  const fits = x[0] < block && positions % block === 0 && w[2] * w[3] > positions;
  return fits && pads.every((p, i) => p < y[2 + (i % 2)])
    ? { batch: x[0], channels: x[1], size: [x[2], x[3]], outputs: w[0], filter: [w[2], w[3]], out: [y[2], y[3]] }
    : undefined;
}
