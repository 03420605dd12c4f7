/** Embedding: Gather rows of the table; indices are cast to int64 whatever the input's type (tfjs accepts float ids). */
import { attr, DataType } from '../../onnx/builder.js';
import { type LayerHandler, tfjsValue, weight } from './context.js';

export const embedding: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  const table = weight(ctx, 'embeddings');
  const indices = g.op('Cast', [ctx.inputs[0].name], { to: attr.int(DataType.INT64) }, `${name}/indices`);
  return tfjsValue(
    g.op('Gather', [g.constFloat(`${name}/embeddings`, table.shape, table.data), indices], { axis: attr.int(0) }, name),
    ctx.inputs[0].rank + 1,
  );
};
