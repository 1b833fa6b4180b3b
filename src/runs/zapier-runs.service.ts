import { Inject, Injectable } from '@nestjs/common';
import { IsNull } from 'typeorm';
import { ZAPIER_CLOCK } from '../zapier.constants.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { ZapierActionRun } from '../storage/zapier-action-run.entity.js';
import { ZapierCallbackQuarantine } from '../storage/zapier-callback-quarantine.entity.js';
import { ZapierOutbox } from '../storage/outbox.repository.js';
import { ZapierPollQueue } from '../storage/poll-queue.repository.js';
import { ZapierSql } from '../storage/sql/zapier-sql.js';
import { ZapierPruner, type ZapierPruneReport } from './zapier-pruner.js';

/**
 * Read and repair what the module stored: a run, the runs whose events could not be delivered,
 * the runs whose polled result could not be stored, and the callbacks that were quarantined.
 *
 * @publicApi
 */
@Injectable()
export class ZapierRunsService {
  constructor(
    private readonly sql: ZapierSql,
    private readonly outbox: ZapierOutbox,
    private readonly polls: ZapierPollQueue,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
    private readonly pruner: ZapierPruner,
  ) {}

  /**
   * Deletes what the `retention` options no longer keep (the scheduled job does the same every
   * `retention.intervalMs`), or with `dryRun` counts it. Safe while other instances prune too.
   */
  prune(options: { dryRun?: boolean } = {}): Promise<ZapierPruneReport> {
    return this.pruner.prune(options.dryRun ?? false);
  }

  /** One run, or `null` if the module has never seen it. */
  findRun(runId: string): Promise<ZapierActionRun | null> {
    return this.sql.dataSource.getRepository(ZapierActionRun).findOneBy({ runId });
  }

  /** Runs whose listeners kept failing until `delivery.maxAttempts` (oldest first). */
  findUndeliverable(limit = 100): Promise<ZapierActionRun[]> {
    return this.sql.dataSource.getRepository(ZapierActionRun).find({
      where: { deliveryState: 'parked' },
      order: { updatedAt: 'ASC' },
      take: limit,
    });
  }

  /**
   * Delivers a run's event again, from attempt 1: for a parked run once its listener is fixed,
   * or for a delivered one an app wants to replay. Returns `false` if the run has no event yet
   * (still pending) or a delivery is already queued. Any instance's sweep picks it up.
   */
  redeliver(runId: string): Promise<boolean> {
    return this.outbox.requeue(runId, this.clock.now());
  }

  /**
   * Pending runs the poller parked because the result Zapier reported for them could not be
   * stored (beyond `resultLimits`, or refused by the database), oldest first; the reason is in
   * `pollLastError`. They are not polled again until `repoll()`; a callback still completes one,
   * and past `polling.retentionMs` it expires like any pending run.
   */
  findUnstorable(limit = 100): Promise<ZapierActionRun[]> {
    return this.sql.dataSource.getRepository(ZapierActionRun).find({
      where: { status: 'pending', pollNextAt: IsNull() },
      order: { updatedAt: 'ASC' },
      take: limit,
    });
  }

  /**
   * Polls a parked run again, at once and from attempt 1: once its cause is fixed (a larger
   * `resultLimits`, for instance). Returns `false` if the run is not parked. Any instance's poller
   * picks it up.
   */
  repoll(runId: string): Promise<boolean> {
    return this.polls.unpark(runId, this.clock.now());
  }

  /** Signed callbacks that were not run results (newest first). */
  findQuarantined(limit = 100): Promise<ZapierCallbackQuarantine[]> {
    return this.sql.dataSource.getRepository(ZapierCallbackQuarantine).find({
      order: { id: 'DESC' },
      take: limit,
    });
  }
}
