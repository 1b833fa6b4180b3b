/** Counters the progress display shows. */
export interface ProgressSnapshot {
  planned: number;
  /** Create calls answered with a run id. */
  started: number;
  /** Create calls that threw. */
  createErrors: number;
  /** Started runs whose event was heard. */
  heard: number;
  completed: number;
  failed: number;
  expired: number;
  /** Results found by the poller. */
  viaPoll: number;
}

type Output = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

const BAR_WIDTH = 24;

/**
 * Shows how far the demo is: a live single line with a bar on a terminal, a plain line every
 * second otherwise (CI logs, pipes). Lines printed through {@link print} appear above the live
 * line instead of through it.
 */
export class Progress {
  private readonly tty: boolean;
  private timer: NodeJS.Timeout | undefined;
  private lastPlain = '';
  private drawn = false;

  constructor(
    private readonly out: Output,
    private readonly snapshot: () => ProgressSnapshot,
    private readonly startedAt = Date.now(),
  ) {
    this.tty = out.isTTY === true;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.render(), this.tty ? 100 : 1000);
    this.timer.unref();
    this.render();
  }

  /** Draws the final state and leaves the line in place. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.render();
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  /** Prints a whole line without tearing the live line. */
  print(line: string): void {
    this.clearLine();
    this.out.write(`${line}\n`);
    if (this.timer) this.render();
  }

  /** Runs `write` (which prints whole lines) with the live line out of its way. */
  around(write: () => void): void {
    this.clearLine();
    write();
    if (this.timer) this.render();
  }

  private clearLine(): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }

  private render(): void {
    const s = this.snapshot();
    const elapsed = `${((Date.now() - this.startedAt) / 1000).toFixed(1)} s`;
    const counts =
      `started ${s.started} · completed ${s.completed} · failed ${s.failed} · ` +
      `expired ${s.expired} · via poll ${s.viaPoll}` +
      (s.createErrors > 0 ? ` · create errors ${s.createErrors}` : '');
    if (this.tty) {
      const done = s.planned === 0 ? 1 : (s.heard + s.createErrors) / s.planned;
      const filled = Math.min(BAR_WIDTH, Math.round(done * BAR_WIDTH));
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
      const line = `${bar} ${s.heard}/${s.planned} heard · ${elapsed} · ${counts}`;
      const width = this.out.columns ?? 120;
      this.out.write(`\r\x1b[2K${line.length > width - 1 ? line.slice(0, width - 1) : line}`);
      this.drawn = true;
      return;
    }
    const plain = `progress: ${s.heard}/${s.planned} heard (${counts})`;
    if (plain === this.lastPlain) return;
    this.lastPlain = plain;
    this.out.write(`${plain} after ${elapsed}\n`);
  }
}
