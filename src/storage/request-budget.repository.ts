import { Injectable } from '@nestjs/common';
import { SqlParams } from './sql/sql-params.js';
import { lockingUpdate, type SqlUpdate } from './sql/sql-writes.js';
import { sqlValue, ZapierSql, type SqlRow } from './sql/zapier-sql.js';

const BUDGET = 'zapier_api_budget';
/** A column of the budget row as stored (in an upsert: the row already there). */
const current = (column: string) => `${BUDGET}.${column}`;

/** The shared budget row, for logs and tests. */
export interface BudgetState {
  nextSlotAt: number;
  cooldownUntil: number;
  createsInflight: number;
  createsInflightUntil: number;
}

/**
 * The row of `zapier_api_budget` every instance of the app shares: the next free send slot, the
 * end of a 429 cooldown, and how many create calls are waiting for their response (and until when
 * at the latest, should their process die). Each change is one atomic upsert on that row.
 */
@Injectable()
export class ZapierBudgetRepository {
  constructor(private readonly sql: ZapierSql) {}

  /**
   * A join bringing in the budget row as `b`, and the time until which results of runs nobody has
   * recorded must wait for a create call's metadata (0 when no create call is waiting).
   */
  static createsInflight(p: SqlParams, budgetKey: string): { join: string; heldUntil: string } {
    return {
      join: `LEFT JOIN ${BUDGET} b ON b.budget_key = ${p.add(budgetKey)}`,
      heldUntil: `(CASE WHEN COALESCE(b.creates_inflight, 0) > 0 THEN b.creates_inflight_until ELSE 0 END)`,
    };
  }

  /**
   * Reserves the next send slot: slots are `intervalMs` apart and never inside a cooldown,
   * whichever instance asks. Returns the slot's time.
   */
  async reserveSlot(budgetKey: string, now: number, intervalMs: number): Promise<number> {
    return (await this.reserve(budgetKey, now, intervalMs, null)) as number;
  }

  /**
   * `reserveSlot()`, unless the slot would come more than `maxWaitMs` after `now` (a queue or a
   * cooldown ahead of it): then nothing changes and the answer is `null`. One statement, so two
   * instances cannot both see room for the same slot.
   */
  async reserveSlotWithin(
    budgetKey: string,
    now: number,
    intervalMs: number,
    maxWaitMs: number,
  ): Promise<number | null> {
    return this.reserve(budgetKey, now, intervalMs, maxWaitMs);
  }

  private async reserve(
    budgetKey: string,
    now: number,
    intervalMs: number,
    maxWaitMs: number | null,
  ): Promise<number | null> {
    const p = new SqlParams();
    const key = p.add(budgetKey);
    const at = p.add(now, 'bigint');
    const interval = p.add(intervalMs, 'bigint');
    const slot = this.sql.dialect.greatest(current('next_slot_at'), current('cooldown_until'), at);
    const within = maxWaitMs === null ? null : `${slot} <= ${at} + ${p.add(maxWaitMs, 'bigint')}`;
    let rows: SqlRow[];
    if (this.sql.dialect.returning) {
      rows = await this.sql.query(
        `INSERT INTO ${BUDGET} (budget_key, next_slot_at) VALUES (${key}, ${at} + ${interval})
${this.sql.dialect.onConflictUpdate('budget_key')} next_slot_at = ${slot} + ${interval}${
          within === null ? '' : `\nWHERE ${within}`
        }
RETURNING next_slot_at`,
        p,
      );
    } else {
      // MySQL has no guarded upsert. In one transaction: the row is made sure of (and locked)
      // with the column defaults (0), from which the update writes what the insert above would
      // (the slot `at`), then updated where the guard holds.
      rows = await this.sql.transaction(async (query) => {
        await query(
          `INSERT INTO ${BUDGET} (budget_key) VALUES (${key})
ON DUPLICATE KEY UPDATE budget_key = budget_key`,
          p,
        );
        const update: SqlUpdate = {
          table: BUDGET,
          key: 'budget_key',
          where: `budget_key = ${key}${within === null ? '' : ` AND ${within}`}`,
          set: [['next_slot_at', `${slot} + ${interval}`]],
          returning: 'next_slot_at',
        };
        return lockingUpdate(this.sql.dialect, query, update, p);
      }, 'by-key');
    }
    const [row] = rows;
    return row ? sqlValue.number(row.next_slot_at) - intervalMs : null;
  }

  /** Starts (or extends) the cooldown after a 429; reserved slots move past it. */
  async startCooldown(budgetKey: string, until: number): Promise<void> {
    const p = new SqlParams();
    const { greatest, inserted } = this.sql.dialect;
    await this.sql.upsert(
      {
        table: BUDGET,
        key: 'budget_key',
        values: [
          ['budget_key', p.add(budgetKey)],
          ['cooldown_until', p.add(until, 'bigint')],
        ],
        update: [
          ['cooldown_until', greatest(current('cooldown_until'), inserted('cooldown_until'))],
        ],
      },
      p,
    );
  }

  /**
   * Records that a create call is about to wait for its response, until `until` at the latest.
   * A count whose deadline passed is stale and starts again from 1.
   */
  async beginCreate(budgetKey: string, now: number, until: number): Promise<void> {
    const p = new SqlParams();
    const at = p.add(now, 'bigint');
    const deadline = p.add(until, 'bigint');
    await this.sql.upsert(
      {
        table: BUDGET,
        key: 'budget_key',
        values: [
          ['budget_key', p.add(budgetKey)],
          ['creates_inflight', '1'],
          ['creates_inflight_until', deadline],
        ],
        update: [
          [
            'creates_inflight',
            `CASE WHEN ${current('creates_inflight_until')} < ${at} THEN 1 ELSE ${current('creates_inflight')} + 1 END`,
          ],
          [
            'creates_inflight_until',
            this.sql.dialect.greatest(current('creates_inflight_until'), deadline),
          ],
        ],
      },
      p,
    );
  }

  /** Records that a create call has its response; returns how many are still waiting. */
  async finishCreate(budgetKey: string): Promise<number> {
    const p = new SqlParams();
    const [row] = await this.sql.update(
      {
        table: BUDGET,
        key: 'budget_key',
        where: `budget_key = ${p.add(budgetKey)}`,
        set: [
          [
            'creates_inflight',
            'CASE WHEN creates_inflight > 0 THEN creates_inflight - 1 ELSE 0 END',
          ],
          [
            'creates_inflight_until',
            'CASE WHEN creates_inflight <= 1 THEN 0 ELSE creates_inflight_until END',
          ],
        ],
        returning: 'creates_inflight',
        locks: 'by-key',
      },
      p,
    );
    return row ? sqlValue.number(row.creates_inflight) : 0;
  }

  async read(budgetKey: string): Promise<BudgetState | null> {
    const p = new SqlParams();
    const [row] = await this.sql.query(
      `SELECT next_slot_at, cooldown_until, creates_inflight, creates_inflight_until
FROM ${BUDGET} WHERE budget_key = ${p.add(budgetKey)}`,
      p,
    );
    if (!row) return null;
    return {
      nextSlotAt: sqlValue.number(row.next_slot_at),
      cooldownUntil: sqlValue.number(row.cooldown_until),
      createsInflight: sqlValue.number(row.creates_inflight),
      createsInflightUntil: sqlValue.number(row.creates_inflight_until),
    };
  }
}
