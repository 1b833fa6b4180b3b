import { safeForLog } from '../common/safe-for-log.js';
import type { ZapierRunState } from '../interfaces/action-run.interface.js';

/**
 * What the CLI tells the person at the terminal when something stops a command, one sentence
 * each: what happened, the value involved, and what to do.
 */
export const CliMessages = {
  dataSourceUnreadable: (file: string, cause: string) =>
    `Cannot load the data source file ${file} (${safeForLog(cause)}); pass the compiled JavaScript file that exports your TypeORM DataSource, e.g. -d ./dist/data-source.js.`,
  noDataSource: (file: string) =>
    `${file} exports no TypeORM DataSource; export one (export default new DataSource({...}), or a named export), as for TypeORM's own CLI.`,
  severalDataSources: (file: string, names: readonly string[]) =>
    `${file} exports ${names.length} different DataSources (${names.join(', ')}); export only the one that holds the zapier_ tables.`,
  databaseUnreachable: (cause: string) =>
    `The database did not answer (${safeForLog(cause)}); check the data source's connection options and that the database is up.`,
  tablesMissing: (file: string, cause: string) =>
    `The database has no zapier_ tables yet (${safeForLog(cause)}); create them with nestjs-zapier migrate -d ${file}.`,
  runNotFound: (runId: string) => `No run ${safeForLog(runId)} in this database.`,
  quarantineNotFound: (id: number) => `No quarantined callback ${id} in this database.`,
  notRedeliverable: (runId: string, state: ZapierRunState) =>
    state === 'parked'
      ? `Run ${safeForLog(runId)} was parked by the poller (its result could not be stored), so it has no event to deliver yet; poll it again with nestjs-zapier runs repoll ${safeForLog(runId)}.`
      : `Run ${safeForLog(runId)} is ${state}: only a run whose event was delivered or parked can be delivered again${state === 'delivering' ? ' (this one is on its way already)' : ''}.`,
  notRepollable: (runId: string, state: ZapierRunState) =>
    state === 'parked'
      ? `The event of run ${safeForLog(runId)} is parked (its listeners kept failing), not its polling; deliver it again with nestjs-zapier runs redeliver ${safeForLog(runId)}.`
      : `Run ${safeForLog(runId)} is ${state}: only a run the poller parked (its result could not be stored) can be polled again.`,
  redeliverWhich: () => 'Name a run id, or pass --parked to deliver every parked run again.',
  redeliverBoth: () => 'Name a run id or pass --parked, not both.',
  notADuration: (text: string) =>
    `"${safeForLog(text)}" is not a duration; write it like 90s, 15m, 2h or 7d.`,
  notAPositiveInteger: (text: string) => `"${safeForLog(text)}" is not a positive whole number.`,
  notAnHttpUrl: (text: string) =>
    `"${safeForLog(text, 100)}" is not an http(s) URL; write it in full, e.g. http://127.0.0.1:3000/zapier/callbacks.`,
  notAPort: (text: string) =>
    `"${safeForLog(text)}" is not a port; give a number from 0 (any free port) to 65535.`,
  notJson: (text: string, cause: string) =>
    `"${safeForLog(text, 60)}" is not JSON (${safeForLog(cause)}).`,
  portInUse: (port: number) =>
    `Port ${port} on 127.0.0.1 is taken (another sandbox?); pass --port with another one, or --port 0 for any free port.`,
  sandboxUnreachable: (url: string, cause: string) =>
    `No sandbox answered at ${url} (${safeForLog(cause)}); start one with nestjs-zapier sandbox, or point --sandbox at it.`,
  sandboxRefused: (url: string, status: number, detail: string) =>
    `The sandbox at ${url} answered ${status}: ${safeForLog(detail)}`,
  callbackNotAccepted: (url: string, attempts: number) =>
    `${url} did not accept the callback (${attempts} attempt${attempts === 1 ? '' : 's'}, with Zapier's retries).`,
};
