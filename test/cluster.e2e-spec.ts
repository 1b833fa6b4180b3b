import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCluster } from './support/cluster-harness.js';
import { postgresSkipReason } from './support/postgres.js';

const pgSkip = await postgresSkipReason();

/**
 * Issue 5's cluster test, sized for CI (about 1.5 minutes): three instances as separate
 * processes on one PostgreSQL database, one SIGKILLed and restarted while runs are created.
 * `scripts/cluster-soak.mjs` runs the same scenario larger and longer.
 */
describe('a cluster of three instances on one PostgreSQL', { skip: pgSkip }, () => {
  it(
    'loses no run, delivers once unless the delivering instance crashed, and keeps to the budget',
    { timeout: 280_000 },
    async () => {
      const report = await runCluster({
        runs: Number(process.env.CLUSTER_RUNS ?? 2000),
        databaseName: 'cluster_e2e',
        log: process.env.TEST_LOGS ? (line) => console.log(line) : () => undefined,
      });
      console.log(report.text);
      assert.deepEqual(report.violations, []);
      const s = report.summary;
      assert.equal(s.created, s.runs);
      assert.equal(s.delivered, s.runs);
      assert.equal(s.lost, 0);
      assert.equal(s.rateLimited, 0);
      assert.ok(s.maxRequestsIn60s <= s.budget);
      // The scenario really happened: every fault was exercised.
      assert.ok(s.duplicateCallbacks > 0 && s.lostCallbacks > 0 && s.listenerFailures > 0);
      assert.ok(s.callbacksRefused > 0 || s.heldByKilled > 0, 'the crash hit something');
    },
  );
});
