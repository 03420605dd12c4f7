/**
 * Graph outputs that Reshapes only pass on: the captured step hands a weight's gradient out through
 * tfjs's Reshapes back to the shape it already has (the dcgan generator's dense kernel, [100, 3136]),
 * and onnxruntime copies the values into the output. Here the node that made them writes the output
 * itself. Exact: the same values.
 *
 * Measured on an Intel Xeon VM (2 vCPUs, AVX-512): the copy took 0.18 ms of the dcgan step, profiled.
 * The dcgan step graph side by side on two spinning threads, medians of lower quartiles over 14 blocks,
 * each order: 27.3 → 26.7 ms and 26.9 → 26.3 (over 10 blocks, before the NCHWc rewrite's filters came
 * from their sources, the two differed by less than the order they ran in). An earlier, wider rewrite
 * (every Reshape that moves no data) did not show in PacGAN's step, so it was not kept.
 */
import { liveNodes, nodeIndex } from '../onnx/edit.js';
import type { ModelProto } from '../onnx/proto.js';
import type { ValueInfoSpec } from './value-specs.js';

/** `model` with its outputs written by the nodes before their shape-keeping Reshapes; undefined where none has any. */
export function outputsWithoutReshapes(
  model: ModelProto,
  spec: (name: string) => ValueInfoSpec | undefined,
): ModelProto | undefined {
  const { producer } = nodeIndex(model.graph.node);
  const outputs = new Set(model.graph.output.map((o) => o.name));
  const rename = new Map<string, string>(); // a node's output → the graph output it becomes
  for (const output of outputs) {
    let source = output;
    for (let r = producer.get(source); r?.opType === 'Reshape' && !r.domain; r = producer.get(source))
      source = r.input[0];
    if (source === output || outputs.has(source) || rename.has(source) || !producer.has(source)) continue;
    if (sameDims(spec(source)?.dims, spec(output)?.dims)) rename.set(source, output);
  }
  if (rename.size === 0) return undefined;
  const renamed = (name: string) => rename.get(name) ?? name;
  const written = new Set(rename.values());
  const nodes = model.graph.node
    // the Reshapes that wrote the outputs; the ones before them are left unread and pruned
    .filter((node) => !(node.opType === 'Reshape' && written.has(node.output[0])))
    .map((node) => ({ ...node, input: node.input.map(renamed), output: node.output.map(renamed) }));
  return { ...model, graph: { ...model.graph, node: liveNodes(nodes, outputs) } };
}

const sameDims = (a: number[] | undefined, b: number[] | undefined) =>
  a !== undefined && b !== undefined && a.length === b.length && a.every((d, i) => d === b[i]);
