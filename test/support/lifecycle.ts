import type { DataSource } from 'typeorm';
import type { ZapierClock } from '../../src/interfaces/zapier-clock.interface.js';
import type { ResolvedZapierOptions } from '../../src/options/resolve-zapier-options.js';
import { ZapierRunLifecycle } from '../../src/runs/zapier-run-lifecycle.js';
import { ZapierClaimedDeliveries } from '../../src/storage/claimed-deliveries.js';
import { ZapierOutbox } from '../../src/storage/outbox.repository.js';
import { ZapierQuarantineRepository } from '../../src/storage/quarantine.repository.js';
import { ZapierBudgetRepository } from '../../src/storage/request-budget.repository.js';
import { ZapierRunIntake } from '../../src/storage/run-intake.repository.js';
import { ZapierSql } from '../../src/storage/sql/zapier-sql.js';

/** A `ZapierRunLifecycle` over a real data source, wired as the module wires it. */
export function lifecycleOver(
  dataSource: DataSource,
  options: ResolvedZapierOptions,
  clock: ZapierClock,
  channel = new ZapierClaimedDeliveries(),
): ZapierRunLifecycle {
  const sql = new ZapierSql(dataSource);
  return new ZapierRunLifecycle(
    new ZapierRunIntake(sql),
    new ZapierOutbox(sql),
    new ZapierBudgetRepository(sql),
    new ZapierQuarantineRepository(sql),
    channel,
    options,
    clock,
  );
}
