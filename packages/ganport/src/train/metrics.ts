/**
 * A run's metrics.jsonl (a loss line every log interval and at each epoch's end, and with
 * `--eval-every` an evaluation line every N steps) and the charts drawn from it: loss.svg
 * after every epoch, eval.svg after every evaluation.
 */
import { existsSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { GanportError } from '@ganport/runtime';
import {
  type EvalScores,
  scoreLabel,
  scoreNames,
  scoreOf,
  scoresFromFile,
  scoresToFile,
} from '../formats/eval-scores.js';
import { type FileFieldNames, fromFileFields, toFileFields } from '../util/file-fields.js';
import { writeFileAtomic } from '../util/files.js';

export interface MetricsLine {
  step: number;
  epoch: number;
  dLoss: number;
  gLoss: number;
  /** Mean sigmoid of D's logit on the real batch and on the fake one. */
  dReal: number;
  dFake: number;
  imagesPerSecond: number;
  elapsedSeconds: number;
}

/** A loss line's fields as metrics.jsonl names them. */
const METRICS_FILE_NAMES: FileFieldNames<MetricsLine> = {
  step: 'step',
  epoch: 'epoch',
  dLoss: 'd_loss',
  gLoss: 'g_loss',
  dReal: 'd_real',
  dFake: 'd_fake',
  imagesPerSecond: 'images_per_sec',
  elapsedSeconds: 'elapsed_s',
};

/** A `train --eval-every` measurement: the step it was taken at and what was measured. */
export interface EvalLine {
  step: number;
  epoch: number;
  eval: EvalScores;
}

const isMetricsLine = (r: MetricsLine | EvalLine): r is MetricsLine => !('eval' in r);
const isEvalLine = (r: MetricsLine | EvalLine): r is EvalLine => 'eval' in r;

/** A line's record of either kind, or undefined when it is neither (torn by a kill mid-append, or damaged). */
function parseLine(line: string): MetricsLine | EvalLine | undefined {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null) return undefined;
  const fields = fromFileFields(record, METRICS_FILE_NAMES);
  if (!Number.isSafeInteger(fields.step)) return undefined;
  if ('eval' in record) {
    const scores = scoresFromFile(record.eval);
    return scores && { step: fields.step as number, epoch: fields.epoch as number, eval: scores };
  }
  return typeof fields.dLoss === 'number' && typeof fields.gLoss === 'number' ? (fields as MetricsLine) : undefined;
}

