import type { DataSource } from 'typeorm';
import { ZapierConfigurationError } from '../../errors/zapier-configuration.error.js';
import { ZapierMessages } from '../../zapier.messages.js';
import type { SqlParams, SqlScalarType } from './sql-params.js';

/**
 * What differs in the text of the statements between the databases the module supports. What
 * differs in their shape (`RETURNING`, or a short transaction that locks, writes and reads back)
 * is `ZapierSql.update` / `ZapierSql.upsert`, on top of `returning`.
 */
export interface SqlDialect {
  readonly kind: 'postgres' | 'sqlite' | 'mysql';
  /**
   * Whether a write can return the rows it wrote (`RETURNING`) and an upsert can be guarded by a
   * `WHERE`: PostgreSQL and SQLite can; MySQL and MariaDB cannot (MariaDB's `RETURNING` covers
   * INSERT and DELETE, not UPDATE), so there a state change that must answer with rows is one
   * short transaction instead.
   */
  readonly returning: boolean;
  /** Largest of the arguments (`GREATEST` / `MAX`). */
  greatest(...expressions: string[]): string;
  /**
   * Suffix of the sub-select that picks rows to claim: PostgreSQL and MySQL let concurrent
   * instances skip each other's rows.
   */
  readonly skipLocked: string;
  /** What follows an INSERT's VALUES to update the row of `key` that is there already. */
  onConflictUpdate(key: string): string;
  /** In that update, the value the INSERT proposed for `column`. */
  inserted(column: string): string;
  /**
   * A row source for `WITH v (cols) AS (...)` holding `rows`. PostgreSQL gets one array
   * parameter per column through `unnest`, so the statement text (and its parsing) does not grow
   * with the batch; SQLite gets a `VALUES` list. MySQL has none both it and MariaDB accept
   * (`VALUES ROW(...)` against `VALUES (...)`): there, rows go into an INSERT's VALUES.
   */
  rows(types: readonly SqlScalarType[], rows: readonly unknown[][], params: SqlParams): string;
  /** Turns the builder's `$n::type` placeholders into what the driver binds. */
  compile(sql: string, values: readonly unknown[]): { sql: string; values: unknown[] };
}

const PLACEHOLDER = /\$(\d+)::\w+/g;

/**
 * better-sqlite3 and mysql2 bind positional `?` only, so parameters are laid out in the order
 * their placeholders appear, repeating the ones used twice.
 */
function positional(sql: string, values: readonly unknown[]): { sql: string; values: unknown[] } {
  const ordered: unknown[] = [];
  const text = sql.replace(PLACEHOLDER, (_match, index: string) => {
    ordered.push(values[Number(index) - 1]);
    return '?';
  });
  return { sql: text, values: ordered };
}

const valuesList = (
  types: readonly SqlScalarType[],
  rows: readonly unknown[][],
  params: SqlParams,
) =>
  `VALUES ${rows
    .map((row) => `(${row.map((value, column) => params.add(value, types[column])).join(', ')})`)
    .join(', ')}`;

const postgres: SqlDialect = {
  kind: 'postgres',
  returning: true,
  greatest: (...expressions) => `GREATEST(${expressions.join(', ')})`,
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  onConflictUpdate: (key) => `ON CONFLICT (${key}) DO UPDATE SET`,
  inserted: (column) => `excluded.${column}`,
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
  returning: true,
  greatest: (...expressions) => `MAX(${expressions.join(', ')})`,
  skipLocked: '',
  onConflictUpdate: (key) => `ON CONFLICT (${key}) DO UPDATE SET`,
  inserted: (column) => `excluded.${column}`,
  rows: valuesList,
  compile: positional,
};

/**
 * MySQL 8.0 and MariaDB 10.6 and later (both have `SKIP LOCKED`), through mysql2. Only syntax
 * both accept: `VALUES(col)` in `ON DUPLICATE KEY UPDATE` (MySQL 8.0.20 prefers a row alias,
 * which MariaDB does not know, and still accepts it), no `RETURNING`, no CTE before an UPDATE.
 */
const mysql: SqlDialect = {
  kind: 'mysql',
  returning: false,
  greatest: (...expressions) => `GREATEST(${expressions.join(', ')})`,
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  onConflictUpdate: () => 'ON DUPLICATE KEY UPDATE',
  inserted: (column) => `VALUES(${column})`,
  rows: () => {
    throw new Error('No row source on MySQL: list the rows in an INSERT instead.');
  },
  compile: positional,
};

export function dialectOf(dataSource: DataSource): SqlDialect {
  const type = dataSource.options.type;
  if (type === 'postgres') return postgres;
  if (type === 'better-sqlite3') return sqlite;
  if (type === 'mysql' || type === 'mariadb') return mysql;
  throw new ZapierConfigurationError(ZapierMessages.unsupportedDatabase(String(type)));
}
