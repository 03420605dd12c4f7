/**
 * The step graph rewritten for onnxruntime's CPU kernels, where they run it: outputs written by the
 * nodes before their shape-keeping Reshapes (output-reshapes.ts), ReLU's and LeakyReLU's gradient
 * selects as masks (select-masks.ts), sums over leading axes as vector–matrix products
 * (leading-sums.ts), flattens into dense layers in channels-first order (flatten-order.ts), image
 * layers' filter gradients as products with the input's patches (patch-products.ts), the big
 * convolutions (the patches' among them) on NCHWc kernels (nchwc.ts), then the transposed convolutions
 * left as a batch's MatMul and a Col2Im (col2im.ts). All are fixed rules on the graph, exact or within
 * float error, never timed.
 */
import { decodeModel, encodeModel } from '../onnx/proto.js';
import type { CapturedGraph } from '../tfjs/capture.js';
import { transposedConvolutionsAsCol2Im } from './col2im.js';
import { flattenInChannelOrder } from './flatten-order.js';
import { leadingSumsAsProducts } from './leading-sums.js';
import { nchwcBlock, rewriteConvolutions } from './nchwc.js';
import { outputsWithoutReshapes } from './output-reshapes.js';
import { filterGradientsAsPatchProducts } from './patch-products.js';
import { selectsAsMasks } from './select-masks.js';
import { valueSpecs } from './value-specs.js';

export interface CpuRewrites {
  /** The big convolutions on NCHWc kernels, where this CPU's onnxruntime has them. */
  nchwc: boolean;
}

/** `graph` rewritten; itself where no rewrite applies or its values' shapes are not static. */
export async function forCpuKernels(graph: CapturedGraph, { nchwc }: CpuRewrites): Promise<CapturedGraph> {
  const model = decodeModel(graph.model);
  const specs = await valueSpecs(model, graph.inputs);
  if (!specs) return graph;
  const spec = (name: string) => specs.get(name);
  const unreshaped = outputsWithoutReshapes(model, spec) ?? model;
  const masked = selectsAsMasks(unreshaped, spec) ?? unreshaped;
  const summed = leadingSumsAsProducts(masked, spec) ?? masked;
  const flattened = flattenInChannelOrder(summed, spec) ?? summed;
  const block = nchwc ? nchwcBlock() : 0;
  const products = block ? filterGradientsAsPatchProducts(flattened, spec, block) : undefined;
  const dims = (name: string) => spec(name)?.dims ?? products?.dims.get(name);
  const blocked = (block && rewriteConvolutions(products?.model ?? flattened, dims, { block })) || flattened;
  const columns = transposedConvolutionsAsCol2Im(blocked, spec) ?? blocked;
  return columns === model ? graph : { ...graph, model: encodeModel(columns) };
}
