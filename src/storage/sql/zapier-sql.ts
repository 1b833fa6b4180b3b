import type { OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { resolveZapierOptions } from '../../options/resolve-zapier-options.js';
import { dialectOf, type SqlDialect } from './sql-dialect.js';
import type { SqlParams } from './sql-params.js';
import type {
  SqlConnection,
  SqlRow,
  SqlStatementLimits,
  SqlTransactionLocks,
} from './sql-connection.js';
import {
  lockingUpdate,
  lockingUpsert,
  returningUpdate,
  returningUpsert,
  type SqlQuery,
  type SqlUpdate,
  type SqlUpsert,
} from './sql-writes.js';
import { MysqlConnection } from './mysql-connection.js';
import { PostgresConnection } from './postgres-connection.js';
import { SqliteConnection } from './sqlite-connection.js';

export type { SqlRow } from './sql-connection.js';

/**
 * Runs the module's statements: the one place that knows the dialect, where statements run
 * (`SqlConnection`: the host's pool on PostgreSQL and MySQL, a connection of the module's own on
 * a SQLite file) and which failures are retried (deadlocks, a locked SQLite file). Each state
 * change is one atomic statement (an upsert, or an UPDATE guarded by the state it expects), so
 * correctness never depends on process memory or on what the host has open on its own
 * connections. On MySQL, which has no `RETURNING`, a change that must answer with rows is one
 * short transaction instead: lock the rows, write them, read them back (`update`, `upsert`,
 * docs/decisions.md#d22).
 */
export class ZapierSql implements OnApplicationShutdown {
  readonly dialect: SqlDialect;
  private readonly connection: SqlConnection;

  /** The module's executor for the host's data source, with its own connection where needed. */
  static async open(host: DataSource, limits: SqlStatementLimits): Promise<ZapierSql> {
    const { kind } = dialectOf(host);
    if (kind === 'sqlite') return new ZapierSql(host, await SqliteConnection.open(host, limits));
    return new ZapierSql(host, connectionOn(host, kind, limits));
  }

  /**
   * Without `connection`, statements run on `hostDataSource` itself with the default limits (the
   * unit specs do this; the module uses `open()`).
   */
  constructor(
    readonly hostDataSource: DataSource,
    connection?: SqlConnection,
  ) {
    this.dialect = dialectOf(hostDataSource);
    this.connection =
      connection ??
      connectionOn(hostDataSource, this.dialect.kind, resolveZapierOptions({}).storage);
  }

  /** Where the statements run: the host's data source, or the module's own on a SQLite file. */
  get dataSource(): DataSource {
    return this.connection.dataSource;
  }

  /**
   * Runs one statement and returns the rows it returned. A statement that failed without
   * changing anything (a deadlock or serialization failure, a SQLite file another connection has
   * locked) is run again, as the connection's `retryDelay` says, instead of failing a callback.
   */
  query(sql: string, params: SqlParams): Promise<SqlRow[]> {
    const compiled = this.dialect.compile(sql, params.values);
    return this.retrying(() => this.connection.execute(compiled.sql, compiled.values));
  }

  /**
   * Updates the rows `statement.where` selects (with `pick`, only the first `limit` of them that
   * no other transaction holds) and returns `statement.returning` of each row it updated.
   */
  update(statement: SqlUpdate, params: SqlParams): Promise<SqlRow[]> {
    if (this.dialect.returning) return this.query(returningUpdate(this.dialect, statement), params);
    return this.transaction(
      (query) => lockingUpdate(this.dialect, query, statement, params),
      statement.locks ?? 'by-scan',
    );
  }

  /**
   * Inserts a row, or updates the one with the same key, and returns `statement.returning` of
   * the row as it is afterwards.
   */
  upsert(statement: SqlUpsert, params: SqlParams): Promise<SqlRow[]> {
    if (this.dialect.returning || statement.returning === undefined) {
      return this.query(returningUpsert(this.dialect, statement), params);
    }
    return this.transaction(
      (query) => lockingUpsert(this.dialect, query, statement, params),
      'by-key',
    );
  }

  /**
   * Runs `work` in one short transaction on one connection, again as a whole after a deadlock.
   * Only on a database without `RETURNING` (`dialect.returning` false): elsewhere every state
   * change is one statement.
   */
  transaction<T>(work: (query: SqlQuery) => Promise<T>, locks: SqlTransactionLocks): Promise<T> {
    const { dialect } = this;
    const transaction = this.connection.transaction?.bind(this.connection);
    if (!transaction) {
      throw new Error(`No transactions on ${dialect.kind}: its state changes are one statement.`);
    }
    return this.retrying(() =>
      transaction(
        (run) =>
          work((sql, params) => {
            const compiled = dialect.compile(sql, params.values);
            return run(compiled.sql, compiled.values);
          }),
        locks,
      ),
    );
  }

  private async retrying<T>(once: () => Promise<T>): Promise<T> {
    const startedAt = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await once();
      } catch (error) {
        const delay = this.connection.retryDelay(error, attempt, Date.now() - startedAt);
        if (delay === null) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }
}

function connectionOn(
  dataSource: DataSource,
  kind: SqlDialect['kind'],
  limits: SqlStatementLimits,
): SqlConnection {
  if (kind === 'sqlite') return new SqliteConnection(dataSource, limits, false);
  if (kind === 'mysql') return new MysqlConnection(dataSource, limits);
  return new PostgresConnection(dataSource, limits);
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
