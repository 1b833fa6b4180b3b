import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ZAPIER_CLOCK, ZAPIER_OPTIONS, ZAPIER_POLLER_JOB } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { ZAPIER_HOST, type ZapierHost } from '../zapier-host.provider.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierValueRefusedError } from '../errors/zapier-storage.errors.js';
import { backoffDelay } from '../common/backoff.js';
import { exceedsJsonLimits } from '../common/json-limits.js';
import { OutageLog } from '../common/outage-log.js';
import { ZapierClient } from '../client/zapier.client.js';
import { ZapierApiError } from '../client/zapier-api.error.js';
import { ZapierRunLifecycle } from '../runs/zapier-run-lifecycle.js';
import { ZapierPollSchedule, type OverdueRun } from '../runs/zapier-poll-schedule.js';
import { ZapierTelemetry } from '../telemetry/zapier-telemetry.js';
import {
  ZAPIER_ATTRIBUTES,
  ZAPIER_SPANS,
  type PollOutcome,
} from '../telemetry/zapier-instruments.js';

/** What one read of a run gave: whether the round goes on, and how to count it (none: shutdown). */
interface PollStep {
  goOn: boolean;
  outcome: PollOutcome | null;
}

/**
 * The polling fallback. Every `polling.intervalMs` (never overlapping), it expires runs older
 * than Zapier's retention, then takes overdue pending runs one at a time (oldest due first, see
 * `ZapierPollSchedule`), reads each within the shared request budget, and records a terminal
 * result through the same path as callbacks (`ZapierRunLifecycle`, so a poll racing a callback
 * still gives one event). A run still pending is read again after a growing, jittered gap. It
 * keeps going while runs are due, so a backlog drains at the budget's pace; several instances
 * share the runs and the budget.
 */
