/**
 * `import … from 'ganport'`: the library behind the CLI. Train a GAN, export it (or any tfjs
 * LayersModel) to ONNX, evaluate and compare runtimes. Running an exported generator needs only
 * `@ganport/runtime`, which this package re-exports as `ganport/runtime`.
 */
export { type EvalOptions, type EvalReport, evaluate } from './eval/index.js';
export {
  type ConvertOptions,
  convertLayersModel,
  DEFAULT_OPSET,
  type ExportedFile,
  exportModelFile,
  exportRun,
  modelToBytes,
  type RunExport,
  type RunExportOptions,
} from './export/index.js';
export { type ParityOptions, type ParityReport, runParity } from './parity/parity.js';
export { PRESETS, type Preset } from './presets/index.js';
export { type ClassifierTrainOptions, trainClassifier } from './train/classifier.js';
export { type MetricsLine, type TrainOptions, type TrainResult, train } from './train/train.js';
