import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import pg from 'pg';
import { ZapierHealthIndicator, type ZapierHealthDetails } from '../src/terminus/index.js';
import { ZapierRequestBudget } from '../src/budget/zapier-request-budget.js';
import { ZapierSql } from '../src/storage/sql/zapier-sql.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import type { ZapierSandbox } from '../src/testing/zapier-sandbox.js';
import { freshDatabase, type Engine } from './support/data-sources.js';
import { POSTGRES_ADMIN_URL, postgresSkipReason } from './support/postgres.js';
import { SAMPLE_RUN } from './support/sample-runs.js';
import {
  eventually,
  MINUTE,
  PUBLIC_CALLBACK_URL,
  readRun,
  startSandbox,
  TestClock,
} from './support/zapier-harness.js';
import { startZapierApp, type ZapierApp } from './support/zapier-app.js';
import { ZapierClient } from '../src/client/zapier.client.js';

const pgSkip = await postgresSkipReason();

/** The README's health endpoint, plus one with every threshold set and one with a short timeout. */
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly zapier: ZapierHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.zapier.isHealthy('zapier')]);
  }

  @Get('strict')
  @HealthCheck()
  strict() {
    return this.health.check([
      () =>
        this.zapier.isHealthy('zapier', {
          maxOverdueAgeMs: 60 * MINUTE,
          maxParkedRuns: 0,
          maxDeliveryBacklog: 100,
          maxKeyAgeMs: 60 * MINUTE,
          downDuringCooldown: true,
        }),
    ]);
  }

  @Get('quick')
  @HealthCheck()
  quick() {
    return this.health.check([() => this.zapier.isHealthy('zapier', { timeoutMs: 300 })]);
  }
}

interface HealthBody {
  status: 'ok' | 'error';
  details: { zapier: ZapierHealthDetails & { status: 'up' | 'down' } };
}

async function health(
  app: ZapierApp,
  path = '/health',
): Promise<{ code: number; body: HealthBody }> {
  const response = await fetch(`${app.url}${path}`);
  return { code: response.status, body: (await response.json()) as HealthBody };
}

