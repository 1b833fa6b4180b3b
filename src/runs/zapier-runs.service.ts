import { Inject, Injectable } from '@nestjs/common';
import { ZAPIER_CLOCK } from '../zapier.constants.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { ZapierActionRun } from '../storage/zapier-action-run.entity.js';
import { ZapierCallbackQuarantine } from '../storage/zapier-callback-quarantine.entity.js';
import { ZapierOutbox } from '../storage/outbox.repository.js';
import { ZapierSql } from '../storage/sql/zapier-sql.js';

/**
 * Read and repair what the module stored: a run, the runs whose events could not be delivered,
 * and the callbacks that were quarantined.
 *
 * @publicApi
 */
@Injectable()
export class ZapierRunsService {
  constructor(
    private readonly sql: ZapierSql,
    private readonly outbox: ZapierOutbox,
    @Inject(ZAPIER_CLOCK) private readonly clock: ZapierClock,
  ) {}

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

  /** Signed callbacks that were not run results (newest first). */
  findQuarantined(limit = 100): Promise<ZapierCallbackQuarantine[]> {
    return this.sql.dataSource.getRepository(ZapierCallbackQuarantine).find({
      order: { id: 'DESC' },
      take: limit,
    });
  }
}
