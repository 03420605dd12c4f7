/**
 * `train --eval-every N`: every N steps the EMA generator is converted to ONNX in memory and
 * measured through the runtime exactly as `ganport eval` measures a shipped model (a smaller
 * sample), so the epochs and the checkpoint to ship are chosen from a curve, not by eye.
 */
import { GanportError, loadGenerator } from '@ganport/runtime';
import type * as tf from '@tensorflow/tfjs';
import { Classifier } from '../eval/classifier.js';
import {
  checkClassifierFits,
  evaluateImages,
  fewSamplesWarning,
  MAX_IMAGE_SAMPLES,
  realImages,
} from '../eval/images.js';
import { evaluateMixture, MAX_MIXTURE_SAMPLES } from '../eval/mixtures.js';
import { modelToBytes } from '../export/index.js';
import type { EvalScores } from '../formats/eval-scores.js';
import { exportedModelFacts } from '../formats/model-dir.js';
import type { RunConfig } from '../formats/run-dir.js';

/**
 * Whether measurement `a` beats `best` (undefined: nothing kept yet): images by FCD, lower is better;
 * 2-D mixtures by modes captured, then the share of high-quality samples, then reverse KL.
 */
export function isBetter(a: EvalScores, best: EvalScores | undefined): boolean {
  if (!best) return true;
  if ('fcd' in a && 'fcd' in best) return a.fcd < best.fcd;
  if ('modes' in a && 'modes' in best) {
    const rank = (s: typeof a) => [s.modes, s.highQualityPercent, -s.reverseKl];
    const [x, y] = [rank(a), rank(best)];
    const differs = x.findIndex((v, i) => v !== y[i]);
    return differs >= 0 && x[differs] > y[differs];
  }
  return false;
}

/** The fewest samples a measurement takes (k-NN precision/recall needs more than k = 3 neighbours, FCD far more). */
export const MIN_EVAL_SAMPLES = 10;

/**
 * Refuses, before a run's first step, what its --eval-every measurements would refuse after N steps:
 * images the classifier cannot read, classes it does not know, data without a test split or with too
 * few images for --eval-samples. Without `withData` (before the data loads, as --dry-run does) the
 * checks that need no data.
 */
export async function checkEvaluation(
  config: RunConfig,
  log: (line: string) => void,
  { withData = true } = {},
): Promise<void> {
  const points = config.sampleShape.length === 1; // 2-D points are measured against their mixture
  const cap = points ? MAX_MIXTURE_SAMPLES : MAX_IMAGE_SAMPLES;
  if (config.evalSamples > cap)
    throw new GanportError(
      `eval samples are capped at ${cap}${points ? ' for 2-D points' : ''}, got ${config.evalSamples}`,
    );
  if (points) return;
  const classifier = await Classifier.load(config.evalClassifier).catch((err: unknown) => {
    throw underFlag('--eval-classifier', err);
  });
  try {
    const classes = config.clusters === undefined ? config.numClasses : undefined; // clusters name no class
    checkClassifierFits(classifier, config.sampleShape, classes);
    if (!withData) return;
    const warning = fewSamplesWarning(config.evalSamples, classifier.featureSize);
    if (warning) log(`--eval-samples: ${warning}`);
    await realImages(classifier, config.sampleShape, classes, config.evalSamples, config.data, '--eval-samples');
  } catch (err) {
    throw underFlag('--eval-every', err);
  } finally {
    await classifier.dispose();
  }
}

/** `err` with `flag` in front, where it is a GanportError: the option to change. */
const underFlag = (flag: string, err: unknown): unknown =>
  err instanceof GanportError ? new GanportError(`${flag}: ${err.message}`, err.code) : err;

/** Measures `ema` on the run's `evalSamples` samples. */
export async function evaluateGenerator(ema: tf.LayersModel, config: RunConfig): Promise<EvalScores> {
  const samples = config.evalSamples;
  const generator = await loadGenerator(modelToBytes(ema, exportedModelFacts(config, 'NHWC').generator));
  try {
    if (config.sampleShape.length === 1) {
      const r = await evaluateMixture(generator, { mixture: config.data, samples, seeds: 1 });
      return {
        modes: r.modesCaptured.mean,
        highQualityPercent: r.highQualityPercent.mean,
        reverseKl: r.reverseKl.mean,
      };
    }
    const { generated: g } = await evaluateImages(generator, {
      samples,
      seed: 0,
      dataDir: config.data,
      classifier: config.evalClassifier,
    });
    const scores = { fcd: g.fcd, precision: g.precision, recall: g.recall, classKl: g.classKl };
    return g.classAccuracy === undefined ? scores : { ...scores, classAccuracy: g.classAccuracy };
  } finally {
    await generator.dispose();
  }
}
