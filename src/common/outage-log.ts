import type { Logger } from '@nestjs/common';

/**
 * Logs a failing dependency once when it starts failing and once when it recovers, instead of on
 * every request or tick of the outage.
 */
export class OutageLog {
  private down = false;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  failed(error: unknown): void {
    if (this.down) return;
    this.down = true;
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.error(
      `${this.what} failed: ${reason}. Retrying with backoff; logged once until it recovers.`,
    );
  }

  succeeded(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.log(`${this.what} works again.`);
  }
}
