import { Injectable } from '@nestjs/common';
import { ZAPIER_RUN_STATES } from '../zapier.constants.js';
import type { ZapierRunState } from '../interfaces/action-run.interface.js';
import { SqlParams } from './sql/sql-params.js';
import { sqlValue, ZapierSql } from './sql/zapier-sql.js';

const RUNS = 'zapier_action_runs';

/** Parked for delivery: its listeners failed `delivery.maxAttempts` times. */
export const PARKED_FOR_DELIVERY = `delivery_state = 'parked'`;
/** Parked by the poller: a pending run with no poll scheduled (a result it could not store). */
export const PARKED_BY_POLLER = `(status = 'pending' AND poll_next_at IS NULL)`;

/**
 * What each state is on the row (`ZapierRunState` says it in words; `ZAPIER_RUN_STATES` is their order), as a condition on the
 * columns; `now` is the SQL expression of the current time. Only `expired` and `delivering`
 * overlap (an expired run whose event is on its way); `stateExpression` breaks the tie by the order above.
 *
 * Overdue needs no option: the first poll of a run is due `polling.overdueAfterMs` after it was
 * started (`ZapierPollQueue.firstPollAt`), so a run is overdue once that poll came due or was
 * made. A pending run without a next poll is parked (`ZapierPollQueue.park`).
 */
export const RUN_STATE_CONDITIONS: Readonly<Record<ZapierRunState, (now: string) => string>> = {
  parked: () => `(${PARKED_FOR_DELIVERY} OR ${PARKED_BY_POLLER})`,
  delivering: () => `delivery_state = 'pending'`,
  expired: () => `status = 'expired'`,
  overdue: (now) =>
    `(status = 'pending' AND poll_next_at IS NOT NULL AND (poll_attempts > 0 OR poll_next_at <= ${now}))`,
  pending: (now) => `(status = 'pending' AND poll_attempts = 0 AND poll_next_at > ${now})`,
  delivered: () => `delivery_state = 'delivered'`,
};

/** The state of a row as an SQL expression: the first condition that holds. */
function stateExpression(now: string): string {
  const [last, ...earlier] = [...ZAPIER_RUN_STATES].reverse();
  const cases = earlier
    .reverse()
    .map((state) => `WHEN ${RUN_STATE_CONDITIONS[state](now)} THEN '${state}'`)
    .join(' ');
  return `CASE ${cases} ELSE '${last}' END`;
}

/** Which runs `list` returns: newest first, `limit` at most. Times are epoch milliseconds. */
export interface RunListFilter {
  state?: ZapierRunState;
  /** Only runs first recorded at or after this time. */
  createdSince?: number;
  limit: number;
  now: number;
}

/** Counts for health checks. */
export interface RunCounts {
  overdue: number;
  /** When the oldest overdue run was started (or first recorded), or `null` if none is overdue. */
  oldestOverdueAt: number | null;
  parked: number;
  /** Runs whose event waits for delivery or for a retry. */
  delivering: number;
}

/**
 * Reads for the people and probes looking after the runs: which state each run is in, which runs
 * are in a state, and how many. Nothing here writes.
 */
@Injectable()
export class ZapierRunReport {
  constructor(private readonly sql: ZapierSql) {}

  /** Run ids and their states, newest first. */
  async list(filter: RunListFilter): Promise<Array<{ runId: string; state: ZapierRunState }>> {
    const p = new SqlParams();
    const now = p.add(filter.now, 'bigint');
    const where: string[] = [];
    if (filter.state !== undefined) {
      // The state's own condition first, so the database can use the partial indexes.
      where.push(
        RUN_STATE_CONDITIONS[filter.state](now),
        `${stateExpression(now)} = ${p.add(filter.state)}`,
      );
    }
    if (filter.createdSince !== undefined) {
      where.push(`created_at >= ${p.add(filter.createdSince, 'bigint')}`);
    }
    const rows = await this.sql.query(
      `SELECT run_id, ${stateExpression(now)} AS state FROM ${RUNS}
${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
ORDER BY created_at DESC, run_id DESC LIMIT ${p.add(filter.limit, 'integer')}`,
      p,
    );
    return rows.map((row) => ({
      runId: String(row.run_id),
      state: row.state as ZapierRunState,
    }));
  }

  /** The state of one run, or `null` for a run never seen. */
  async stateOf(runId: string, now: number): Promise<ZapierRunState | null> {
    const p = new SqlParams();
    const [row] = await this.sql.query(
      `SELECT ${stateExpression(p.add(now, 'bigint'))} AS state FROM ${RUNS} WHERE run_id = ${p.add(runId)}`,
      p,
    );
    return row ? (row.state as ZapierRunState) : null;
  }

  /** How many runs are overdue, parked and delivering, in one statement. */
  async counts(now: number): Promise<RunCounts> {
    const p = new SqlParams();
    const at = p.add(now, 'bigint');
    const count = (state: ZapierRunState) =>
      `(SELECT COUNT(*) FROM ${RUNS} WHERE ${RUN_STATE_CONDITIONS[state](at)})`;
    const [row] = await this.sql.query(
      `SELECT ${count('overdue')} AS overdue, ${count('parked')} AS parked,
  ${count('delivering')} AS delivering,
  (SELECT MIN(COALESCE(submitted_at, created_at)) FROM ${RUNS}
    WHERE ${RUN_STATE_CONDITIONS.overdue(at)}) AS oldest_overdue_at`,
      p,
    );
    return {
      overdue: sqlValue.number(row?.overdue ?? 0),
      oldestOverdueAt: sqlValue.numberOrNull(row?.oldest_overdue_at),
      parked: sqlValue.number(row?.parked ?? 0),
      delivering: sqlValue.number(row?.delivering ?? 0),
    };
  }
}
