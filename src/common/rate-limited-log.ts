import type { Logger } from '@nestjs/common';
import { ZapierMessages } from '../zapier.messages.js';

const WINDOW_MS = 60_000;

/**
 * Warnings that a request from anyone can cause (a bad signature, a refused body), at most a few
 * a minute per kind: a flood of forged requests must not fill a disk with log lines. What was
 * left out is counted, and the count is said with the next warning of that kind that is logged.
 */
export class RateLimitedLog {
  private readonly windows = new Map<
    string,
    { startedAt: number; logged: number; skipped: number }
  >();

  constructor(
    private readonly logger: Logger,
    private readonly perMinute = 5,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `message()` unless `kind` has had its share this minute; the message is built only when logged. */
  warn(kind: string, message: () => string): void {
    const now = this.now();
    let window = this.windows.get(kind);
    if (!window || now - window.startedAt >= WINDOW_MS) {
      const skipped = window?.skipped ?? 0;
      window = { startedAt: now, logged: 0, skipped };
      this.windows.set(kind, window);
    }
    if (window.logged >= this.perMinute) {
      window.skipped += 1;
      return;
    }
    window.logged += 1;
    const skipped = window.skipped;
    window.skipped = 0;
    this.logger.warn(
      skipped > 0 ? `${message()} ${ZapierMessages.warningsSkipped(skipped)}` : message(),
    );
  }
}
