import type { DataSource, QueryRunner } from 'typeorm';
import type { ZapierRunStatus } from '../interfaces/action-run.interface.js';
import { dialectOf, SqlParams, type SqlDialect } from './sql-dialect.js';
import type { ClaimContext, DispatchableRun, PollableRun, TerminalResult } from './stored-run.js';

const RUNS = 'zapier_action_runs';
const BUDGET = 'zapier_api_budget';
const QUARANTINE = 'zapier_callback_quarantine';

type Row = Record<string, unknown>;

const MAX_ATTEMPTS = 4;
/** deadlock_detected, serialization_failure: the statement was rolled back and may run again. */
const TRANSIENT_CODES = new Set(['40P01', '40001']);
const isTransientConflict = (error: unknown): boolean =>
  TRANSIENT_CODES.has(String((error as { driverError?: { code?: unknown } }).driverError?.code));

const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const json = <T>(value: unknown, fallback: T): T =>
  typeof value === 'string' ? (JSON.parse(value) as T) : fallback;

/**
 * Every statement the module runs against its tables. Each state change is one atomic statement
 * (an upsert, or an UPDATE guarded by the state it expects), so correctness never depends on
 * process memory, on a transaction spanning several round trips, or on SQLite's single shared
 * query runner (TypeORM cannot run two transactions on it at once).
 */
export class ZapierRunStore {
  readonly dialect: SqlDialect;

