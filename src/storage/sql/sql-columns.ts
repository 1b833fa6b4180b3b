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
  /** A SET list, in an order that gives the same result on every database (see `readFirst`). */
  set: (pairs: SqlAssignments): string =>
    readFirst(pairs)
      .map(([column, expression]) => `${column} = ${expression}`)
      .join(', '),
};

/**
 * MySQL and MariaDB evaluate the assignments of an UPDATE (and of ON DUPLICATE KEY UPDATE) left
 * to right, each one seeing the values assigned before it; PostgreSQL and SQLite compute every
 * one from the row as it was. So a column is assigned only after every assignment that reads it,
 * which makes both readings agree. A cycle (two assignments reading each other's column) has no
 * such order and throws. A column is "read" wherever its name appears as a word, so a mention
 * such as `excluded.col` only adds a harmless constraint.
 */
function readFirst(pairs: SqlAssignments): SqlAssignments {
  const reads = (expression: string, column: string) =>
    new RegExp(`(?<![\\w$])${column}(?![\\w$])`).test(expression);
  const left = [...pairs];
  const ordered: Array<SqlAssignments[number]> = [];
  while (left.length > 0) {
    const next = left.findIndex(
      ([column]) =>
        !left.some(([other, expression]) => other !== column && reads(expression, column)),
    );
    if (next < 0) {
      throw new Error(`Assignments read each other's columns: ${left.map(([c]) => c).join(', ')}.`);
    }
    ordered.push(...left.splice(next, 1));
  }
  return ordered;
}
