import { Injectable } from '@nestjs/common';
import type { ZapierRunStatus } from '../interfaces/action-run.interface.js';
import { SqlParams } from './sql/sql-params.js';
import {
  assignments,
  rowSource,
  type SqlAssignments,
  type SqlColumnValues,
} from './sql/sql-columns.js';
import type { SqlQuery } from './sql/sql-writes.js';
import { sqlValue, ZapierSql, type SqlRow } from './sql/zapier-sql.js';
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

/** What `RESULT_COLUMNS` hold for one result. */
const terminalRow = (r: TerminalResult): SqlColumnValues<typeof RESULT_COLUMNS> => ({
  run_id: r.runId,
  status: r.status,
  results: JSON.stringify(r.results),
  errors: JSON.stringify(r.errors),
  raw_payload: r.rawPayload,
  source: r.source,
  received_at: r.receivedAt,
});

/** What a stored result answers with. */
const TERMINAL_RETURNING = 'run_id, metadata, submitted_at, delivery_next_at';

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
    const rows = this.sql.dialect.returning
      ? await this.upsertTerminal(results, claim, budgetKey)
      : await this.sql.transaction(
          (query) => this.lockTerminal(query, results, claim, budgetKey),
          'by-key',
        );
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

  /** `storeTerminal` as one statement: an upsert guarded by `status = 'pending'`, RETURNING. */
  private upsertTerminal(
    results: readonly TerminalResult[],
    claim: DeliveryClaim,
    budgetKey: string,
  ): Promise<SqlRow[]> {
    const p = new SqlParams();
    const v = rowSource(this.sql.dialect, RESULT_COLUMNS, results.map(terminalRow), p);
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
RETURNING ${TERMINAL_RETURNING}`;
    return this.sql.query(sql, p);
  }

  /**
   * `storeTerminal` as one short transaction, for MySQL (no `RETURNING`, no guarded upsert):
   * first every run gets a row, locked by this transaction (a run not stored yet is inserted as
   * an `intake` placeholder that nobody else ever sees, since it is replaced before the commit);
   * then the rows that are placeholders or pending are read and written, and read back. Inserting
   * first rather than looking first is what makes it safe: two batches sharing a new run cannot
   * both find it missing, the second waits for the first's row lock and then finds it terminal.
   */
  private async lockTerminal(
    query: SqlQuery,
    results: readonly TerminalResult[],
    claim: DeliveryClaim,
    budgetKey: string,
  ): Promise<SqlRow[]> {
    const p = new SqlParams();
    // Run id order, the order every statement locks rows in, as the upsert's ORDER BY.
    const sorted = [...results].sort((a, b) =>
      a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0,
    );
    const now = p.add(claim.now, 'bigint');
    const placeholders = sorted.map((r) => `(${p.add(r.runId)}, 'intake', ${now}, ${now})`);
    await query(
      `INSERT INTO ${RUNS} (run_id, status, created_at, updated_at) VALUES ${placeholders.join(', ')}
ON DUPLICATE KEY UPDATE run_id = run_id`,
      p,
    );
    const budget = ZapierBudgetRepository.createsInflight(p, budgetKey);
    const found = await query(
      `SELECT r.run_id, r.status, ${budget.heldUntil} AS held_until FROM ${RUNS} r ${budget.join}
WHERE r.run_id IN ${p.list(sorted.map((r) => r.runId))}`,
      p,
    );
    const statusOf = new Map(found.map((row) => [String(row.run_id), String(row.status)]));
    const heldUntil = p.add(sqlValue.number(found[0]?.held_until ?? 0), 'bigint');
    const fresh = sorted.filter((r) => statusOf.get(r.runId) === 'intake');
    const pending = sorted.filter((r) => statusOf.get(r.runId) === 'pending');
    // The same columns as the upsert's two branches: a new run waits while a create call may
    // still bring its metadata; a pending one was recorded, so its delivery is due now.
    const hold = ZapierOutbox.claimedUnlessHeld(p, claim, heldUntil);
    await this.writeTerminal(query, p, fresh, now, hold);
    await this.writeTerminal(query, p, pending, now, ZapierOutbox.claimedForFirstAttempt(p, claim));
    const written = [...fresh, ...pending];
    if (written.length === 0) return [];
    return query(
      `SELECT ${TERMINAL_RETURNING} FROM ${RUNS}
WHERE run_id IN ${p.list(written.map((r) => r.runId))}`,
      p,
    );
  }

  /**
   * Writes terminal results into rows this transaction holds, all in one statement: an INSERT
   * whose every row is already there, so each takes the ON DUPLICATE KEY UPDATE branch (MySQL's
   * way of updating many rows with a value of their own each).
   */
  private async writeTerminal(
    query: SqlQuery,
    p: SqlParams,
    results: readonly TerminalResult[],
    now: string,
    delivery: SqlAssignments,
  ): Promise<void> {
    if (results.length === 0) return;
    const columns = Object.keys(RESULT_COLUMNS) as Array<keyof typeof RESULT_COLUMNS>;
    const rows = results.map((r) => {
      const row = terminalRow(r);
      const values = columns.map((column) => p.add(row[column], RESULT_COLUMNS[column]));
      return `(${values.join(', ')}, ${now}, ${now}, ${now})`;
    });
    const inserted = (column: string) => [column, this.sql.dialect.inserted(column)] as const;
    const set = assignments.set([
      ...columns.filter((column) => column !== 'run_id').map(inserted),
      inserted('completed_at'),
      inserted('updated_at'),
      ...ZapierPollQueue.cleared,
      ...delivery,
    ]);
    await query(
      `INSERT INTO ${RUNS} (${columns.join(', ')}, completed_at, created_at, updated_at)
VALUES ${rows.join(', ')}
ON DUPLICATE KEY UPDATE ${set}`,
      p,
    );
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
    const { inserted } = this.sql.dialect;
    const stored = (column: string) => `COALESCE(${RUNS}.${column}, ${inserted(column)})`;
    const [row] = await this.sql.upsert(
      {
        table: RUNS,
        key: 'run_id',
        values: [
          ['run_id', p.add(run.runId)],
          ['status', `'pending'`],
          ['action', p.add(run.action)],
          ['metadata', p.add(metadata)],
          ['submitted_at', p.add(run.submittedAt, 'bigint')],
          ['created_at', now],
          ['updated_at', now],
          ...ZapierPollQueue.firstPollAt(p, run.firstPollAt),
          ['delivery_state', `'none'`],
        ],
        update: [
          ['action', stored('action')],
          ['metadata', stored('metadata')],
          ['submitted_at', stored('submitted_at')],
          ['updated_at', inserted('updated_at')],
          ...ZapierOutbox.releasedOnSubmit(inserted('updated_at')),
        ],
        returning: 'status, delivery_state, delivery_claimed_by',
      },
      p,
    );
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
    const set: SqlAssignments = [
      ['status', `'expired'`],
      ['expired_reason', p.add(reason)],
      ['completed_at', now],
      ['updated_at', now],
      ...ZapierPollQueue.cleared,
      ...ZapierOutbox.claimedForFirstAttempt(p, claim),
    ];
    const rows = await this.sql.update(
      'runIds' in target
        ? {
            table: RUNS,
            key: 'run_id',
            where: `run_id IN ${p.list(target.runIds)} AND status = 'pending'`,
            locks: 'by-key',
            set,
            returning: ZapierOutbox.returning,
          }
        : {
            table: RUNS,
            key: 'run_id',
            where: `status = 'pending' AND created_at < ${p.add(target.createdBefore, 'bigint')}`,
            pick: { orderBy: 'created_at', limit: p.add(target.limit, 'integer') },
            set,
            returning: ZapierOutbox.returning,
          },
      p,
    );
    return rows.map((row) => ZapierOutbox.toDeliverable(row));
  }
}
