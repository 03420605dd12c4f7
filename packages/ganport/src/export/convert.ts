/** Converts a tfjs LayersModel (Sequential or functional) into an ONNX ModelProto, one handler per layer. */

import { GanportError, type Layout, toLayout } from '@ganport/runtime';
import type * as tf from '@tensorflow/tfjs';
import { kerasName } from '../keras/names.js';
import { DataType, makeNode, makeValueInfo } from '../onnx/builder.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from '../onnx/opsets.js';
import type { ModelProto, ValueInfoProto } from '../onnx/proto.js';
import { nodesByDepth } from '../tfjs/internals.js';
import { MODEL_CLASSES } from '../tfjs/layers-config.js';
import { toFloat16 } from './float16.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { type CarriedState, cancelInverseTransposes, GraphBuilder, type Value } from './graph.js';
import { LAYER_HANDLERS, type LayerContext, MASK_RULES, type Mask, type Shape } from './layers/index.js';
import { validateModel } from './validate.js';

export const BATCH_DIM = 'batch';

/** Metadata the exporter writes itself, where a model needs it (JSON values). */
export const EXPORT_METADATA = {
  /** {inputs, outputs, layers}: ONNX name → Keras name, for names Keras allows and tfjs and ONNX do not. */
  kerasNames: 'ganport.keras_names',
  /** {about, states: [{layer, state, input, output, shape}]}: the stateful recurrent layers' carried states. */
  recurrentState: 'ganport.recurrent_state',
} as const;

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
  const layout = toLayout(options.layout ?? 'NHWC');

  const inputValues: Value[] = [];
  const inputs: ValueInfoProto[] = model.inputs.map((t, i) => {
    const name = g.unique(options.inputNames?.[i] ?? t.name);
    const value: Value = { name, rank: t.shape.length, layout: t.shape.length === 4 ? layout : 'NHWC' };
    inputValues.push(value);
    return makeValueInfo(
      name,
      t.dtype === 'int32' ? DataType.INT64 : DataType.FLOAT,
      onnxShape(t.shape, value.layout, name),
    );
  });

  // Claimed before any layer so no intermediate value takes the names the user asked for.
  const outputNames = model.outputs.map((t, i) => g.unique(options.outputNames?.[i] ?? t.name));

  const produced = convertContainer(g, model, inputValues, '').values;
  const outputs = model.outputs.map((t, i) => {
    const value = g.inLayout(produced[i], layout);
    const name = outputNames[i];
    g.nodes.push(makeNode('Identity', [value.name], [name]));
    // an int32 tfjs value is int64 in the graph (a TF Cast to int as the last op)
    return makeValueInfo(
      name,
      t.dtype === 'int32' ? DataType.INT64 : DataType.FLOAT,
      onnxShape(t.shape, value.layout, name),
    );
  });
  for (const state of g.carried) {
    inputs.push(makeValueInfo(state.input, DataType.FLOAT, onnxShape(state.shape, 'NHWC', state.input)));
    outputs.push(makeValueInfo(state.output, DataType.FLOAT, onnxShape(state.shape, 'NHWC', state.output)));
  }
  cancelInverseTransposes(g);
  foldOutputIdentities(g, outputNames);
  keepPadsBeforePooling(g);
  if (options.foldBatchNorm) foldBatchNorm(g);
  if (options.fp16) toFloat16(g, inputs, outputs);

  const onnx = g.toModel(model.name, inputs, outputs, {
    docString: options.docString,
    graphDocString: options.docString,
    metadata: { ...exportMetadata(model, inputs, outputNames, g.carried), ...options.metadata },
  });
  validateModel(onnx);
  return onnx;
}

/** The metadata a model needs beyond its graph: Keras names ONNX could not keep, and carried recurrent states. */
function exportMetadata(
  model: tf.LayersModel,
  inputs: ValueInfoProto[],
  outputNames: string[],
  carried: CarriedState[],
): Record<string, string> {
  const metadata: Record<string, string> = {};
  const named = (tensors: tf.SymbolicTensor[], names: string[]) =>
    Object.fromEntries(
      tensors.flatMap((t, i) => (kerasName(t.sourceLayer) ? [[names[i], kerasName(t.sourceLayer)]] : [])),
    );
  const names = {
    inputs: named(
      model.inputs,
      inputs.map((i) => i.name),
    ),
    outputs: named(model.outputs, outputNames),
    layers: Object.fromEntries(renamedLayers(model, '')),
  };
  if (Object.keys(names.layers).length > 0) metadata[EXPORT_METADATA.kerasNames] = JSON.stringify(names);
  if (carried.length > 0)
    metadata[EXPORT_METADATA.recurrentState] = JSON.stringify({
      about:
        'stateful recurrent layers: feed each output back as its input on the next call; zeros start a sequence afresh',
      states: carried,
    });
  return metadata;
}

