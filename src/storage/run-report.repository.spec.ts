import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { migratedDataSource, type Engine } from '../../test/support/data-sources.js';
import { postgresSkipReason } from '../../test/support/postgres.js';
import { ZapierActionRun } from './zapier-action-run.entity.js';
import { ZapierRunReport } from './run-report.repository.js';
import { ZapierSql } from './sql/zapier-sql.js';

const pgSkip = await postgresSkipReason();
const NOW = 1_000_000;

/** One row per case: the columns that decide a state, and the state they must give. */
const CASES: Array<[Partial<ZapierActionRun>, string]> = [
  [{ runId: 'r_pending', status: 'pending', pollNextAt: new Date(NOW + 1) }, 'pending'],
  [{ runId: 'r_due', status: 'pending', pollNextAt: new Date(NOW) }, 'overdue'],
  [
    { runId: 'r_polled', status: 'pending', pollNextAt: new Date(NOW + 5000), pollAttempts: 2 },
    'overdue',
  ],
  [{ runId: 'r_poll_parked', status: 'pending', pollNextAt: null, pollAttempts: 1 }, 'parked'],
  [{ runId: 'r_parked', status: 'error', deliveryState: 'parked', deliveryAttempts: 10 }, 'parked'],
  [{ runId: 'r_delivering', status: 'success', deliveryState: 'pending' }, 'delivering'],
  [{ runId: 'r_expiring', status: 'expired', deliveryState: 'pending' }, 'delivering'],
  [{ runId: 'r_expired', status: 'expired', deliveryState: 'delivered' }, 'expired'],
  [{ runId: 'r_done', status: 'success', deliveryState: 'delivered' }, 'delivered'],
];

for (const engine of ['sqlite', 'postgres'] as Engine[]) {
  describe(`ZapierRunReport on ${engine}`, { skip: engine === 'postgres' && pgSkip }, () => {
    let dataSource: DataSource;
    let close: () => Promise<void>;
    let report: ZapierRunReport;

    before(async () => {
      ({ dataSource, close } = await migratedDataSource(engine, 'run_report_spec'));
      report = new ZapierRunReport(new ZapierSql(dataSource));
      const repository = dataSource.getRepository(ZapierActionRun);
      let created = 0;
      for (const [row] of CASES) {
        created += 1000;
        await repository.save({
          createdAt: new Date(created),
          updatedAt: new Date(created),
          submittedAt: row.status === 'pending' ? new Date(created - 1) : null,
          ...row,
        });
      }
    });
    after(() => close());

    it('puts each run in the first state that applies', async () => {
      const listed = await report.list({ limit: 100, now: NOW });
      assert.deepEqual(
        Object.fromEntries(listed.map(({ runId, state }) => [runId, state])),
        Object.fromEntries(CASES.map(([row, state]) => [row.runId, state])),
      );
      for (const [row, state] of CASES) {
        assert.equal(await report.stateOf(row.runId as string, NOW), state, row.runId);
      }
      assert.equal(await report.stateOf('r_nobody', NOW), null);
    });

    it('lists one state, newest first, within a creation time and a limit', async () => {
      const ids = async (filter: Partial<Parameters<ZapierRunReport['list']>[0]>) =>
        (await report.list({ limit: 100, now: NOW, ...filter })).map(({ runId }) => runId);
      assert.deepEqual(await ids({ state: 'parked' }), ['r_parked', 'r_poll_parked']);
      assert.deepEqual(await ids({ state: 'delivering' }), ['r_expiring', 'r_delivering']);
      assert.deepEqual(await ids({ state: 'expired' }), ['r_expired']);
      assert.deepEqual(await ids({ state: 'overdue', limit: 1 }), ['r_polled']);
      assert.deepEqual(await ids({ createdSince: 8000 }), ['r_done', 'r_expired']);
    });

    it('counts overdue, parked and delivering runs, with the oldest overdue one', async () => {
      assert.deepEqual(await report.counts(NOW), {
        overdue: 2,
        oldestOverdueAt: 1999,
        parked: 2,
        delivering: 2,
      });
    });
  });
}
