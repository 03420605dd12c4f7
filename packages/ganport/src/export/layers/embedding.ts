/** Embedding: Gather rows of the table; indices are cast to int64 whatever the input's type (tfjs accepts float ids). */
import { attr, DataType } from '../../onnx/builder.js';
import { type LayerHandler, type MaskMaker, tfjsValue, weight } from './context.js';

export const embedding: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const table = weight(ctx, 'embeddings');
  const indices = g.op('Cast', [ctx.inputs[0].name], { to: attr.int(DataType.INT64) }, `${name}/indices`);
  return tfjsValue(
    g.op('Gather', [g.constFloat(`${name}/embeddings`, table.shape, table.data), indices], { axis: attr.int(0) }, name),
    ctx.inputs[0].rank + 1,
  );
};

/** maskZero's mask, as tfjs computes it: the ids that are not 0. */
export const embeddingMask: MaskMaker = ({ g, name, inputs, inputDtypes }) => {
  const zero =
    inputDtypes[0] === 'int32' ? g.constant(`${name}/zero`, DataType.INT64, [], BigInt64Array.of(0n)) : g.scalar(0);
  return g.op('Not', [g.op('Equal', [inputs[0].name, zero], {}, `${name}/is_zero`)], {}, `${name}/mask`);
};
