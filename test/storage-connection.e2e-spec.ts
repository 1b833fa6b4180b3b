import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Controller, Get, Module } from '@nestjs/common';
import pg from 'pg';
import { ZapierSandbox } from '../src/testing/index.js';
import { ZapierSql } from '../src/storage/sql/zapier-sql.js';
import { freshDatabase } from './support/data-sources.js';
import { postgresSkipReason } from './support/postgres.js';
import { postCallback, type HttpAnswer } from './support/callbacks.js';
import { successCallback } from './support/sample-runs.js';
import { eventually, readRun, sleep } from './support/zapier-harness.js';
import { startZapierApp, type ZapierApp } from './support/zapier-app.js';

const pgSkip = await postgresSkipReason();
const LOCK_HOLDER = fileURLToPath(new URL('./fixtures/sqlite-lock-holder.js', import.meta.url));

/** A route of the host's own, to show the app keeps serving while the module waits. */
@Controller('ping')
class PingController {
  @Get()
  ping(): { pong: true } {
    return { pong: true };
  }
}
@Module({ controllers: [PingController] })
class PingModule {}

let sandbox: ZapierSandbox;
before(async () => {
  sandbox = await ZapierSandbox.start({ rateLimit: false });
});
after(() => sandbox?.stop());

describe('SQLite: the module commits on a connection of its own', () => {
  let zapier: ZapierApp;
  let file: string;
  let cleanup: () => void;

  beforeEach(async () => {
    const db = await freshDatabase('sqlite', 'storage_connection');
    cleanup = db.cleanup;
    file = (db.options as { database: string }).database;
    zapier = await startZapierApp({
      adapter: 'express',
      database: db.options,
      zapier: { jwksUrl: sandbox.jwksUrl, polling: { enabled: false } },
      imports: [PingModule],
    });
    await zapier.dataSource.query(
      'CREATE TABLE host_orders (id INTEGER PRIMARY KEY, note TEXT NOT NULL)',
    );
  });
  afterEach(async () => {
    await zapier?.close();
    cleanup?.();
  });

  it('keeps a callback committed when the host transaction open around it rolls back', async () => {
    const id = 'arun_host_transaction';
    const request = await sandbox.signer.callbackRequest(successCallback(id));
    let answer: HttpAnswer | undefined;
    await assert.rejects(
      zapier.dataSource.transaction(async (manager) => {
        answer = await postCallback(zapier.url, request);
        await manager.query("INSERT INTO host_orders (note) VALUES ('the host''s work')");
        throw new Error('the host rolls back');
      }),
      /the host rolls back/,
    );
    assert.equal(answer?.status, 200);
    assert.equal((await readRun(zapier.dataSource, id))?.status, 'success');
    await zapier.listener.waitFor(1);
    assert.equal(zapier.listener.forRun(id).length, 1);
    assert.deepEqual(await zapier.dataSource.query('SELECT * FROM host_orders'), []);
  });

  it('answers 503, not a 200 the host would roll back, while a host transaction holds the write lock; the retry is stored', async () => {
    const id = 'arun_host_write_lock';
    const request = await sandbox.signer.callbackRequest(successCallback(id));
    let answer: HttpAnswer | undefined;
    let elapsed = 0;
    await assert.rejects(
      zapier.dataSource.transaction(async (manager) => {
        await manager.query("INSERT INTO host_orders (note) VALUES ('the host''s work')");
        const started = Date.now();
        answer = await postCallback(zapier.url, request);
        elapsed = Date.now() - started;
        throw new Error('the host rolls back');
      }),
      /the host rolls back/,
    );
    assert.equal(answer?.status, 503);
    assert.ok(elapsed < 1500, `answered after ${elapsed} ms`);
    assert.equal(await readRun(zapier.dataSource, id), undefined);
    assert.deepEqual(await zapier.dataSource.query('SELECT * FROM host_orders'), []);

    assert.equal((await postCallback(zapier.url, request)).status, 200);
    assert.equal((await readRun(zapier.dataSource, id))?.status, 'success');
    await zapier.listener.waitFor(1);
    assert.equal(zapier.listener.forRun(id).length, 1);
  });

  it('answers 503 within about a second while another process holds the write lock, serves other routes meanwhile, and stores the retry', async () => {
    const id = 'arun_other_process';
    const request = await sandbox.signer.callbackRequest(successCallback(id));
    const holder = await holdWriteLock(file);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    let answer: HttpAnswer;
    let elapsed: number;
    const pings: number[] = [];
    try {
      lag.enable();
      const started = Date.now();
      let answered = false;
      const callback = postCallback(zapier.url, request).finally(() => {
        answered = true;
      });
      while (!answered) {
        const sent = Date.now();
        const ping = await fetch(`${zapier.url}/ping`);
        assert.deepEqual(await ping.json(), { pong: true });
        pings.push(Date.now() - sent);
        await sleep(20);
      }
      answer = await callback;
      elapsed = Date.now() - started;
      lag.disable();
    } finally {
      await holder.release();
    }
    assert.equal(answer.status, 503);
    assert.ok(elapsed < 1500, `answered after ${elapsed} ms`);
    assert.ok(pings.length >= 10, `${pings.length} pings while the callback waited`);
    assert.ok(Math.max(...pings) < 250, `slowest ping ${Math.max(...pings)} ms`);
    const stalled = lag.max / 1e6;
    assert.ok(stalled < 250, `the event loop stalled for ${stalled} ms`);
    assert.equal(await readRun(zapier.dataSource, id), undefined);

    assert.equal((await postCallback(zapier.url, request)).status, 200);
    assert.equal((await readRun(zapier.dataSource, id))?.status, 'success');
    await zapier.listener.waitFor(1);
    assert.equal(zapier.listener.forRun(id).length, 1);
  });
});

