/**
 * TimeDistributed and Masking.
 *
 * TimeDistributed(layer) applies `layer` to every step: the steps are folded into the batch
 * ([batch, steps, ...rest] → [batch·steps, ...rest] by a Reshape), the wrapped layer's own handler
 * runs on that, and a second Reshape unfolds the result ([batch, steps, ...out]).
 */
import { attr, DataType } from '../../onnx/builder.js';
import type { Value } from '../graph.js';
import { type LayerContext, type LayerHandler, type MaskMaker, tfjsValue, unsupportedConfig } from './context.js';
import { LAYER_HANDLERS } from './index.js';

export const timeDistributed: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const inner = ctx.config.layer as { className: string; config: Record<string, unknown> };
  const handler = LAYER_HANDLERS[inner.className];
  if (!handler || inner.className === 'TimeDistributed')
    unsupportedConfig(ctx, `a TimeDistributed ${inner.className} (the exporter has no handler for it)`);
  const inShape = ctx.inputShapes[0];
  const rest = inShape.slice(2);
  const outRest = ctx.outputShape.slice(2);
  if (rest.some((d) => d === null) || outRest.some((d) => d === null))
    unsupportedConfig(ctx, 'a TimeDistributed layer whose per-step shape is not fully known');
  const x = g.tfjsLayout(ctx.inputs[0]);
  const folded: Value = tfjsValue(
    g.op('Reshape', [x.name, g.constInt64(`${name}/fold_shape`, [-1, ...(rest as number[])])], {}, `${name}/fold`),
    rest.length + 1,
  );
  const innerCtx: LayerContext = {
    ...ctx,
    className: inner.className,
    config: inner.config,
    inputs: [folded],
    inputShapes: [[null, ...rest]],
    outputShape: [null, ...outRest],
    outputShapes: [[null, ...outRest]],
    // the folded steps carry no mask the ONNX could follow, but tfjs hands the inner layer the call's
    // (kwargs.mask): one that applies masks refuses it, as it refuses another layer's
    inputMasks: [],
    strayMask: ctx.inputMasks?.[0] ?? ctx.strayMask,
  };
  const result = handler(innerCtx);
  if (Array.isArray(result)) unsupportedConfig(ctx, `a TimeDistributed ${inner.className} with several outputs`);
  const y = g.tfjsLayout(result);
  const steps = inShape[1];
  let shape: string;
  if (steps !== null) shape = g.constInt64(`${name}/unfold_shape`, [-1, steps, ...(outRest as number[])]);
  else {
    // Unknown steps: [batch, steps] from the input's shape, then the per-step output shape.
    const batchSteps = g.op(
      'Slice',
      [
        g.op('Shape', [x.name], {}, `${name}/input_shape`),
        g.constInt64(`${name}/starts`, [0]),
        g.constInt64(`${name}/ends`, [2]),
      ],
      {},
      `${name}/batch_steps`,
    );
    shape = g.op(
      'Concat',
      [batchSteps, g.constInt64(`${name}/step_shape`, outRest as number[])],
      { axis: attr.int(0) },
      `${name}/unfold_shape`,
    );
  }
  return tfjsValue(g.op('Reshape', [y.name, shape], {}, name), outRest.length + 2);
};

/**
 * Masking: zeroes the steps whose features all equal maskValue, as tfjs does
 * (x · any(x ≠ maskValue) over the last axis). Its mask (maskingMask) is what Keras's
 * GlobalAveragePooling1D averages over; the recurrent layers that would consume it refuse it.
 */
export const masking: LayerHandler = (ctx) => {
  const x = ctx.g.tfjsLayout(ctx.inputs[0]);
  return tfjsValue(ctx.g.op('Mul', [x.name, unmaskedSteps(ctx, true)], {}, ctx.name), x.rank);
};

/** The steps with a feature other than maskValue, as float 1/0: [batch, steps, 1] with `keepdims`, else [batch, steps]. */
function unmaskedSteps(ctx: LayerContext, keepdims: boolean): string {
  const { g, name } = ctx;
  const x = g.tfjsLayout(ctx.inputs[0]);
  const value = (ctx.config.maskValue as number | undefined) ?? 0;
  const equal = g.op(
    'Equal',
    [x.name, g.constFloat(`${name}/mask_value`, [], Float32Array.of(value))],
    {},
    `${name}/equal`,
  );
  const keep = g.op(
    'Cast',
    [g.op('Not', [equal], {}, `${name}/not_equal`)],
    { to: attr.int(DataType.FLOAT) },
    `${name}/keep`,
  );
  return g.reduce('ReduceMax', keep, [x.rank - 1], keepdims, `${name}/any`);
}

/** Masking's mask, as tfjs computes it: the steps with a feature other than maskValue. */
export const maskingMask: MaskMaker = (ctx) =>
  ctx.g.op('Cast', [unmaskedSteps(ctx, false)], { to: attr.int(DataType.BOOL) }, `${ctx.name}/mask`);
