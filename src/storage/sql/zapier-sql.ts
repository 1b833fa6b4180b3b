import type { DataSource } from 'typeorm';
import { dialectOf, type SqlDialect } from './sql-dialect.js';
import type { SqlParams } from './sql-params.js';

/** A row as the driver returns it: PostgreSQL gives BIGINT as a string, SQLite as a number. */
export type SqlRow = Record<string, unknown>;

const MAX_ATTEMPTS = 4;
/** deadlock_detected, serialization_failure: the statement was rolled back and may run again. */
const TRANSIENT_CODES = new Set(['40P01', '40001']);
const isTransientConflict = (error: unknown): boolean =>
  TRANSIENT_CODES.has(String((error as { driverError?: { code?: unknown } }).driverError?.code));

/**
 * Runs the module's statements on its TypeORM data source: the one place that knows the dialect
 * and retries transient conflicts. Each state change is one atomic statement (an upsert, or an
 * UPDATE guarded by the state it expects), so correctness never depends on process memory, on a
 * transaction spanning several round trips, or on SQLite's single shared query runner (TypeORM
 * cannot run two transactions on it at once).
 */
export class ZapierSql {
  readonly dialect: SqlDialect;

  constructor(readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  /**
   * Runs one statement and returns the rows it returned. A statement PostgreSQL aborted as a
   * deadlock or serialization failure changed nothing, so it is run again (a few times) instead
   * of failing a callback.
   */
  async query(sql: string, params: SqlParams): Promise<SqlRow[]> {
    const compiled = this.dialect.compile(sql, params.values);
    for (let attempt = 1; ; attempt++) {
      const runner = this.dataSource.createQueryRunner();
      try {
        const result = await runner.query(compiled.sql, compiled.values, true);
        return (result.records ?? []) as SqlRow[];
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isTransientConflict(error)) throw error;
      } finally {
        await runner.release();
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

/** Readers for driver values. */
export const sqlValue = {
  number: (value: unknown): number => Number(value),
  numberOrNull: (value: unknown): number | null =>
    value === null || value === undefined ? null : Number(value),
  json: <T>(value: unknown, fallback: T): T =>
    typeof value === 'string' ? (JSON.parse(value) as T) : fallback,
  stringOrNull: (value: unknown): string | null => (typeof value === 'string' ? value : null),
};
