/**
 * A run's metrics.jsonl (one line every log interval and at each epoch's end) and the
 * loss.svg chart drawn from it after every epoch.
 */
import { existsSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/files.js';

export interface MetricsLine {
  step: number;
  epoch: number;
  d_loss: number;
  g_loss: number;
  /** Mean sigmoid of D's logit on the real batch and on the fake one. */
  d_real: number;
  d_fake: number;
  images_per_sec: number;
  elapsed_s: number;
}

/** A line's record, or undefined when it is not one (torn by a kill mid-append, or damaged). */
function parseMetricsLine(line: string): MetricsLine | undefined {
  try {
    const record = JSON.parse(line) as MetricsLine;
    return Number.isSafeInteger(record?.step) && typeof record.d_loss === 'number' && typeof record.g_loss === 'number'
      ? record
      : undefined;
  } catch {
    return undefined;
  }
}

/** The records of metrics.jsonl; lines that are not records are skipped (resuming rewrites the file without them). */
export async function readMetrics(path: string): Promise<MetricsLine[]> {
  if (!existsSync(path)) return [];
  return (await readFile(path, 'utf8'))
    .split('\n')
    .map(parseMetricsLine)
    .filter((record) => record !== undefined);
}

export class MetricsWriter {
  /** The newest line written, if any. */
  last: MetricsLine | undefined;

  constructor(
    private readonly path: string,
    private readonly plotPath: string,
    private readonly title: string,
  ) {}

  /** On resume: drops lines past the checkpoint, which the resumed run will write again. */
  async truncateAfter(step: number): Promise<void> {
    const kept = (await readMetrics(this.path)).filter((m) => m.step <= step);
    await writeFileAtomic(this.path, kept.map((m) => `${JSON.stringify(m)}\n`).join(''));
  }

  async append(line: MetricsLine): Promise<void> {
    this.last = line;
    await appendFile(this.path, `${JSON.stringify(line)}\n`);
  }

  async writePlot(): Promise<void> {
    await writeFileAtomic(this.plotPath, lossPlotSvg(await readMetrics(this.path), this.title));
  }
}

/** A small SVG line chart of the run's D and G losses. */
export function lossPlotSvg(metrics: MetricsLine[], title: string): string {
  const width = 720;
  const height = 360;
  const margin = { left: 56, right: 16, top: 32, bottom: 40 };
  const steps = metrics.map((m) => m.step);
  const values = metrics.flatMap((m) => [m.d_loss, m.g_loss]).filter(Number.isFinite);
  const [x0, x1] = [Math.min(...steps, 0), Math.max(...steps, 1)];
  const [y0, y1] = [Math.min(0, ...values), Math.max(1, ...values)];
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0 || 1)) * (width - margin.left - margin.right);
  const sy = (y: number) =>
    height - margin.bottom - ((y - y0) / (y1 - y0 || 1)) * (height - margin.top - margin.bottom);
  const line = (key: 'd_loss' | 'g_loss') =>
    metrics.map((m, i) => `${i ? 'L' : 'M'}${sx(m.step).toFixed(1)},${sy(m[key]).toFixed(1)}`).join('');
  const ticks = Array.from({ length: 5 }, (_, i) => y0 + ((y1 - y0) * i) / 4);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${margin.left}" y="20" font-size="14">${escapeXml(title)}</text>
${ticks.map((t) => `<line x1="${margin.left}" x2="${width - margin.right}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#ddd"/><text x="${margin.left - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${t.toFixed(2)}</text>`).join('\n')}
<text x="${width / 2}" y="${height - 8}" text-anchor="middle">step (last ${x1})</text>
<path d="${line('d_loss')}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>
<path d="${line('g_loss')}" fill="none" stroke="#d62728" stroke-width="1.5"/>
<text x="${width - 140}" y="20" fill="#1f77b4">— D loss</text><text x="${width - 70}" y="20" fill="#d62728">— G loss</text>
</svg>
`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
