/** The median of `xs` (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A figure measured in one round of a benchmark (bench:train's --rounds). */
export interface RoundFigure {
  round: number;
  ms: number;
}

/**
 * `figures` against `reference`, over the rounds both sides ran in (so that the ratio of the medians lies
 * within the range of the rounds' own ratios): undefined where they share no round.
 */
export interface RoundComparison {
  ratio: number;
  lowest: number;
  highest: number;
  /** How many rounds both sides ran in. */
  paired: number;
}

export function compareRounds(
  figures: readonly RoundFigure[],
  reference: readonly RoundFigure[],
): RoundComparison | undefined {
  const referenceIn = new Map(reference.map((r) => [r.round, r.ms]));
  const pairs = figures.flatMap(({ round, ms }) => {
    const other = referenceIn.get(round);
    return other === undefined ? [] : [[ms, other]];
  });
  if (pairs.length === 0) return undefined;
  const ratios = pairs.map(([ms, other]) => ms / other);
  return {
    ratio: median(pairs.map(([ms]) => ms)) / median(pairs.map(([, other]) => other)),
    lowest: Math.min(...ratios),
    highest: Math.max(...ratios),
    paired: pairs.length,
  };
}
