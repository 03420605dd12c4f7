/**
 * A step graph's big convolutions moved onto onnxruntime's NCHWc kernels: its CPU-only
 * com.microsoft.nchwc domain, whose tensors hold channels in blocks of 8 or 16 (whichever the
 * CPU's vectors hold; probed once). onnxruntime's own NCHWc pass rewrites only convolutions whose
 * filters are constants, and a training step's filters are its inputs, so this pass reorders them
 * inside the graph (Reshape, Transpose, Reshape: a few µs for a dcgan filter).
 *
 * Measured on this project's 2-vCPU machine (an AMD EPYC VM, AVX-512, blocks of 16), one thread, batch 64,
 * best of 100:
 * - Conv 14×14×32 → 7×7×64, k4 s2: 2.25 → 1.44 ms, the input's and output's reorders included.
 * - ConvTranspose 7×7×64 → 14×14×32 (that convolution's input gradient): 2.57 → 1.58 ms as one
 *   stride-1 convolution per output phase (the sub-pixel form), the phases interleaved in the
 *   blocked layout, a channel block at a time (Concat; a DepthToSpace over NCHW cost 0.4 ms more);
 *   7×7×128 → 14×14×64: 8.87 → 5.40 ms; 14×14×32 → 28×28×32: 5.82 → 4.71 ms.
 * - A filter gradient of an unstrided layer (14×14 kernel, 3×3 output): 6.47 → 5.27 ms.
 * - The filter gradients of strided layers, dilated convolutions (14×14 by a 7×7 kernel dilated 2,
 *   4×4 out): 2.33 → 2.69 ms there, slower, but on an Intel Xeon VM (AVX-512) 3.1 → 2.2–2.4 ms on one
 *   thread and 3.2 → 1.2 ms on two (onnxruntime does not split the plain one over its threads). The
 *   dcgan step there, side by side, fastest steps: 43.2–45.2 → 38.4–39.1 ms on two spinning threads,
 *   the way its trials choose there, 56.1 → 54.8 ms on one; cdcgan 52.4 → 47.4 ms. So they go too.
 * - Those filter gradients' filters are batches of activations (64 · 64 · 7 · 7 values), and a general
 *   permutation into the blocked order took 0.78–0.81 ms each on two threads on the Intel VM; as two
 *   moves of one axis (blockedFilter) 0.23–0.26 ms (one whose making Transpose onnxruntime had merged
 *   into it: 0.24 → 0.29). The dcgan step graph side by side, lower quartiles: 36.3 → 35.3 ms on two
 *   spinning threads, 53.5 → 52.0 on one. Smaller filters (8–33 thousand values) took longer as moves.
 * - A convolution whose input is a channels-last value transposed (the generator's dense output, as
 *   tfjs reshapes it), or whose output's one reader transposes it to channels-last (the input gradient
 *   of that layer), has its reorder read or write channels-last (ReorderInput's and ReorderOutput's
 *   channels_last). onnxruntime moves that axis of a [64, 7, 7, 64] batch as one small matrix transpose
 *   per image, each handed to its threads: 0.33–0.45 ms on two threads. The dcgan step side by side,
 *   lower quartiles on two spinning threads: 34.8–35.9 → 33.9–34.5 ms.
 * - A filter gradient transposed back to tfjs's [kh, kw, in, out] (a general permutation, which
 *   onnxruntime walks an element at a time: 0.10–0.14 ms for 32,768 values) is reordered to NHWC, and
 *   the Transpose left moves runs of 64 channels (0.01–0.03 ms). The dcgan step graph side by side,
 *   medians of lower quartiles over 10 blocks: 27.2 → 26.6 ms, and 28.0 → 27.9 with the order swapped.
 * - A small filter made by a Transpose (tfjs's [kh, kw, in, out] to ONNX's order) is blocked from that
 *   Transpose's input in one permutation, and a transposed convolution's phase taps are gathered along
 *   the input's outer axes: the weight's own Transpose (0.12–0.16 ms each, walked an element at a time)
 *   is left unread, and the Gathers along the filter's last axes (0.6 ms in all) become block copies.
 *   The dcgan step graph side by side, medians of lower quartiles over 10 blocks on two spinning
 *   threads: 27.2 → 25.8 ms, and 27.0 → 25.9 with the order swapped.
 * - A convolution of fewer input channels than a block (an image's) reads its NCHW input as it is, its
 *   filter blocked by output channels only ([O/b, C, kh, kw, b]): the dcgan's first layer, [64, 1, 28, 28]
 *   to 32 channels, took 0.07 ms against the plain Conv's 0.23–0.31 (its reorder out 0.13–0.17 more), and
 *   0.018 against 0.042 at batch 8, profiled on two threads on the Intel VM. So it goes at any size.
 * - A convolution's one reader, an activation onnxruntime's NCHWc convolution can run on its sums, goes
 *   into it, and a later convolution reads the blocks rather than reordering the channels-first value
 *   again: the discriminator's LeakyReLUs, whose gradient masks read the activation (select-masks.ts).
 *   With the first layer's change, the dcgan step graph side by side, medians of lower quartiles over 24
 *   blocks on two spinning threads: 27.07 → 26.51 ms, and 27.24 → 26.12 with the order swapped.
 * - A big filter made by swapping a value's first two axes (a filter gradient's: the output gradient,
 *   batch first) is blocked from that value's blocks, which its layer's input gradient reorders anyway,
 *   in one Transpose that keeps runs of b channels whole: alone 0.27 ms against the swap and the two
 *   moves' 0.51 ([64, 64, 7, 7], two threads); the dcgan step graph without dropout side by side,
 *   21.89 → 21.51 ms and 22.03 → 21.57 with the order swapped; the weights bit for bit the same.
 * - Left alone: other convolutions under MIN_FLOPS (one of 26 MFLOP, batch 16: 0.38 → 0.57 ms); output
 *   channels that are not whole blocks; padding as wide as the kernel; dilated transposed convolutions.
 * The choice is a fixed rule on the graph, never timed: a run's numbers must not depend on a race.
 */
