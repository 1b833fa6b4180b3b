import type { DataSource } from 'typeorm';
import { ZapierConfigurationError } from '../../errors/zapier-configuration.error.js';
import { ZapierMessages } from '../../zapier.messages.js';

import type { SqlParams, SqlScalarType } from './sql-params.js';

/**
 * What differs between the two databases the module supports. Everything else in the repositories' SQL
 * (upserts with `ON CONFLICT ... WHERE`, `RETURNING`, CTEs) is written once for both.
 */
export interface SqlDialect {
  readonly kind: 'postgres' | 'sqlite';
  /** Largest of the arguments (`GREATEST` / `MAX`). */
  greatest(...expressions: string[]): string;
  /** Suffix of the sub-select that picks rows to claim: PostgreSQL lets concurrent instances skip each other's rows. */
  readonly skipLocked: string;
  /**
   * A row source for `WITH v (cols) AS (...)` holding `rows`. PostgreSQL gets one array
   * parameter per column through `unnest`, so the statement text (and its parsing) does not grow
   * with the batch; SQLite gets a `VALUES` list.
   */
  rows(types: readonly SqlScalarType[], rows: readonly unknown[][], params: SqlParams): string;
  /** Turns the builder's `$n::type` placeholders into what the driver binds. */
  compile(sql: string, values: readonly unknown[]): { sql: string; values: unknown[] };
}

const postgres: SqlDialect = {
  kind: 'postgres',
  greatest: (...expressions) => `GREATEST(${expressions.join(', ')})`,
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  rows: (types, rows, params) =>
    `SELECT * FROM unnest(${types
      .map((type, column) =>
        params.add(
          rows.map((row) => row[column]),
          `${type}[]` as const,
        ),
      )
      .join(', ')})`,
  compile: (sql, values) => ({ sql, values: [...values] }),
};

/**
 * SQLite runs one writer at a time and every statement is atomic, so a claim by a single UPDATE
 * cannot race; `SELECT ... FOR UPDATE` does not exist there (TypeORM throws
 * LockNotSupportedOnGivenDriverError).
 */
const sqlite: SqlDialect = {
  kind: 'sqlite',
  greatest: (...expressions) => `MAX(${expressions.join(', ')})`,
  skipLocked: '',
  rows: (types, rows, params) =>
    `VALUES ${rows
      .map((row) => `(${row.map((value, column) => params.add(value, types[column])).join(', ')})`)
      .join(', ')}`,
  // better-sqlite3 binds positional `?` only, so parameters are laid out in the order their
  // placeholders appear, repeating the ones used twice.
  compile: (sql, values) => {
    const ordered: unknown[] = [];
    const text = sql.replace(PLACEHOLDER, (_match, index: string) => {
      ordered.push(values[Number(index) - 1]);
      return '?';
    });
    return { sql: text, values: ordered };
  },
};

const PLACEHOLDER = /\$(\d+)::\w+/g;

export function dialectOf(dataSource: DataSource): SqlDialect {
  const type = dataSource.options.type;
  if (type === 'postgres') return postgres;
  if (type === 'better-sqlite3') return sqlite;
  throw new ZapierConfigurationError(ZapierMessages.unsupportedDatabase(String(type)));
}
