/** BatchNormalization (inference form) and LayerNormalization, with the layers' own epsilon written explicitly. */
import { attr } from '../../onnx/builder.js';
import { type LayerContext, type LayerHandler, sameLayout, tfjsValue, unsupportedConfig, weight } from './context.js';

/** gamma/beta, or 1/0 when the layer was built without scale/center. */
function affine(ctx: LayerContext, channels: number): { gamma: Float32Array; beta: Float32Array } {
  return {
    gamma: ctx.config.scale === false ? new Float32Array(channels).fill(1) : weight(ctx, 'gamma').data,
    beta: ctx.config.center === false ? new Float32Array(channels) : weight(ctx, 'beta').data,
  };
}

function lastAxis(ctx: LayerContext, axis: unknown): void {
  const rank = ctx.inputShapes[0].length;
  const a = Array.isArray(axis) ? axis : [axis ?? -1];
  if (a.length !== 1 || ((a[0] as number) + rank) % rank !== rank - 1)
    unsupportedConfig(ctx, `axis ${JSON.stringify(axis)} (only the last axis)`);
}

/**
 * On the channel axis: ONNX BatchNormalization wants channels on axis 1, which is
 * where they are for rank-2 input and for rank-4 input held channels-first.
 * Other ranks use the same arithmetic as a Mul and an Add broadcast on the last axis.
 */
export const batchNormalization: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  lastAxis(ctx, ctx.config.axis);
  const epsilon = (ctx.config.epsilon as number | undefined) ?? 1e-3;
  const mean = weight(ctx, 'moving_mean');
  const variance = weight(ctx, 'moving_variance');
  const channels = mean.data.length;
  const { gamma, beta } = affine(ctx, channels);
  const x = ctx.inputs[0].rank === 4 ? g.inLayout(ctx.inputs[0], 'NCHW') : ctx.inputs[0];
  if (x.rank === 2 || x.rank === 4) {
    const inputs = [
      x.name,
      g.constFloat(`${name}/gamma`, [channels], gamma),
      g.constFloat(`${name}/beta`, [channels], beta),
      g.constFloat(`${name}/mean`, [channels], mean.data),
      g.constFloat(`${name}/variance`, [channels], variance.data),
    ];
    return sameLayout(x, g.op('BatchNormalization', inputs, { epsilon: attr.float(epsilon) }, name));
  }
  const scale = gamma.map((s, c) => s / Math.sqrt(variance.data[c] + epsilon));
  const shift = beta.map((b, c) => b - mean.data[c] * scale[c]);
  const scaled = g.op('Mul', [x.name, g.constFloat(`${name}/scale`, [channels], scale)], {}, `${name}/scale`);
  return sameLayout(x, g.op('Add', [scaled, g.constFloat(`${name}/shift`, [channels], shift)], {}, name));
};

/** LayerNormalization over the last axis: one op from opset 17, ReduceMean arithmetic before it. */
export const layerNormalization: LayerHandler = (ctx) => {
  const { g, name } = ctx;
  lastAxis(ctx, ctx.config.axis);
  const epsilon = (ctx.config.epsilon as number | undefined) ?? 1e-3;
  const x = g.tfjsLayout(ctx.inputs[0]);
  const channels = ctx.inputShapes[0].at(-1) as number;
  const { gamma, beta } = affine(ctx, channels);
  const gammaName = g.constFloat(`${name}/gamma`, [channels], gamma);
  const betaName = g.constFloat(`${name}/beta`, [channels], beta);
  if (g.opset >= 17)
    return tfjsValue(
      g.op(
        'LayerNormalization',
        [x.name, gammaName, betaName],
        { axis: attr.int(-1), epsilon: attr.float(epsilon) },
        name,
      ),
      x.rank,
    );
  const mean = g.op('ReduceMean', [x.name], { axes: attr.ints([-1]), keepdims: attr.int(1) }, `${name}/mean`);
  const centered = g.op('Sub', [x.name, mean], {}, `${name}/centered`);
  const variance = g.op(
    'ReduceMean',
    [g.op('Mul', [centered, centered], {}, `${name}/squared`)],
    { axes: attr.ints([-1]), keepdims: attr.int(1) },
    `${name}/variance`,
  );
  const std = g.op(
    'Sqrt',
    [
      g.op(
        'Add',
        [variance, g.constFloat(`${name}/epsilon`, [], Float32Array.of(epsilon))],
        {},
        `${name}/variance_eps`,
      ),
    ],
    {},
    `${name}/std`,
  );
  const normalized = g.op('Div', [centered, std], {}, `${name}/normalized`);
  return tfjsValue(
    g.op('Add', [g.op('Mul', [normalized, gammaName], {}, `${name}/scaled`), betaName], {}, name),
    x.rank,
  );
};
