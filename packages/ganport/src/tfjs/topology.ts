/**
 * A model config (Keras 2's layout: a tfjs model.json's topology, or a Keras file's config once
 * keras/normalize.ts has rewritten it) checked for what tfjs cannot build. tfjs's
 * Container.fromConfig calls each layer once the layer outputs it takes exist, retrying the
 * others until none is left: a call whose input names a layer the model lacks, or a call that is
 * never made (a cycle), is retried forever. Its input_layers and output_layers must name calls
 * that are made, or tfjs fails with an empty message.
 */
import { GanportError } from '@ganport/runtime';
import { isObject, MODEL_CLASSES } from './layers-config.js';

type Entry = Record<string, unknown>;

const OP_LAMBDAS = new Set(['TFOpLambda', 'SlicingOpLambda']);

/** A config key as Keras writes it (`inbound_nodes`), or as tfjs, which takes both, names it (`inboundNodes`). */
const field = (entry: Entry, key: string): unknown =>
  entry[key] ?? entry[key.replace(/_(\w)/g, (_, c: string) => c.toUpperCase())];

/** Throws a one-line GanportError naming what in `modelTopology` tfjs could not build, or loop on forever. */
export function checkTopology(modelTopology: unknown, source: string): void {
  const model =
    isObject(modelTopology) && isObject(modelTopology.model_config) ? modelTopology.model_config : modelTopology;
  checkModel(model, (what) => {
    throw new GanportError(`${source}: ${what}`, 'invalid-model');
  });
}

/** A layer's name: a functional model's entry has it, a Sequential's layer only in its config. */
const layerName = (entry: Entry): string =>
  String(entry.name ?? (isObject(entry.config) ? entry.config.name : undefined) ?? field(entry, 'class_name'));

/** `inside`: the path of a nested model's layers (`decoder/`), empty for the model itself. */
function checkModel(model: unknown, fail: (what: string) => never, inside = ''): void {
  if (!isObject(model)) return; // not a model config: tfjs says so
  const config = model.config;
  const layers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  const label = inside ? `model ${inside.slice(0, -1)}` : 'the model';
  if (!Array.isArray(layers)) return; // not a layers model (a graph model's nodes): tfjs says so
  if (layers.length === 0) fail(`${label} has no layers`);
  const entries = layers.filter(isObject);
  for (const entry of entries)
    if (MODEL_CLASSES.has(field(entry, 'class_name') as string))
      checkModel(entry, fail, `${inside}${layerName(entry)}/`);
  if (field(model, 'class_name') !== 'Sequential' && isObject(config)) checkCalls(config, entries, inside, label, fail);
}

/** A reference to a layer's output, [layer, call, tensor, kwargs?], as its layer name and call index. */
function reference(value: unknown, fail: (what: string) => never, where: string): [string, number] {
  const index = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!Array.isArray(value) || typeof value[0] !== 'string' || !index(value[1]) || !index(value[2]))
    fail(`${where} is ${JSON.stringify(value)}, not a [layer, node, tensor] reference`);
  return [value[0], value[1]];
}

/**
 * Replays tfjs's building of a functional model's calls, counting each layer's: an InputLayer or a
 * nested model has one when made, any other layer none; a call is made once its inputs are.
 */
function checkCalls(
  config: Entry,
  entries: Entry[],
  inside: string,
  model: string,
  fail: (what: string) => never,
): void {
  const calls = new Map<string, number>();
  const pending: { layer: string; inputs: [string, number][] }[] = [];
  for (const entry of entries) {
    const layer = String(entry.name); // what tfjs keys the layers by
    const className = field(entry, 'class_name') as string;
    calls.set(layer, className === 'InputLayer' || MODEL_CLASSES.has(className) ? 1 : 0);
    const nodes = field(entry, 'inbound_nodes') ?? [];
    if (!Array.isArray(nodes)) fail(`layer ${inside}${layer}'s inbound_nodes is not a list`);
    for (const node of nodes) {
      if (!Array.isArray(node)) fail(`an inbound node of layer ${inside}${layer} is not a list`);
      // Keras 2.4+ writes a TFOpLambda's call (`x * 2`) as the reference itself, not a list of them (tfjs has
      // no such layer, and says so)
      const inputs = typeof node[0] === 'string' && OP_LAMBDAS.has(className) ? [node] : node;
      pending.push({
        layer,
        inputs: inputs.map((input) => reference(input, fail, `an input of layer ${inside}${layer}`)),
      });
    }
  }
  const made = ([layer, call]: [string, number]) => (calls.get(layer) ?? 0) > call;
  for (let progress = true; progress; ) {
    progress = false;
    for (let i = 0; i < pending.length; i++) {
      const { layer, inputs } = pending[i];
      if (!inputs.every(made)) continue;
      // a call without inputs makes nothing (tfjs skips it)
      if (inputs.length > 0) calls.set(layer, (calls.get(layer) ?? 0) + 1);
      pending.splice(i--, 1);
      progress = true;
    }
  }
  const unmade = (where: string, [layer]: [string, number]) =>
    calls.has(layer)
      ? `${where} is an output of layer ${inside}${layer} that is never made (a call the model does not have, or calls in a cycle)`
      : `${where} names unknown layer ${layer}`;
  const stuck = pending[0];
  if (stuck) fail(unmade(`layer ${inside}${stuck.layer}'s input`, stuck.inputs.find((input) => !made(input))!));
  for (const key of ['input_layers', 'output_layers']) {
    const references = field(config, key);
    if (!Array.isArray(references)) fail(`${model} has no ${key} list`);
    for (const value of references) {
      const ref = reference(value, fail, `an entry of ${model}'s ${key}`);
      if (!made(ref)) fail(unmade(`${model}'s ${key} entry`, ref));
    }
  }
}
