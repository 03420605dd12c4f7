/** Embedding: Gather rows of the table; indices are cast to int64 whatever the input's type (tfjs accepts float ids). */
import { attr, DataType } from '../../onnx/builder.js';
import { type LayerHandler, type MaskMaker, tfjsValue, weight } from './context.js';

export const embedding: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const table = weight(ctx, 'embeddings');
  // ids held channels-first (a label map after a layout change) are read in tfjs's order, as the table's rows append an axis to it
  const ids = g.tfjsLayout(ctx.inputs[0]);
  const indices = g.op('Cast', [ids.name], { to: attr.int(DataType.INT64) }, `${name}/indices`);
  return tfjsValue(
    g.op('Gather', [g.constFloat(`${name}/embeddings`, table.shape, table.data), indices], { axis: attr.int(0) }, name),
    ids.rank + 1,
  );
};

/**
 * maskZero's mask, as tfjs computes it: the ids that are not 0. Compared as floats (exact for zero), whatever
 * the ids' element type: tfjs's symbolic dtype is float32 after a TF Cast to int, whose ONNX value is int64.
 */
export const embeddingMask: MaskMaker = ({ g, name, inputs }) => {
  const ids = g.op('Cast', [g.tfjsLayout(inputs[0]).name], { to: attr.int(DataType.FLOAT) }, `${name}/ids_float`);
  return g.op('Not', [g.op('Equal', [ids, g.scalar(0)], {}, `${name}/is_zero`)], {}, `${name}/mask`);
};
