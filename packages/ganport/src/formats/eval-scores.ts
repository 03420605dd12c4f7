/**
 * What one measurement of a generator scored (`train --eval-every`, as `ganport eval` measures it):
 * recorded in a run's metrics.jsonl and in the model.json of the models kept for the best one.
 */
import { type FileFieldNames, fromFileFields, toFileFields } from '../util/file-fields.js';

/** Image metrics: FCD, k-NN precision and recall, class KL and, for conditional models, requested-class accuracy. */
export interface ImageScores {
  fcd: number;
  precision: number;
  recall: number;
  classKl: number;
  classAccuracy?: number;
}

/** The 2-D mixture protocol's: modes captured, the share of high-quality samples (%), reverse KL. */
export interface MixtureScores {
  modes: number;
  highQualityPercent: number;
  reverseKl: number;
}

export type EvalScores = ImageScores | MixtureScores;

export type ScoreName = keyof ImageScores | keyof MixtureScores;

/** The scores' names in metrics.jsonl and model.json. */
const FILE_NAMES: FileFieldNames<ImageScores & MixtureScores> = {
  fcd: 'fcd',
  precision: 'precision',
  recall: 'recall',
  classKl: 'class_kl',
  classAccuracy: 'class_accuracy',
  modes: 'modes',
  highQualityPercent: 'high_quality_percent',
  reverseKl: 'reverse_kl',
};

const isNumber = (value: unknown) => typeof value === 'number';

/** The scores under their names in the files. */
export const scoresToFile = (scores: EvalScores) => toFileFields(scores, FILE_NAMES);

/** Scores read from a file, or undefined when the record holds neither kind of measurement. */
export function scoresFromFile(record: unknown): EvalScores | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const scores = fromFileFields(record, FILE_NAMES);
  const { fcd, precision, recall, classKl, classAccuracy, modes, highQualityPercent, reverseKl } = scores;
  if ([fcd, precision, recall, classKl].every(isNumber) && (classAccuracy === undefined || isNumber(classAccuracy)))
    return scores as ImageScores;
  if ([modes, highQualityPercent, reverseKl].every(isNumber)) return scores as MixtureScores;
  return undefined;
}

/** A score's name for people: highQualityPercent → "high quality percent". */
export const scoreLabel = (name: ScoreName) => name.replace(/[A-Z]/g, (letter) => ` ${letter.toLowerCase()}`);

/** The names of the scores a measurement holds, in the order they were measured. */
export const scoreNames = (scores: EvalScores) => Object.keys(scores) as ScoreName[];

/** One score by name; undefined where this kind of measurement has none. */
export const scoreOf = (scores: EvalScores, name: ScoreName): number | undefined =>
  (scores as Partial<Record<ScoreName, number>>)[name];

/** The same kind of measurement with each score replaced by `value(name)` (a mean over runs, say). */
export const mapScores = (scores: EvalScores, value: (name: ScoreName) => number): EvalScores =>
  Object.fromEntries(scoreNames(scores).map((name) => [name, value(name)])) as unknown as EvalScores;
