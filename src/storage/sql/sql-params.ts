/** SQL column types the builder casts parameters to (PostgreSQL cannot infer them in VALUES). */
export type SqlScalarType = 'text' | 'bigint' | 'integer';
export type SqlType = SqlScalarType | `${SqlScalarType}[]`;

/**
 * Collects the parameters of one statement. Placeholders are written PostgreSQL's way, with a
 * cast (`$1::bigint`: PostgreSQL cannot infer types inside VALUES); `SqlDialect.compile` adapts
 * them for SQLite. A placeholder may be used more than once.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  add(value: unknown, type: SqlType = 'text'): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }

  /** A parenthesised list for `IN (...)`. */
  list(values: readonly unknown[], type: SqlType = 'text'): string {
    return `(${values.map((value) => this.add(value, type)).join(', ')})`;
  }
}
