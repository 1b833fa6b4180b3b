import { Injectable } from '@nestjs/common';
import type { ZapierRunStatus } from '../interfaces/action-run.interface.js';
import { SqlParams } from './sql/sql-params.js';
import { assignments, rowSource } from './sql/sql-columns.js';
import { sqlValue, ZapierSql } from './sql/zapier-sql.js';
import { ZapierOutbox } from './outbox.repository.js';
import { ZapierPollQueue } from './poll-queue.repository.js';
import { ZapierBudgetRepository } from './request-budget.repository.js';
import type { DeliverableRun, DeliveryClaim, TerminalResult } from './stored-run.js';

const RUNS = 'zapier_action_runs';

/** The columns a terminal result writes, and their types. */
const RESULT_COLUMNS = {
  run_id: 'text',
  status: 'text',
  results: 'text',
  errors: 'text',
  raw_payload: 'text',
  source: 'text',
  received_at: 'bigint',
} as const;

/** A run the client just created. Times are epoch milliseconds. */
export interface SubmittedRun {
  runId: string;
  action: string;
  metadata: Record<string, unknown> | null;
  submittedAt: number;
  firstPollAt: number;
  now: number;
}

/**
 * How runs enter the table and change state: terminal results (callbacks and polls), runs the
 * client submitted, and expiry. Each statement also writes the run's outbox work and clears its
 * poll schedule, so a state change and what follows from it commit together.
 */
@Injectable()
export class ZapierRunIntake {
  constructor(private readonly sql: ZapierSql) {}

  get dialect(): ZapierSql['dialect'] {
    return this.sql.dialect;
  }

  /**
   * Stores terminal results in one statement and returns the runs that changed because of it:
   * new rows, and rows that were pending. A run already terminal is left exactly as it is (the
   * first terminal state wins, docs/decisions.md#d9), so duplicates and racing callback/poll pairs
   * return nothing. Changed runs are claimed for delivery by `claim.instanceId` at once (left
   * unclaimed and due when `claim` names no instance), except runs nobody has recorded while a
   * create call may still be waiting for its response: their delivery waits until then, so that
   * the client can attach the metadata first. Rows are written in run id
   * order, the order every other statement locks them in too, so concurrent batches sharing runs
   * queue behind each other instead of deadlocking.
   */
  async storeTerminal(
    results: readonly TerminalResult[],
    claim: DeliveryClaim,
    budgetKey: string,
  ): Promise<Map<string, DeliverableRun>> {
    const p = new SqlParams();
    const v = rowSource(
      this.sql.dialect,
      RESULT_COLUMNS,
      results.map((r) => ({
        run_id: r.runId,
        status: r.status,
        results: JSON.stringify(r.results),
        errors: JSON.stringify(r.errors),
        raw_payload: r.rawPayload,
        source: r.source,
        received_at: r.receivedAt,
      })),
      p,
    );
    const now = p.add(claim.now, 'bigint');
    const budget = ZapierBudgetRepository.createsInflight(p, budgetKey);
    const insertDelivery = ZapierOutbox.claimedUnlessHeld(p, claim, budget.heldUntil);
    const conflictDelivery = ZapierOutbox.claimedForFirstAttempt(p, claim);
    const sql = `
WITH v (${v.names}) AS (${v.source})
INSERT INTO ${RUNS} AS r (${v.names}, completed_at, created_at, updated_at,
  ${assignments.columns(insertDelivery)})
SELECT ${v.select('v')}, ${now}, ${now}, ${now}, ${assignments.values(insertDelivery)}
FROM v ${budget.join}
WHERE true
ORDER BY v.run_id
ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, results = excluded.results,
  errors = excluded.errors, raw_payload = excluded.raw_payload, source = excluded.source,
  received_at = excluded.received_at, completed_at = excluded.completed_at,
  updated_at = excluded.updated_at, ${assignments.set(ZapierPollQueue.cleared)},
  ${assignments.set(conflictDelivery)}
WHERE r.status = 'pending'
RETURNING run_id, metadata, submitted_at, delivery_next_at`;
    const rows = await this.sql.query(sql, p);
    const byId = new Map(results.map((r) => [r.runId, r]));
    const changed = new Map<string, DeliverableRun>();
    for (const row of rows) {
      const input = byId.get(String(row.run_id));
      if (!input) continue;
      changed.set(input.runId, {
        runId: input.runId,
        status: input.status,
        results: input.results,
        errors: input.errors,
        metadata: sqlValue.json(row.metadata, null),
        source: input.source,
        receivedAt: input.receivedAt,
        submittedAt: sqlValue.numberOrNull(row.submitted_at),
        expiredReason: null,
        attempt: claim.instanceId === null ? 0 : 1,
        deliveryNextAt: sqlValue.number(row.delivery_next_at),
      });
    }
    return changed;
  }

