import type { SqlDialect } from './sql-dialect.js';
import type { SqlParams, SqlScalarType } from './sql-params.js';

/** Columns of one concern and their SQL types, written once, next to the statements using them. */
export type SqlColumns = Readonly<Record<string, SqlScalarType>>;

/** A row to write, keyed by column name. */
export type SqlColumnValues<C extends SqlColumns> = { readonly [K in keyof C]: unknown };

/**
 * A row source of `rows` for `WITH v (<names>) AS (<source>)`: the column order and the types of
 * the parameters come from the column group, never from a second list kept in step by hand.
 */
export function rowSource<C extends SqlColumns>(
  dialect: SqlDialect,
  columns: C,
  rows: ReadonlyArray<SqlColumnValues<C>>,
  params: SqlParams,
): { names: string; source: string; select(alias: string): string } {
  const names = Object.keys(columns);
  return {
    names: names.join(', '),
    select: (alias) => names.map((name) => `${alias}.${name}`).join(', '),
    source: dialect.rows(
      names.map((name) => columns[name]),
      rows.map((row) => names.map((name) => row[name])),
      params,
    ),
  };
}

/** `[column, expression]` pairs of one write, usable as an INSERT list or a SET list. */
export type SqlAssignments = ReadonlyArray<readonly [column: string, expression: string]>;

export const assignments = {
  columns: (pairs: SqlAssignments): string => pairs.map(([column]) => column).join(', '),
  values: (pairs: SqlAssignments): string => pairs.map(([, expression]) => expression).join(', '),
  set: (pairs: SqlAssignments): string =>
    pairs.map(([column, expression]) => `${column} = ${expression}`).join(', '),
};