/** Appends one JSON line; the record's fields already carry the file's names. */
export async function appendJsonLine(path: string, record: object): Promise<void> {
  try {
    await appendFile(path, `${JSON.stringify(record)}\n`);
  } catch (err) {
    // a full disk, say: one line naming the file, as a failed writeFileAtomic gives
    throw new GanportError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Every record of metrics.jsonl, in order; lines that are not records are skipped (resuming rewrites the file without them). */
async function readLines(path: string): Promise<(MetricsLine | EvalLine)[]> {
  if (!existsSync(path)) return [];
  return (await readFile(path, 'utf8'))
    .split('\n')
    .map(parseLine)
    .filter((record) => record !== undefined);
}

/** The loss records of metrics.jsonl. */
export async function readMetrics(path: string): Promise<MetricsLine[]> {
  return (await readLines(path)).filter(isMetricsLine);
}

/** The evaluation lines of metrics.jsonl (written by `train --eval-every`), in order. */
export async function readEvalLines(path: string): Promise<EvalLine[]> {
  return (await readLines(path)).filter(isEvalLine);
}

export class MetricsWriter {
  /** The newest line written, if any. */
  last: MetricsLine | undefined;

  constructor(
    private readonly path: string,
    private readonly plotPath: string,
    private readonly title: string,
  ) {}

  /**
   * On resume: drops lines past the checkpoint, which the resumed run will write again (and torn ones);
   * the newest line kept is `last` until the run writes another.
   */
  async truncateAfter(step: number): Promise<void> {
    if (!existsSync(this.path)) return;
    const kept = (await readFile(this.path, 'utf8')).split('\n').filter((line) => {
      const record = parseLine(line);
      return record !== undefined && record.step <= step;
    });
    await writeFileAtomic(this.path, kept.map((line) => `${line}\n`).join(''));
    this.last = (await readMetrics(this.path)).at(-1);
  }

  /** Appends a measurement and redraws the evaluation plot beside the loss plot. */
  async appendEval({ step, epoch, eval: scores }: EvalLine, plotPath: string): Promise<void> {
    await appendJsonLine(this.path, { step, epoch, eval: scoresToFile(scores) });
    await writeFileAtomic(plotPath, evalPlotSvg(await readEvalLines(this.path), this.title.replace(/: losses$/, '')));
  }

  async append(line: MetricsLine): Promise<void> {
    this.last = line;
    await appendJsonLine(this.path, toFileFields(line, METRICS_FILE_NAMES));
  }

  async writePlot(): Promise<void> {
    await writeFileAtomic(this.plotPath, lossPlotSvg(await readMetrics(this.path), this.title));
  }
}

interface Series {
  label: string;
  color: string;
  points: [step: number, value: number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
const WIDTH = 720;

/** The least and greatest of `values` (no spread into arguments: a long run's metrics hold 100,000s). */
function extent(values: Iterable<number>): [number, number] | undefined {
  let [lo, hi] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : undefined;
}

/**
 * The points drawn: where more than two fall in one pixel column, only the column's lowest and highest
 * (in step order), so the envelope stays and a long run's SVG stays small.
 */
export function thinPoints(points: [number, number][], column: (x: number) => number): [number, number][] {
  const kept: [number, number][] = [];
  for (let i = 0; i < points.length; ) {
    const col = Math.round(column(points[i][0]));
    let [lo, hi] = [i, i];
    let j = i;
    for (; j < points.length && Math.round(column(points[j][0])) === col; j++) {
      if (points[j][1] < points[lo][1]) lo = j;
      if (points[j][1] > points[hi][1]) hi = j;
    }
    for (const k of lo === hi ? [lo] : [Math.min(lo, hi), Math.max(lo, hi)]) kept.push(points[k]);
    i = j;
  }
  return kept;
}

/**
 * One line chart against the step, as an SVG group of the given height at vertical offset `top`. The
 * value axis runs from 0 (or the least value, if negative) to the greatest value.
 */
function chart(title: string, series: Series[], top: number, height: number): string {
  const margin = { left: 56, right: 16, top: 32, bottom: 40 };
  const [x0, x1] = extent(series.flatMap((s) => s.points.map(([step]) => step))) ?? [0, 1];
  const [least, greatest] = extent(series.flatMap((s) => s.points.map(([, v]) => v))) ?? [0, 1];
  const y0 = Math.min(0, least);
  const y1 = greatest > y0 ? greatest : y0 + 1;
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0 || 1)) * (WIDTH - margin.left - margin.right);
  const sy = (y: number) =>
    height - margin.bottom - ((y - y0) / (y1 - y0 || 1)) * (height - margin.top - margin.bottom);
  const path = (s: Series) =>
    thinPoints(s.points, sx).map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
  const ticks = Array.from({ length: 5 }, (_, i) => y0 + ((y1 - y0) * i) / 4);
  // enough decimals that the ticks differ: 2 for a span of 1 to 10, 4 for one of 0.01 to 0.1
  const decimals = Math.min(8, Math.max(0, 2 - Math.floor(Math.log10(y1 - y0))));
  const grid = ticks.map((t) => {
    const y = sy(t).toFixed(1);
    const label = `<text x="${margin.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${t.toFixed(decimals)}</text>`;
    return `<line x1="${margin.left}" x2="${WIDTH - margin.right}" y1="${y}" y2="${y}" stroke="#ddd"/>${label}`;
  });
  const legend = series.map(
    (s, i) => `<text x="${WIDTH - 70 * (series.length - i)}" y="20" fill="${s.color}">— ${escapeXml(s.label)}</text>`,
  );
  const lines = series.map((s) => `<path d="${path(s).join('')}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
  return `<g transform="translate(0 ${top})">
<text x="${margin.left}" y="20" font-size="14">${escapeXml(title)}</text>
${grid.join('\n')}
<text x="${WIDTH / 2}" y="${height - 8}" text-anchor="middle">step (last ${x1})</text>
${lines.join('\n')}
${legend.join('')}
</g>`;
}

function svg(height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${body}
</svg>
`;
}

/** A small SVG line chart of the run's D and G losses. */
export function lossPlotSvg(metrics: MetricsLine[], title: string): string {
  const series = (label: string, key: 'dLoss' | 'gLoss', color: string): Series => ({
    label,
    color,
    points: metrics.map((m) => [m.step, m[key]]),
  });
  return svg(360, chart(title, [series('D loss', 'dLoss', COLORS[0]), series('G loss', 'gLoss', COLORS[1])], 0, 360));
}

/** One chart per measured quantity (FCD, precision, recall, … or modes, high quality, reverse KL), stacked. */
export function evalPlotSvg(lines: EvalLine[], title: string): string {
  const keys = [...new Set(lines.flatMap((l) => scoreNames(l.eval)))];
  const charts = keys.map((key, i) => {
    const points = lines.flatMap((l): [number, number][] => {
      const value = scoreOf(l.eval, key);
      return value === undefined ? [] : [[l.step, value]];
    });
    const label = scoreLabel(key);
    return chart(
      i === 0 ? `${title}: ${label}` : label,
      [{ label, color: COLORS[i % COLORS.length], points }],
      240 * i,
      240,
    );
  });
  return svg(240 * Math.max(keys.length, 1), charts.join('\n'));
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
