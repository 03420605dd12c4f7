/**
 * Folds inference-time BatchNormalization into the Conv, ConvTranspose or Gemm
 * that feeds it: W' = W·s per output channel, b' = (b − mean)·s + beta, with
 * s = gamma / sqrt(variance + epsilon). Only where the BN is the producer's sole consumer.
 */

import type { NodeProto } from '../onnx/proto.js';
import { type GraphBuilder, setFloat } from './graph.js';

/** Which axis of each op's weight holds the output channels. */
const OUTPUT_AXIS: Record<string, number> = { Conv: 0, ConvTranspose: 1, Gemm: 1 };

/**
 * The producer's own copy of an initializer it may share with other nodes (a nested model applied
 * twice reads one set of weights), so folding one call's BatchNormalization leaves the others alone.
 */
function ownCopy(g: GraphBuilder, producer: NodeProto, index: number, name: string): string {
  const uses = g.nodes.reduce((n, node) => n + node.input.filter((x) => x === name).length, 0);
  if (uses === 1) return name;
  const { dims, data } = g.floatData.get(name)!;
  const copy = g.constFloat(name, dims, data.slice(), false);
  producer.input[index] = copy;
  return copy;
}

export function foldBatchNorm(g: GraphBuilder): number {
  let folded = 0;
  for (const bn of g.nodes.filter((n) => n.opType === 'BatchNormalization')) {
    const producer = g.nodes.find((n) => n.output[0] === bn.input[0]);
    if (!producer || OUTPUT_AXIS[producer.opType] === undefined) continue;
    if (g.nodes.filter((n) => n.input.includes(bn.input[0])).length !== 1) continue;
    if (!g.floatData.has(producer.input[1]) || (producer.input[2] && !g.floatData.has(producer.input[2]))) continue;
    const [weightName, biasName] = producer.input.slice(1).map((name, i) => ownCopy(g, producer, i + 1, name));
    const w = g.floatData.get(weightName)!;
    const [gamma, beta, mean, variance] = bn.input.slice(1).map((name) => g.floatData.get(name)!.data);
    const epsilon = bn.attribute.find((a) => a.name === 'epsilon')?.f ?? 1e-5;
    const scale = gamma.map((s, c) => s / Math.sqrt(variance[c] + epsilon));

    const axis = OUTPUT_AXIS[producer.opType];
    const dims = w.dims;
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const channels = dims[axis];
    setFloat(
      g,
      weightName,
      w.data.map((v, i) => v * scale[Math.floor(i / inner) % channels]),
    );
    const bias = biasName ? g.floatData.get(biasName)!.data : new Float32Array(channels);
    const newBias = bias.map((b, c) => (b - mean[c]) * scale[c] + beta[c]);
    if (biasName) setFloat(g, biasName, newBias);
    else producer.input.push(g.constFloat(`${producer.name}/folded_bias`, [channels], newBias));

    producer.output = [bn.output[0]];
    g.nodes.splice(g.nodes.indexOf(bn), 1);
    folded++;
  }
  g.pruneInitializers();
  return folded;
}