describe('SQLite in memory', () => {
  it('runs on the host connection (no other can open the database) and still stores callbacks', async () => {
    const zapier = await startZapierApp({
      adapter: 'express',
      database: { type: 'better-sqlite3', database: ':memory:' },
      zapier: { jwksUrl: sandbox.jwksUrl, polling: { enabled: false } },
    });
    try {
      assert.equal(zapier.app.get(ZapierSql).dataSource, zapier.dataSource);
      const id = 'arun_in_memory';
      const answer = await postCallback(
        zapier.url,
        await sandbox.signer.callbackRequest(successCallback(id)),
      );
      assert.equal(answer.status, 200);
      assert.equal((await readRun(zapier.dataSource, id))?.status, 'success');
    } finally {
      await zapier.close();
    }
  });
});

describe('PostgreSQL: the module statements time out', { skip: pgSkip }, () => {
  const TIMEOUT_MS = 500;
  let zapier: ZapierApp;
  let url: string;

  before(async () => {
    const db = await freshDatabase('postgres', 'storage_connection_timeout');
    url = (db.options as { url: string }).url;
    zapier = await startZapierApp({
      adapter: 'express',
      database: db.options,
      zapier: {
        jwksUrl: sandbox.jwksUrl,
        storage: { statementTimeoutMs: TIMEOUT_MS },
        // Nothing but the callbacks runs statements, so every waiting backend is theirs.
        polling: { enabled: false },
        delivery: { sweepIntervalMs: 3_600_000 },
      },
    });
  });
  after(async () => {
    await zapier?.close();
  });

  it('answers 503 within the timeout while another connection locks the table, leaves no backend waiting, and stores the retry', async () => {
    const ids = ['arun_pg_lock_1', 'arun_pg_lock_2', 'arun_pg_lock_3'];
    const requests = await Promise.all(
      ids.map((id) => sandbox.signer.callbackRequest(successCallback(id))),
    );
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    const waiting = async () =>
      Number(
        (
          await locker.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )
        ).rows[0].n,
      );
    let answers: HttpAnswer[];
    let elapsed: number;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE zapier_action_runs IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const sent = Promise.all(requests.map((request) => postCallback(zapier.url, request)));
      await eventually(
        'a statement of the app waiting on the lock',
        async () => (await waiting()) > 0,
        TIMEOUT_MS,
      );
      answers = await sent;
      elapsed = Date.now() - started;
      // The cancel is sent as the 503 goes out; the backend leaves its wait right after.
      await eventually(
        'no backend left waiting on the lock',
        async () => (await waiting()) === 0,
        2000,
      );
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [503, 503, 503],
    );
    assert.ok(elapsed < TIMEOUT_MS + 1000, `answered after ${elapsed} ms`);
    // A 503 promises no commit either way: the module gives up on a statement it could not
    // confirm in time, and one already sent may still commit (in about one run in three here).
    // Zapier's retry then finds it stored (a duplicate), and the event is emitted once all the
    // same (checked below).
    for (const id of ids) {
      const stored = await readRun(zapier.dataSource, id);
      assert.ok(stored === undefined || stored.status === 'success', `${id}: ${stored?.status}`);
    }

    for (const request of requests) {
      assert.equal((await postCallback(zapier.url, request)).status, 200);
    }
    await zapier.listener.waitFor(ids.length);
    for (const id of ids) {
      assert.equal((await readRun(zapier.dataSource, id))?.status, 'success');
      assert.equal(zapier.listener.forRun(id).length, 1);
    }
  });
});

/** Starts the lock holder on `file` and resolves once it holds the write lock. */
async function holdWriteLock(file: string): Promise<{ release(): Promise<void> }> {
  const child = spawn(process.execPath, [LOCK_HOLDER, file], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout });
  const line = (expected: string) =>
    Promise.race([
      new Promise<string>((resolve) => lines.once('line', resolve)),
      exited.then((code) => `exited with ${code}`),
    ]).then((text) => assert.equal(text, expected, 'the lock holder'));
  await line('locked');
  return {
    release: async () => {
      const released = line('released');
      child.stdin.write('release\n');
      await released;
      await exited;
    },
  };
}
