/**
 * What the exporter will do with a model, before it is run: the layer tree (nested models
 * expanded, to any depth) with each layer's class, output shape and whether the exporter
 * supports it, and the nested models `--submodel` can export on their own.
 */
import { GanportError } from '@ganport/runtime';
import type * as tf from '@tensorflow/tfjs';
import { kerasName } from '../keras/names.js';
import {
  convertLayersModel,
  EXPORT_METADATA,
  executorMask,
  isNestedModel,
  type LayerCall,
  layerCalls,
  layerContext,
  outputMaskOf,
} from './convert.js';
import { GraphBuilder, type Value } from './graph.js';
import { LAYER_HANDLERS, type Mask } from './layers/index.js';

export interface LayerReport {
  name: string;
  /** Its name in the Keras file, where tfjs (and so ONNX) knows it by `name`. */
  kerasName?: string;
  className: string;
  /** Output shapes as tfjs prints them, one per call when a layer is called more than once. */
  outputShapes: string[];
  /** How many times the layer is called inside its model (shared weights when > 1). */
  calls: number;
  params: number;
  /** 'yes', 'input', 'nested' (a model inlined layer by layer), or 'no'. */
  support: 'yes' | 'input' | 'nested' | 'no';
  /** Why not, for an unsupported layer or configuration. */
  reason?: string;
  /** What the export adds for it: the graph inputs and outputs that carry a stateful layer's state. */
  note?: string;
  children?: LayerReport[];
}

const shapeText = (shape: (number | null)[]) => `[${shape.map((d) => d ?? 'null').join(',')}]`;

function callsOf(model: tf.LayersModel): Map<tf.layers.Layer, LayerCall[]> {
  const calls = new Map<tf.layers.Layer, LayerCall[]>();
  for (const call of layerCalls(model)) calls.set(call.outboundLayer, [...(calls.get(call.outboundLayer) ?? []), call]);
  return calls;
}

/** A layer call's context on placeholder inputs, with the masks its inputs carry. */
function placeholderContext(
  layer: tf.layers.Layer,
  call: LayerCall,
  masks: (Mask | undefined)[],
  scopeMask: Pick<Mask, 'origin'> | undefined,
) {
  const g = new GraphBuilder(17);
  const inputs: Value[] = call.inputTensors.map((t, i) => ({ name: `x${i}`, rank: t.shape.length, layout: 'NHWC' }));
  return { g, ctx: layerContext(g, layer, call, inputs, layer.name, masks, scopeMask) };
}

type Placeholder = ReturnType<typeof placeholderContext>;

/**
 * Runs the layer's handler on placeholder inputs carrying the masks export would give them: a reason
 * if it does not convert, or a note on the graph inputs and outputs it adds (a stateful layer's state).
 */
function probe(layer: tf.layers.Layer, { g, ctx }: Placeholder): { reason?: string; note?: string } {
  const handler = LAYER_HANDLERS[layer.getClassName()];
  if (!handler) return { reason: 'no ONNX mapping for this layer class' };
  try {
    handler(ctx);
  } catch (err) {
    return { reason: (err as Error).message.replace(/^layer \S+ \([^)]*\): /, '') };
  }
  if (g.carried.length === 0) return {};
  const list = (key: 'input' | 'output') => g.carried.map((c) => c[key]).join(', ');
  return { note: `stateful: its state is carried in graph inputs ${list('input')} and outputs ${list('output')}` };
}

/**
 * The masks each call's inputs carry, and the model's output masks, as export follows them
 * (convert.ts's convertContainer): from the model's input masks through every layer's mask rule. Each
 * layer call's placeholder context, which its rule reads, is kept for its probe.
 */
function maskFlow(
  model: tf.LayersModel,
  inputMasks: (Mask | undefined)[],
  scopeMask: Pick<Mask, 'origin'> | undefined,
): {
  callMasks: Map<LayerCall, (Mask | undefined)[]>;
  placeholders: Map<LayerCall, Placeholder>;
  outputMasks: (Mask | undefined)[];
} {
  const masks = new Map<number, Mask | undefined>(model.inputs.map((t, i) => [t.id, inputMasks[i]]));
  const callMasks = new Map<LayerCall, (Mask | undefined)[]>();
  const placeholders = new Map<LayerCall, Placeholder>();
  for (const call of layerCalls(model)) {
    const layer = call.outboundLayer;
    if (layer.getClassName() === 'InputLayer') continue;
    const inputs = call.inputTensors.map((t) => masks.get(t.id));
    callMasks.set(call, inputs);
    let outputs: (Mask | undefined)[];
    if (isNestedModel(layer))
      outputs = layer.supportsMasking
        ? maskFlow(layer, inputs, executorMask(layer, inputs, scopeMask)).outputMasks
        : [];
    else {
      const placeholder = placeholderContext(layer, call, inputs, scopeMask);
      placeholders.set(call, placeholder);
      const mask = outputMaskOf(layer, placeholder.ctx, inputs);
      outputs = call.outputTensors.map(() => mask);
    }
    for (const [i, t] of call.outputTensors.entries()) masks.set(t.id, outputs[i]);
  }
  return { callMasks, placeholders, outputMasks: model.outputs.map((t) => masks.get(t.id)) };
}

