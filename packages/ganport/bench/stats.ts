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

/** `figures` against `reference`: the ratio of their medians, and the range of each round's own ratio. */
export interface RoundComparison {
  ratio: number;
  /** Over the rounds both sides ran in. */
  lowest: number;
  highest: number;
}

export function compareRounds(figures: readonly RoundFigure[], reference: readonly RoundFigure[]): RoundComparison {
  const referenceIn = new Map(reference.map((r) => [r.round, r.ms]));
  const ratios = figures.flatMap(({ round, ms }) => {
    const other = referenceIn.get(round);
    return other === undefined ? [] : [ms / other];
  });
  return {
    ratio: median(figures.map((f) => f.ms)) / median(reference.map((r) => r.ms)),
    lowest: Math.min(...ratios),
    highest: Math.max(...ratios),
  };
}
