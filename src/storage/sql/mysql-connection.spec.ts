import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { DataSource } from 'typeorm';
import { createMariadbDatabase, mariadbSkipReason } from '../../../test/support/mariadb.js';
import { eventually } from '../../../test/support/zapier-harness.js';
import { MysqlConnection } from './mysql-connection.js';
import { ZapierStatementTimeoutError } from './sql-connection.js';

const skip = await mariadbSkipReason();
const LIMITS = { statementTimeoutMs: 300, sqliteBusyTimeoutMs: 1000 };

describe('MysqlConnection', { skip }, () => {
  let url: string;
  let dataSource: DataSource;
  let connection: MysqlConnection;
  let other: mysql.Connection;

  before(async () => {
    url = await createMariadbDatabase('mysql_connection_spec');
    // One pooled connection, so that the module's statement can hold all of them.
    dataSource = await new DataSource({
      type: 'mariadb',
      url,
      extra: { connectionLimit: 1 },
    }).initialize();
    await dataSource.query('CREATE TABLE t (n int) ENGINE=InnoDB');
    connection = new MysqlConnection(dataSource, LIMITS);
    other = await mysql.createConnection({ uri: url });
  });
  after(async () => {
    await connection?.close();
    await other?.end();
    await dataSource?.destroy();
  });

  const count = async () =>
    Number((await connection.execute('SELECT count(*) AS n FROM t', []))[0].n);
  const waitingOnLocks = async () => {
    const [rows] = await other.query<mysql.RowDataPacket[]>(
      `SELECT count(*) AS n FROM information_schema.PROCESSLIST
       WHERE DB = DATABASE() AND STATE LIKE '%lock%' AND ID <> CONNECTION_ID()`,
    );
    return Number(rows[0].n);
  };

  it('kills a statement stuck on a lock, from a connection of its own while it holds the whole pool, and never gives that connection back', async () => {
    await other.query('LOCK TABLES t WRITE');
    try {
      const started = Date.now();
      await assert.rejects(
        connection.execute('INSERT INTO t VALUES (1)', []),
        ZapierStatementTimeoutError,
      );
      assert.ok(Date.now() - started < LIMITS.statementTimeoutMs + 200);
      await eventually(
        'the killed statement to leave its lock wait',
        async () => {
          return (await waitingOnLocks()) === 0;
        },
        2000,
      );
    } finally {
      await other.query('UNLOCK TABLES');
    }
    await connection.close();
    // The pool made a fresh connection: the killed one's statement never ran.
    assert.equal(await count(), 0);
  });

  it('rolls back every statement of a transaction that timed out', async () => {
    await other.query('LOCK TABLES t READ');
    let wrote = false;
    try {
      await assert.rejects(
        connection.transaction(async (run) => {
          await run('SELECT 1', []);
          wrote = true;
          await run('INSERT INTO t VALUES (2)', []);
        }, 'by-key'),
        ZapierStatementTimeoutError,
      );
    } finally {
      await other.query('UNLOCK TABLES');
    }
    await connection.close();
    assert.equal(wrote, true);
    assert.equal(await count(), 0);
  });

  it('commits a transaction that succeeds and rolls back one that throws', async () => {
    await connection.transaction(async (run) => {
      await run('INSERT INTO t VALUES (3)', []);
      await run('INSERT INTO t VALUES (4)', []);
    }, 'by-scan');
    await assert.rejects(
      connection.transaction(async (run) => {
        await run('INSERT INTO t VALUES (5)', []);
        throw new Error('changed its mind');
      }, 'by-key'),
      /changed its mind/,
    );
    assert.equal(await count(), 2);
  });

  it('times out waiting for a pooled connection and sends nothing once one is free', async () => {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await assert.rejects(
        connection.execute('INSERT INTO t VALUES (6)', []),
        ZapierStatementTimeoutError,
      );
    } finally {
      await runner.release();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await count(), 2);
  });

  it('retries deadlocks and lock wait timeouts a few times, nothing else', () => {
    const deadlock = { driverError: { code: 'ER_LOCK_DEADLOCK' } };
    assert.notEqual(connection.retryDelay(deadlock, 1), null);
    assert.notEqual(
      connection.retryDelay({ driverError: { code: 'ER_LOCK_WAIT_TIMEOUT' } }, 3),
      null,
    );
    assert.equal(connection.retryDelay(deadlock, 4), null);
    assert.equal(connection.retryDelay(new ZapierStatementTimeoutError(1), 1), null);
    assert.equal(connection.retryDelay({ driverError: { code: 'ER_DUP_ENTRY' } }, 1), null);
  });
});
