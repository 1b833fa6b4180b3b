import type { Logger } from '@nestjs/common';
import { ZapierMessages } from '../zapier.messages.js';

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
    this.logger.error(ZapierMessages.outageStarted(this.what, reason));
  }

  succeeded(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.log(ZapierMessages.outageEnded(this.what));
  }
}
