import type { BenchServer } from './bench-context.js';
import type { ServerStats } from './bench-messages.js';

/** What the highest sample held: RSS, and how much of it was V8's heap and external memory. */
export type MemoryAtPeak = Pick<ServerStats, 'rss' | 'heapTotal' | 'heapUsed' | 'external'>;

/**
 * Asks a server for its RSS every `intervalMs` (over its stats IPC, one question at a time) and
 * keeps the highest answer of the current window. The kernel's own high-water mark
 * (`ServerStats.rssPeak`) catches what falls between two samples; the samples show the peak is
 * not a one-off.
 */
export class RssSampler {
  private running = true;
  private peak: MemoryAtPeak | undefined;
  private count = 0;
  private readonly loop: Promise<void>;

  constructor(
    private readonly server: BenchServer,
    private readonly intervalMs = 100,
  ) {
    this.loop = this.sample();
  }

  /** Starts a new window; returns the peak and the number of samples of the one it ends. */
  window(): { peakBytes: number; atPeak: MemoryAtPeak | undefined; samples: number } {
    const ended = { peakBytes: this.peak?.rss ?? 0, atPeak: this.peak, samples: this.count };
    this.peak = undefined;
    this.count = 0;
    return ended;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async sample(): Promise<void> {
    while (this.running) {
      try {
        const { rss, heapTotal, heapUsed, external } = await this.server.stats();
        if (rss > (this.peak?.rss ?? 0)) this.peak = { rss, heapTotal, heapUsed, external };
        this.count += 1;
      } catch {
        // A server too busy to answer within the stats timeout is what the high-water mark is for.
      }
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    }
  }
}
