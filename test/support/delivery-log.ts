import type { DataSource } from 'typeorm';
import { ZapierActionRun } from '../../src/storage/zapier-action-run.entity.js';

/**
 * The durable record of what listeners heard, kept by the fixture app (`test/fixtures/zapier-node.ts`)
 * in the same database as the runs, so a test can count deliveries per run across processes,
 * crashes and restarts. A listener writes `ok` as its last step (a delivery counts only if the
 * listener completed) and `threw` when it was told to fail.
 */
export const DELIVERY_LOG_TABLE = 'test_deliveries';

/** One row of the delivery log. */
export interface DeliveryLogRow {
  runId: string;
  attempt: number;
  instanceId: string;
  event: string;
  outcome: 'ok' | 'threw';
  at: number;
}

const isPostgres = (dataSource: DataSource) => dataSource.options.type === 'postgres';

const ID_COLUMNS: Record<string, string> = {
  postgres: 'SERIAL PRIMARY KEY',
  mariadb: 'INTEGER PRIMARY KEY AUTO_INCREMENT',
};

/** Creates the table if it is missing (run by the test before any app process starts). */
export async function createDeliveryLog(dataSource: DataSource): Promise<void> {
  const id = ID_COLUMNS[dataSource.options.type] ?? 'INTEGER PRIMARY KEY AUTOINCREMENT';
  await dataSource.query(
    `CREATE TABLE IF NOT EXISTS ${DELIVERY_LOG_TABLE} (id ${id}, run_id varchar(255) NOT NULL,
  attempt integer NOT NULL, instance_id varchar(255) NOT NULL, event varchar(64) NOT NULL,
  outcome varchar(16) NOT NULL, at bigint NOT NULL)`,
  );
}

/** Appends one row (the fixture's listeners call it). */
export async function appendDelivery(dataSource: DataSource, row: DeliveryLogRow): Promise<void> {
  const marks = isPostgres(dataSource) ? '$1, $2, $3, $4, $5, $6' : '?, ?, ?, ?, ?, ?';
  await dataSource.query(
    `INSERT INTO ${DELIVERY_LOG_TABLE} (run_id, attempt, instance_id, event, outcome, at)
VALUES (${marks})`,
    [row.runId, row.attempt, row.instanceId, row.event, row.outcome, row.at],
  );
}

/** Every row, oldest first. */
export async function readDeliveryLog(dataSource: DataSource): Promise<DeliveryLogRow[]> {
  const rows = await dataSource.query<Array<Record<string, unknown>>>(
    `SELECT run_id, attempt, instance_id, event, outcome, at FROM ${DELIVERY_LOG_TABLE} ORDER BY id`,
  );
  return rows.map((row) => ({
    runId: String(row.run_id),
    attempt: Number(row.attempt),
    instanceId: String(row.instance_id),
    event: String(row.event),
    outcome: row.outcome === 'ok' ? 'ok' : 'threw',
    at: Number(row.at),
  }));
}

/** Completed deliveries (`ok` rows) per run. */
export function completedPerRun(log: readonly DeliveryLogRow[]): Map<string, DeliveryLogRow[]> {
  const byRun = new Map<string, DeliveryLogRow[]>();
  for (const row of log) {
    if (row.outcome !== 'ok') continue;
    const list = byRun.get(row.runId);
    if (list) list.push(row);
    else byRun.set(row.runId, [row]);
  }
  return byRun;
}

/** `run_id → delivery_state` (and status) of every stored run. */
export async function readDeliveryStates(
  dataSource: DataSource,
): Promise<Map<string, { status: string; deliveryState: string; claimedBy: string | null }>> {
  const runs = await dataSource.getRepository(ZapierActionRun).find();
  return new Map(
    runs.map((run) => [
      run.runId,
      { status: run.status, deliveryState: run.deliveryState, claimedBy: run.deliveryClaimedBy },
    ]),
  );
}
