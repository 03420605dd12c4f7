/**
 * The step as two graphs around the discriminator's Adam, on the CPU, where moving that Adam to the host
 * update too (host-update.ts) pays: the first graph ends at the discriminator's gradients, the host
 * updates its weights in place, and the second graph, the generator's half of the step, reads them. What
 * the second reads of the first's values (a few per-unit statistics and loss terms) the first hands over
 * as extra outputs.
 *
 * Where it pays: worthSplitting (measured).
 */
import { makeValueInfo } from '../onnx/builder.js';
import { liveNodes } from '../onnx/edit.js';
import { decodeModel, encodeModel, type ModelProto, type NodeProto } from '../onnx/proto.js';
import type { CapturedGraph, GraphTensor } from '../tfjs/capture.js';
import { type AdamPart, detachDiscriminatorUpdate } from './host-update.js';
import type { LaneDtype } from './lanes/program.js';
import { LANE_CODES, valueSpecs } from './value-specs.js';

/** The discriminator's Adam moves to the host from this many values up (an mlp's 533,000; PacGAN's 411,000). */
const SPLIT_MIN_VALUES = 100_000;

export interface SplitStep {
  /** The step's inputs, outputs and state as one graph: what the runner feeds and fetches. */
  step: CapturedGraph;
  /** The two graphs, run in turn with the host's update of the discriminator between them. */
  parts: [CapturedGraph, CapturedGraph];
  /** Values the first graph hands the second that are not the step's outputs (the runner's buffers). */
  crossing: GraphTensor[];
  discriminator: AdamPart;
  /** The second graph's inputs holding the updated weights, by weight. */
  updatedInputs: Map<string, string>;
}

/**
 * Whether `graph` is worth splitting: a discriminator whose Adam has SPLIT_MIN_VALUES or more, in a step
 * without convolutions. Measured side by side on the Intel VM (lower quartiles, two threads), split against
 * whole (the generator's update outside it): the mlp 8.3–8.4 against 10.0–10.5 ms, PacGAN 22.5–22.8
 * against 23.2–23.5; with convolutions slower or no faster:
 * dcgan (36,000 values) 45.6–46.2 against 42.7–42.9, dcgan-32 (168,000) 88.5–91.0 against 86.2–87.3,
 * dcgan-64 (694,000, batch 32) 234.8–238.2 against 236.1–242.3.
 */
export function worthSplitting(graph: CapturedGraph): boolean {
  const values = graph.inputs
    .filter((input) => /^dOptimizer\/m\/\d+$/.test(input.name))
    .reduce((total, input) => total + input.shape.reduce((a, b) => a * b, 1), 0);
  return values >= SPLIT_MIN_VALUES && !decodeModel(graph.model).graph.node.some((n) => n.opType.startsWith('Conv'));
}

/** `graph` (the generator's update already on the host) split; throws where it cannot be. */
export async function splitAtDiscriminatorUpdate(graph: CapturedGraph): Promise<SplitStep> {
  const { graph: step, part, updatedInputs } = detachDiscriminatorUpdate(graph);
  const model = decodeModel(step.model);
  const specs = await valueSpecs(model, step.inputs);
  if (!specs) throw new Error('the step has values of no static shape');

  // the first graph: what the discriminator's update needs (its gradients and scalars) and what reads
  // its old weights; the second: the rest, every node that reads an updated weight among them
  const oldWeights = new Set(updatedInputs.keys());
  const early = new Set(
    liveNodes(model.graph.node, [
      ...part.variables.map((v) => v.gradient),
      ...Object.values(part.scalars),
      ...model.graph.node
        .filter((node) => node.input.some((input) => oldWeights.has(input)))
        .flatMap((node) => node.output),
    ]),
  );
  const updated = new Set(updatedInputs.values());
  for (const node of early) {
    const read = node.input.find((input) => updated.has(input));
    if (read) throw new Error(`${node.output[0]} is needed before the update but reads ${read}`);
  }
  const first = model.graph.node.filter((node) => early.has(node));
  const second = model.graph.node.filter((node) => !early.has(node));

  const madeFirst = new Set(first.flatMap((node) => node.output));
  const finals = new Map(step.outputs.map((output) => [output.name, output]));
  const crossingNames = [...new Set(second.flatMap((node) => node.input))].filter((name) => madeFirst.has(name));
  const tensor = (name: string): GraphTensor => {
    const spec = specs.get(name);
    if (!spec?.dtype) throw new Error(`${name}, handed to the second graph, has a type the runner does not carry`);
    return { name, shape: spec.dims, dtype: spec.dtype as GraphTensor['dtype'] };
  };
  const crossing = crossingNames.filter((name) => !finals.has(name)).map(tensor);
  const handedOver = crossingNames.map((name) => finals.get(name) ?? tensor(name));

  const inputsRead = (nodes: NodeProto[]) => {
    const read = new Set(nodes.flatMap((node) => node.input));
    return step.inputs.filter((input) => read.has(input.name));
  };
  const made = (nodes: NodeProto[]) => {
    const names = new Set(nodes.flatMap((node) => node.output));
    return step.outputs.filter((output) => names.has(output.name));
  };
  const firstOutputs = [...made(first), ...crossing];
  const parts: [CapturedGraph, CapturedGraph] = [
    graphOf(model, step, first, inputsRead(first), firstOutputs),
    graphOf(model, step, second, [...inputsRead(second), ...handedOver], made(second)),
  ];
  return { step, parts, crossing, discriminator: part, updatedInputs };
}

/** One of the two graphs: `nodes` of `model`, with its inputs and outputs. */
function graphOf(
  model: ModelProto,
  step: CapturedGraph,
  nodes: NodeProto[],
  inputs: GraphTensor[],
  outputs: GraphTensor[],
): CapturedGraph {
  const read = new Set(nodes.flatMap((node) => node.input));
  const info = (t: GraphTensor) => makeValueInfo(t.name, LANE_CODES[t.dtype as LaneDtype], t.shape);
  const names = new Set(outputs.map((o) => o.name));
  return {
    model: encodeModel({
      ...model,
      graph: {
        ...model.graph,
        node: nodes,
        input: inputs.map(info),
        output: outputs.map(info),
        initializer: model.graph.initializer.filter((t) => read.has(t.name)),
      },
    }),
    inputs,
    outputs,
    updated: new Map([...step.updated].filter(([, output]) => names.has(output))),
    kernels: step.kernels,
  };
}