/** The layer tree of `model`: its own layers in execution order, nested models expanded. */
export function inspectModel(
  model: tf.LayersModel,
  inputMasks: (Mask | undefined)[] = [],
  outerMask?: Pick<Mask, 'origin'>,
): LayerReport[] {
  const calls = callsOf(model);
  const scopeMask = executorMask(model, inputMasks, outerMask);
  const { callMasks, placeholders } = maskFlow(model, inputMasks, scopeMask);
  const reports: LayerReport[] = [];
  const seen = new Set<tf.layers.Layer>();
  // Layers in execution order; a Sequential whose first layer is a model lists that model's layers inline.
  for (const layer of [...calls.keys(), ...model.layers]) {
    if (seen.has(layer)) continue;
    seen.add(layer);
    const layerCallList = calls.get(layer) ?? [];
    const className = layer.getClassName();
    const report: LayerReport = {
      name: layer.name,
      ...(kerasName(layer) ? { kerasName: kerasName(layer) } : {}),
      className,
      outputShapes: [...new Set(layerCallList.map((c) => c.outputTensors.map((t) => shapeText(t.shape)).join(' ')))],
      calls: layerCallList.length,
      params: layer.countParams(),
      support: 'yes',
    };
    if (className === 'InputLayer') report.support = 'input';
    else if (isNestedModel(layer)) {
      report.support = 'nested';
      report.children = inspectModel(layer, layerCallList[0] ? callMasks.get(layerCallList[0]) : [], scopeMask);
      if (report.outputShapes.length === 0)
        report.outputShapes = [layer.outputs.map((t) => shapeText(t.shape)).join(' ')];
    } else if (layerCallList.length > 0) {
      const { reason, note } = probe(layer, placeholders.get(layerCallList[0])!);
      if (reason) Object.assign(report, { support: 'no', reason });
      if (note) report.note = note;
    }
    reports.push(report);
  }
  return reports;
}

/** Every model nested in `model`, as the paths `--submodel` accepts (`outer/inner` for deeper ones). */
export function nestedModelPaths(model: tf.LayersModel, prefix = ''): string[] {
  return model.layers
    .filter(isNestedModel)
    .flatMap((m) => [`${prefix}${m.name}`, ...nestedModelPaths(m, `${prefix}${m.name}/`)]);
}

/** The nested model named `path` (a layer name, or `outer/inner`; a unique bare name is found at any depth). */
export function findSubmodel(model: tf.LayersModel, path: string): tf.LayersModel {
  const paths = nestedModelPaths(model);
  const matches = paths.filter((p) => p === path || p.endsWith(`/${path}`));
  const exact = paths.includes(path) ? [path] : matches;
  if (exact.length !== 1) {
    const known = paths.length ? paths.join(', ') : 'none: this model nests no other model';
    throw new GanportError(
      exact.length === 0
        ? `no nested model "${path}" in ${model.name} (nested models: ${known})`
        : `"${path}" names several nested models (${exact.join(', ')}); give the full path`,
      exact.length === 0 ? 'not-found' : 'invalid-input',
    );
  }
  let found: tf.LayersModel = model;
  for (const part of exact[0].split('/'))
    found = found.layers.find((l) => l.name === part && isNestedModel(l)) as tf.LayersModel;
  return found;
}

/** The tree as text, one layer a line, and a last line saying whether the whole model exports. */
export function formatInspection(model: tf.LayersModel): string {
  const lines: string[] = [];
  const rows: [string, string, string, string, string][] = [];
  const walk = (reports: LayerReport[], depth: number) => {
    for (const r of reports) {
      const support = { yes: 'yes', input: 'input', nested: 'nested, inlined', no: `NO: ${r.reason}` }[r.support];
      rows.push([
        `${'  '.repeat(depth)}${r.name}${r.kerasName ? ` (Keras: "${r.kerasName}")` : ''}`,
        r.className,
        r.outputShapes.join(' | ') + (r.calls > 1 ? ` (${r.calls} calls, shared weights)` : ''),
        String(r.params),
        r.note ? `${support}; ${r.note}` : support,
      ]);
      if (r.children) walk(r.children, depth + 1);
    }
  };
  walk(inspectModel(model), 0);
  const header: [string, string, string, string, string] = ['layer', 'class', 'output shape', 'params', 'exports'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows]) lines.push(row.map((c, i) => (i === 4 ? c : c.padEnd(widths[i]))).join('  '));
  const keras = (t: tf.SymbolicTensor) => (kerasName(t.sourceLayer) ? ` (Keras: "${kerasName(t.sourceLayer)}")` : '');
  const inputs = model.inputs.map((t) => `${t.name}${keras(t)} ${shapeText(t.shape)} ${t.dtype}`).join(', ');
  const outputs = model.outputs.map((t) => `${t.name}${keras(t)} ${shapeText(t.shape)}`).join(', ');
  lines.push('', `inputs: ${inputs}`, `outputs: ${outputs}`, `parameters: ${model.countParams()}`);
  const nested = nestedModelPaths(model);
  if (nested.length) lines.push(`nested models (--submodel): ${nested.join(', ')}`);
  try {
    const onnx = convertLayersModel(model);
    const ops = new Map<string, number>();
    for (const n of onnx.graph.node) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1);
    const opText = [...ops].map(([op, n]) => `${op}×${n}`).join(' ');
    lines.push(
      `export: ok, ${onnx.graph.node.length} ONNX nodes (${opText}), ${onnx.graph.initializer.length} initializers`,
    );
    const carried = onnx.metadataProps?.find((p) => p.key === EXPORT_METADATA.recurrentState);
    if (carried)
      lines.push(
        `recurrent state carried between calls (feed each output back as its input; zeros to start): ${(
          JSON.parse(carried.value) as { states: { input: string; output: string }[] }
        ).states
          .map((c) => `${c.input} → ${c.output}`)
          .join(', ')}`,
      );
  } catch (err) {
    lines.push(`export: fails: ${(err as Error).message}`);
  }
  return `${lines.join('\n')}\n`;
}
