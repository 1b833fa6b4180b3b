import type { DataSource } from 'typeorm';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { ZapierRunsService } from '../runs/zapier-runs.service.js';
import { ZapierOutbox } from '../storage/outbox.repository.js';
import { ZapierPollQueue } from '../storage/poll-queue.repository.js';
import { ZapierRunReport } from '../storage/run-report.repository.js';
import { ZapierSql } from '../storage/sql/zapier-sql.js';
import { CliError, CliExit } from './cli-exit.js';
import { CliMessages } from './cli.messages.js';
import { cliDataSource, loadHostDataSource } from './load-data-source.js';

/** What a command that reads or repairs runs works with: the module's own services. */
export interface CliStorage {
  readonly dataSource: DataSource;
  readonly runs: ZapierRunsService;
}

const systemClock: ZapierClock = { now: () => Date.now() };

/**
 * Opens the database the host's data source file describes, runs `work` with the module's own
 * run service on it (the statements the app itself runs, not a second copy of them), and closes
 * it again, whatever happened.
 */
export async function withStorage<T>(
  dataSourceFile: string,
  work: (storage: CliStorage) => Promise<T>,
): Promise<T> {
  const dataSource = cliDataSource(await loadHostDataSource(dataSourceFile));
  try {
    await dataSource.initialize();
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new CliError(CliMessages.databaseUnreachable(cause), CliExit.failed);
  }
  try {
    const sql = new ZapierSql(dataSource);
    const runs = new ZapierRunsService(
      sql,
      new ZapierOutbox(sql),
      new ZapierPollQueue(sql),
      new ZapierRunReport(sql),
      systemClock,
    );
    return await work({ dataSource, runs });
  } finally {
    await dataSource.destroy().catch(() => undefined);
  }
}
