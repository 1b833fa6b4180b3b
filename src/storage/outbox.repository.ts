import { Injectable } from '@nestjs/common';
import { ZapierMessages } from '../zapier.messages.js';
import { SqlParams } from './sql/sql-params.js';
import type { SqlAssignments } from './sql/sql-columns.js';
import { sqlValue, ZapierSql, type SqlRow } from './sql/zapier-sql.js';
import type { ClaimContext, DeliverableRun, DeliveryClaim } from './stored-run.js';

const RUNS = 'zapier_action_runs';

/** What a delivery needs of a run: its result columns and its delivery columns. */
const DELIVERABLE_COLUMNS = `run_id, status, results, errors, metadata, source, received_at,
  submitted_at, expired_reason, delivery_attempts, delivery_next_at`;

/**
 * The outbox of the events sent to listeners: the `delivery_*` columns of the run row. A run gets
 * outbox work (`delivery_state = 'pending'`) in the same statement that makes it terminal, so an
 * event can never be lost between a commit and its delivery; the statements here claim it, renew
 * and release claims, and record how each attempt ended.
 */
@Injectable()
export class ZapierOutbox {
  constructor(private readonly sql: ZapierSql) {}

  /**
   * The delivery columns of a run that just became terminal and is claimed by `claim.instanceId`
   * for its first attempt, due now. For the statement that makes the run terminal. Without an
   * instance (its runner is full), due now and unclaimed, the attempt left to the sweep that
   * claims it (`claimDue` counts it).
   */
  static claimedForFirstAttempt(p: SqlParams, claim: DeliveryClaim): SqlAssignments {
    if (claim.instanceId === null) {
      return [
        ['delivery_state', `'pending'`],
        ['delivery_attempts', '0'],
        ['delivery_next_at', p.add(claim.now, 'bigint')],
        ['delivery_claimed_by', 'NULL'],
        ['delivery_claim_until', 'NULL'],
      ];
    }
    return [
      ['delivery_state', `'pending'`],
      ['delivery_attempts', '1'],
      ['delivery_next_at', p.add(claim.now, 'bigint')],
      ['delivery_claimed_by', p.add(claim.instanceId)],
      ['delivery_claim_until', p.add(claim.claimUntil, 'bigint')],
    ];
  }

  /**
   * Like `claimedForFirstAttempt`, unless `heldUntil` (an SQL expression) is still ahead: then the
   * delivery waits, unclaimed and not yet attempted, until that time or until it is released.
   */
  static claimedUnlessHeld(p: SqlParams, claim: DeliveryClaim, heldUntil: string): SqlAssignments {
    const now = p.add(claim.now, 'bigint');
    const held = `${heldUntil} > ${now}`;
    if (claim.instanceId === null) {
      return [
        ['delivery_state', `'pending'`],
        ['delivery_attempts', '0'],
        ['delivery_next_at', `CASE WHEN ${held} THEN ${heldUntil} ELSE ${now} END`],
        ['delivery_claimed_by', 'NULL'],
        ['delivery_claim_until', 'NULL'],
      ];
    }
    return [
      ['delivery_state', `'pending'`],
      ['delivery_attempts', `CASE WHEN ${held} THEN 0 ELSE 1 END`],
      ['delivery_next_at', `CASE WHEN ${held} THEN ${heldUntil} ELSE ${now} END`],
      ['delivery_claimed_by', `CASE WHEN ${held} THEN NULL ELSE ${p.add(claim.instanceId)} END`],
      [
        'delivery_claim_until',
        `CASE WHEN ${held} THEN NULL ELSE ${p.add(claim.claimUntil, 'bigint')} END`,
      ],
    ];
  }

  /**
   * The delivery columns of a run that `ZapierClient` just recorded, for the update of the row
   * stored already: a delivery held back for this run's metadata is released now.
   */
  static releasedOnSubmit(now: string): SqlAssignments {
    const r = (column: string) => `${RUNS}.${column}`;
    return [
      [
        'delivery_next_at',
        `CASE WHEN ${r('delivery_state')} = 'pending' AND ${r('delivery_claimed_by')} IS NULL THEN ${now} ELSE ${r('delivery_next_at')} END`,
      ],
    ];
  }

