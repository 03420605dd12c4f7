/**
 * Dropout's masks made on the host. tfjs's dropout multiplies by floor(u + keep) / keep of seeded
 * uniforms u, and the captured step makes that mask in the graph from the uniforms it is fed, then
 * transposes it channels-first to meet the convolutions' activations: Add, Floor, Div and a Transpose,
 * a layer's (onnxruntime's common-subexpression pass merges the repeats for each batch). Here the graph
 * is fed the mask itself, in the layout its readers want, made beside the uniforms in WebAssembly
 * (alea-uniforms.ts: dropoutMask) with the same float32 arithmetic: the same values bit for bit.
 *
 * Measured on the Intel Xeon VM (2 vCPUs, AVX-512), two spinning threads, the dcgan with the preset's
 * dropout: its step graph in a bare session, medians of lower quartiles over 16 blocks, each order, 29.78
 * → 28.43 ms and 30.41 → 29.41 with the masks as inputs; the two masks (600,000 values) take 0.25 ms more
 * on the host than their uniforms; the engine's step, lower quartiles of 200 steps in seven pairs (both
 * orders, GANPORT_ORT_HOST_MASKS=0 against the default), 1.1 ms faster on average (from 0.2 slower to
 * 2.5 faster).
 */
import { DataType, makeValueInfo } from '../onnx/builder.js';
import { floatScalar, liveNodes, nodeIndex, transposePerm } from '../onnx/edit.js';
import { decodeModel, encodeModel, type NodeProto } from '../onnx/proto.js';
import type { CapturedGraph, GraphTensor } from '../tfjs/capture.js';
import type { MaskLayout } from './alea-uniforms.js';

/** A Dropout layer's mask as a graph input, in place of the uniforms input it is made from. */
export interface DropoutMask {
  /** The input the uniforms were fed as, and the one the mask is. */
  uniforms: string;
  input: string;
  /** Dropout's keep probability, as the graph's float32 constant. */
  keep: number;
  layout: MaskLayout;
}

/**
 * `graph` with each Dropout mask made from the uniforms input `dropout/…` (Add keep, Floor, Div keep,
 * and a channels-first Transpose where every reader has one) fed as an input `dropout/…/mask`; the
 * graph itself, and no masks, where none is made that way.
 */
export function dropoutMasksAsInputs(
  graph: CapturedGraph,
  isUniforms: (name: string) => boolean,
): { graph: CapturedGraph; masks: DropoutMask[] } {
  if (!graph.inputs.some((tensor) => isUniforms(tensor.name))) return { graph, masks: [] };
  const model = decodeModel(graph.model);
  const { readers } = nodeIndex(model.graph.node);
  const constants = new Map(model.graph.initializer.map((t) => [t.name, floatScalar(t)]));
  const outputs = new Set(model.graph.output.map((o) => o.name));
  const rename = new Map<string, string>();
  const masks: DropoutMask[] = [];
  const inputs: GraphTensor[] = [];
  const fedFor = new Map<string, GraphTensor>(); // a uniforms input → the mask input in its place
  for (const tensor of graph.inputs) {
    const mask = isUniforms(tensor.name) ? maskMadeFrom(tensor, readers, constants) : undefined;
    if (!mask || mask.chain.some((value) => outputs.has(value))) {
      inputs.push(tensor);
      continue;
    }
    const input = `${tensor.name}/mask`;
    const fed: GraphTensor = {
      name: input,
      shape: mask.channelsFirst ? channelsFirst(tensor.shape) : tensor.shape,
      dtype: 'float32',
    };
    for (const value of mask.values) rename.set(value, input);
    masks.push({
      uniforms: tensor.name,
      input,
      keep: mask.keep,
      layout: { dims: tensor.shape, channelsFirst: mask.channelsFirst },
    });
    inputs.push(fed);
    fedFor.set(tensor.name, fed);
  }
  if (masks.length === 0) return { graph, masks };
  const nodes = model.graph.node.map((node) => ({ ...node, input: node.input.map((i) => rename.get(i) ?? i) }));
  const graphInputs = model.graph.input.map((value) => {
    const fed = fedFor.get(value.name);
    return fed ? makeValueInfo(fed.name, DataType.FLOAT, fed.shape) : value;
  });
  const rewritten = {
    ...model,
    graph: { ...model.graph, input: graphInputs, node: liveNodes(nodes, outputs) },
  };
  return { graph: { ...graph, model: encodeModel(rewritten), inputs }, masks };
}

/** [N, …, C] as [N, C, …]. */
const channelsFirst = ([n, ...rest]: number[]) => [n, rest.at(-1)!, ...rest.slice(0, -1)];

/**
 * The mask made from `uniforms` where every reader is Add(u, keep) → Floor → Div(·, keep) with the same
 * keep: the values that hold it (the Divs', or their channels-first Transposes' where every Div is read
 * by those alone), every value of the chains (none may be a graph output), its keep, and whether it is
 * channels first.
 */
function maskMadeFrom(
  uniforms: GraphTensor,
  readers: Map<string, NodeProto[]>,
  constants: Map<string, ReturnType<typeof floatScalar>>,
): { values: string[]; chain: string[]; keep: number; channelsFirst: boolean } | undefined {
  const only = (value: string, opType: string) => {
    const [reader, ...others] = readers.get(value) ?? [];
    return others.length === 0 && reader?.opType === opType && !reader.domain ? reader : undefined;
  };
  const adds = readers.get(uniforms.name) ?? [];
  const divs = adds.map((add) => {
    const keep = add.opType === 'Add' && !add.domain && add.input[0] === uniforms.name && constants.get(add.input[1]);
    const floor = keep && only(add.output[0], 'Floor');
    const div = floor && only(floor.output[0], 'Div');
    return div && div.input[0] === floor.output[0] && constants.get(div.input[1])?.bits === keep.bits
      ? { div, keep, chain: [add.output[0], floor.output[0], div.output[0]] }
      : undefined;
  });
  const [first] = divs;
  if (!first || divs.some((d) => !d || d.keep.bits !== first.keep.bits)) return undefined;
  const made = divs.map((d) => d!.div.output[0]);
  const perm = channelsFirst([...uniforms.shape.keys()]).join();
  const transposes = made.flatMap((value) => readers.get(value) ?? []);
  const allTransposed =
    uniforms.shape.length >= 3 && transposes.length > 0 && transposes.every((t) => transposePerm(t)?.join() === perm);
  const values = allTransposed ? transposes.map((t) => t.output[0]) : made;
  const chain = [uniforms.name, ...divs.flatMap((d) => d!.chain), ...values];
  return { values, chain, keep: first.keep.value, channelsFirst: allTransposed };
}
