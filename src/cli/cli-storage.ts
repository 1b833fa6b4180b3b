import 'reflect-metadata';
import { Logger, type LoggerService } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { ZapierRunsService } from '../runs/zapier-runs.service.js';
import { ZapierPruner } from '../runs/zapier-pruner.js';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import type { ZapierRetentionOptions } from '../interfaces/zapier-module-options.interface.js';
import { ZapierRetentionRepository } from '../storage/retention.repository.js';
import { ZapierOutbox } from '../storage/outbox.repository.js';
import { ZapierPollQueue } from '../storage/poll-queue.repository.js';
import { ZapierRunReport } from '../storage/run-report.repository.js';
import { ZapierSql } from '../storage/sql/zapier-sql.js';
import { isMissingTable } from '../storage/zapier-storage.check.js';
import { CliError, CliExit } from './cli-exit.js';
import { CliMessages } from './cli.messages.js';
import { cliDataSource, loadHostDataSource } from './load-data-source.js';

/** What a command that reads or repairs runs works with: the module's own services. */
export interface CliStorage {
  readonly dataSource: DataSource;
  readonly runs: ZapierRunsService;
}

const systemClock: ZapierClock = { now: () => Date.now() };

/** The module's own warnings go to stderr, so stdout holds only what a command prints. */
const stderrLogger: LoggerService = {
  log: () => undefined,
  warn: (message: unknown) => process.stderr.write(`warning: ${String(message)}\n`),
  error: (message: unknown) => process.stderr.write(`error: ${String(message)}\n`),
};
Logger.overrideLogger(stderrLogger);

/**
 * Opens the database the host's data source file describes, runs `work` with the module's own
 * run service on it (the statements the app itself runs, not a second copy of them), and closes
 * it again, whatever happened.
 */
export async function withStorage<T>(
  dataSourceFile: string,
  work: (storage: CliStorage) => Promise<T>,
  retention: ZapierRetentionOptions = {},
): Promise<T> {
  // Validated before the database is opened: a bad age is a usage error, not a failure.
  let options: ReturnType<typeof resolveZapierOptions>;
  try {
    options = resolveZapierOptions({ retention });
  } catch (error) {
    throw new CliError((error as Error).message, CliExit.usage);
  }
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
      new ZapierPruner(new ZapierRetentionRepository(sql), options, systemClock),
    );
    return await work({ dataSource, runs });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (isMissingTable(message)) {
      throw new CliError(CliMessages.tablesMissing(dataSourceFile, message), CliExit.failed);
    }
    throw error;
  } finally {
    await dataSource.destroy().catch(() => undefined);
  }
}
