import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type {
  RunCompletedEvent,
  RunExpiredEvent,
  RunFailedEvent,
  ZapierEventName,
  ZapierRunError,
  ZapierRunSource,
} from '../../src/index.js';

/** One event as the demo's listener heard it. */
export interface HeardEvent {
  name: ZapierEventName;
  runId: string;
  metadata: Record<string, unknown> | null;
  attempt: number;
  /** `null` for an expired run. */
  source: ZapierRunSource | null;
  results?: Record<string, unknown>[];
  errors?: ZapierRunError[];
  expiredReason?: string;
  /** `Date.now()` when heard. */
  at: number;
}

/**
 * The app's listeners, written the way the README tells users to (plain `@OnEvent`): each
 * records what it heard, and tells whoever subscribed (progress, `--serve` output).
 */
@Injectable()
export class DemoListener {
  readonly heard: HeardEvent[] = [];
  private readonly subscribers = new Set<(event: HeardEvent) => void>();

  /** Calls `subscriber` for every event from now on; returns the unsubscribe function. */
  subscribe(subscriber: (event: HeardEvent) => void): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  @OnEvent('zapier.run.completed')
  completed(event: RunCompletedEvent): void {
    this.record('zapier.run.completed', event, { source: event.source, results: event.results });
  }

  @OnEvent('zapier.run.failed')
  failed(event: RunFailedEvent): void {
    this.record('zapier.run.failed', event, { source: event.source, errors: event.errors });
  }

  @OnEvent('zapier.run.expired')
  expired(event: RunExpiredEvent): void {
    this.record('zapier.run.expired', event, { source: null, expiredReason: event.reason });
  }

  private record(
    name: ZapierEventName,
    event: RunCompletedEvent | RunFailedEvent | RunExpiredEvent,
    details: Pick<HeardEvent, 'source' | 'results' | 'errors' | 'expiredReason'>,
  ): void {
    const heard: HeardEvent = {
      name,
      runId: event.runId,
      metadata: event.metadata,
      attempt: event.attempt,
      ...details,
      at: Date.now(),
    };
    this.heard.push(heard);
    for (const subscriber of this.subscribers) subscriber(heard);
  }
}
