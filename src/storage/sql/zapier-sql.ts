import type { OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { resolveZapierOptions } from '../../options/resolve-zapier-options.js';
import { dialectOf, type SqlDialect } from './sql-dialect.js';
import type { SqlParams } from './sql-params.js';
import type { SqlConnection, SqlRow, SqlStatementLimits } from './sql-connection.js';
import { PostgresConnection } from './postgres-connection.js';
import { SqliteConnection } from './sqlite-connection.js';

export type { SqlRow } from './sql-connection.js';

/**
 * Runs the module's statements: the one place that knows the dialect, where statements run
 * (`SqlConnection`: the host's pool on PostgreSQL, a connection of the module's own on a SQLite
 * file) and which failures are retried (deadlocks, a locked SQLite file). Each state change is
 * one atomic statement (an upsert, or an UPDATE guarded by the state it expects), so correctness
 * never depends on process memory, on a transaction spanning several round trips, or on what the
 * host has open on its own connections.
 */
export class ZapierSql implements OnApplicationShutdown {
  readonly dialect: SqlDialect;
  private readonly connection: SqlConnection;

  /** The module's executor for the host's data source, with its own connection where needed. */
  static async open(host: DataSource, limits: SqlStatementLimits): Promise<ZapierSql> {
    const sqlite = dialectOf(host).kind === 'sqlite';
    return new ZapierSql(
      host,
      sqlite ? await SqliteConnection.open(host, limits) : new PostgresConnection(host, limits),
    );
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
    this.connection = connection ?? connectionOn(hostDataSource, this.dialect);
  }

  /** Where the statements run: the host's data source, or the module's own on a SQLite file. */
  get dataSource(): DataSource {
    return this.connection.dataSource;
  }

  /**
   * Runs one statement and returns the rows it returned. A statement that failed without
   * changing anything (a PostgreSQL deadlock or serialization failure, a SQLite file another
   * connection has locked) is run again, as the connection's `retryDelay` says, instead of
   * failing a callback.
   */
  async query(sql: string, params: SqlParams): Promise<SqlRow[]> {
    const compiled = this.dialect.compile(sql, params.values);
    const startedAt = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.connection.execute(compiled.sql, compiled.values);
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

function connectionOn(dataSource: DataSource, dialect: SqlDialect): SqlConnection {
  const limits = resolveZapierOptions({}).storage;
  return dialect.kind === 'sqlite'
    ? new SqliteConnection(dataSource, limits, false)
    : new PostgresConnection(dataSource, limits);
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
