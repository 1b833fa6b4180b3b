import { Injectable } from '@nestjs/common';
import { SqlParams } from './sql/sql-params.js';
import { sqlValue, ZapierSql } from './sql/zapier-sql.js';
import { RUN_STATE_CONDITIONS } from './run-report.repository.js';

/** What pruning removes, each kind by its own age. */
export type PruneKind = 'delivered' | 'expired' | 'parked' | 'quarantined';

/** Rows of `kind` older than `before` (epoch ms), as a table and a condition on it. */
function target(
  kind: PruneKind,
  p: SqlParams,
  before: number,
): { table: string; key: string; where: string } {
  const cutoff = p.add(before, 'bigint');
  switch (kind) {
    case 'delivered':
      return {
        table: 'zapier_action_runs',
        key: 'run_id',
        where: `status IN ('success', 'error') AND delivery_state = 'delivered' AND delivered_at < ${cutoff}`,
      };
    case 'expired':
      return {
        table: 'zapier_action_runs',
        key: 'run_id',
        where: `status = 'expired' AND delivery_state = 'delivered' AND delivered_at < ${cutoff}`,
      };
    case 'parked':
      // Parked for delivery (listeners kept failing), or by the poller (a result it could not
      // store: pending with no poll scheduled); `updated_at` is when that happened.
      return {
        table: 'zapier_action_runs',
        key: 'run_id',
        where: `${RUN_STATE_CONDITIONS.parked(cutoff)} AND updated_at < ${cutoff}`,
      };
    case 'quarantined':
      return { table: 'zapier_callback_quarantine', key: 'id', where: `received_at < ${cutoff}` };
  }
}

/**
 * The statements of retention, a batch at a time. Where there is `RETURNING` (PostgreSQL,
 * SQLite), one statement: the batch is a nested derived table and the condition is checked again
 * on each row deleted, so a run re-driven meanwhile (`redeliver`) is kept. Elsewhere the batch is
 * locked first, which keeps it from changing before it is deleted.
 */
@Injectable()
export class ZapierRetentionRepository {
  constructor(private readonly sql: ZapierSql) {}

  /** Deletes up to `limit` rows of `kind` older than `before`; returns how many. */
  async prune(kind: PruneKind, before: number, limit: number): Promise<number> {
    const p = new SqlParams();
    const { table, key, where } = target(kind, p, before);
    const batch = `SELECT ${key} FROM ${table} WHERE ${where} LIMIT ${p.add(limit, 'integer')}`;
    if (this.sql.dialect.returning) {
      const rows = await this.sql.query(
        `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM (${batch}) AS batch)
  AND ${where} RETURNING ${key}`,
        p,
      );
      return rows.length;
    }
    // Without RETURNING (MySQL, MariaDB): lock the batch, skipping rows other instances are
    // deleting, then delete exactly those, in one short transaction.
    return this.sql.transaction(async (query) => {
      const locked = await query(`${batch}${this.sql.dialect.skipLocked}`, p);
      if (locked.length === 0) return 0;
      const keys = new SqlParams();
      await query(
        `DELETE FROM ${table} WHERE ${key} IN ${keys.list(locked.map((row) => row[key]))}`,
        keys,
      );
      return locked.length;
    }, 'by-scan');
  }

  /** How many rows of `kind` older than `before` there are (for a dry run). */
  async count(kind: PruneKind, before: number): Promise<number> {
    const p = new SqlParams();
    const { table, where } = target(kind, p, before);
    const [row] = await this.sql.query(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, p);
    return sqlValue.number(row.n);
  }
}
