import type { DataSource } from 'typeorm';
import { ZapierMessages } from '../zapier.messages.js';

/** Columns that carry a callback's body or what was parsed from it. */
const PAYLOAD_COLUMNS = [
  'zapier_action_runs.metadata',
  'zapier_action_runs.results',
  'zapier_action_runs.errors',
  'zapier_action_runs.raw_payload',
  'zapier_callback_quarantine.raw_body',
];

/** A statement carries the body, its parsed results and their escaping (see `mysqlPacketLimit`). */
const PACKET_PER_BODY_BYTE = 3;

interface ServerRow {
  version: string;
  sql_mode: string;
  flush_log: number | string;
  max_packet: number | string;
}

interface ColumnRow {
  name: string;
  type: string;
  collation: string | null;
}

/**
 * What the module needs of a MySQL or MariaDB server and of its tables there: `errors` it cannot
 * work without (SKIP LOCKED, run ids compared exactly, room for a result), all of which the
 * shipped migration provides and `synchronize` does not; `warnings` for what weakens a guarantee
 * the server's settings decide (durable commits, values refused rather than cut, room for the
 * largest callback in one statement).
 */
export async function inspectMysqlStorage(
  dataSource: DataSource,
  callbackBodyLimit: number,
): Promise<{ errors: string[]; warnings: string[] }> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const [server] = await dataSource.query<ServerRow[]>(
    `SELECT VERSION() AS version, @@SESSION.sql_mode AS sql_mode,
  @@GLOBAL.innodb_flush_log_at_trx_commit AS flush_log, @@GLOBAL.max_allowed_packet AS max_packet`,
  );
  if (!supportsSkipLocked(server.version)) errors.push(ZapierMessages.mysqlTooOld(server.version));
  if (!/STRICT_(TRANS|ALL)_TABLES/.test(server.sql_mode)) {
    warnings.push(ZapierMessages.mysqlNotStrict(server.sql_mode));
  }
  if (Number(server.flush_log) !== 1) {
    warnings.push(ZapierMessages.mysqlNotDurable(Number(server.flush_log)));
  }
  if (Number(server.max_packet) < PACKET_PER_BODY_BYTE * callbackBodyLimit) {
    warnings.push(ZapierMessages.mysqlPacketLimit(Number(server.max_packet), callbackBodyLimit));
  }

  const columns = await dataSource.query<ColumnRow[]>(
    `SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) AS name, DATA_TYPE AS type,
  COLLATION_NAME AS collation
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
  AND TABLE_NAME IN ('zapier_action_runs', 'zapier_callback_quarantine')
ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  );
  const runId = columns.find((column) => column.name === 'zapier_action_runs.run_id');
  if (runId?.collation && /_ci$/i.test(runId.collation)) {
    errors.push(ZapierMessages.mysqlRunIdCollation(runId.collation));
  }
  const narrow = columns
    .filter((column) => PAYLOAD_COLUMNS.includes(column.name))
    .filter((column) => column.type.toLowerCase() !== 'longtext')
    .map((column) => column.name);
  if (narrow.length > 0) errors.push(ZapierMessages.mysqlNarrowColumns(narrow));
  return { errors, warnings };
}

/** MariaDB 10.6 and MySQL 8.0.1 brought `SKIP LOCKED`. */
function supportsSkipLocked(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = (/^(\d+)\.(\d+)\.(\d+)/.exec(version) ?? [])
    .slice(1)
    .map(Number);
  const at = (a: number, b: number, c: number) =>
    major !== a ? major > a : minor !== b ? minor > b : patch >= c;
  return /mariadb/i.test(version) ? at(10, 6, 0) : at(8, 0, 1);
}
