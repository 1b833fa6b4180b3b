import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { DataSourceOptions } from 'typeorm';
import type { ZapierModuleOptions } from '../src/interfaces/zapier-module-options.interface.js';
import type { ZapierSandbox } from '../src/testing/zapier-sandbox.js';
import type { ZapierSandboxOptions } from '../src/testing/zapier-sandbox.interfaces.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { engineSkipReasons, freshDatabase, type Engine } from './support/data-sources.js';
import {
  eventually,
  maxInWindow,
  polls,
  readBudget,
  readRun,
  readRuns,
  sleep,
  startPollerApp,
  startSandbox,
  TestClock,
  type PollerApp,
} from './support/zapier-harness.js';
import { SAMPLE_RUN } from './support/sample-runs.js';

const skips = await engineSkipReasons();

/** See poller-budget.e2e-spec.ts: the sandbox's minute passes in 6 real seconds. */
const SPEED = 10;
/** Zapier's limit as the sandbox enforces it (120 a sandbox minute). */
const ZAPIER_PER_MINUTE = 1200;
/** Shared by both instances: 90% of Zapier's limit, one request every ~56 ms across the cluster. */
const BUDGET = 1080;

/** Events heard for each run, across the listeners of every instance. */
function eventsPerRun(apps: PollerApp[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const app of apps) {
    for (const { event } of app.listener.events) {
      counts.set(event.runId, (counts.get(event.runId) ?? 0) + 1);
    }
  }
  return counts;
}

async function startCluster(
  engine: Engine,
  name: string,
  cleanups: Array<() => Promise<void> | void>,
  options: {
    sandbox: Omit<ZapierSandboxOptions, 'callbackTarget'>;
    zapier: (instance: string) => ZapierModuleOptions;
    clock?: TestClock;
  },
): Promise<{ sandbox: ZapierSandbox; apps: PollerApp[]; database: DataSourceOptions }> {
  const { sandbox, target } = await startSandbox(options.sandbox);
  cleanups.push(() => sandbox.stop());
  const db = await freshDatabase(engine, name);
  cleanups.push(db.cleanup);
  const apps: PollerApp[] = [];
  // Same database, same options: two instances of one app.
  for (const instance of ['a', 'b']) {
    const app = await startPollerApp({
      sandbox,
      database: db.options,
      clock: options.clock,
      zapier: { instanceId: `instance-${instance}`, ...options.zapier(instance) },
    });
    let closed: Promise<void> | undefined;
    const close = () => (closed ??= app.close());
    cleanups.push(close);
    apps.push({ ...app, close });
  }
  target.url = apps[0].url;
  return { sandbox, apps, database: db.options };
}

