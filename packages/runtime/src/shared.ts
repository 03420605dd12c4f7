// What both adapters export unchanged.
export {
  defaultLabels,
  type GeneratedBatch,
  type GenerateRequest,
  Generator,
  gridCount,
  type LoadOptions,
  MAX_COUNT,
} from './core.js';
export { GanportError, type GanportErrorCode } from './errors.js';
export {
  type GridOptions,
  type ImageBatch,
  LAYOUTS,
  type Layout,
  type RgbaImage,
  toGrid,
  toLayout,
  toRgba,
} from './image.js';
export { type InterpolationMode, interpolate } from './interpolate.js';
export {
  type GeneratorInfo,
  generatorInfo,
  isPointGenerator,
  type LabelKind,
  META,
  type OutputLayout,
} from './metadata.js';
export { type OnnxInfo, readOnnxInfo, type TensorInfo } from './onnx-info.js';
export { Rng, sampleLatents } from './sampler.js';
export { type ScatterOptions, scatterPlot } from './scatter.js';