  /** Whether a row returned with `delivery_state, delivery_claimed_by` waits for a sweep now. */
  static isReleased(row: SqlRow): boolean {
    return row.delivery_state === 'pending' && row.delivery_claimed_by === null;
  }

  /** The columns a statement returns for `toDeliverable`. */
  static readonly returning = DELIVERABLE_COLUMNS;

  static toDeliverable(row: SqlRow): DeliverableRun {
    return {
      runId: String(row.run_id),
      status: row.status as DeliverableRun['status'],
      results: sqlValue.json(row.results, []),
      errors: sqlValue.json(row.errors, []),
      metadata: sqlValue.json(row.metadata, null),
      source: (row.source as DeliverableRun['source']) ?? null,
      receivedAt: sqlValue.numberOrNull(row.received_at),
      submittedAt: sqlValue.numberOrNull(row.submitted_at),
      expiredReason: sqlValue.stringOrNull(row.expired_reason),
      attempt: sqlValue.number(row.delivery_attempts),
      deliveryNextAt: sqlValue.number(row.delivery_next_at),
    };
  }

  /**
   * Claims up to `limit` runs whose delivery is due and not held by a live claim: after a listener
   * failed, after a crash (the dead instance's claim runs out), or once a held delivery's wait is
   * over. A claim counts as an attempt, so a delivery cut short by a crash is counted too; a run
   * that already had `maxAttempts` is parked instead of claimed (returned with `parked: true`),
   * so a listener that kills the process every time cannot loop forever.
   */
  async claimDue(
    claim: ClaimContext,
    limit: number,
    maxAttempts: number,
  ): Promise<Array<DeliverableRun & { parked: boolean }>> {
    const p = new SqlParams();
    const me = p.add(claim.instanceId);
    const until = p.add(claim.claimUntil, 'bigint');
    const now = p.add(claim.now, 'bigint');
    const lim = p.add(limit, 'integer');
    const spent = `delivery_attempts >= ${p.add(maxAttempts, 'integer')}`;
    const interrupted = p.add(ZapierMessages.deliveryInterrupted());
    const unclaimed = `(delivery_claim_until IS NULL OR delivery_claim_until < ${now})`;
    const rows = await this.sql.update(
      {
        table: RUNS,
        key: 'run_id',
        where: `delivery_state = 'pending' AND delivery_next_at <= ${now} AND ${unclaimed}`,
        pick: { orderBy: 'delivery_next_at', limit: lim, index: 'IDX_zapier_action_runs_delivery' },
        set: [
          ['delivery_state', `CASE WHEN ${spent} THEN 'parked' ELSE 'pending' END`],
          [
            'delivery_attempts',
            `CASE WHEN ${spent} THEN delivery_attempts ELSE delivery_attempts + 1 END`,
          ],
          ['delivery_claimed_by', `CASE WHEN ${spent} THEN NULL ELSE ${me} END`],
          ['delivery_claim_until', `CASE WHEN ${spent} THEN NULL ELSE ${until} END`],
          [
            'delivery_last_error',
            `CASE WHEN ${spent} AND delivery_claimed_by IS NOT NULL THEN ${interrupted} ELSE delivery_last_error END`,
          ],
        ],
        returning: `${DELIVERABLE_COLUMNS}, delivery_state`,
      },
      p,
    );
    return rows.map((row) => ({
      ...ZapierOutbox.toDeliverable(row),
      parked: row.delivery_state === 'parked',
    }));
  }

  /** Extends this instance's claims on deliveries it is still working on. */
  async renewClaims(runIds: readonly string[], instanceId: string, until: number): Promise<void> {
    if (runIds.length === 0) return;
    const p = new SqlParams();
    await this.sql.query(
      `UPDATE ${RUNS} SET delivery_claim_until = ${p.add(until, 'bigint')}
WHERE run_id IN ${p.list(runIds)} AND delivery_claimed_by = ${p.add(instanceId)}
  AND delivery_state = 'pending'`,
      p,
    );
  }

