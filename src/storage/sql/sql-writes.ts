import { assignments, type SqlAssignments } from './sql-columns.js';
import type { SqlDialect } from './sql-dialect.js';
import type { SqlParams } from './sql-params.js';
import type { SqlRow, SqlTransactionLocks } from './sql-connection.js';

/** One statement of a transaction: compiled for the dialect, run on the transaction's connection. */
export type SqlQuery = (sql: string, params: SqlParams) => Promise<SqlRow[]>;

/** An UPDATE that may answer with the rows it updated. */
export interface SqlUpdate {
  table: string;
  /** The primary key, by which a database without `RETURNING` reads back what it updated. */
  key: string;
  /** Which rows: the state the update expects them in. */
  where: string;
  set: SqlAssignments;
  /**
   * A claim: only the first `limit` rows by `orderBy`, skipping rows other transactions hold
   * where the database can (`SqlDialect.skipLocked`).
   */
  pick?: {
    orderBy: string;
    limit: string;
    /**
     * An index in `orderBy` order, for MySQL: read through it, a claim stops at `limit` rows it
     * could lock; sorted after a table scan (which the optimizer prefers on small tables), it
     * would lock every row the WHERE selects, and concurrent claims would skip them all.
     */
    index?: string;
  };
  /** Columns to answer with, for each row updated. */
  returning?: string;
  /**
   * `by-key` when the WHERE picks rows by primary key only, which spares MySQL a statement (see
   * `SqlTransactionLocks`).
   * @default 'by-scan'
   */
  locks?: SqlTransactionLocks;
}

/** An INSERT of one row that updates the row already there under the same key instead. */
export interface SqlUpsert {
  table: string;
  key: string;
  /** The row to insert, key included. */
  values: SqlAssignments;
  /**
   * The update of a row already there: `${table}.column` reads its value,
   * `SqlDialect.inserted(column)` the one the INSERT proposed.
   */
  update: SqlAssignments;
  /** Columns to answer with, of the row as it is afterwards. */
  returning?: string;
}

/** `statement` as one statement, for a database with `RETURNING`; or MySQL without `returning`. */
export function returningUpdate(dialect: SqlDialect, statement: SqlUpdate): string {
  const { table, key, where, pick } = statement;
  const set = assignments.set(statement.set);
  const returning = statement.returning ? `\nRETURNING ${statement.returning}` : '';
  if (!pick) return `UPDATE ${table} SET ${set}\nWHERE ${where}${returning}`;
  // MATERIALIZED: PostgreSQL may rescan an `IN (SELECT ... LIMIT n)` sub-select once per outer
  // row (a nested-loop semi join), each rescan picking other rows, so it would claim more rows
  // than asked for; they would sit claimed for a whole lease. The outer WHERE checks again what
  // the sub-select saw: on SQLite the two are one statement anyway, and on PostgreSQL a row
  // another transaction changed meanwhile is re-read before it is updated.
  return `WITH picked AS MATERIALIZED (
  SELECT ${key} FROM ${table} WHERE ${where}
  ORDER BY ${pick.orderBy} LIMIT ${pick.limit}${dialect.skipLocked})
UPDATE ${table} SET ${set}
WHERE ${key} IN (SELECT ${key} FROM picked) AND (${where})${returning}`;
}

/**
 * `statement` in a transaction, for a database without `RETURNING`: lock the rows (READ
 * COMMITTED: the rows the WHERE selects as they are committed now, and held until the commit,
 * so the UPDATE finds them unchanged), update them by key, read them back by key.
 */
export async function lockingUpdate(
  dialect: SqlDialect,
  query: SqlQuery,
  statement: SqlUpdate,
  p: SqlParams,
): Promise<SqlRow[]> {
  const { table, key, where, pick } = statement;
  const lock = pick
    ? `SELECT ${key} FROM ${table}${pick.index ? ` FORCE INDEX (${pick.index})` : ''} WHERE ${where}
ORDER BY ${pick.orderBy} LIMIT ${pick.limit}${dialect.skipLocked}`
    : `SELECT ${key} FROM ${table} WHERE ${where} FOR UPDATE`;
  const keys = (await query(lock, p)).map((row) => row[key]);
  if (keys.length === 0) return [];
  const these = p.list(keys);
  await query(`UPDATE ${table} SET ${assignments.set(statement.set)} WHERE ${key} IN ${these}`, p);
  if (!statement.returning) return [];
  // The rows locked are the rows updated: answering with their keys needs no read.
  if (statement.returning.trim() === key) return keys.map((value) => ({ [key]: value }));
  const rows = await query(
    `SELECT ${statement.returning} FROM ${table} WHERE ${key} IN ${these}`,
    p,
  );
  // In the order the rows were picked, as a claim's answer is on PostgreSQL (by its ORDER BY).
  const position = new Map(keys.map((value, index) => [value, index]));
  return rows.sort((a, b) => (position.get(a[key]) ?? 0) - (position.get(b[key]) ?? 0));
}

/** `statement` as one statement; on MySQL without its `returning`. */
export function returningUpsert(dialect: SqlDialect, statement: SqlUpsert): string {
  const { table, key, values } = statement;
  const returning =
    statement.returning && dialect.returning ? `\nRETURNING ${statement.returning}` : '';
  return `INSERT INTO ${table} (${assignments.columns(values)})
VALUES (${assignments.values(values)})
${dialect.onConflictUpdate(key)} ${assignments.set(statement.update)}${returning}`;
}

/**
 * `statement` in a transaction, for a database without `RETURNING`: the upsert, which leaves
 * the row locked until the commit, then the row read back by its key.
 */
export async function lockingUpsert(
  dialect: SqlDialect,
  query: SqlQuery,
  statement: SqlUpsert,
  p: SqlParams,
): Promise<SqlRow[]> {
  const { table, key, values } = statement;
  const keyValue = values.find(([column]) => column === key)?.[1];
  if (keyValue === undefined) throw new Error(`The upsert into ${table} inserts no ${key}.`);
  await query(returningUpsert(dialect, statement), p);
  return query(`SELECT ${statement.returning} FROM ${table} WHERE ${key} = ${keyValue}`, p);
}
