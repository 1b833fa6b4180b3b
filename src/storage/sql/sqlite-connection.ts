import { Logger } from '@nestjs/common';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { backoffDelay } from '../../common/backoff.js';
import { ZapierMessages } from '../../zapier.messages.js';
import { ZAPIER_ENTITIES } from '../zapier-storage.entities.js';
import {
  driverErrorCode,
  runStatement,
  type SqlConnection,
  type SqlRow,
  type SqlStatementLimits,
} from './sql-connection.js';

type SqliteOptions = Extract<DataSourceOptions, { type: 'better-sqlite3' }>;
/** What the module uses of a better-sqlite3 `Database` (TypeORM types it as `any`). */
interface SqliteHandle {
  pragma(source: string, options: { simple: true }): unknown;
}

/** SQLITE_BUSY and its extended codes (`_RECOVERY`, `_SNAPSHOT`, `_TIMEOUT`): another connection holds the lock. */
const isBusy = (error: unknown): boolean => driverErrorCode(error).startsWith('SQLITE_BUSY');

/**
 * SQLite: statements run on a connection of the module's own to the host's database file.
 *
 * Own, because TypeORM's better-sqlite3 driver has a single connection: a statement of the
 * module sent while the host's `dataSource.transaction()` is open would join that transaction,
 * be answered 2xx, and be rolled back with the host's work (docs/decisions.md#d18).
 *
 * Its busy timeout is 0 because better-sqlite3 waits for a lock synchronously: with SQLite's own
 * busy timeout, a write lock held by another connection would freeze the event loop, and the
 * whole app with it, for as long as the timeout. The statement fails at once instead, and
 * `retryDelay` runs it again after short asynchronous sleeps, up to `sqliteBusyTimeoutMs`.
 */
export class SqliteConnection implements SqlConnection {
  constructor(
    readonly dataSource: DataSource,
    private readonly limits: SqlStatementLimits,
    private readonly owned: boolean,
  ) {}

  /**
   * Opens the module's connection next to the host's, with the host's options (driver,
   * SQLCipher key, `prepareDatabase`, naming) and only the module's entities. A `:memory:`
   * database exists only inside the host's connection, so there the host's is shared, with a
   * warning.
   */
  static async open(host: DataSource, limits: SqlStatementLimits): Promise<SqliteConnection> {
    const logger = new Logger('ZapierStorage');
    const options = host.options as SqliteOptions;
    if (options.database === ':memory:') {
      logger.warn(ZapierMessages.sqliteMemoryShared());
      return new SqliteConnection(host, limits, false);
    }
    let journalMode = 'wal';
    const own = new DataSource({
      ...options,
      entities: ZAPIER_ENTITIES,
      subscribers: [],
      migrations: [],
      migrationsRun: false,
      synchronize: false,
      dropSchema: false,
      cache: false,
      timeout: 0,
      // WAL, so that readers and the one writer of either connection do not block each other.
      enableWAL: true,
      prepareDatabase: async (db: SqliteHandle) => {
        await options.prepareDatabase?.(db);
        journalMode = String(db.pragma('journal_mode', { simple: true }));
      },
    });
    await own.initialize();
    if (journalMode.toLowerCase() !== 'wal')
      logger.log(ZapierMessages.sqliteWalEnabled(journalMode));
    return new SqliteConnection(own, limits, true);
  }

  execute(sql: string, values: unknown[]): Promise<SqlRow[]> {
    return runStatement(this.dataSource, sql, values);
  }

  retryDelay(error: unknown, attempts: number, elapsedMs: number): number | null {
    const left = this.limits.sqliteBusyTimeoutMs - elapsedMs;
    if (!isBusy(error) || left <= 0) return null;
    return Math.max(1, Math.min(left, backoffDelay(attempts, 2, 50)));
  }

  async close(): Promise<void> {
    if (this.owned && this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
