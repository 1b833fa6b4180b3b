import { Injectable } from '@nestjs/common';
import { SqlParams } from './sql/sql-params.js';
import type { SqlAssignments } from './sql/sql-columns.js';
import { sqlValue, ZapierSql } from './sql/zapier-sql.js';
import type { ClaimContext, OverdueRun } from './stored-run.js';

const RUNS = 'zapier_action_runs';

/**
 * The poller's work queue: the `poll_*` columns of pending runs. A run is claimed by one instance
 * at a time with a guarded UPDATE (and SKIP LOCKED on PostgreSQL and MySQL), held by a lease the instance
 * renews while it works, and rescheduled (which releases it) once read.
 */
@Injectable()
export class ZapierPollQueue {
  constructor(private readonly sql: ZapierSql) {}

  /** The poll columns of a run that just left `pending`: nothing to poll any more. */
  static readonly cleared: SqlAssignments = [
    ['poll_next_at', 'NULL'],
    ['poll_claimed_by', 'NULL'],
    ['poll_claim_until', 'NULL'],
  ];

  /** The poll columns of a run just submitted: first poll once it is overdue. */
  static firstPollAt(p: SqlParams, at: number): SqlAssignments {
    return [
      ['poll_next_at', p.add(at, 'bigint')],
      ['poll_attempts', '0'],
    ];
  }

  /** Claims up to `limit` pending runs whose next poll is due, oldest due first. */
  async claimDue(claim: ClaimContext, limit: number): Promise<OverdueRun[]> {
    const p = new SqlParams();
    const me = p.add(claim.instanceId);
    const until = p.add(claim.claimUntil, 'bigint');
    const now = p.add(claim.now, 'bigint');
    const lim = p.add(limit, 'integer');
    const rows = await this.sql.update(
      {
        table: RUNS,
        key: 'run_id',
        where: `status = 'pending' AND poll_next_at <= ${now}
  AND (poll_claim_until IS NULL OR poll_claim_until < ${now})`,
        pick: { orderBy: 'poll_next_at', limit: lim, index: 'IDX_zapier_action_runs_poll' },
        set: [
          ['poll_claimed_by', me],
          ['poll_claim_until', until],
        ],
        returning: 'run_id, submitted_at, created_at, poll_attempts',
      },
      p,
    );
    return rows.map((row) => ({
      runId: String(row.run_id),
      submittedAt: sqlValue.numberOrNull(row.submitted_at),
      createdAt: sqlValue.number(row.created_at),
      pollAttempts: sqlValue.number(row.poll_attempts),
    }));
  }

  /** Schedules the next poll of a run this instance claimed, and releases the claim. */
  async reschedule(
    runId: string,
    instanceId: string,
    update: { nextAt: number; attempts: number; lastError: string | null; now: number },
  ): Promise<void> {
    const p = new SqlParams();
    await this.sql.query(
      `UPDATE ${RUNS} SET poll_next_at = ${p.add(update.nextAt, 'bigint')},
  poll_attempts = ${p.add(update.attempts, 'integer')}, poll_last_error = ${p.add(update.lastError)},
  poll_claimed_by = NULL, poll_claim_until = NULL, updated_at = ${p.add(update.now, 'bigint')}
WHERE run_id = ${p.add(runId)} AND status = 'pending' AND poll_claimed_by = ${p.add(instanceId)}`,
      p,
    );
  }

  /**
   * Parks a run this instance claimed: it stays pending, but with no next poll it is never
   * claimed again (`poll_next_at` NULL marks a parked run; every other pending run has one) until
   * `unpark`, a callback completes it, or it expires past Zapier's retention.
   */
  async park(
    runId: string,
    instanceId: string,
    update: { attempts: number; reason: string; now: number },
  ): Promise<void> {
    const p = new SqlParams();
    await this.sql.query(
      `UPDATE ${RUNS} SET poll_next_at = NULL, poll_attempts = ${p.add(update.attempts, 'integer')},
  poll_last_error = ${p.add(update.reason)}, poll_claimed_by = NULL, poll_claim_until = NULL,
  updated_at = ${p.add(update.now, 'bigint')}
WHERE run_id = ${p.add(runId)} AND status = 'pending' AND poll_claimed_by = ${p.add(instanceId)}`,
      p,
    );
  }

  /** Makes a parked run due at once, from attempt 1; returns whether the run was parked. */
  async unpark(runId: string, now: number): Promise<boolean> {
    const p = new SqlParams();
    const at = p.add(now, 'bigint');
    const rows = await this.sql.update(
      {
        table: RUNS,
        key: 'run_id',
        where: `run_id = ${p.add(runId)} AND status = 'pending' AND poll_next_at IS NULL`,
        locks: 'by-key',
        set: [
          ['poll_next_at', at],
          ['poll_attempts', '0'],
          ['poll_last_error', 'NULL'],
          ['updated_at', at],
        ],
        returning: 'run_id',
      },
      p,
    );
    return rows.length > 0;
  }

  /** Extends this instance's claims on runs it is still polling. */
  async renewClaims(runIds: readonly string[], instanceId: string, until: number): Promise<void> {
    if (runIds.length === 0) return;
    const p = new SqlParams();
    await this.sql.query(
      `UPDATE ${RUNS} SET poll_claim_until = ${p.add(until, 'bigint')}
WHERE run_id IN ${p.list(runIds)} AND poll_claimed_by = ${p.add(instanceId)} AND status = 'pending'`,
      p,
    );
  }

  /** Releases every poll claim of this instance, so another instance can poll those runs. */
  async releaseAll(instanceId: string): Promise<void> {
    const p = new SqlParams();
    // Through `update`, which on MySQL locks first under READ COMMITTED: a plain UPDATE there
    // would lock every row it scans (REPEATABLE READ), not only this instance's.
    await this.sql.update(
      {
        table: RUNS,
        key: 'run_id',
        where: `poll_claimed_by = ${p.add(instanceId)} AND status = 'pending'`,
        set: [
          ['poll_claimed_by', 'NULL'],
          ['poll_claim_until', 'NULL'],
        ],
      },
      p,
    );
  }
}
