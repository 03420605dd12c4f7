/** Converts a tfjs LayersModel (Sequential or functional) into an ONNX ModelProto, one handler per layer. */

import { GanportError, type Layout, toLayout } from '@ganport/runtime';
import type * as tf from '@tensorflow/tfjs';
import { packageVersion } from '../util/files.js';
import { DataType, makeGraph, makeModel, makeNode, makeValueInfo } from './builder.js';
import { toFloat16 } from './float16.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { GraphBuilder, type Value } from './graph.js';
import { LAYER_HANDLERS, type LayerContext, type Shape } from './layers/index.js';
import type { ModelProto, ValueInfoProto } from './proto.js';
import { validateModel } from './validate.js';

/**
 * Opset 17 by default: it is the first with LayerNormalization as a single op,
 * and onnxruntime (node and web) has supported it since 1.13, as have TensorRT 8.5+
 * and OpenVINO; newer opsets add nothing these models use.
 */
export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

export const BATCH_DIM = 'batch';

export interface ConvertOptions {
  opset?: number;
  /** Names for the graph inputs/outputs, in model.inputs / model.outputs order. */
  inputNames?: string[];
  outputNames?: string[];
  metadata?: Record<string, string>;
  docString?: string;
  /** Layout of rank-4 graph inputs and outputs: tfjs's own NHWC (default) or channels-first NCHW (either case). */
  layout?: Layout | Lowercase<Layout>;
  /** Fold BatchNormalization into the preceding Conv/ConvTranspose/Gemm. */
  foldBatchNorm?: boolean;
  /** Store weights and compute in float16 (inputs and outputs stay float32). */
  fp16?: boolean;
}

export function convertLayersModel(model: tf.LayersModel, options: ConvertOptions = {}): ModelProto {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new GanportError(`opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${opset}`);
  }
  const g = new GraphBuilder(opset);
  const values = new Map<string, Value>(); // tfjs symbolic tensor name → ONNX value
  const layout = toLayout(options.layout ?? 'NHWC');

  const inputs: ValueInfoProto[] = model.inputs.map((t, i) => {
    const name = g.unique(options.inputNames?.[i] ?? t.name);
    const value: Value = { name, rank: t.shape.length, layout: t.shape.length === 4 ? layout : 'NHWC' };
    values.set(t.name, value);
    return makeValueInfo(name, t.dtype === 'int32' ? DataType.INT64 : DataType.FLOAT, onnxShape(t.shape, value.layout));
  });

  // Claimed before any layer so no intermediate value takes the names the user asked for.
  const outputNames = model.outputs.map((t, i) => g.unique(options.outputNames?.[i] ?? t.name));

  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') continue;
    const handler = LAYER_HANDLERS[className];
    if (!handler) {
      throw new GanportError(
        `layer "${layer.name}" is a ${className}, which the ONNX exporter does not support (supported: ${Object.keys(LAYER_HANDLERS).join(', ')})`,
        'unsupported',
      );
    }
    if (layer.inboundNodes.length !== 1) {
      throw new GanportError(
        `layer "${layer.name}" (${className}) is shared by ${layer.inboundNodes.length} calls; shared layers are not supported`,
        'unsupported',
      );
    }
    const node = layer.inboundNodes[0];
    const tensors = layer.getWeights();
    const ctx: LayerContext = {
      g,
      className,
      name: layer.name,
      config: layer.getConfig() as Record<string, unknown>,
      inputs: node.inputTensors.map((t) => values.get(t.name) ?? missing(t.name, layer.name)),
      inputShapes: node.inputTensors.map((t) => t.shape),
      outputShape: node.outputTensors[0].shape,
      weights: layer.weights.map((w, i) => ({
        name: w.originalName.split('/').pop()!,
        shape: w.shape as number[],
        data: tensors[i].dataSync() as Float32Array,
      })),
    };
    values.set(node.outputTensors[0].name, handler(ctx));
  }

  const outputs = model.outputs.map((t, i) => {
    const produced = g.inLayout(values.get(t.name) ?? missing(t.name, 'the model output'), layout);
    const name = outputNames[i];
    g.nodes.push(makeNode('Identity', [produced.name], [name]));
    return makeValueInfo(name, DataType.FLOAT, onnxShape(t.shape, produced.layout));
  });
  foldOutputIdentities(g, outputNames);
  if (options.foldBatchNorm) foldBatchNorm(g);
  if (options.fp16) toFloat16(g, inputs, outputs);

  const graph = makeGraph(g.nodes, model.name, inputs, outputs, g.initializers, options.docString);
  const onnx = makeModel(graph, {
    opset,
    producerName: 'ganport',
    producerVersion: packageVersion(),
    metadata: options.metadata,
    docString: options.docString,
  });
  validateModel(onnx);
  return onnx;
}

function onnxShape(tfjsShape: Shape, layout: Layout): (number | string)[] {
  const shape = layout === 'NCHW' ? [0, 3, 1, 2].map((a) => tfjsShape[a]) : tfjsShape;
  return shape.map((d, i) => (d === null ? (i === 0 ? BATCH_DIM : `dim${i}`) : d));
}

function missing(tensor: string, layer: string): never {
  throw new Error(`internal error: ${layer} consumes ${tensor}, which no earlier layer produced`);
}

/**
 * Each output was wired through an Identity so it can carry its chosen name; where
 * the Identity's source is a node output used nowhere else, rename that output
 * instead and drop the Identity.
 */
function foldOutputIdentities(g: GraphBuilder, outputNames: string[]): void {
  for (const name of outputNames) {
    const identity = g.nodes.find((n) => n.opType === 'Identity' && n.output[0] === name)!;
    const source = identity.input[0];
    const producer = g.nodes.find((n) => n.output.includes(source));
    const uses = g.nodes.filter((n) => n.input.includes(source)).length;
    if (!producer || uses !== 1 || outputNames.includes(source)) continue;
    producer.output = producer.output.map((o) => (o === source ? name : o));
    g.nodes.splice(g.nodes.indexOf(identity), 1);
  }
}
