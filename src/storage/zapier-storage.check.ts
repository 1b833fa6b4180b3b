import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ZAPIER_DATA_SOURCE_NAME } from '../zapier.constants.js';
import { ZapierConfigurationError } from '../errors/zapier-configuration.error.js';
import { ZapierMessages } from '../zapier.messages.js';
import { ZapierActionRun } from './zapier-action-run.entity.js';
import { ZapierRunStore } from './zapier-run.store.js';

const SQLITE_FULL = 2;

/**
 * Checks at startup what would otherwise fail on the first callback: the entities are known to
 * the data source, the tables exist, and SQLite commits are durable.
 */
@Injectable()
export class ZapierStorageCheck implements OnModuleInit {
  private readonly logger = new Logger('ZapierStorage');

  constructor(
    private readonly store: ZapierRunStore,
    @Inject(ZAPIER_DATA_SOURCE_NAME) private readonly dataSourceName: string,
  ) {}

  async onModuleInit(): Promise<void> {
    const { dataSource } = this.store;
    if (!dataSource.hasMetadata(ZapierActionRun)) {
      throw new ZapierConfigurationError(ZapierMessages.entityNotRegistered(this.dataSourceName));
    }
    if (!dataSource.isInitialized) return;
    try {
      await dataSource.query('SELECT run_id FROM zapier_action_runs WHERE 1 = 0');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/no such table|does not exist/i.test(message)) {
        throw new ZapierConfigurationError(
          ZapierMessages.tableMissing('zapier_action_runs', message),
        );
      }
      // Unreachable database: the app may start; callbacks answer 503 until it is back.
      this.logger.warn(`Could not check the run store at startup: ${message}`);
      return;
    }
    if (this.store.dialect.kind === 'sqlite') await this.makeSqliteDurable();
  }

  /**
   * A 2xx to Zapier must mean the run survives a crash or power loss. In WAL mode better-sqlite3
   * defaults to `synchronous = NORMAL`, which acknowledges commits before they are on disk.
   */
  private async makeSqliteDurable(): Promise<void> {
    const rows =
      await this.store.dataSource.query<Array<{ synchronous: number }>>('PRAGMA synchronous');
    const level = Number(rows[0]?.synchronous);
    if (level >= SQLITE_FULL) return;
    await this.store.dataSource.query('PRAGMA synchronous = FULL');
    this.logger.log(`${ZapierMessages.sqliteDurability(level)} The module set it.`);
  }
}