/** [ONNX name prefix (nesting path), Keras name] of every layer tfjs knows by another name, nested ones included. */
function renamedLayers(model: tf.LayersModel, prefix: string): [string, string][] {
  return model.layers.flatMap((layer) => [
    ...(kerasName(layer) ? [[`${prefix}${layer.name}`, kerasName(layer) as string] as [string, string]] : []),
    ...(isNestedModel(layer) ? renamedLayers(layer, `${prefix}${layer.name}/`) : []),
  ]);
}

/**
 * The ONNX shape of graph input or output `name`: its unknown sizes named after it (onnxruntime takes
 * equal names for equal sizes: two inputs' sequences of independent lengths must not share one), but
 * for the batch, which every input and output shares.
 */
function onnxShape(tfjsShape: Shape, layout: Layout, name: string): (number | string)[] {
  const shape = layout === 'NCHW' ? [0, 3, 1, 2].map((a) => tfjsShape[a]) : tfjsShape;
  return shape.map((d, i) => (d === null ? (i === 0 ? BATCH_DIM : `${name}_dim${i}`) : d));
}

function missing(tensor: string, layer: string): never {
  throw new Error(`internal error: ${layer} consumes ${tensor}, which no earlier layer produced`);
}

/** One call of a layer inside a model: which symbolic tensors it reads and writes (tfjs's Node). */
export interface LayerCall {
  outboundLayer: tf.layers.Layer;
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

/** A model used as a layer: a functional Model or a Sequential, to any depth. */
export const isNestedModel = (layer: tf.layers.Layer): layer is tf.LayersModel =>
  MODEL_CLASSES.has(layer.getClassName());

/**
 * Every layer call of a model in execution order, as tfjs's own executeInternalGraph
 * walks them: by decreasing depth. A Sequential builds its graph on first use.
 */
export function layerCalls(model: tf.LayersModel): LayerCall[] {
  const byDepth = nodesByDepth<LayerCall>(model);
  return Object.keys(byDepth)
    .map(Number)
    .sort((a, b) => b - a)
    .flatMap((depth) => byDepth[depth]);
}

/**
 * The layer's config as its handler reads it. tfjs's Conv2DTranspose.getConfig drops the dilationRate
 * the layer was built with (tfjs then convolves undilated, Keras dilated): it is put back, so that the
 * handler refuses it rather than export what neither computes alike.
 */
function layerConfig(layer: tf.layers.Layer): Record<string, unknown> {
  const config = layer.getConfig() as Record<string, unknown>;
  const { dilationRate } = layer as unknown as { dilationRate?: unknown };
  return config.dilationRate === undefined && dilationRate !== undefined ? { ...config, dilationRate } : config;
}

/** What a layer handler is given for one call of `layer`. */
export function layerContext(
  g: GraphBuilder,
  layer: tf.layers.Layer,
  call: LayerCall,
  inputs: Value[],
  name: string,
  inputMasks?: (Mask | undefined)[],
  scopeMask?: Pick<Mask, 'origin'>,
): LayerContext {
  const tensors = layer.getWeights();
  return {
    g,
    className: layer.getClassName(),
    name,
    config: layerConfig(layer),
    inputs,
    inputShapes: call.inputTensors.map((t) => t.shape),
    inputDtypes: call.inputTensors.map((t) => t.dtype),
    outputShape: call.outputTensors[0].shape,
    outputShapes: call.outputTensors.map((t) => t.shape),
    inputMasks,
    strayMask: inputMasks?.[0] ? undefined : scopeMask,
    weights: layer.weights.map((w, i) => ({
      name: w.originalName.split('/').pop()!,
      shape: w.shape as number[],
      data: tensors[i].dataSync() as Float32Array,
    })),
  };
}

/**
 * Converts one call of `model` (the top-level model, or a nested one applied
 * as a layer) on the given input values; returns its output values. Values are
 * keyed by symbolic tensor id per call, so a nested model applied twice is
 * converted twice over the same (deduplicated) weight initializers, and a layer
 * called several times inside one model (a shared layer) is converted per call.
 */
function convertContainer(
  g: GraphBuilder,
  model: tf.LayersModel,
  inputs: Value[],
  prefix: string,
  inputMasks: (Mask | undefined)[] = [],
  outerMask?: Pick<Mask, 'origin'>,
): { values: Value[]; masks: (Mask | undefined)[] } {
  const scopeMask = executorMask(model, inputMasks, outerMask);
  const values = new Map<number, Value>();
  const masks = new Map<number, Mask | undefined>();
  model.inputs.forEach((t, i) => {
    values.set(t.id, inputs[i]);
    masks.set(t.id, inputMasks[i]);
  });
  for (const call of layerCalls(model)) {
    const layer = call.outboundLayer;
    const className = layer.getClassName();
    if (className === 'InputLayer') continue;
    const name = `${prefix}${layer.name}`;
    const callInputs = call.inputTensors.map((t) => values.get(t.id) ?? missing(t.name, name));
    const callMasks = call.inputTensors.map((t) => masks.get(t.id));
    let outputs: Value[];
    let outputMasks: (Mask | undefined)[] = [];
    if (isNestedModel(layer)) {
      const inner = convertContainer(g, layer, callInputs, `${name}/`, callMasks, scopeMask);
      outputs = inner.values;
      outputMasks = layer.supportsMasking ? inner.masks : [];
    } else {
      const handler = LAYER_HANDLERS[className];
      if (!handler) {
        throw new GanportError(
          `layer "${name}" is a ${className}, which the ONNX exporter does not support (supported: ${Object.keys(LAYER_HANDLERS).join(', ')}, and nested Model/Sequential)`,
          'unsupported',
        );
      }
      const ctx = layerContext(g, layer, call, callInputs, name, callMasks, scopeMask);
      const result = handler(ctx);
      outputs = Array.isArray(result) ? result : [result];
      const mask = outputMaskOf(layer, ctx, callMasks);
      outputMasks = call.outputTensors.map(() => mask);
    }
    call.outputTensors.forEach((t, i) => {
      values.set(t.id, outputs[i] ?? missing(t.name, `the output ${i} of ${name}`));
      masks.set(t.id, outputMasks[i]);
    });
  }
  return {
    values: model.outputs.map((t) => values.get(t.id) ?? missing(t.name, `${prefix || 'the model'} output`)),
    masks: model.outputs.map((t) => masks.get(t.id)),
  };
}

/**
 * A mask tfjs's executor (predict) may hand a call of `model` whose own first input carries none. Once any
 * call's input is masked, the executor gives that mask to every later call as `kwargs.mask`, which it
 * never clears, and a layer that applies masks (a recurrent layer, Softmax, a masked average) applies it.
 * Export does not follow the executor's call order, so where any layer of the model (nested ones too)
 * makes a mask, or one comes in from outside, every call is taken to be handed one: layers that apply
 * masks refuse it rather than compute what tfjs does not.
 */
export function executorMask(
  model: tf.LayersModel,
  inputMasks: (Mask | undefined)[],
  outerMask?: Pick<Mask, 'origin'>,
): Pick<Mask, 'origin'> | undefined {
  const given = outerMask ?? inputMasks.find((m) => m !== undefined);
  if (given) return given;
  const maker = (m: tf.LayersModel): tf.layers.Layer | undefined => {
    for (const layer of m.layers) {
      const found = isNestedModel(layer)
        ? maker(layer)
        : typeof MASK_RULES[layer.getClassName()] === 'function' && layer.supportsMasking
          ? layer
          : undefined;
      if (found) return found;
    }
    return undefined;
  };
  const made = maker(model);
  return made && { origin: made.name };
}

/**
 * Which layer's mask the outputs of a call carry, following tfjs's executor (which gives every
 * output of a call the first mask the layer computes): a layer that does not support masking drops
 * it; the rest follow MASK_RULES (layers/index.ts); a merge layer passes on any input's.
 */
export function outputMaskOf(
  layer: tf.layers.Layer,
  ctx: LayerContext,
  inputMasks: (Mask | undefined)[],
): Mask | undefined {
  const rule = MASK_RULES[layer.getClassName()];
  if (!layer.supportsMasking || rule === 'drops') return undefined;
  if (typeof rule === 'function') {
    let value: string | undefined;
    return { origin: ctx.name, value: () => (value ??= rule(ctx)) };
  }
  if (rule === 'sequence') {
    const config = layer.getConfig() as {
      returnSequences?: boolean;
      layer?: { config: { returnSequences?: boolean } };
    };
    return (config.returnSequences ?? config.layer?.config.returnSequences) ? inputMasks[0] : undefined;
  }
  return inputMasks[0] ?? inputMasks.find((m) => m !== undefined);
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

/**
 * ONNX Runtime (1.30's PadFusion) folds a zero Pad into a following MaxPool or AveragePool's own pads,
 * which changes the result: MaxPool ignores its pads (a window of negatives then keeps its maximum, not
 * the 0 tfjs padded with), and AveragePool with count_include_pad 0 leaves the zeros out of the mean
 * (and a pad wider than the window fails to load). Its layout optimizer first moves Transposes out of
 * the way, so a Pad that reaches a pool through Transposes is exposed too. It only folds a pad value whose
 * bytes are all zero, so such a Pad pads with −0.0 instead: the same number to every comparison and sum.
 */
function keepPadsBeforePooling(g: GraphBuilder): void {
  const consumers = (value: string) => g.nodes.filter((n) => n.input.includes(value));
  const reachesPool = (value: string): boolean =>
    consumers(value).some(
      (n) =>
        n.opType === 'MaxPool' || n.opType === 'AveragePool' || (n.opType === 'Transpose' && reachesPool(n.output[0])),
    );
  for (const pad of g.nodes.filter((n) => n.opType === 'Pad' && reachesPool(n.output[0]))) {
    const mode = pad.attribute.find((a) => a.name === 'mode');
    if (mode && new TextDecoder().decode(mode.s) !== 'constant') continue;
    pad.input = [pad.input[0], pad.input[1], g.constFloat(`${pad.output[0]}/value`, [], Float32Array.of(-0))];
  }
}