@Injectable()
export class ZapierOverdueRunPoller implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ZapierPoller');
  private readonly outage = new OutageLog(this.logger, 'Polling overdue runs');
  private ticking: Promise<void> | undefined;
  private stopping = false;
  private pausedUntil = 0;
  private readonly shutdown = new AbortController();

  constructor(
    private readonly client: ZapierClient,
    private readonly runs: ZapierRunLifecycle,
    private readonly schedule: ZapierPollSchedule,
    @Inject(ZAPIER_HOST) private readonly host: ZapierHost,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
    @Optional() private readonly telemetry: ZapierTelemetry = ZapierTelemetry.disabled,
  ) {}

  onApplicationBootstrap(): void {
    const interval = setInterval(() => void this.tick(), this.options.polling.intervalMs);
    this.host.scheduler.addInterval(ZAPIER_POLLER_JOB, interval);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.shutdown.abort();
    if (this.host.scheduler.doesExist('interval', ZAPIER_POLLER_JOB)) {
      this.host.scheduler.deleteInterval(ZAPIER_POLLER_JOB);
    }
    await this.ticking;
    await this.schedule.releaseAll().catch(() => undefined);
  }

  /** One poller round; a call while one runs waits for it instead of starting another. */
  tick(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.ticking ??= this.round().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async round(): Promise<void> {
    try {
      await this.host.readiness?.waitUntilReady();
      await this.runs.expireRetained();
      if (this.options.polling.enabled) {
        // A round holds no claim when it starts: any left under this instance's name is from a
        // round the database failed under, and would otherwise block its run for a whole lease.
        await this.schedule.releaseAll();
        await this.pollDue();
      }
      this.outage.succeeded();
    } catch (error) {
      this.outage.failed(error);
    }
  }

  private async pollDue(): Promise<void> {
    while (!this.stopping && this.clock.now() >= this.pausedUntil) {
      const polled = await this.schedule.readNext((run) => this.poll(run));
      if (polled === null || !polled.value) return;
    }
  }

  /** Reads one claimed run, in a span of its own; returns whether the round should go on. */
  private poll(run: OverdueRun): Promise<boolean> {
    return this.telemetry.span(
      ZAPIER_SPANS.poll,
      { [ZAPIER_ATTRIBUTES.runId]: run.runId },
      async () => {
        try {
          const step = await this.pollOnce(run);
          if (step.outcome) this.telemetry.poll(step.outcome);
          return step.goOn;
        } catch (error) {
          this.telemetry.poll('failed');
          throw error;
        }
      },
    );
  }

  private async pollOnce(run: OverdueRun): Promise<PollStep> {
    let read: Awaited<ReturnType<ZapierClient['readActionRun']>>;
    try {
      read = await this.client.readActionRun(run.runId, this.shutdown.signal);
    } catch (error) {
      return this.handleFailure(run, error);
    }
    const now = this.clock.now();
    if (read.run.status === 'pending') {
      await this.reschedule(run, now, null);
      return { goOn: true, outcome: 'pending' };
    }
    const limits = this.options.resultLimits;
    const tooLarge =
      exceedsJsonLimits(read.run.results, limits, 'results') ??
      exceedsJsonLimits(read.run.errors, limits, 'errors');
    if (tooLarge !== undefined) {
      await this.park(run, tooLarge);
      return { goOn: true, outcome: 'parked' };
    }
    try {
      await this.runs.recordResult({
        runId: run.runId,
        status: read.run.status,
        results: read.run.results,
        errors: read.run.errors,
        rawPayload: read.raw,
        source: 'poll',
        receivedAt: now,
      });
    } catch (error) {
      // Any other failure is the database's, and ends the round (the run is read again later).
      if (!(error instanceof ZapierValueRefusedError)) throw error;
      await this.park(run, error.reason);
      return { goOn: true, outcome: 'parked' };
    }
    return { goOn: true, outcome: 'completed' };
  }

  /**
   * A result that cannot be stored would fail again on every read, and the run, due first, would
   * be claimed first in every round, starving the runs due after it: it is parked instead.
   */
  private async park(run: OverdueRun, reason: string): Promise<void> {
    await this.schedule.park(run, reason);
    this.logger.warn(ZapierMessages.pollResultParked(run.runId, reason));
  }

  private async handleFailure(run: OverdueRun, error: unknown): Promise<PollStep> {
    const now = this.clock.now();
    if ((error as Error).name === 'AbortError') {
      // Shutting down: the claim is released in beforeApplicationShutdown.
      return { goOn: false, outcome: null };
    }
    if (!(error instanceof ZapierApiError)) throw error;
    if (error.status === 404) {
      const age = now - (run.submittedAt ?? run.createdAt);
      if (age >= this.options.polling.notFoundGraceMs) {
        await this.runs.expireNotFound(run.runId);
      } else {
        await this.reschedule(run, now, error.message);
      }
      return { goOn: true, outcome: 'not_found' };
    }
    if (error.status === 429) {
      // The budget is already in cooldown; this run goes back in the queue unchanged.
      await this.schedule.reschedule(run, {
        nextAt: now,
        attempts: run.pollAttempts,
        lastError: error.message,
      });
      return { goOn: false, outcome: 'rate_limited' };
    }
    if (error.status === 401 || error.status === 403) {
      this.pausedUntil = now + this.options.polling.authErrorPauseMs;
      this.logger.error(
        ZapierMessages.accessTokenRefused(
          error.status,
          Math.round(this.options.polling.authErrorPauseMs / 1000),
        ),
      );
      await this.schedule.reschedule(run, {
        nextAt: this.pausedUntil,
        attempts: run.pollAttempts,
        lastError: error.message,
      });
      return { goOn: false, outcome: 'failed' };
    }
    await this.reschedule(run, now, error.message);
    return { goOn: true, outcome: 'failed' };
  }

  private async reschedule(run: OverdueRun, now: number, lastError: string | null): Promise<void> {
    const attempts = run.pollAttempts + 1;
    const { initialBackoffMs, maxBackoffMs } = this.options.polling;
    await this.schedule.reschedule(run, {
      nextAt: now + backoffDelay(attempts, initialBackoffMs, maxBackoffMs),
      attempts,
      lastError,
    });
  }
}
