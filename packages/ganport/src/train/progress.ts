/**
 * A one-line progress bar on stderr. On a terminal it redraws in place; when
 * stderr is a file or pipe (CI logs) it prints a plain line at most every few seconds.
 */
export interface ProgressState {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  imagesPerSecond: number;
  /** The latest losses by label (D and G for a GAN, loss for a classifier); undefined before the first is logged. */
  losses: Record<string, number | undefined>;
  etaSeconds: number;
}

export class ProgressBar {
  private lastPrint = 0;
  private readonly tty: boolean;
  /** The line on screen (a terminal's), if any. */
  private shown: string | undefined;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 24,
    private readonly quiet = false,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(state: ProgressState, force = false): void {
    if (this.quiet) return;
    const now = Date.now();
    if (!force && now - this.lastPrint < (this.tty ? 100 : 5000)) return;
    this.lastPrint = now;
    const line = formatProgress(state, this.width);
    if (this.tty) {
      this.stream.write(`\r${line}\x1b[K`);
      this.shown = line;
    } else this.stream.write(`${line}\n`);
  }

  /** Lets `print` write a line of its own while the bar is on screen: the bar clears its line, then redraws it below. */
  interrupt(print: () => void): void {
    if (this.shown !== undefined) this.stream.write('\r\x1b[K');
    print();
    if (this.shown !== undefined) this.stream.write(this.shown);
  }

  /** Ends the bar's line so later output starts on a fresh one. */
  done(): void {
    if (this.tty && !this.quiet) this.stream.write('\n');
    this.shown = undefined;
  }
}

export function formatProgress(s: ProgressState, width = 24): string {
  const filled = s.steps > 0 ? Math.round((s.step / s.steps) * width) : 0;
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const losses = Object.entries(s.losses).map(([label, v]) => `${label} ${v === undefined ? '  -  ' : v.toFixed(3)}`);
  return (
    `epoch ${s.epoch}/${s.epochs} ${bar} ${String(s.step).padStart(String(s.steps).length)}/${s.steps}` +
    ` | ${Math.round(s.imagesPerSecond)} img/s | ${losses.join(' ')} | ETA ${formatDuration(s.etaSeconds)}`
  );
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}
