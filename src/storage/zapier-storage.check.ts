import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ZAPIER_DATA_SOURCE_NAME, ZAPIER_OPTIONS } from '../zapier.constants.js';
import type { ResolvedZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierConfigurationError } from '../errors/zapier-configuration.error.js';
import { ZapierMessages } from '../zapier.messages.js';
import { ZapierSql } from './sql/zapier-sql.js';
import { ZAPIER_ENTITIES } from './zapier-storage.entities.js';
import { inspectMysqlStorage } from './mysql-storage.check.js';

const SQLITE_FULL = 2;
/** Whether a driver's error says a table does not exist (SQLite, PostgreSQL or MySQL wording). */
export const isMissingTable = (message: string): boolean =>
  /no such table|does not exist|doesn't exist/i.test(message);

/**
 * Checks at startup what would otherwise fail on the first callback: every entity is known to
 * the data source, every table exists, SQLite commits are durable, and a MySQL or MariaDB server
 * and the tables on it can keep the module's guarantees.
 */
@Injectable()
export class ZapierStorageCheck implements OnModuleInit {
  private readonly logger = new Logger('ZapierStorage');

  constructor(
    private readonly sql: ZapierSql,
    @Inject(ZAPIER_DATA_SOURCE_NAME) private readonly dataSourceName: string,
    @Inject(ZAPIER_OPTIONS) private readonly options: ResolvedZapierOptions,
  ) {}

  async onModuleInit(): Promise<void> {
    // The host's data source creates the tables (migrations, synchronize), so it must know the
    // entities; the module's statements may run on a connection of its own (see ZapierSql).
    const { hostDataSource: dataSource } = this.sql;
    const missing = ZAPIER_ENTITIES.filter((entity) => !dataSource.hasMetadata(entity));
    if (missing.length > 0) {
      throw new ZapierConfigurationError(
        ZapierMessages.entitiesNotRegistered(
          this.dataSourceName,
          missing.map((entity) => entity.name),
        ),
      );
    }
    if (!dataSource.isInitialized) return;
    for (const entity of ZAPIER_ENTITIES) {
      const table = dataSource.getMetadata(entity).tableName;
      try {
        await this.sql.dataSource.query(`SELECT 1 FROM ${table} WHERE 1 = 0`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (isMissingTable(message)) {
          throw new ZapierConfigurationError(ZapierMessages.tableMissing(table, message));
        }
        // Unreachable database: the app may start; callbacks answer 503 until it is back.
        this.logger.warn(ZapierMessages.storageCheckFailed(message));
        return;
      }
    }
    if (this.sql.dialect.kind === 'sqlite') await this.makeSqliteDurable();
    if (this.sql.dialect.kind === 'mysql') await this.checkMysql();
  }

  private async checkMysql(): Promise<void> {
    const { errors, warnings } = await inspectMysqlStorage(
      this.sql.dataSource,
      this.options.callbackBodyLimit,
    );
    if (errors.length > 0) throw new ZapierConfigurationError(errors.join(' '));
    for (const warning of warnings) this.logger.warn(warning);
  }

  /**
   * A 2xx to Zapier must mean the run survives a crash or power loss. In WAL mode better-sqlite3
   * defaults to `synchronous = NORMAL`, which acknowledges commits before they are on disk. The
   * pragma belongs to a connection: this sets it on the one the module's statements use.
   */
  private async makeSqliteDurable(): Promise<void> {
    const { dataSource } = this.sql;
    const rows = await dataSource.query<Array<{ synchronous: number }>>('PRAGMA synchronous');
    const level = Number(rows[0]?.synchronous);
    if (level >= SQLITE_FULL) return;
    await dataSource.query('PRAGMA synchronous = FULL');
    this.logger.log(ZapierMessages.sqliteDurabilitySet(level));
  }
}
