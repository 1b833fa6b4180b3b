import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ZAPIER_CLOCK, ZAPIER_OPTIONS, ZAPIER_POLLER_JOB } from '../zapier.constants.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { ZAPIER_HOST, type ZapierHost } from '../zapier-host.provider.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { backoffDelay } from '../common/backoff.js';
import { OutageLog } from '../common/outage-log.js';
import { ZapierClient } from '../client/zapier.client.js';
import { ZapierApiError } from '../client/zapier-api.error.js';
import { ZapierDispatcher } from '../delivery/zapier-delivery.runner.js';
import { ZapierResultRecorder } from '../storage/zapier-result.recorder.js';
import { ZapierRunStore } from '../storage/zapier-run.store.js';
import type { ClaimContext, PollableRun } from '../storage/stored-run.js';

/** Runs expired per statement by the retention sweep. */
const EXPIRY_BATCH = 500;

/**
 * The polling fallback. Every `polling.intervalMs` (never overlapping), it expires runs older
 * than Zapier's retention, then claims overdue pending runs one at a time (oldest due first),
 * reads each within the shared request budget, and stores a terminal result through the same
 * path as callbacks (so a poll racing a callback still gives one event). A run still pending is
 * read again after a growing, jittered gap. It keeps going while runs are due, so a backlog
 * drains at the budget's pace.
 *
 * Several instances: a claim is a guarded UPDATE (with SKIP LOCKED on PostgreSQL) that holds the
 * run for one instance until it is rescheduled or the claim times out, and the budget is a single
 * shared row, so together the instances never exceed it.
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
    private readonly store: ZapierRunStore,
    private readonly recorder: ZapierResultRecorder,
    private readonly dispatcher: ZapierDispatcher,
    @Inject(ZAPIER_HOST) private readonly host: ZapierHost,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
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
    await this.store.releasePollClaims(this.options.instanceId).catch(() => undefined);
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
      await this.expireRetained();
      if (this.options.polling.enabled) {
        // A round holds no claim when it starts: any left under this instance's name is from a
        // round the database failed under, and would otherwise block its run for a whole lease.
        await this.store.releasePollClaims(this.options.instanceId);
        await this.pollDue();
      }
      this.outage.succeeded();
    } catch (error) {
      this.outage.failed(error);
    }
  }

  /** A claim for polling (renewed while held) or for delivering an expired run's event. */
  private claim(kind: 'poll' | 'delivery'): ClaimContext {
    const now = this.clock.now();
    const leaseMs = kind === 'poll' ? this.options.polling.leaseMs : this.options.delivery.leaseMs;
    return { now, instanceId: this.options.instanceId, claimUntil: now + leaseMs };
  }

  private async expireRetained(): Promise<void> {
    for (;;) {
      const claim = this.claim('delivery');
      const expired = await this.store.expire(
        { createdBefore: claim.now - this.options.polling.retentionMs, limit: EXPIRY_BATCH },
        'retention',
        claim,
      );
      if (expired.length > 0) {
        this.logger.warn(
          `${expired.length} run(s) expired without a result (older than Zapier's retention).`,
        );
      }
      this.dispatcher.enqueue(expired);
      if (expired.length < EXPIRY_BATCH) return;
    }
  }

  private async pollDue(): Promise<void> {
    while (!this.stopping && this.clock.now() >= this.pausedUntil) {
      const [run] = await this.store.claimDuePolls(this.claim('poll'), 1);
      if (!run) return;
      if (!(await this.whileHolding(run, () => this.poll(run)))) return;
    }
  }

  /**
   * Keeps the claim on `run` alive while `work` runs (a budget slot or Zapier's answer may take
   * longer than the lease), so the claim of a live instance never runs out under it.
   */
  private async whileHolding<T>(run: PollableRun, work: () => Promise<T>): Promise<T> {
    const { leaseMs } = this.options.polling;
    const renew = setInterval(() => {
      const until = this.clock.now() + leaseMs;
      void this.store
        .renewPollClaim(run.runId, this.options.instanceId, until)
        .catch(() => undefined);
    }, leaseMs / 3);
    try {
      return await work();
    } finally {
      clearInterval(renew);
    }
  }

  /** Reads one claimed run; returns whether the round should go on. */
  private async poll(run: PollableRun): Promise<boolean> {
    let read: Awaited<ReturnType<ZapierClient['readActionRun']>>;
    try {
      read = await this.client.readActionRun(run.runId, this.shutdown.signal);
    } catch (error) {
      return this.handleFailure(run, error);
    }
    const now = this.clock.now();
    if (read.run.status === 'pending') {
      await this.reschedule(run, now, null);
      return true;
    }
    await this.recorder.record({
      runId: run.runId,
      status: read.run.status,
      results: read.run.results,
      errors: read.run.errors,
      rawPayload: read.raw,
      source: 'poll',
      receivedAt: now,
    });
    return true;
  }

  private async handleFailure(run: PollableRun, error: unknown): Promise<boolean> {
    const now = this.clock.now();
    if ((error as Error).name === 'AbortError') {
      return false; // shutting down: the claim is released in beforeApplicationShutdown
    }
    if (!(error instanceof ZapierApiError)) throw error;
    if (error.status === 404) {
      const age = now - (run.submittedAt ?? run.createdAt);
      if (age >= this.options.polling.notFoundGraceMs) {
        this.dispatcher.enqueue(
          await this.store.expire({ runIds: [run.runId] }, 'not-found', this.claim('delivery')),
        );
        this.logger.warn(`Run ${run.runId} expired: Zapier no longer knows it (404).`);
      } else {
        await this.reschedule(run, now, error.message);
      }
      return true;
    }
    if (error.status === 429) {
      // The budget is already in cooldown; this run goes back in the queue unchanged.
      await this.store.reschedulePoll(run.runId, this.options.instanceId, {
        nextAt: now,
        attempts: run.pollAttempts,
        lastError: error.message,
        now,
      });
      return false;
    }
    if (error.status === 401 || error.status === 403) {
      this.pausedUntil = now + this.options.polling.authErrorPauseMs;
      this.logger.error(
        `Zapier refused the access token (${error.status}); polling pauses for ${Math.round(this.options.polling.authErrorPauseMs / 1000)} s. Check the accessToken option.`,
      );
      await this.store.reschedulePoll(run.runId, this.options.instanceId, {
        nextAt: this.pausedUntil,
        attempts: run.pollAttempts,
        lastError: error.message,
        now,
      });
      return false;
    }
    await this.reschedule(run, now, error.message);
    return true;
  }

  private async reschedule(run: PollableRun, now: number, lastError: string | null): Promise<void> {
    const attempts = run.pollAttempts + 1;
    const { initialBackoffMs, maxBackoffMs } = this.options.polling;
    await this.store.reschedulePoll(run.runId, this.options.instanceId, {
      nextAt: now + backoffDelay(attempts, initialBackoffMs, maxBackoffMs),
      attempts,
      lastError,
      now,
    });
  }
}
