import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { captureNestLogs } from '../../../test/support/spec-context.js';
import { temporarySqliteFile } from '../../../test/support/sqlite.js';
import { ZapierMessages } from '../../zapier.messages.js';
import { SqliteConnection } from './sqlite-connection.js';

const LIMITS = { statementTimeoutMs: 10_000, sqliteBusyTimeoutMs: 1000 };
const busy = { driverError: { code: 'SQLITE_BUSY' } };

describe('SqliteConnection', () => {
  const logs = captureNestLogs();
  const closing: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  async function host(database: string, enableWAL: boolean): Promise<DataSource> {
    const dataSource = await new DataSource({
      type: 'better-sqlite3',
      database,
      enableWAL,
    }).initialize();
    closing.push(() => dataSource.destroy());
    return dataSource;
  }

  it('opens a connection of its own on a file, switches the file to WAL and says so, and closes only its own', async () => {
    const file = temporarySqliteFile();
    closing.push(file.remove);
    const hostDataSource = await host(file.path, false);
    const connection = await SqliteConnection.open(hostDataSource, LIMITS);
    assert.notEqual(connection.dataSource, hostDataSource);
    assert.equal(connection.dataSource.options.type, 'better-sqlite3');
    assert.deepEqual(await hostDataSource.query('PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);
    assert.equal(logs.find('log', ZapierMessages.sqliteWalEnabled('delete')).length, 1);
    await connection.close();
    assert.equal(connection.dataSource.isInitialized, false);
    assert.equal(hostDataSource.isInitialized, true);
  });

  it('says nothing about the journal of a file already in WAL mode', async () => {
    const file = temporarySqliteFile();
    closing.push(file.remove);
    const connection = await SqliteConnection.open(await host(file.path, true), LIMITS);
    closing.push(() => connection.close());
    assert.equal(logs.entries.length, 0);
  });

  it('shares the host connection of a :memory: database, with one warning', async () => {
    const hostDataSource = await host(':memory:', false);
    const connection = await SqliteConnection.open(hostDataSource, LIMITS);
    assert.equal(connection.dataSource, hostDataSource);
    assert.equal(logs.find('warn', ZapierMessages.sqliteMemoryShared()).length, 1);
    await connection.close();
    assert.equal(hostDataSource.isInitialized, true);
  });

  it('retries a locked database with short sleeps up to sqliteBusyTimeoutMs, and nothing else', () => {
    const connection = new SqliteConnection(null as unknown as DataSource, LIMITS, false);
    const first = connection.retryDelay(busy, 1, 0);
    assert.ok(first !== null && first >= 1 && first <= 3, `first delay ${first}`);
    const later = connection.retryDelay({ driverError: { code: 'SQLITE_BUSY_SNAPSHOT' } }, 20, 500);
    assert.ok(later !== null && later <= 60, `later delay ${later}`);
    assert.equal(connection.retryDelay(busy, 3, 995), 5);
    assert.equal(connection.retryDelay(busy, 30, 1000), null);
    assert.equal(connection.retryDelay({ driverError: { code: 'SQLITE_CONSTRAINT' } }, 1, 0), null);
    assert.equal(connection.retryDelay(new Error('boom'), 1, 0), null);
  });
});
