/**
 * The transposed convolutions that nchwc.ts leaves — those to an image's few channels: the generator's
 * last layer, the discriminator's first layer's input gradient; every one where that rewrite is off — as
 * one MatMul of the whole batch to the columns and a Col2Im (opset 18) that sums them into the image.
 * onnxruntime's ConvTranspose goes an image at a time, a small GEMM and a col2im each, and hands each to
 * its thread pool; the MatMul hands the batch over once. The same products summed in the same order: bit
 * for bit the same.
 *
 * Measured on an Intel Xeon VM (2 vCPUs, AVX-512), two spinning threads, batch 64, k4 s2:
 * - 32 → 1 channel, 14×14 → 28×28: alone 0.39 → 0.37 ms, but in the dcgan step graph its three took
 *   2.7 ms (the graph timed with them replaced by fed values); onnxruntime's profiler put them at
 *   0.75 ms each, itself inflating the per-image hand-overs (0.57 ms alone). The step graph side by
 *   side (blocks of 30 runs alternating, medians of their lower quartiles over 12 blocks, each order
 *   once): with the preset's dropout 25.82 → 24.72 ms and 25.74 → 24.21; without 24.71 → 23.80 and
 *   24.83 → 23.10.
 * - With the NCHWc rewrite off (GANPORT_ORT_NCHWC=0), all eight of the dcgan step graph's, side by side
 *   with its dropout: 57.73 → 52.84 ms and 55.78 → 50.63.
 * - Alone: 32 → 3 channels, 16×16 → 32×32, 1.90 → 1.24 ms; 32 → 2, 14×14 → 28×28, 0.88 → 0.70; 64 → 32,
 *   7×7 → 14×14, 4.22 → 3.20 (nchwc.ts's form takes that one where it can), and 0.52 → 0.43 at batch 8.
 * - Tried: the phases as one plain Conv to 4 channels over the 3×3 union of their taps, then a
 *   DepthToSpace: 1.9 ms slower in the step graph; ConvTranspose split by input channel halves (each
 *   GEMM under MLAS's threading threshold), 0.55 ms faster in all.
 */
import { attr } from '../onnx/builder.js';
import { GraphEdit, intAttribute, intsAttribute } from '../onnx/edit.js';
import { STEP_OPSET } from '../onnx/opsets.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import type { ValueInfoSpec } from './value-specs.js';

/** `model` with its plain 2-D transposed convolutions as MatMul + Col2Im; undefined where none qualifies. */
export function transposedConvolutionsAsCol2Im(
  model: ModelProto,
  spec: (name: string) => ValueInfoSpec | undefined,
): ModelProto | undefined {
  const opset = model.opsetImport.find((o) => !o.domain)?.version;
  if (opset === undefined || Number(opset) < STEP_OPSET) return undefined; // the first with Col2Im
  const edit = new GraphEdit(model.graph, 'col2im');
  const columnsOf = new Map<string, string>(); // each filter as [out channels · taps, in channels], by filter
  let changed = false;
  for (const node of model.graph.node) {
    const geometry = plainTransposed(node, spec);
    if (!geometry) {
      edit.nodes.push(node);
      continue;
    }
    const { batch, inChannels, outChannels, inSize, outSize, kernel } = geometry;
    const [x, w, bias] = node.input;
    const [y] = node.output;
    const taps = kernel[0] * kernel[1];
    let columns = columnsOf.get(w);
    if (!columns) {
      const rows = edit.add('Reshape', [w, edit.int64Of([inChannels, outChannels * taps])], `${y}/col2im/filter`);
      columns = edit.add('Transpose', [rows], `${y}/col2im/filter_t`, { perm: attr.ints([1, 0]) });
      columnsOf.set(w, columns);
    }
    edit.replacing(y);
    const pixels = edit.add('Reshape', [x, edit.int64Of([batch, inChannels, inSize[0] * inSize[1]])], `${y}/col2im/x`);
    const product = edit.add('MatMul', [columns, pixels], `${y}/col2im/columns`);
    const image = edit.add(
      'Col2Im',
      [product, edit.int64Of(outSize), edit.int64Of(kernel)],
      bias ? `${y}/col2im/image` : y,
      {
        strides: attr.ints(intsAttribute(node, 'strides') ?? [1, 1]),
        pads: attr.ints(intsAttribute(node, 'pads') ?? [0, 0, 0, 0]),
        dilations: attr.ints(intsAttribute(node, 'dilations') ?? [1, 1]),
      },
    );
    // onnxruntime's ConvTranspose adds the bias after its col2im too
    if (bias)
      edit.add('Add', [image, edit.add('Reshape', [bias, edit.int64Of([outChannels, 1, 1])], `${y}/col2im/bias`)], y);
    changed = true;
  }
  return changed ? edit.model(model) : undefined;
}

interface Geometry {
  batch: number;
  inChannels: number;
  outChannels: number;
  inSize: [number, number];
  outSize: [number, number];
  kernel: [number, number];
}

/**
 * A ConvTranspose over NCHW images with static shapes, one group, its pads given (no auto_pad, no
 * output_shape) and no output_padding: its sizes; undefined for any other node.
 */
function plainTransposed(node: NodeProto, spec: (name: string) => ValueInfoSpec | undefined): Geometry | undefined {
  if (node.opType !== 'ConvTranspose' || node.domain) return undefined;
  const x = spec(node.input[0])?.dims;
  const w = spec(node.input[1])?.dims;
  const y = spec(node.output[0])?.dims;
  if (x?.length !== 4 || w?.length !== 4 || y?.length !== 4) return undefined;
  if (intAttribute(node, 'group', 1) !== 1) return undefined;
  const autoPad = node.attribute.find((a) => a.name === 'auto_pad')?.s;
  if (autoPad?.length && new TextDecoder().decode(autoPad) !== 'NOTSET') return undefined;
  if (intsAttribute(node, 'output_shape') || intsAttribute(node, 'output_padding')?.some((p) => p !== 0))
    return undefined;
  return {
    batch: x[0],
    inChannels: x[1],
    outChannels: w[1],
    inSize: [x[2], x[3]],
    outSize: [y[2], y[3]],
    kernel: [w[2], w[3]],
  };
}
