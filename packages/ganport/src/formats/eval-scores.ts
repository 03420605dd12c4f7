/**
 * What one measurement of a generator scored (`train --eval-every`, as `ganport eval` measures it):
 * recorded in a run's metrics.jsonl and in the model.json of the models kept for the best one.
 */

/** Image metrics: FCD, k-NN precision and recall, class KL and, for conditional models, requested-class accuracy. */
export interface ImageScores {
  fcd: number;
  precision: number;
  recall: number;
  class_kl: number;
  class_accuracy?: number;
}

/** The 2-D mixture protocol's: modes captured, the share of high-quality samples (%), reverse KL. */
export interface MixtureScores {
  modes: number;
  high_quality_percent: number;
  reverse_kl: number;
}

export type EvalScores = ImageScores | MixtureScores;

export type ScoreName = keyof ImageScores | keyof MixtureScores;

/** The names of the scores a measurement holds, in the order they were measured. */
export const scoreNames = (scores: EvalScores) => Object.keys(scores) as ScoreName[];

/** One score by name; undefined where this kind of measurement has none. */
export const scoreOf = (scores: EvalScores, name: ScoreName): number | undefined =>
  (scores as Partial<Record<ScoreName, number>>)[name];

/** The same kind of measurement with each score replaced by `value(name)` (a mean over runs, say). */
export const mapScores = (scores: EvalScores, value: (name: ScoreName) => number): EvalScores =>
  Object.fromEntries(scoreNames(scores).map((name) => [name, value(name)])) as unknown as EvalScores;