  constructor(readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  /**
   * Runs one statement. A statement PostgreSQL aborted as a deadlock or serialization failure
   * changed nothing, so it is simply run again (a few times) instead of failing a callback.
   */
  private async query(sql: string, params: SqlParams): Promise<Row[]> {
    const compiled = this.dialect.compile(sql, params.values);
    for (let attempt = 1; ; attempt++) {
      const runner: QueryRunner = this.dataSource.createQueryRunner();
      try {
        const result = await runner.query(compiled.sql, compiled.values, true);
        return (result.records ?? []) as Row[];
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isTransientConflict(error)) throw error;
      } finally {
        await runner.release();
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }

  /**
   * Stores terminal results in one statement and returns the runs that changed because of it:
   * new rows, and rows that were pending. A run already terminal is left exactly as it is (the
   * first terminal state wins, ZAPIER.md decision 9), so duplicates and racing callback/poll
   * pairs return nothing. Changed runs are claimed for delivery by this instance at once, except
   * runs nobody has recorded yet while a create call may still be waiting for its response: their
   * delivery waits until then, so that the client can attach the metadata first. Rows are written
   * in run id order, the order in which every other statement here locks them too, so concurrent
   * batches sharing runs queue behind each other instead of deadlocking.
   */
  async storeTerminal(
    results: readonly TerminalResult[],
    claim: ClaimContext,
    budgetKey: string,
  ): Promise<Map<string, DispatchableRun>> {
    const p = new SqlParams();
    const source = this.dialect.rows(
      ['text', 'text', 'text', 'text', 'text', 'text', 'bigint'],
      results.map((r) => [
        r.runId,
        r.status,
        JSON.stringify(r.results),
        JSON.stringify(r.errors),
        r.rawPayload,
        r.source,
        r.receivedAt,
      ]),
      p,
    );
    const now = p.add(claim.now, 'bigint');
    const me = p.add(claim.instanceId);
    const until = p.add(claim.claimUntil, 'bigint');
    // Until when a create call may still be waiting for its response (0 when none is).
    const inflight = `CASE WHEN COALESCE(b.creates_inflight, 0) > 0 THEN b.creates_inflight_until ELSE 0 END`;
    const sql = `
WITH v (run_id, status, results, errors, raw_payload, source, received_at) AS (${source})
INSERT INTO ${RUNS} AS r (run_id, status, results, errors, raw_payload, source, received_at,
  completed_at, created_at, updated_at, dispatch_state, dispatch_attempts, dispatch_next_at,
  dispatch_claimed_by, dispatch_claim_until)
SELECT v.run_id, v.status, v.results, v.errors, v.raw_payload, v.source, v.received_at,
  ${now}, ${now}, ${now}, 'pending', CASE WHEN ${inflight} > ${now} THEN 0 ELSE 1 END,
  ${this.dialect.greatest(now, inflight)},
  CASE WHEN ${inflight} > ${now} THEN NULL ELSE ${me} END,
  CASE WHEN ${inflight} > ${now} THEN NULL ELSE ${until} END
FROM v LEFT JOIN ${BUDGET} b ON b.budget_key = ${p.add(budgetKey)}
WHERE true
ORDER BY v.run_id
ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, results = excluded.results,
  errors = excluded.errors, raw_payload = excluded.raw_payload, source = excluded.source,
  received_at = excluded.received_at, completed_at = excluded.completed_at,
  updated_at = excluded.updated_at, poll_next_at = NULL, poll_claimed_by = NULL,
  poll_claim_until = NULL, dispatch_state = 'pending', dispatch_attempts = 1,
  dispatch_next_at = ${now}, dispatch_claimed_by = ${me}, dispatch_claim_until = ${until}
WHERE r.status = 'pending'
RETURNING run_id, metadata, submitted_at, dispatch_next_at, dispatch_claimed_by`;
    const rows = await this.query(sql, p);
    const byId = new Map(results.map((r) => [r.runId, r]));
    const changed = new Map<string, DispatchableRun>();
    for (const row of rows) {
      const input = byId.get(String(row.run_id));
      if (!input) continue;
      changed.set(input.runId, {
        runId: input.runId,
        status: input.status,
        results: input.results,
        errors: input.errors,
        metadata: json(row.metadata, null),
        source: input.source,
        receivedAt: input.receivedAt,
        submittedAt: numOrNull(row.submitted_at),
        expiredReason: null,
        attempt: 1,
        dispatchNextAt: num(row.dispatch_next_at),
      });
    }
    return changed;
  }

  /** Statuses of the given runs, for telling a duplicate from a conflicting outcome. */
  async statuses(runIds: readonly string[]): Promise<Map<string, ZapierRunStatus>> {
    if (runIds.length === 0) return new Map();
    const p = new SqlParams();
    const rows = await this.query(
      `SELECT run_id, status FROM ${RUNS} WHERE run_id IN ${p.list(runIds)}`,
      p,
    );
    return new Map(rows.map((row) => [String(row.run_id), row.status as ZapierRunStatus]));
  }

  /** Keeps a signed callback that could not be accepted, so nothing Zapier sent is lost. */
  async quarantine(entry: {
    runId: string | null;
    reason: string;
    rawBody: string;
    receivedAt: number;
  }): Promise<void> {
    const p = new SqlParams();
    await this.query(
      `INSERT INTO ${QUARANTINE} (run_id, reason, raw_body, received_at) VALUES (${p.add(
        entry.runId,
      )}, ${p.add(entry.reason)}, ${p.add(entry.rawBody)}, ${p.add(entry.receivedAt, 'bigint')})`,
      p,
    );
  }

  /**
   * Records a run the client just created, as pending with its metadata. If the callback was
   * faster and the run is terminal already, its status is left alone (never back to pending);
   * the metadata is attached and a delivery still waiting for it is released. Returns the stored
   * status.
   */
  async recordSubmitted(run: {
    runId: string;
    action: string;
    metadata: Record<string, unknown> | null;
    submittedAt: number;
    pollNextAt: number;
    now: number;
  }): Promise<{ status: ZapierRunStatus; deliveryReleased: boolean }> {
    const p = new SqlParams();
    const metadata = run.metadata === null ? null : JSON.stringify(run.metadata);
    const now = p.add(run.now, 'bigint');
    const sql = `
INSERT INTO ${RUNS} AS r (run_id, status, action, metadata, submitted_at, created_at, updated_at,
  poll_next_at, poll_attempts, dispatch_state)
VALUES (${p.add(run.runId)}, 'pending', ${p.add(run.action)}, ${p.add(metadata)}, ${p.add(
      run.submittedAt,
      'bigint',
    )}, ${now}, ${now}, ${p.add(run.pollNextAt, 'bigint')}, 0, 'none')
ON CONFLICT (run_id) DO UPDATE SET action = COALESCE(r.action, excluded.action),
  metadata = COALESCE(r.metadata, excluded.metadata),
  submitted_at = COALESCE(r.submitted_at, excluded.submitted_at),
  updated_at = excluded.updated_at,
  dispatch_next_at = CASE WHEN r.dispatch_state = 'pending' AND r.dispatch_claimed_by IS NULL
    THEN excluded.updated_at ELSE r.dispatch_next_at END
RETURNING status, dispatch_state, dispatch_claimed_by`;
    const [row] = await this.query(sql, p);
    return {
      status: row.status as ZapierRunStatus,
      deliveryReleased: row.dispatch_state === 'pending' && row.dispatch_claimed_by === null,
    };
  }

  /**
   * Reserves the next send slot of the shared request budget: slots are `intervalMs` apart and
   * never inside a cooldown, whichever instance asks. One atomic upsert on a single row, so the
   * budget holds across the cluster.
   */
  async reserveSlot(budgetKey: string, now: number, intervalMs: number): Promise<number> {
    const p = new SqlParams();
    const at = p.add(now, 'bigint');
    const interval = p.add(intervalMs, 'bigint');
    const sql = `
INSERT INTO ${BUDGET} AS b (budget_key, next_slot_at)
VALUES (${p.add(budgetKey)}, ${at} + ${interval})
ON CONFLICT (budget_key) DO UPDATE SET
  next_slot_at = ${this.dialect.greatest('b.next_slot_at', 'b.cooldown_until', at)} + ${interval}
RETURNING next_slot_at`;
    const [row] = await this.query(sql, p);
    return num(row.next_slot_at) - intervalMs;
  }

  /**
   * Records that a create call is about to wait for its response, until `until` at the latest
   * (a crashed caller never says it is done). While any is waiting, results for runs nobody has
   * recorded are held back (see `storeTerminal`). A count whose deadline passed is stale and
   * starts again from 1.
   */
  async beginCreate(budgetKey: string, now: number, until: number): Promise<void> {
    const p = new SqlParams();
    const at = p.add(now, 'bigint');
    const deadline = p.add(until, 'bigint');
    await this.query(
      `INSERT INTO ${BUDGET} AS b (budget_key, creates_inflight, creates_inflight_until)
VALUES (${p.add(budgetKey)}, 1, ${deadline})
ON CONFLICT (budget_key) DO UPDATE SET
  creates_inflight = CASE WHEN b.creates_inflight_until < ${at} THEN 1
    ELSE b.creates_inflight + 1 END,
  creates_inflight_until = ${this.dialect.greatest('b.creates_inflight_until', deadline)}`,
      p,
    );
  }

  /**
   * Records that a create call has its response (and recorded its run). When it was the last one
   * waiting, the results held back for unknown runs are released at once; returns how many.
   */
  async finishCreate(budgetKey: string, now: number): Promise<number> {
    const p = new SqlParams();
    const [row] = await this.query(
      `UPDATE ${BUDGET} SET
  creates_inflight = CASE WHEN creates_inflight > 0 THEN creates_inflight - 1 ELSE 0 END,
  creates_inflight_until = CASE WHEN creates_inflight <= 1 THEN 0 ELSE creates_inflight_until END
WHERE budget_key = ${p.add(budgetKey)}
RETURNING creates_inflight`,
      p,
    );
    if (!row || num(row.creates_inflight) > 0) return 0;
    const release = new SqlParams();
    const at = release.add(now, 'bigint');
    // Held-back deliveries are the unclaimed ones not yet attempted with a future start;
    // retries after a failure have attempts > 0 and keep their backoff.
    const released = await this.query(
      `UPDATE ${RUNS} SET dispatch_next_at = ${at}
WHERE dispatch_state = 'pending' AND dispatch_next_at > ${at}
  AND dispatch_claimed_by IS NULL AND dispatch_attempts = 0
RETURNING run_id`,
      release,
    );
    return released.length;
  }

  /** Starts (or extends) the cooldown after a 429; reserved slots move past it. */
  async startCooldown(budgetKey: string, until: number): Promise<void> {
    const p = new SqlParams();
    const key = p.add(budgetKey);
    const untilP = p.add(until, 'bigint');
    await this.query(
      `INSERT INTO ${BUDGET} AS b (budget_key, cooldown_until)
VALUES (${key}, ${untilP})
ON CONFLICT (budget_key) DO UPDATE SET cooldown_until = ${this.dialect.greatest(
        'b.cooldown_until',
        'excluded.cooldown_until',
      )}`,
      p,
    );
  }

  /** The budget row, for logs and tests. */
  async readBudget(budgetKey: string): Promise<{
    nextSlotAt: number;
    cooldownUntil: number;
    createsInflight: number;
    createsInflightUntil: number;
  } | null> {
    const p = new SqlParams();
    const [row] = await this.query(
      `SELECT * FROM ${BUDGET} WHERE budget_key = ${p.add(budgetKey)}`,
      p,
    );
    if (!row) return null;
    return {
      nextSlotAt: num(row.next_slot_at),
      cooldownUntil: num(row.cooldown_until),
      createsInflight: num(row.creates_inflight),
      createsInflightUntil: num(row.creates_inflight_until),
    };
  }

  /**
   * Claims up to `limit` pending runs whose next poll is due, oldest due first. A run is claimed
   * by one instance at a time: the claim is a guarded UPDATE, and on PostgreSQL the sub-select
   * skips rows another instance is claiming at that moment.
   */
  async claimDuePolls(claim: ClaimContext, limit: number): Promise<PollableRun[]> {
    const p = new SqlParams();
    const me = p.add(claim.instanceId);
    const until = p.add(claim.claimUntil, 'bigint');
    const now = p.add(claim.now, 'bigint');
    const lim = p.add(limit, 'integer');
    // MATERIALIZED: PostgreSQL may rescan an `IN (SELECT ... LIMIT n)` sub-select once per outer
    // row (a nested-loop semi join), each rescan picking another row, so it claimed every due run
    // while the poller polls only what it asked for; the others sat claimed for a whole lease.
    const sql = `
WITH due AS MATERIALIZED (
  SELECT run_id FROM ${RUNS}
  WHERE status = 'pending' AND poll_next_at <= ${now}
    AND (poll_claim_until IS NULL OR poll_claim_until < ${now})
  ORDER BY poll_next_at LIMIT ${lim}${this.dialect.skipLocked})
UPDATE ${RUNS} SET poll_claimed_by = ${me}, poll_claim_until = ${until}
WHERE run_id IN (SELECT run_id FROM due)
  AND status = 'pending' AND (poll_claim_until IS NULL OR poll_claim_until < ${now})
RETURNING run_id, submitted_at, created_at, poll_attempts`;
    const rows = await this.query(sql, p);
    return rows.map((row) => ({
      runId: String(row.run_id),
      submittedAt: numOrNull(row.submitted_at),
      createdAt: num(row.created_at),
      pollAttempts: num(row.poll_attempts),
    }));
  }

  /** Schedules the next poll of a run this instance claimed, and releases the claim. */
  async reschedulePoll(
    runId: string,
    instanceId: string,
    update: { nextAt: number; attempts: number; lastError: string | null; now: number },
  ): Promise<void> {
    const p = new SqlParams();
    await this.query(
      `UPDATE ${RUNS} SET poll_next_at = ${p.add(update.nextAt, 'bigint')},
  poll_attempts = ${p.add(update.attempts, 'integer')}, poll_last_error = ${p.add(update.lastError)},
  poll_claimed_by = NULL, poll_claim_until = NULL, updated_at = ${p.add(update.now, 'bigint')}
WHERE run_id = ${p.add(runId)} AND status = 'pending' AND poll_claimed_by = ${p.add(instanceId)}`,
      p,
    );
  }

  /** Extends this instance's claim on a run it is still polling. */
  async renewPollClaim(runId: string, instanceId: string, claimUntil: number): Promise<void> {
    const p = new SqlParams();
    await this.query(
      `UPDATE ${RUNS} SET poll_claim_until = ${p.add(claimUntil, 'bigint')}
WHERE run_id = ${p.add(runId)} AND poll_claimed_by = ${p.add(instanceId)} AND status = 'pending'`,
      p,
    );
  }

  /** Releases every poll claim of this instance (shutdown), so another instance can poll. */
  async releasePollClaims(instanceId: string): Promise<void> {
    const p = new SqlParams();
    await this.query(
      `UPDATE ${RUNS} SET poll_claimed_by = NULL, poll_claim_until = NULL
WHERE poll_claimed_by = ${p.add(instanceId)} AND status = 'pending'`,
      p,
    );
  }

  /**
   * Expires pending runs, either the given ones or every one created before `createdBefore`, and
   * returns them claimed for delivery of `zapier.run.expired`.
   */
  async expire(
    target: { runIds: readonly string[] } | { createdBefore: number; limit: number },
    reason: string,
    claim: ClaimContext,
  ): Promise<DispatchableRun[]> {
    const p = new SqlParams();
    const set = `status = 'expired', expired_reason = ${p.add(reason)},
  completed_at = ${p.add(claim.now, 'bigint')}, updated_at = ${p.add(claim.now, 'bigint')},
  poll_next_at = NULL, poll_claimed_by = NULL, poll_claim_until = NULL,
  dispatch_state = 'pending', dispatch_attempts = 1, dispatch_next_at = ${p.add(
    claim.now,
    'bigint',
  )}, dispatch_claimed_by = ${p.add(claim.instanceId)}, dispatch_claim_until = ${p.add(
    claim.claimUntil,
    'bigint',
  )}`;
    if ('runIds' in target && target.runIds.length === 0) return [];
    // MATERIALIZED for the reason given in claimDuePolls.
    const due =
      'runIds' in target
        ? `SELECT run_id FROM ${RUNS} WHERE run_id IN ${p.list(target.runIds)}`
        : `SELECT run_id FROM ${RUNS} WHERE status = 'pending' AND created_at < ${p.add(
            target.createdBefore,
            'bigint',
          )} ORDER BY created_at LIMIT ${p.add(target.limit, 'integer')}${this.dialect.skipLocked}`;
    const rows = await this.query(
      `WITH due AS MATERIALIZED (${due})
UPDATE ${RUNS} SET ${set} WHERE run_id IN (SELECT run_id FROM due) AND status = 'pending'
RETURNING ${DISPATCH_COLUMNS}`,
      p,
    );
    return rows.map(toDispatchable);
  }

  /**
   * Claims up to `limit` runs whose delivery is due and not held by a live claim: after a listener
   * failed, after a crash (the dead instance's claim runs out), or once a deferred delivery's wait
   * is over. A claim counts as an attempt, so a delivery cut short by a crash is counted too; a
   * run that already had `maxAttempts` is parked instead of claimed (returned with
   * `parked: true`), so a listener that kills the process every time cannot loop forever.
   */
  async claimDueDispatches(
    claim: ClaimContext,
    limit: number,
    maxAttempts: number,
  ): Promise<Array<DispatchableRun & { parked: boolean }>> {
    const p = new SqlParams();
    const me = p.add(claim.instanceId);
    const until = p.add(claim.claimUntil, 'bigint');
    const now = p.add(claim.now, 'bigint');
    const lim = p.add(limit, 'integer');
    const spent = `dispatch_attempts >= ${p.add(maxAttempts, 'integer')}`;
    const interrupted = p.add('the instance delivering it stopped before its listeners finished');
    // MATERIALIZED for the reason given in claimDuePolls.
    const sql = `
WITH due AS MATERIALIZED (
  SELECT run_id FROM ${RUNS}
  WHERE dispatch_state = 'pending' AND dispatch_next_at <= ${now}
    AND (dispatch_claim_until IS NULL OR dispatch_claim_until < ${now})
  ORDER BY dispatch_next_at LIMIT ${lim}${this.dialect.skipLocked})
UPDATE ${RUNS} SET
  dispatch_state = CASE WHEN ${spent} THEN 'parked' ELSE 'pending' END,
  dispatch_attempts = CASE WHEN ${spent} THEN dispatch_attempts ELSE dispatch_attempts + 1 END,
  dispatch_claimed_by = CASE WHEN ${spent} THEN NULL ELSE ${me} END,
  dispatch_claim_until = CASE WHEN ${spent} THEN NULL ELSE ${until} END,
  dispatch_last_error = CASE WHEN ${spent} AND dispatch_claimed_by IS NOT NULL
    THEN ${interrupted} ELSE dispatch_last_error END
WHERE run_id IN (SELECT run_id FROM due)
  AND dispatch_state = 'pending' AND (dispatch_claim_until IS NULL OR dispatch_claim_until < ${now})
RETURNING ${DISPATCH_COLUMNS}, dispatch_state`;
    return (await this.query(sql, p)).map((row) => ({
      ...toDispatchable(row),
      parked: row.dispatch_state === 'parked',
    }));
  }

  /** Extends this instance's claims on deliveries it is still working on. */
  async renewDispatchClaims(
    runIds: readonly string[],
    instanceId: string,
    claimUntil: number,
  ): Promise<void> {
    if (runIds.length === 0) return;
    const p = new SqlParams();
    await this.query(
      `UPDATE ${RUNS} SET dispatch_claim_until = ${p.add(claimUntil, 'bigint')}
WHERE run_id IN ${p.list(runIds)} AND dispatch_claimed_by = ${p.add(instanceId)}
  AND dispatch_state = 'pending'`,
      p,
    );
  }

  /** Marks deliveries done; only claims this instance still holds count. */
  async markDelivered(runIds: readonly string[], instanceId: string, now: number): Promise<number> {
    if (runIds.length === 0) return 0;
    const p = new SqlParams();
    const rows = await this.query(
      `UPDATE ${RUNS} SET dispatch_state = 'delivered', delivered_at = ${p.add(now, 'bigint')},
  dispatch_last_error = NULL,
  dispatch_claimed_by = NULL, dispatch_claim_until = NULL
WHERE run_id IN ${p.list(runIds)} AND dispatch_claimed_by = ${p.add(instanceId)}
  AND dispatch_state = 'pending'
RETURNING run_id`,
      p,
    );
    return rows.length;
  }

  /** Records a failed delivery: retried at `nextAt`, or parked when `park` is set. */
  async markDeliveryFailed(
    runId: string,
    instanceId: string,
    failure: { error: string; nextAt: number; park: boolean; now: number },
  ): Promise<void> {
    const p = new SqlParams();
    await this.query(
      `UPDATE ${RUNS} SET dispatch_state = ${p.add(failure.park ? 'parked' : 'pending')},
  dispatch_last_error = ${p.add(failure.error)},
  dispatch_next_at = ${p.add(failure.nextAt, 'bigint')}, dispatch_claimed_by = NULL,
  dispatch_claim_until = NULL, updated_at = ${p.add(failure.now, 'bigint')}
WHERE run_id = ${p.add(runId)} AND dispatch_claimed_by = ${p.add(instanceId)}
  AND dispatch_state = 'pending'`,
      p,
    );
  }

  /** Releases this instance's claims on deliveries it has not started (shutdown). */
  async releaseDispatchClaims(runIds: readonly string[], instanceId: string): Promise<void> {
    if (runIds.length === 0) return;
    const p = new SqlParams();
    await this.query(
      `UPDATE ${RUNS} SET dispatch_claimed_by = NULL, dispatch_claim_until = NULL
WHERE run_id IN ${p.list(runIds)} AND dispatch_claimed_by = ${p.add(instanceId)}
  AND dispatch_state = 'pending'`,
      p,
    );
  }

  /** Puts a parked (or delivered) run back in the delivery queue. */
  async requeueDelivery(runId: string, now: number): Promise<boolean> {
    const p = new SqlParams();
    const rows = await this.query(
      `UPDATE ${RUNS} SET dispatch_state = 'pending', dispatch_attempts = 0,
  dispatch_next_at = ${p.add(now, 'bigint')}, dispatch_claimed_by = NULL,
  dispatch_claim_until = NULL, dispatch_last_error = NULL
WHERE run_id = ${p.add(runId)} AND dispatch_state IN ('parked', 'delivered')
RETURNING run_id`,
      p,
    );
    return rows.length > 0;
  }
}

const DISPATCH_COLUMNS = `run_id, status, results, errors, metadata, source, received_at,
  submitted_at, expired_reason, dispatch_attempts, dispatch_next_at`;

function toDispatchable(row: Row): DispatchableRun {
  return {
    runId: String(row.run_id),
    status: row.status as DispatchableRun['status'],
    results: json(row.results, []),
    errors: json(row.errors, []),
    metadata: json(row.metadata, null),
    source: (row.source as DispatchableRun['source']) ?? null,
    receivedAt: numOrNull(row.received_at),
    submittedAt: numOrNull(row.submitted_at),
    expiredReason: (row.expired_reason as string | null) ?? null,
    attempt: num(row.dispatch_attempts),
    dispatchNextAt: num(row.dispatch_next_at),
  };
}
