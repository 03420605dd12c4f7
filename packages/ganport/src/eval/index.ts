/**
 * `evaluate()`: measures a generator as users run it (through the runtime). Image generators get
 * classifier-based metrics against real test images; 2-D point generators the mode-collapse protocol.
 */
import { GanportError, loadGenerator } from '@ganport/runtime';
import { resolveGeneratorFile } from '../formats/model-dir.js';
import { evaluateImages, type ImageEvalOptions, type ImageEvalReport } from './images.js';
import { evaluateMixture, type MixtureEvalOptions, type MixtureEvalReport } from './mixtures.js';

export {
  DEFAULT_IMAGE_SAMPLES,
  type ImageEvalOptions,
  type ImageEvalReport,
  type ImageScores,
  MAX_IMAGE_SAMPLES,
} from './images.js';
export { MAX_MIXTURE_SAMPLES, MAX_MIXTURE_SEEDS, type MixtureEvalOptions, type MixtureEvalReport } from './mixtures.js';

export type EvalReport = ({ kind: 'images' } & ImageEvalReport) | ({ kind: 'points' } & MixtureEvalReport);

/** The options of each kind; those of the other kind are refused rather than ignored. */
export type EvalOptions = ImageEvalOptions & MixtureEvalOptions;
const IMAGE_ONLY = ['seed', 'dataDir', 'classifier', 'k'] as const;
const POINT_ONLY = ['mixture', 'seeds', 'plot'] as const;

/** Evaluates MODEL (a .onnx file or a model directory holding generator.onnx). */
export async function evaluate(model: string, options: EvalOptions = {}): Promise<{ model: string } & EvalReport> {
  const file = await resolveGeneratorFile(model);
  const generator = await loadGenerator(file);
  try {
    const points = generator.info.layout === 'flat';
    const misplaced = (points ? IMAGE_ONLY : POINT_ONLY).find((name) => options[name] !== undefined);
    if (misplaced) throw new EvalOptionError(misplaced, points ? '2-D point' : 'image');
    return points
      ? { model: file, kind: 'points', ...(await evaluateMixture(generator, options)) }
      : { model: file, kind: 'images', ...(await evaluateImages(generator, options)) };
  } finally {
    await generator.dispose();
  }
}

/** An option that belongs to the other kind of generator; `option` lets the CLI name its flag instead. */
export class EvalOptionError extends GanportError {
  constructor(
    readonly option: string,
    readonly generatorKind: string,
  ) {
    super(`${option} does not apply to ${generatorKind} generators`, 'invalid-input');
  }
}
