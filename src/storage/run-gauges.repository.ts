import { Injectable } from '@nestjs/common';
import { SqlParams } from './sql/sql-params.js';
import { sqlValue, ZapierSql } from './sql/zapier-sql.js';
import {
  PARKED_BY_POLLER,
  PARKED_FOR_DELIVERY,
  RUN_STATE_CONDITIONS,
} from './run-report.repository.js';

/** Counts over every instance's runs, and the shared budget row, at one moment. */
export interface RunGaugeCounts {
  pending: number;
  overdue: number;
  parkedForDelivery: number;
  parkedForPoll: number;
  /** The budget's next free send slot and the end of its cooldown (0 without a row yet). */
  nextSlotAt: number;
  cooldownUntil: number;
}

/**
 * What the observable gauges report, in one statement of scalar sub-selects, with the states as
 * `ZapierRunReport` (the CLI, the health check) defines them. The pending counts read the poller's
 * partial index; the parked-for-delivery count scans the runs table, which retention keeps bounded.
 */
@Injectable()
export class ZapierRunGauges {
  constructor(private readonly sql: ZapierSql) {}

  async read(now: number, budgetKey: string): Promise<RunGaugeCounts> {
    const p = new SqlParams();
    const at = p.add(now, 'bigint');
    const key = p.add(budgetKey);
    const [row] = await this.sql.query(
      `SELECT
  (SELECT COUNT(*) FROM zapier_action_runs WHERE status = 'pending') AS pending,
  (SELECT COUNT(*) FROM zapier_action_runs
    WHERE ${RUN_STATE_CONDITIONS.overdue(at)}) AS overdue,
  (SELECT COUNT(*) FROM zapier_action_runs WHERE ${PARKED_BY_POLLER}) AS parked_for_poll,
  (SELECT COUNT(*) FROM zapier_action_runs WHERE ${PARKED_FOR_DELIVERY}) AS parked_for_delivery,
  (SELECT next_slot_at FROM zapier_api_budget WHERE budget_key = ${key}) AS next_slot_at,
  (SELECT cooldown_until FROM zapier_api_budget WHERE budget_key = ${key}) AS cooldown_until`,
      p,
    );
    return {
      pending: sqlValue.number(row.pending),
      overdue: sqlValue.number(row.overdue),
      parkedForDelivery: sqlValue.number(row.parked_for_delivery),
      parkedForPoll: sqlValue.number(row.parked_for_poll),
      nextSlotAt: sqlValue.numberOrNull(row.next_slot_at) ?? 0,
      cooldownUntil: sqlValue.numberOrNull(row.cooldown_until) ?? 0,
    };
  }
}