for (const engine of ['sqlite', 'postgres'] as Engine[]) {
  describe(
    `ZapierHealthIndicator in a terminus /health endpoint (${engine})`,
    { skip: engine === 'postgres' && pgSkip },
    () => {
      const cleanups: Array<() => Promise<void> | void> = [];
      afterEach(async () => {
        for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      });
      let seq = 0;

      /** A sandbox, a fresh database and an app serving the health endpoints. */
      async function start(): Promise<{
        sandbox: ZapierSandbox;
        zapier: ZapierApp;
        clock: TestClock;
        databaseUrl: string | undefined;
      }> {
        const clock = new TestClock();
        const { sandbox, target } = await startSandbox({ now: () => clock.now() });
        cleanups.push(() => sandbox.stop());
        const db = await freshDatabase(engine, `ops_health_${++seq}`);
        cleanups.push(db.cleanup);
        const zapier = await startZapierApp({
          adapter: 'express',
          database: db.options,
          clock,
          imports: [TerminusModule.forRoot({ logger: false })],
          controllers: [HealthController],
          providers: [ZapierHealthIndicator],
          zapier: {
            ...sandbox.moduleOptions(),
            callbackUrl: PUBLIC_CALLBACK_URL,
            polling: { intervalMs: 3_600_000, overdueAfterMs: MINUTE },
            delivery: { sweepIntervalMs: 100, maxAttempts: 1 },
          },
        });
        cleanups.push(() => zapier.close().catch(() => undefined));
        target.url = zapier.url;
        const databaseUrl = 'url' in db.options ? db.options.url : undefined;
        return { sandbox, zapier, clock, databaseUrl };
      }

      it('is up with the database and the keys there, and loads the keys itself', async () => {
        const { sandbox, zapier } = await start();
        assert.equal(sandbox.jwksRequests, 0);
        const { code, body } = await health(zapier);
        assert.equal(code, 200);
        assert.equal(body.status, 'ok');
        const { jwks, ...rest } = body.details.zapier;
        assert.deepEqual(rest, {
          status: 'up',
          database: { reachable: true, error: null },
          runs: { overdue: 0, oldestOverdueAgeMs: null, parked: 0, deliveryBacklog: 0 },
          cooldownRemainingMs: 0,
        });
        assert.equal(jwks?.keys, 1);
        assert.equal(jwks?.error, null);
        assert.ok(typeof jwks?.ageMs === 'number' && jwks.ageMs >= 0);
        assert.equal(sandbox.jwksRequests, 1);
        assert.equal((await health(zapier)).code, 200);
        assert.equal(sandbox.jwksRequests, 1, 'the keys are kept');
      });

      it('is down past its thresholds (overdue, parked, cooldown), and up without them', async () => {
        const { sandbox, zapier, clock } = await start();
        const client = zapier.app.get(ZapierClient);
        sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 0 });
        await client.createActionRun(SAMPLE_RUN);
        clock.advance(2 * 60 * MINUTE);
        zapier.listener.failures = 1;
        sandbox.queueOutcome({ status: 'success', delayMs: 0 });
        const parked = (await client.createActionRun(SAMPLE_RUN)).id;
        await eventually('the parked run', async () => {
          return (await readRun(zapier.dataSource, parked))?.deliveryState === 'parked';
        });
        await zapier.app.get(ZapierRequestBudget).cooldown(30_000);

        const relaxed = await health(zapier);
        assert.equal(relaxed.code, 200);
        assert.equal(relaxed.body.details.zapier.runs?.overdue, 1);
        assert.equal(relaxed.body.details.zapier.runs?.parked, 1);
        assert.equal(relaxed.body.details.zapier.problems, undefined);

        const strict = await health(zapier, '/health/strict');
        assert.equal(strict.code, 503);
        assert.equal(strict.body.status, 'error');
        const details = strict.body.details.zapier;
        assert.equal(details.status, 'down');
        const age = details.runs?.oldestOverdueAgeMs ?? 0;
        assert.ok(age >= 2 * 60 * MINUTE, `overdue for ${age} ms`);
        assert.deepEqual(details.problems, [
          ZapierMessages.healthOverdue(1, age, 60 * MINUTE),
          ZapierMessages.healthParked(1, 0),
          ZapierMessages.healthCooldown(details.cooldownRemainingMs ?? 0),
        ]);
        assert.ok((details.cooldownRemainingMs ?? 0) > 25_000);
      });

      it('is down when the database stops answering', async () => {
        const { zapier, databaseUrl } = await start();
        assert.equal((await health(zapier)).code, 200);
        if (engine === 'sqlite') {
          // The module's own connection to the file (decisions 18): the one its statements use.
          await zapier.app.get(ZapierSql).dataSource.destroy();
        } else {
          // This spec's database only, never the shared server.
          const name = new URL(databaseUrl as string).pathname.slice(1);
          const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
          await admin.connect();
          await admin.query(`DROP DATABASE "${name}" WITH (FORCE)`);
          await admin.end();
        }
        const { code, body } = await health(zapier);
        assert.equal(code, 503);
        const details = body.details.zapier;
        assert.equal(details.status, 'down');
        assert.equal(details.database?.reachable, false);
        assert.equal(typeof details.database?.error, 'string');
        assert.equal(details.runs, null);
        assert.equal(details.cooldownRemainingMs, null);
        assert.equal(details.jwks?.keys, 1, 'the keys are still there');
        assert.deepEqual(details.problems, [
          ZapierMessages.healthDatabaseUnreachable(details.database?.error ?? ''),
        ]);
      });

      it('is down when the JWKS is down before any key was loaded', async () => {
        const { sandbox, zapier } = await start();
        await sandbox.stop();
        const { code, body } = await health(zapier);
        assert.equal(code, 503);
        const details = body.details.zapier;
        assert.equal(details.database?.reachable, true);
        assert.equal(details.jwks?.keys, 0);
        assert.equal(details.jwks?.ageMs, null);
        assert.equal(typeof details.jwks?.error, 'string');
        assert.deepEqual(details.problems, [
          ZapierMessages.healthNoKeys(details.jwks?.error ?? null),
        ]);
      });

      it('is down when the checks take longer than timeoutMs', async () => {
        const { sandbox, zapier } = await start();
        sandbox.setJwksBehaviour('hang');
        const { code, body } = await health(zapier, '/health/quick');
        assert.equal(code, 503);
        assert.deepEqual(body.details.zapier, {
          status: 'down',
          problems: [ZapierMessages.healthTimedOut(300)],
        });
      });
    },
  );
}