  /** Marks deliveries done; only claims this instance still holds count. Returns the run ids marked. */
  async markDelivered(
    runIds: readonly string[],
    instanceId: string,
    now: number,
  ): Promise<Set<string>> {
    if (runIds.length === 0) return new Set();
    const p = new SqlParams();
    const rows = await this.sql.update(
      {
        table: RUNS,
        key: 'run_id',
        where: `run_id IN ${p.list(runIds)} AND delivery_claimed_by = ${p.add(instanceId)}
  AND delivery_state = 'pending'`,
        set: [
          ['delivery_state', `'delivered'`],
          ['delivered_at', p.add(now, 'bigint')],
          // Nothing is next: and on MySQL, whose indexes have no WHERE, the delivery index then
          // holds no delivered run in the range the sweep reads (NULLs sort before it).
          ['delivery_next_at', 'NULL'],
          ['delivery_last_error', 'NULL'],
          ['delivery_claimed_by', 'NULL'],
          ['delivery_claim_until', 'NULL'],
        ],
        returning: 'run_id',
        locks: 'by-key',
      },
      p,
    );
    return new Set(rows.map((row) => String(row.run_id)));
  }

  /** Records a failed attempt: retried at `nextAt`, or parked when `park` is set. */
  async markFailed(
    runId: string,
    instanceId: string,
    failure: { error: string; nextAt: number; park: boolean; now: number },
  ): Promise<void> {
    const p = new SqlParams();
    await this.sql.query(
      `UPDATE ${RUNS} SET delivery_state = ${p.add(failure.park ? 'parked' : 'pending')},
  delivery_last_error = ${p.add(failure.error)},
  delivery_next_at = ${p.add(failure.nextAt, 'bigint')}, delivery_claimed_by = NULL,
  delivery_claim_until = NULL, updated_at = ${p.add(failure.now, 'bigint')}
WHERE run_id = ${p.add(runId)} AND delivery_claimed_by = ${p.add(instanceId)}
  AND delivery_state = 'pending'`,
      p,
    );
  }

  /** Releases this instance's claims on deliveries it has not started (shutdown, a full queue). */
  async releaseClaims(runIds: readonly string[], instanceId: string): Promise<void> {
    if (runIds.length === 0) return;
    const p = new SqlParams();
    await this.sql.query(
      `UPDATE ${RUNS} SET delivery_claimed_by = NULL, delivery_claim_until = NULL
WHERE run_id IN ${p.list(runIds)} AND delivery_claimed_by = ${p.add(instanceId)}
  AND delivery_state = 'pending'`,
      p,
    );
  }

  /**
   * Releases the deliveries held back while create calls waited for their response: the
   * unclaimed ones not yet attempted with a future start (retries after a failure have attempts
   * > 0 and keep their backoff). Returns how many.
   */
  async releaseHeld(now: number): Promise<number> {
    const p = new SqlParams();
    const at = p.add(now, 'bigint');
    const released = await this.sql.update(
      {
        table: RUNS,
        key: 'run_id',
        where: `delivery_state = 'pending' AND delivery_next_at > ${at}
  AND delivery_claimed_by IS NULL AND delivery_attempts = 0`,
        set: [['delivery_next_at', at]],
        returning: 'run_id',
      },
      p,
    );
    return released.length;
  }

  /** Puts a parked (or delivered) run back in the queue, from attempt 1. */
  async requeue(runId: string, now: number): Promise<boolean> {
    const p = new SqlParams();
    const rows = await this.sql.update(
      {
        table: RUNS,
        key: 'run_id',
        where: `run_id = ${p.add(runId)} AND delivery_state IN ('parked', 'delivered')`,
        locks: 'by-key',
        set: [
          ['delivery_state', `'pending'`],
          ['delivery_attempts', '0'],
          ['delivery_next_at', p.add(now, 'bigint')],
          ['delivery_claimed_by', 'NULL'],
          ['delivery_claim_until', 'NULL'],
          ['delivery_last_error', 'NULL'],
        ],
        returning: 'run_id',
      },
      p,
    );
    return rows.length > 0;
  }
}
