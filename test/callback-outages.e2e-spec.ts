import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ZapierSandbox } from '../src/testing/index.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { freshDatabase, type Engine } from './support/data-sources.js';
import { postgresSkipReason } from './support/postgres.js';
import { cutPostgresDatabase } from './support/postgres-outage.js';
import { postCallback, rows } from './support/callbacks.js';
import { eventually, TestClock } from './support/zapier-harness.js';
import { startZapierApp, type Adapter, type ZapierApp } from './support/zapier-app.js';

const pgSkip = await postgresSkipReason();

for (const adapter of ['express', 'fastify'] as Adapter[]) {
  for (const engine of ['sqlite', 'postgres'] as Engine[]) {
    describe(
      `our own failures on ${adapter} + ${engine} answer 5xx`,
      { skip: engine === 'postgres' && pgSkip },
      () => {
        let sandbox: ZapierSandbox;
        let zapier: ZapierApp;
        let database: Awaited<ReturnType<typeof freshDatabase>>;
        const clock = new TestClock();

        before(async () => {
          sandbox = await ZapierSandbox.start({ rateLimit: false });
          database = await freshDatabase(engine, `outage_${adapter}_${engine}`);
          zapier = await startZapierApp({
            adapter,
            database: database.options,
            clock,
            zapier: { jwksUrl: sandbox.jwksUrl, jwks: { timeoutMs: 500 } },
          });
        });
        after(async () => {
          await zapier?.close();
          await sandbox?.stop();
          database?.cleanup();
        });

        it('answers 503 while the JWKS cannot be fetched, at once while backing off, then 200 once it can', async () => {
          sandbox.setJwksBehaviour('hang');
          const request = await sandbox.signer.callbackRequest({
            id: 'arun_jwks',
            status: 'success',
          });
          const burst = async () => {
            const before = sandbox.jwksRequests;
            const answers = await Promise.all(
              Array.from({ length: 50 }, () => postCallback(zapier.url, request)),
            );
            return {
              statuses: new Set(answers.map((answer) => answer.status)),
              fetches: sandbox.jwksRequests - before,
            };
          };
          try {
            // A cold start: the 50 share one fetch, which times out.
            assert.deepEqual(await burst(), { statuses: new Set([503]), fetches: 1 });
            // Within the backoff (1 s ± 20% after the failure): 503 without a fetch.
            assert.deepEqual(await burst(), { statuses: new Set([503]), fetches: 0 });
            assert.deepEqual(await rows(zapier.dataSource, 'zapier_action_runs'), []);
          } finally {
            sandbox.setJwksBehaviour('ok');
          }
          clock.advance(1300);
          const before = sandbox.jwksRequests;
          assert.equal((await postCallback(zapier.url, request)).status, 200);
          assert.equal(sandbox.jwksRequests - before, 1);
          await zapier.listener.waitFor(1);
          assert.equal(zapier.listener.forRun('arun_jwks').length, 1);
          assert.equal(
            zapier.logger.find(
              'error',
              ZapierMessages.keysFetchFailed(sandbox.jwksUrl, 'timed out'),
            ).length,
            1,
          );
          assert.equal(
            zapier.logger.find('log', ZapierMessages.keysReachableAgain(sandbox.jwksUrl)).length,
            1,
          );
        });

        it('answers 503 while the database is unavailable, writes nothing, then 200 and one event', async () => {
          const request = await sandbox.signer.callbackRequest({
            id: 'arun_db',
            status: 'success',
          });
          const outage = await makeUnavailable(engine, database.options);
          let answer;
          try {
            answer = await postCallback(zapier.url, request);
          } finally {
            await outage.restore();
          }
          assert.equal(answer.status, 503);
          assert.equal(zapier.listener.forRun('arun_db').length, 0);
          await eventually(
            'a 200',
            async () => (await postCallback(zapier.url, request)).status === 200,
            10_000,
          );
          await zapier.listener.waitFor(2);
          assert.equal(zapier.listener.forRun('arun_db').length, 1);
          const stored = (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
            (r) => r.run_id === 'arun_db',
          );
          assert.equal(stored.length, 1);
        });
      },
    );
  }
}

/** SQLite: another connection holds the write lock. PostgreSQL: the database refuses connections. */
async function makeUnavailable(
  engine: Engine,
  options: Awaited<ReturnType<typeof freshDatabase>>['options'],
): Promise<{ restore(): Promise<void> }> {
  if (engine === 'postgres') return cutPostgresDatabase((options as { url: string }).url);
  const locker = new Database((options as { database: string }).database);
  locker.exec('BEGIN EXCLUSIVE');
  return {
    restore: () => {
      locker.exec('ROLLBACK');
      locker.close();
      return Promise.resolve();
    },
  };
}
