import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { RunCompletedEvent } from '../../src/events/run-completed.event.js';
import type { RunExpiredEvent } from '../../src/events/run-expired.event.js';
import type { RunFailedEvent } from '../../src/events/run-failed.event.js';

type Recorded =
  | { name: 'zapier.run.completed'; event: RunCompletedEvent }
  | { name: 'zapier.run.failed'; event: RunFailedEvent }
  | { name: 'zapier.run.expired'; event: RunExpiredEvent };

/**
 * A listener written the way the README tells users to (plain `@OnEvent`), recording every
 * event it hears. `failures` makes it throw for the first N deliveries of a run; `delayMs`
 * makes it slow; `hanging` makes it never return for some runs.
 */
@Injectable()
export class RecordingListener {
  readonly events: Recorded[] = [];
  failures = 0;
  delayMs = 0;
  /** Runs whose deliveries never return: the listener's promise stays pending for good. */
  readonly hanging = new Set<string>();
  /** Every call, as `runId#attempt`, heard or not (a call that hangs or throws is here too). */
  readonly started: string[] = [];
  /** While set, every delivery waits for it (see `hold`). */
  private gate: Promise<void> | undefined;
  private readonly attempts = new Map<string, number>();

  @OnEvent('zapier.run.completed')
  async completed(event: RunCompletedEvent): Promise<void> {
    await this.handle({ name: 'zapier.run.completed', event });
  }

  @OnEvent('zapier.run.failed')
  async failed(event: RunFailedEvent): Promise<void> {
    await this.handle({ name: 'zapier.run.failed', event });
  }

  @OnEvent('zapier.run.expired')
  async expired(event: RunExpiredEvent): Promise<void> {
    await this.handle({ name: 'zapier.run.expired', event });
  }

  /**
   * Makes every delivery from now on wait until the returned function is called: listeners that
   * have not returned, without a timer deciding how long.
   */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.gate = undefined;
      release();
    };
  }

  /** Events heard for one run. */
  forRun(runId: string): Recorded[] {
    return this.events.filter((recorded) => recorded.event.runId === runId);
  }

  /** Resolves once `count` events were heard, or rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < count) {
      if (Date.now() > deadline) {
        throw new Error(
          `Expected ${count} events within ${timeoutMs} ms, heard ${this.events.length}.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private async handle(recorded: Recorded): Promise<void> {
    const attempt = (this.attempts.get(recorded.event.runId) ?? 0) + 1;
    this.attempts.set(recorded.event.runId, attempt);
    this.started.push(`${recorded.event.runId}#${recorded.event.attempt}`);
    if (this.hanging.has(recorded.event.runId)) await new Promise<never>(() => undefined);
    if (this.gate) await this.gate;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (attempt <= this.failures) {
      throw new Error(`listener failure ${attempt} for ${recorded.event.runId}`);
    }
    this.events.push(recorded);
  }
}
