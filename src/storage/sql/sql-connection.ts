import type { DataSource } from 'typeorm';
import { ZapierMessages } from '../../zapier.messages.js';

/** A row as the driver returns it: PostgreSQL gives BIGINT as a string, SQLite as a number. */
export type SqlRow = Record<string, unknown>;

/** The resolved `storage` options: how long one statement may wait. */
export interface SqlStatementLimits {
  statementTimeoutMs: number;
  sqliteBusyTimeoutMs: number;
}

/**
 * How a transaction finds the rows it locks: by primary key only, or by scanning a range or a
 * table (a claim, a sweep). MySQL locks the gaps a scan passes at its default isolation level
 * (REPEATABLE READ), holding up the inserts of other transactions; a transaction that scans runs
 * at READ COMMITTED, which locks only the rows it takes. By key, no gap is locked either way, and
 * the default level saves a statement.
 */
export type SqlTransactionLocks = 'by-key' | 'by-scan';

/** Runs one statement of a transaction, on the transaction's connection. */
export type SqlStatementRunner = (sql: string, values: unknown[]) => Promise<SqlRow[]>;

/**
 * How the module's statements reach one kind of database, beyond their text (that is
 * `SqlDialect`): the data source they run on, one attempt at a statement, which failures are
 * worth another attempt, and what closes with the module. Each driver keeps its own in one file
 * beside this one.
 */
export interface SqlConnection {
  /** Where the statements run: the host's data source, or one the module opened for itself. */
  readonly dataSource: DataSource;
  /** Runs one statement once. */
  execute(sql: string, values: unknown[]): Promise<SqlRow[]>;
  /**
   * How long to wait before running a failed statement again, or `null` to let it fail;
   * `attempts` were made so far, the first `elapsedMs` ago.
   */
  retryDelay(error: unknown, attempts: number, elapsedMs: number): number | null;
  /**
   * Runs `work` in one transaction on one connection, committed when it resolves and rolled back
   * when it throws; once. Only connections to a database without `RETURNING` (`SqlDialect`) have
   * it: elsewhere every state change is a single statement.
   */
  transaction?<T>(
    work: (run: SqlStatementRunner) => Promise<T>,
    locks: SqlTransactionLocks,
  ): Promise<T>;
  /** Closes what the module opened (never the host's data source). */
  close(): Promise<void>;
}

/** One statement on a query runner of `dataSource`, released afterwards. */
export async function runStatement(
  dataSource: DataSource,
  sql: string,
  values: unknown[],
): Promise<SqlRow[]> {
  const runner = dataSource.createQueryRunner();
  try {
    const result = await runner.query(sql, values, true);
    return (result.records ?? []) as SqlRow[];
  } finally {
    await runner.release();
  }
}

/** The driver's error code of a failed query (TypeORM's `QueryFailedError.driverError.code`). */
export const driverErrorCode = (error: unknown): string =>
  String((error as { driverError?: { code?: unknown } } | null)?.driverError?.code);

/** A statement of the module ran past `storage.statementTimeoutMs` and was cancelled. */
export class ZapierStatementTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(ZapierMessages.statementTimedOut(timeoutMs));
    this.name = 'ZapierStatementTimeoutError';
  }
}