  /** Statuses of the given runs, for telling a duplicate from a conflicting outcome. */
  async statuses(runIds: readonly string[]): Promise<Map<string, ZapierRunStatus>> {
    if (runIds.length === 0) return new Map();
    const p = new SqlParams();
    const rows = await this.sql.query(
      `SELECT run_id, status FROM ${RUNS} WHERE run_id IN ${p.list(runIds)}`,
      p,
    );
    return new Map(rows.map((row) => [String(row.run_id), row.status as ZapierRunStatus]));
  }

  /**
   * Records a run the client just created, as pending with its metadata. If the callback was
   * faster and the run is terminal already, its status is left alone (never back to pending);
   * the metadata is attached and a delivery still waiting for it is released. Returns the stored
   * status and whether a released delivery now waits for a sweep.
   */
  async recordSubmitted(
    run: SubmittedRun,
  ): Promise<{ status: ZapierRunStatus; deliveryReleased: boolean }> {
    const p = new SqlParams();
    const metadata = run.metadata === null ? null : JSON.stringify(run.metadata);
    const now = p.add(run.now, 'bigint');
    const poll = ZapierPollQueue.firstPollAt(p, run.firstPollAt);
    const sql = `
INSERT INTO ${RUNS} AS r (run_id, status, action, metadata, submitted_at, created_at, updated_at,
  ${assignments.columns(poll)}, delivery_state)
VALUES (${p.add(run.runId)}, 'pending', ${p.add(run.action)}, ${p.add(metadata)}, ${p.add(
      run.submittedAt,
      'bigint',
    )}, ${now}, ${now}, ${assignments.values(poll)}, 'none')
ON CONFLICT (run_id) DO UPDATE SET action = COALESCE(r.action, excluded.action),
  metadata = COALESCE(r.metadata, excluded.metadata),
  submitted_at = COALESCE(r.submitted_at, excluded.submitted_at),
  updated_at = excluded.updated_at,
  ${assignments.set(ZapierOutbox.releasedOnSubmit('excluded.updated_at'))}
RETURNING status, delivery_state, delivery_claimed_by`;
    const [row] = await this.sql.query(sql, p);
    return {
      status: row.status as ZapierRunStatus,
      deliveryReleased: ZapierOutbox.isReleased(row),
    };
  }

  /**
   * Expires pending runs, either the given ones or up to `limit` created before `createdBefore`,
   * and returns them claimed for delivery of `zapier.run.expired`.
   */
  async expire(
    target: { runIds: readonly string[] } | { createdBefore: number; limit: number },
    reason: string,
    claim: DeliveryClaim,
  ): Promise<DeliverableRun[]> {
    if ('runIds' in target && target.runIds.length === 0) return [];
    const p = new SqlParams();
    const now = p.add(claim.now, 'bigint');
    const set = assignments.set([
      ['status', `'expired'`],
      ['expired_reason', p.add(reason)],
      ['completed_at', now],
      ['updated_at', now],
      ...ZapierPollQueue.cleared,
      ...ZapierOutbox.claimedForFirstAttempt(p, claim),
    ]);
    // MATERIALIZED: see ZapierOutbox.claimDue.
    const due =
      'runIds' in target
        ? `SELECT run_id FROM ${RUNS} WHERE run_id IN ${p.list(target.runIds)}`
        : `SELECT run_id FROM ${RUNS} WHERE status = 'pending' AND created_at < ${p.add(
            target.createdBefore,
            'bigint',
          )} ORDER BY created_at LIMIT ${p.add(target.limit, 'integer')}${this.sql.dialect.skipLocked}`;
    const rows = await this.sql.query(
      `WITH due AS MATERIALIZED (${due})
UPDATE ${RUNS} SET ${set} WHERE run_id IN (SELECT run_id FROM due) AND status = 'pending'
RETURNING ${ZapierOutbox.returning}`,
      p,
    );
    return rows.map((row) => ZapierOutbox.toDeliverable(row));
  }
}
