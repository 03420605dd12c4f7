/** What both adapters export unchanged. */
export { Generator, MAX_COUNT, defaultLabels, type GenerateRequest, type GeneratedBatch, type LoadOptions } from './core.js';
export { GanportError, type GanportErrorCode } from './errors.js';
export { toGrid, toRgba, type GridOptions, type ImageBatch, type RgbaImage } from './image.js';
export { META, type GeneratorInfo } from './metadata.js';
export { interpolate, type InterpolationMode } from './interpolate.js';
export { readOnnxInfo, type OnnxInfo } from './onnx-info.js';
export { scatterPlot, type ScatterOptions } from './scatter.js';
export { Rng, sampleLatents } from './sampler.js';