import { type AttrValue, attr, DataType, makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/builder.js';
import {
  floatAttribute,
  GraphEdit,
  intAttribute,
  intsAttribute,
  liveNodes,
  nodeIndex,
  swappedFrom,
  transposePerm,
} from '../onnx/edit.js';
import { DEFAULT_OPSET } from '../onnx/opsets.js';
import { encodeModel, type GraphProto, type ModelProto, type NodeProto } from '../onnx/proto.js';
import { size } from '../tfjs/onnx-kernels/index.js';
import { OrtSession } from '../tfjs/ort-session.js';

export const NCHWC = 'com.microsoft.nchwc';
const MIN_FLOPS = 50e6;
/** Filters of this many values or more are permuted an axis at a time (blockedFilter). */
const MOVES_MIN = 100_000;

export interface RewriteOptions {
  /** Channels per block (nchwcBlock()). */
  block: number;
  /** Rewrite small convolutions too (MIN_FLOPS): for the probe and tests. */
  everySize?: boolean;
}

/**
 * `model` with every qualifying Conv and ConvTranspose rewritten for NCHWc's channel blocks;
 * undefined where none qualifies. `dims` gives a value's shape.
 */
export function rewriteConvolutions(
  model: ModelProto,
  dims: (name: string) => number[] | undefined,
  { block, everySize = false }: RewriteOptions,
): ModelProto | undefined {
  const out = new Rewriter(model.graph, block, everySize);
  let changed = false;
  for (const node of model.graph.node) {
    if (out.folded.has(node)) continue;
    const [x, w, y] = [...node.input.slice(0, 2), node.output[0]].map(dims);
    const plain = !node.domain && x?.length === 4 && w?.length === 4 && y?.length === 4;
    const done =
      plain &&
      ((node.opType === 'Conv' && out.conv(node, w, y)) ||
        (node.opType === 'ConvTranspose' && out.convTranspose(node, x, w, y)));
    if (!done) out.nodes.push(node);
    changed ||= !!done;
  }
  if (!changed) return undefined;
  const rewritten = out.model(model, [NCHWC]);
  // a layout Transpose whose reorder now reads its input is read by nothing
  const live = liveNodes(
    rewritten.graph.node,
    rewritten.graph.output.map((o) => o.name),
  );
  return { ...rewritten, graph: { ...rewritten.graph, node: live } };
}

/** Attributes this pass does not translate: their node stays as it is. */
const untranslated = (node: NodeProto) =>
  intAttribute(node, 'group', 1) !== 1 ||
  node.attribute.some((a) => a.name === 'auto_pad' || a.name === 'output_shape');
/** A transposed convolution's output phases (convTranspose) assume undilated taps. */
const dilated = (node: NodeProto) => (intsAttribute(node, 'dilations') ?? [1, 1]).some((d) => d !== 1);

/** The activations onnxruntime's NCHWc convolution runs on its sums (its `activation` attribute). */
const ACTIVATIONS = new Set(['Relu', 'LeakyRelu', 'Tanh', 'Sigmoid']);

/** The NCHWc convolution's attributes that run `activation` (one of ACTIVATIONS) on its sums. */
function fusedActivation(activation: NodeProto): Record<string, AttrValue> {
  const { opType } = activation;
  const attributes: Record<string, AttrValue> = { activation: attr.string(opType) };
  if (opType === 'LeakyRelu') attributes.activation_params = attr.floats([floatAttribute(activation, 'alpha', 0.01)]);
  return attributes;
}
/** NHWC's axes, as NCHW's; and ONNX's Transpose from channels-last to channels-first. */
const CHANNELS_LAST = [0, 2, 3, 1];
const TO_CHANNELS_FIRST = [0, 3, 1, 2].join();

/** The rewritten graph's nodes, and the constants its new nodes read. */
class Rewriter extends GraphEdit {
  /**
   * Filters already in the blocked order, by what they were made from: a weight read by several
   * convolutions (the discriminator's on the real and the generated batch, the generator's in both
   * halves of the step) is reordered once. onnxruntime's common-subexpression pass would not merge the
   * copies: their index and shape constants are equal but have different names. The dcgan step graph
   * side by side, medians of lower quartiles over 12 blocks: 0.05–0.2 ms faster (of 28).
   */
  private readonly filters = new Map<string, string>();
  /** Transposes whose work a reorder does (reorderOutput): they are left out. */
  readonly folded = new Set<NodeProto>();
  /**
   * Values in NCHWc's blocks too, by name: those reordered back from them (reorderOutput) and those
   * reordered into them (reorderInput); a later convolution, or a filter (fromSwappedBlocks), reads the
   * blocks rather than reordering the value again.
   */
  private readonly blocked = new Map<string, string>();
  private readonly producer: Map<string, NodeProto>;
  /** A value's one reader, where it has one and is not a graph output (nodeIndex). */
  private readonly soleReader: (value: string) => NodeProto | undefined;

  constructor(
    graph: GraphProto,
    private readonly block: number,
    private readonly everySize: boolean,
  ) {
    super(graph, 'NCHWc');
    ({ producer: this.producer, soleReader: this.soleReader } = nodeIndex(
      graph.node,
      graph.output.map((o) => o.name),
    ));
  }

  /** Conv x [N, C, H, W] ⊛ w [O, C, kh, kw] → y [N, O, oh, ow], or false where it does not qualify. */
  conv(node: NodeProto, w: number[], y: number[]): boolean {
    const [O, C, kh, kw] = w;
    const pads = intsAttribute(node, 'pads') ?? [0, 0, 0, 0];
    const flops = 2 * size(y) * C * kh * kw;
    // fewer input channels than a block (an image's): onnxruntime reads the NCHW input as it is
    const narrow = C < this.block;
    if (
      untranslated(node) ||
      !this.blocks(O) ||
      !(narrow || this.blocks(C)) ||
      pads.some((p, i) => p >= w[2 + (i % 2)]) ||
      (flops < MIN_FLOPS && !narrow && !this.everySize)
    )
      return false;
    const base = this.replacingNode(node);
    // [O, C, kh, kw] as [O/b, C/b, kh, kw, b (of C), b (of O)], or narrow, [O/b, C, kh, kw, b (of O)]
    const groups = narrow
      ? [[O / this.block, this.block], [C], [kh], [kw]]
      : [[O / this.block, this.block], [C / this.block, this.block], [kh], [kw]];
    const weight = this.source(node.input[1], size(w));
    const filter =
      (!narrow && this.fromSwappedBlocks(node.input[1], w, base)) ||
      this.prepared(`${weight.value} ${weight.perm} filter`, () =>
        this.blockedFilter(weight, base, groups, narrow ? [0, 2, 3, 4, 1] : [0, 2, 4, 5, 3, 1], w),
      );
    const input = narrow ? node.input[0] : this.reorderInput(node.input[0], base);
    const attributes = Object.fromEntries(
      node.attribute
        .filter((a) => ['kernel_shape', 'strides', 'pads', 'dilations'].includes(a.name))
        .map((a) => [a.name, a]),
    );
    const activation = this.soleActivation(node.output[0]);
    const convolved = this.add(
      'Conv',
      [input, filter, ...node.input.slice(2)],
      `${base}/y`,
      { ...attributes, ...(activation && fusedActivation(activation)) },
      NCHWC,
    );
    this.reorderOutput(convolved, activation?.output[0] ?? node.output[0], y, base);
    return true;
  }

  /**
   * ConvTranspose x [N, Ci, H, W], w [Ci, Co, kh, kw] → y [N, Co, OH, OW], as one stride-1 convolution
   * per output phase: y[n, o, s·p + a, s·q + b] reads taps a + pad ≡ k (mod s) only. Qualifies where
   * every phase has the same taps and size (kh, kw, OH and OW multiples of s) and the stride is the same both ways.
   */
  convTranspose(node: NodeProto, x: number[], w: number[], y: number[]): boolean {
    const [Ci, Co, kh, kw] = w;
    const strides = intsAttribute(node, 'strides') ?? [1, 1];
    const pads = intsAttribute(node, 'pads') ?? [0, 0, 0, 0];
    const s = strides[0];
    const taps = [kh / s, kw / s];
    const flops = 2 * size(x) * Co * kh * kw;
    if (
      untranslated(node) ||
      dilated(node) ||
      strides[1] !== s ||
      !this.blocks(Ci, Co) ||
      taps.some((t) => !Number.isInteger(t)) ||
      y[2] % s !== 0 ||
      y[3] % s !== 0 ||
      (flops < MIN_FLOPS && !this.everySize)
    )
      return false;
    const rows = phases(s, taps[0], pads[0], x[2], y[2]);
    const columns = phases(s, taps[1], pads[1], x[3], y[3]);
    if (!rows || !columns) return false;
    const base = this.replacingNode(node);
    const input = this.reorderInput(node.input[0], base);
    // each phase's [Ci, Co, th, tw] taps as [Co/b, Ci/b, th, tw, b (of Ci), b (of Co)]
    const groups = [[Ci / this.block, this.block], [Co / this.block, this.block], [taps[0]], [taps[1]]];
    const phaseShape = [Co, Ci, ...taps];
    // the taps are gathered from the weight's source, along its axes that are the filter's kh and kw
    const weight = this.source(node.input[1], size(w));
    const [rowAxis, columnAxis] = [weight.perm[2], weight.perm[3]];
    const convolved = rows.map((row, a) => {
      const rowTaps = this.prepared(`${weight.value} ${weight.perm} rows ${row.taps}`, () =>
        this.add('Gather', [weight.value, this.int64(`${base}/rows${a}`, row.taps)], `${base}/w_rows${a}`, {
          axis: attr.int(rowAxis),
        }),
      );
      return columns.map((column, b) => {
        const phase = `${base}/phase${a}_${b}`;
        const filter = this.prepared(`${weight.value} ${weight.perm} phase ${row.taps} ${column.taps}`, () => {
          const columnTaps = this.int64(`${phase}/columns`, column.taps);
          const phaseTaps = this.add('Gather', [rowTaps, columnTaps], `${phase}/w`, { axis: attr.int(columnAxis) });
          return this.blockedFilter({ ...weight, value: phaseTaps }, phase, groups, [2, 0, 4, 5, 1, 3], phaseShape);
        });
        return this.add(
          'Conv',
          [input, filter, ...node.input.slice(2)],
          `${phase}/y`,
          { kernel_shape: attr.ints(taps), pads: attr.ints([row.before, column.before, row.after, column.after]) },
          NCHWC,
        );
      });
    });
    const blocked = s === 1 ? convolved[0][0] : this.interleave(base, convolved, y);
    this.reorderOutput(blocked, node.output[0], y, base);
    return true;
  }

  /**
   * The NCHWc buffer of y [N, Co, OH, OW] from its phases' (`phases[a][b]`: y[…, s·p + a, s·q + b]).
   * The buffers [N, Co/b, H', W', b] are seen as they are laid out (Reshape moves nothing), so the
   * interleave moves whole channel blocks, b floats at a time.
   */
  private interleave(base: string, phases: string[][], y: number[]): string {
    const [N, Co, OH, OW] = y;
    const s = phases.length;
    const blocks = [N, Co / this.block, OH / s];
    const phaseView = this.int64(`${base}/phase_view`, [...blocks, OW / s, 1, this.block]);
    const rowView = this.int64(`${base}/row_view`, [...blocks, 1, OW * this.block]);
    const rows = phases.map((row, a) => {
      const views = row.map((phase, b) => this.add('Reshape', [phase, phaseView], `${base}/phase${a}_${b}/blocks`));
      // y's row s·p + a: the column phases' blocks side by side, [N, Co/b, H', W', s, b]
      const interleaved = this.add('Concat', views, `${base}/row${a}`, { axis: attr.int(4) });
      return this.add('Reshape', [interleaved, rowView], `${base}/row${a}/blocks`);
    });
    // the rows in turn, [N, Co/b, H', s, OW·b]
    const interleaved = this.add('Concat', rows, `${base}/rows`, { axis: attr.int(3) });
    return this.add('Reshape', [interleaved, this.int64(`${base}/y_shape`, y)], `${base}/y`);
  }

  /** The filter value `key` names, made by `make` the first time. */
  private prepared(key: string, make: () => string): string {
    let filter = this.filters.get(key);
    if (filter === undefined) {
      filter = make();
      this.filters.set(key, filter);
    }
    return filter;
  }

  /**
   * `x` [N, C, H, W] in NCHWc's blocks. Where x is a channels-last value transposed, the reorder reads
   * that value instead (channels_last): onnxruntime moves one axis of a batch as one small matrix
   * transpose per image, each handed to its threads, where the reorder splits the whole batch's rows.
   */
  private reorderInput(x: string, base: string): string {
    const known = this.blocked.get(x);
    if (known) return known;
    const transpose = this.producer.get(x);
    const blocked =
      transpose && transposePerm(transpose)?.join() === TO_CHANNELS_FIRST
        ? this.add('ReorderInput', [transpose.input[0]], `${base}/x`, { channels_last: attr.int(1) }, NCHWC)
        : this.add('ReorderInput', [x], `${base}/x`, {}, NCHWC);
    this.blocked.set(x, blocked);
    return blocked;
  }

  /**
   * A big filter w [O, C, kh, kw] made by swapping the first two axes of a value v [C, O, kh, kw] (tfjs's
   * filter gradient: the output gradient, batch first), blocked from v's blocks ([C, O/b, kh, kw, b], the
   * ones its layer's input gradient reads) in one Transpose that keeps their runs of b channels whole:
   * [C/b, b, O/b, kh, kw, b] to [O/b, C/b, kh, kw, b, b]. Alone, 0.27 ms against the swap and two moves'
   * 0.51 at [64, 64, 7, 7] (two threads). Undefined for any other filter.
   */
  private fromSwappedBlocks(w: string, dims: number[], base: string): string | undefined {
    const v = swappedFrom(this.producer.get(w));
    if (!v || size(dims) < MOVES_MIN) return undefined;
    const [O, C, kh, kw] = dims;
    const b = this.block;
    return this.prepared(`${v} swapped blocks`, () => {
      const blocks = this.add(
        'Reshape',
        [this.reorderInput(v, `${base}/w`), this.int64Of([C / b, b, O / b, kh, kw, b])],
        `${base}/w_parts`,
      );
      const permuted = this.add('Transpose', [blocks], `${base}/w_permuted`, { perm: attr.ints([2, 0, 3, 4, 1, 5]) });
      return this.add('Reshape', [permuted, this.int64Of(dims)], `${base}/w_blocked`);
    });
  }

  /**
   * The blocked result as `y` [N, C, H, W] (`dims`). Where y's one reader transposes it with the channels
   * last (to NHWC, or a filter gradient to HWIO), the reorder writes NHWC (channels_last) and what is left
   * of the Transpose moves whole runs of channels, or nothing: onnxruntime walks a general permutation an
   * element at a time. One block of channels is in NHWC's order already ([N, 1, H, W, b]): a Reshape
   * names it so, where the reorder would copy it (0.10 ms for 64 · 16 · 14 · 14 values, profiled).
   */
  private reorderOutput(blocked: string, y: string, dims: number[], base: string): void {
    const [n, channels, h, w] = dims;
    const reader = this.soleReader(y);
    const perm = transposePerm(reader);
    if (!reader || perm?.[3] !== 1) {
      this.add('ReorderOutput', [blocked], y, { channels: attr.int(channels) }, NCHWC);
      this.blocked.set(y, blocked);
      return;
    }
    this.fold(reader);
    const rest = perm.map((axis) => CHANNELS_LAST.indexOf(axis));
    const inOrder = rest.every((axis, i) => axis === i);
    const nhwc = inOrder ? reader.output[0] : `${base}/y_nhwc`;
    if (channels === this.block) this.add('Reshape', [blocked, this.int64Of([n, h, w, channels])], nhwc);
    else {
      const attributes = { channels: attr.int(channels), channels_last: attr.int(1) };
      this.add('ReorderOutput', [blocked], nhwc, attributes, NCHWC);
    }
    if (!inOrder) this.add('Transpose', [nhwc], reader.output[0], { perm: attr.ints(rest) });
  }

  /**
   * `y`'s one reader where that is an activation onnxruntime's NCHWc convolution can run on its sums (and
   * y is not a graph output): it is left out (folded), and its output freed for the reorder to write.
   */
  private soleActivation(y: string): NodeProto | undefined {
    const reader = this.soleReader(y);
    if (!reader || reader.domain || !ACTIVATIONS.has(reader.opType)) return undefined;
    this.fold(reader);
    return reader;
  }

  /** Leaves `reader` out, its work done by the new nodes, which write its output. */
  private fold(reader: NodeProto): void {
    this.folded.add(reader);
    this.replacing(reader.output[0]);
  }

  /** The prefix of the new values' names; the node's output becomes the last new node's. */
  private replacingNode(node: NodeProto): string {
    this.replacing(node.output[0]);
    return `${node.output[0]}/nchwc`;
  }

  private blocks(...channels: number[]): boolean {
    return channels.every((c) => c % this.block === 0);
  }

  /**
   * `filter` as it is read: the value itself, or where a small one (under MOVES_MIN values) is a Transpose
   * of another (a tfjs weight to ONNX's order), that one and the perm, so that its blocked order is taken
   * from the weight in one permutation. The weight's own Transpose, a general permutation walked an
   * element at a time, is then left unread.
   */
  private source(filter: string, values: number): FilterSource {
    const transpose = this.producer.get(filter);
    const perm = values < MOVES_MIN ? transposePerm(transpose) : undefined;
    return transpose && perm ? { value: transpose.input[0], perm } : { value: filter, perm: [0, 1, 2, 3] };
  }

  /**
   * `filter` in NCHWc's blocked order: each of its axes split as `groups`, the parts permuted by `perm`,
   * read back as `shape`. A filter of MOVES_MIN values or more (a batch-sized filter gradient) is permuted
   * as moves of one axis each, every one a Reshape to [before, a, b, after] and a Transpose swapping a and
   * b: onnxruntime runs those as matrix transposes or block copies, where a general permutation walks
   * element by element, and the Reshapes keep its optimizer from fusing them back into one. A smaller
   * filter takes one Transpose, from the filter's source (source).
   */
  private blockedFilter(
    filter: FilterSource,
    base: string,
    groups: number[][],
    perm: number[],
    shape: number[],
  ): string {
    const split = groups.flat();
    const untransposed = filter.perm.every((axis, i) => axis === i);
    const moves = untransposed && size(split) >= MOVES_MIN ? singleAxisMoves(perm) : undefined;
    let moved: string;
    if (!moves) {
      const { split: sourceSplit, perm: sourcePerm } = throughTranspose(groups, perm, filter.perm);
      const parts = this.add('Reshape', [filter.value, this.int64(`${base}/w_split`, sourceSplit)], `${base}/w_parts`);
      moved = this.add('Transpose', [parts], `${base}/w_permuted`, { perm: attr.ints(sourcePerm) });
    } else {
      let dims = split;
      moved = filter.value;
      for (const [i, move] of moves.entries()) {
        const viewShape = this.int64(`${base}/w_view${i}`, moveView(dims, move));
        const grouped = this.add('Reshape', [moved, viewShape], `${base}/w_parts${i}`);
        moved = this.add('Transpose', [grouped], `${base}/w_permuted${i}`, { perm: attr.ints([0, 2, 1, 3]) });
        dims = moveAxis(dims, move.from, move.to);
      }
    }
    return this.add('Reshape', [moved, this.int64(`${base}/w_shape`, shape)], `${base}/w_blocked`);
  }
}

/** A filter as a convolution reads it: `value` transposed by `perm`. */
interface FilterSource {
  value: string;
  perm: number[];
}

/**
 * A permutation of a tensor's axes split into parts (`groups[j]`: axis j's parts, outer first; `perm`
 * over all the parts in order) as one of the parts of its source, the tensor it is a Transpose of by
 * `transpose`: the source's axis i is the tensor's axis j where transpose[j] = i, split the same way.
 */
export function throughTranspose(
  groups: number[][],
  perm: number[],
  transpose: number[],
): { split: number[]; perm: number[] } {
  const sourceGroups = groups.map((_, i) => groups[transpose.indexOf(i)]);
  const starts = (parts: number[][]) => parts.map((_, j) => parts.slice(0, j).flat().length);
  const [start, sourceStart] = [starts(groups), starts(sourceGroups)];
  const axisOf = groups.flatMap((parts, j) => parts.map(() => j));
  return {
    split: sourceGroups.flat(),
    perm: perm.map((part) => {
      const axis = axisOf[part];
      return sourceStart[transpose[axis]] + part - start[axis];
    }),
  };
}

interface Phase {
  /** The filter taps the phase reads, in convolution order. */
  taps: number[];
  /** Its convolution's padding before and after. */
  before: number;
  after: number;
}

/**
 * The output phases a = 0 … s−1 of a transposed convolution along one axis: y[i] = Σ x[j]·w[k]
 * over i = s·j + k − pad, so phase a (i = s·p + a) reads the taps k ≡ a + pad (mod s) and, for
 * tap k = r + s·m, x[p + ⌊(a + pad)/s⌋ − m]. Undefined where a phase's padding would be negative
 * or as wide as its kernel (as for Conv, a range the tests do not cover).
 */
function phases(s: number, taps: number, pad: number, inLength: number, outLength: number): Phase[] | undefined {
  const result = Array.from({ length: s }, (_, a) => {
    const r = (a + pad) % s;
    const before = taps - 1 - Math.floor((a + pad) / s);
    return {
      taps: Array.from({ length: taps }, (_, t) => r + s * (taps - 1 - t)),
      before,
      after: outLength / s - inLength - before + taps - 1,
    };
  });
  return result.every((p) => p.before >= 0 && p.after >= 0 && p.after < taps) ? result : undefined;
}

let probedBlock: number | undefined;

/**
 * The NCHWc channel block of this CPU's onnxruntime kernels, 0 where it has none: a 2×2 convolution
 * of 32 channels over a 2×2 image, rewritten for blocks of 16 and of 8, against the same sum in
 * JavaScript (small integers: exact in float32).
 */
export function nchwcBlock(): number {
  probedBlock ??= [16, 8].find(convolvesCorrectly) ?? 0;
  return probedBlock;
}

function convolvesCorrectly(block: number): boolean {
  const channels = 32;
  const shapes: Record<string, number[]> = {
    x: [1, channels, 2, 2],
    w: [channels, channels, 2, 2],
    y: [1, channels, 1, 1],
  };
  const x = Float32Array.from({ length: channels * 4 }, (_, i) => (i % 7) - 3);
  const w = Float32Array.from({ length: channels * channels * 4 }, (_, i) => (i % 5) - 2);
  const values = Object.entries(shapes).map(([name, dims]) => makeValueInfo(name, DataType.FLOAT, dims));
  const graph = makeGraph([makeNode('Conv', ['x', 'w'], ['y'])], 'probe', values.slice(0, 2), values.slice(2), []);
  const model = makeModel(graph, { opset: DEFAULT_OPSET, producerName: 'ganport', producerVersion: '0' });
  const rewritten = rewriteConvolutions(model, (name) => shapes[name], { block, everySize: true });
  if (!rewritten) return false;
  const y = new Float32Array(channels);
  try {
    const session = new OrtSession(encodeModel(rewritten), { threads: 1 });
    try {
      session.run(
        [
          { name: 'x', data: x, dims: shapes.x },
          { name: 'w', data: w, dims: shapes.w },
        ],
        [{ name: 'y', data: y, dims: shapes.y }],
      );
    } finally {
      session.dispose();
    }
  } catch {
    return false; // no NCHWc kernels in this build
  }
  // y[o] = Σ over c and the 4 taps of w[o, c, tap]·x[c, tap]: each output channel reads its own 128 weights
  return y.every((v, o) => v === x.reduce((sum, xi, i) => sum + w[o * channels * 4 + i] * xi, 0));
}

/**
 * `perm` as the fewest moves of one axis each (from a position to another, the others keeping their
 * order): every axis off a longest increasing run of `perm` moves once, to its place among the axes
 * already placed, outermost first (an inward move repeats over the axes before it).
 */
export function singleAxisMoves(perm: number[]): { from: number; to: number }[] {
  const placed = new Set(longestIncreasingRun(perm));
  let order = perm.map((_, i) => i);
  const moves: { from: number; to: number }[] = [];
  for (const axis of order) {
    if (placed.has(axis)) continue;
    const before = perm
      .slice(0, perm.indexOf(axis))
      .filter((a) => placed.has(a))
      .at(-1);
    const from = order.indexOf(axis);
    const rest = order.filter((a) => a !== axis);
    const to = before === undefined ? 0 : rest.indexOf(before) + 1;
    moves.push({ from, to });
    order = moveAxis(order, from, to);
    placed.add(axis);
  }
  return moves;
}

/**
 * A tensor of `dims` seen as [before, a, b, after], where swapping a and b moves the axis at `from` to
 * `to`: a is the moved axis and b the ones it passes (inward), or the other way round (outward).
 */
export function moveView(dims: number[], { from, to }: { from: number; to: number }): number[] {
  const [first, last] = from < to ? [from, to] : [to, from];
  const [a, b] =
    from < to
      ? [dims.slice(first, first + 1), dims.slice(first + 1, last + 1)]
      : [dims.slice(first, last), dims.slice(last, last + 1)];
  return [dims.slice(0, first), a, b, dims.slice(last + 1)].map(size);
}

/** `values` with the one at `from` moved to `to` (the others keep their order). */
function moveAxis<T>(values: T[], from: number, to: number): T[] {
  const rest = values.filter((_, i) => i !== from);
  return [...rest.slice(0, to), values[from], ...rest.slice(to)];
}

/** The values of a longest increasing subsequence of `values`. */
function longestIncreasingRun(values: number[]): number[] {
  const best = values.map(() => 1);
  const previous = values.map(() => -1);
  for (let i = 0; i < values.length; i++)
    for (let j = 0; j < i; j++)
      if (values[j] < values[i] && best[j] + 1 > best[i]) {
        best[i] = best[j] + 1;
        previous[i] = j;
      }
  const run: number[] = [];
  for (let i = best.indexOf(Math.max(...best)); i !== -1; i = previous[i]) run.unshift(values[i]);
  return run;
}