for (const engine of ['postgres', 'mariadb', 'sqlite'] as Engine[]) {
  describe(`two instances polling one database (${engine})`, { skip: skips[engine] }, () => {
    let seq = 0;
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    const dbName = () => `h2_cluster_${engine}_${++seq}`;

    it('polls each overdue run once, emits one event per run, and shares one budget', async () => {
      const origin = Date.now();
      const { sandbox, apps } = await startCluster(engine, dbName(), cleanups, {
        sandbox: {
          now: () => origin + (Date.now() - origin) * SPEED,
          rateLimit: { perMinute: ZAPIER_PER_MINUTE / SPEED, cooldownMs: 60_000 },
        },
        zapier: () => ({
          polling: { intervalMs: 20, overdueAfterMs: 300, maxRequestsPerMinute: BUDGET },
        }),
      });
      const count = 30;
      for (let i = 0; i < count; i++)
        sandbox.queueOutcome({ status: 'success', callback: 'never' });
      // Both instances start runs, so both backlogs mix in one table.
      const ids = (
        await Promise.all(
          Array.from({ length: count }, (_, i) =>
            apps[i % 2].client.createActionRun({ ...SAMPLE_RUN, metadata: { i } }),
          ),
        )
      ).map((run) => run.id);
      await eventually('an event per run', () => eventsPerRun(apps).size === count, 20_000);

      for (const id of ids) assert.equal(polls(sandbox, id).length, 1, `GETs of ${id}`);
      assert.equal(polls(sandbox).length, count);
      const perRun = eventsPerRun(apps);
      assert.ok([...perRun.values()].every((n) => n === 1));
      // Both instances did part of the work (each emits what it polled).
      assert.ok(apps.every((app) => app.listener.events.length > 0));
      assert.equal(sandbox.rateLimited, 0);
      const busiest = maxInWindow(
        sandbox.requests.map((request) => request.at),
        60_000,
      );
      // +1: one late request, as explained in poller-budget.e2e-spec.ts.
      assert.ok(busiest <= BUDGET / SPEED + 1, `${busiest} requests in one (scaled) minute`);
      const rows = await readRuns(apps[0].dataSource);
      assert.ok(rows.every((row) => row.status === 'success' && row.pollClaimedBy === null));
    });

    it('never polls one run twice at once while both instances re-poll pending runs', async () => {
      const { sandbox, apps } = await startCluster(engine, dbName(), cleanups, {
        sandbox: { rateLimit: false },
        zapier: () => ({
          polling: {
            intervalMs: 10,
            overdueAfterMs: 100,
            initialBackoffMs: 300,
            maxBackoffMs: 600,
          },
        }),
      });
      const count = 8;
      for (let i = 0; i < count; i++) {
        sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 2500 });
      }
      const ids: string[] = [];
      for (let i = 0; i < count; i++)
        ids.push((await apps[i % 2].client.createActionRun(SAMPLE_RUN)).id);
      await eventually('an event per run', () => eventsPerRun(apps).size === count, 10_000);

      for (const id of ids) {
        const seen = polls(sandbox, id);
        assert.ok(seen.length >= 3, `${id} polled ${seen.length} times`);
        const gaps = seen.slice(1).map((request, i) => request.at - seen[i].at);
        // 300 ms with -20% jitter at the least: a shorter gap means two instances polled it.
        assert.ok(
          gaps.every((gap) => gap >= 230),
          `${id}: gaps ${gaps.join(', ')}`,
        );
      }
      assert.ok([...eventsPerRun(apps).values()].every((n) => n === 1));
      // Which instance finds each result is a race (one may win all eight); that both share the
      // work is checked by the test above.
    });

    it('pauses every instance after a 429 until its cooldown has passed', async () => {
      const clock = new TestClock();
      const { sandbox, apps } = await startCluster(engine, dbName(), cleanups, {
        clock,
        sandbox: { now: () => clock.now(), rateLimit: { perMinute: 6, cooldownMs: 800 } },
        zapier: () => ({
          polling: {
            intervalMs: 20,
            overdueAfterMs: 1000,
            initialBackoffMs: 50,
            maxRequestsPerMinute: 600,
          },
        }),
      });
      for (let i = 0; i < 4; i++) {
        sandbox.queueOutcome({ status: 'success', callback: 'never', delayMs: 60_000 });
        await apps[i % 2].client.createActionRun(SAMPLE_RUN);
      }
      await eventually('four 429s', () => sandbox.rateLimited >= 4, 10_000);
      const seen = [...sandbox.requests];
      const firstLimited = seen.findIndex((request) => request.status === 429);
      assert.equal(firstLimited, 6);
      const storm = seen.slice(firstLimited);
      assert.ok(storm.every((request) => request.status === 429));
      // Whichever instance sent it, nothing went out before Retry-After (1 s) had passed.
      const gaps = storm.slice(1).map((request, i) => request.at - storm[i].at);
      assert.ok(
        gaps.every((gap) => gap >= 1000),
        `gaps after each 429: ${gaps.join(', ')} ms`,
      );
      await eventually('the cooldown to be recorded', async () => {
        const budget = await readBudget(apps[0].dataSource);
        return budget !== undefined && budget.cooldownUntil >= storm.at(-1)!.at + 1000;
      });
      // The instance logs once the cooldown statement has answered, a moment after its commit.
      const warnings = () =>
        apps.reduce(
          (sum, app) => sum + app.logger.find('warn', ZapierMessages.rateLimited(1)).length,
          0,
        );
      await eventually('one warning per 429', () => warnings() >= storm.length);
      assert.equal(warnings(), storm.length, 'one warning per 429');
      // Both instances were trying all along: each holds a claimed run, waiting for the end of
      // the shared cooldown (the gaps above show neither sent anything before it).
      const claimedBy = new Set<string | null>();
      for (const until = Date.now() + 1500; Date.now() < until; await sleep(20)) {
        for (const row of await readRuns(apps[0].dataSource)) claimedBy.add(row.pollClaimedBy);
      }
      assert.ok(claimedBy.has('instance-a') && claimedBy.has('instance-b'), [...claimedBy].join());
    });

    it('hands a run claimed by an instance that shuts down to the other one at once', async () => {
      const { sandbox, apps } = await startCluster(engine, dbName(), cleanups, {
        sandbox: { rateLimit: false },
        zapier: (instance) => ({
          polling: {
            // Instance a ticks on its own, b only when the test says; with one request a
            // minute, a waits for its slot (the create took the only one) once it claimed.
            intervalMs: instance === 'a' ? 20 : 3_600_000,
            overdueAfterMs: 100,
            maxRequestsPerMinute: 1,
          },
        }),
      });
      sandbox.queueOutcome({ status: 'success', callback: 'never' });
      const { id } = await apps[0].client.createActionRun(SAMPLE_RUN);
      await eventually(
        'instance a to claim the run',
        async () => (await readRun(apps[0].dataSource, id))?.pollClaimedBy === 'instance-a',
      );
      const started = Date.now();
      await apps[0].close();
      assert.ok(Date.now() - started < 1000);
      const row = await readRun(apps[1].dataSource, id);
      assert.equal(row?.status, 'pending');
      assert.equal(row?.pollClaimedBy, null);
      // Instance b claims it right away rather than after instance a's lease (minutes).
      void apps[1].poller.tick();
      await eventually(
        'instance b to claim the run',
        async () => (await readRun(apps[1].dataSource, id))?.pollClaimedBy === 'instance-b',
        1000,
      );
      assert.equal(polls(sandbox).length, 0);
    });
  });
}
