import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import pg from 'pg';
import { createPostgresDatabase, postgresSkipReason } from '../../../test/support/postgres.js';
import { eventually } from '../../../test/support/zapier-harness.js';
import { PostgresConnection } from './postgres-connection.js';
import { ZapierStatementTimeoutError } from './sql-connection.js';

const pgSkip = await postgresSkipReason();
const LIMITS = { statementTimeoutMs: 300, sqliteBusyTimeoutMs: 1000 };

describe('PostgresConnection', { skip: pgSkip }, () => {
  let url: string;
  let dataSource: DataSource;
  let connection: PostgresConnection;
  let other: pg.Client;

  before(async () => {
    url = await createPostgresDatabase('postgres_connection_spec');
    // One pooled connection, so that the module's statement can hold all of them.
    dataSource = await new DataSource({ type: 'postgres', url, extra: { max: 1 } }).initialize();
    await dataSource.query('CREATE TABLE t (n integer)');
    connection = new PostgresConnection(dataSource, LIMITS);
    other = new pg.Client({ connectionString: url });
    await other.connect();
  });
  after(async () => {
    await connection?.close();
    await other?.end();
    await dataSource?.destroy();
  });

  const waitingOnLocks = async () =>
    Number(
      (
        await other.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        )
      ).rows[0].n,
    );

  it('cancels a statement stuck on a lock from a connection of its own while it holds the whole pool, then gives the connection back', async () => {
    await other.query('BEGIN');
    await other.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    try {
      const started = Date.now();
      await assert.rejects(
        connection.execute('INSERT INTO t VALUES (1)', []),
        ZapierStatementTimeoutError,
      );
      assert.ok(Date.now() - started < LIMITS.statementTimeoutMs + 200);
      await eventually(
        'the backend to leave its lock wait',
        async () => (await waitingOnLocks()) === 0,
        2000,
      );
    } finally {
      await other.query('ROLLBACK');
    }
    await connection.close();
    assert.deepEqual(await connection.execute('SELECT count(*)::int AS n FROM t', []), [{ n: 0 }]);
  });

  it('times out waiting for a pooled connection and sends nothing once one is free', async () => {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await assert.rejects(
        connection.execute('INSERT INTO t VALUES (2)', []),
        ZapierStatementTimeoutError,
      );
    } finally {
      await runner.release();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(await connection.execute('SELECT count(*)::int AS n FROM t', []), [{ n: 0 }]);
  });

  it('retries deadlocks and serialization failures a few times, nothing else', () => {
    const deadlock = { driverError: { code: '40P01' } };
    assert.notEqual(connection.retryDelay(deadlock, 1), null);
    assert.notEqual(connection.retryDelay({ driverError: { code: '40001' } }, 3), null);
    assert.equal(connection.retryDelay(deadlock, 4), null);
    assert.equal(connection.retryDelay(new ZapierStatementTimeoutError(1), 1), null);
    assert.equal(connection.retryDelay({ driverError: { code: '23505' } }, 1), null);
  });
});
