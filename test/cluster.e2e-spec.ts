import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCluster, type ClusterOptions } from './support/cluster-harness.js';
import { engineSkipReasons } from './support/data-sources.js';

const skips = await engineSkipReasons();

/**
 * Issue 5's cluster test, sized for CI: three instances as separate processes on one database,
 * one SIGKILLed and restarted while runs are created; 2000 runs on PostgreSQL (about 1.5
 * minutes), fewer on MariaDB, where the scenario is the same and only CI's time is shorter.
 * `scripts/cluster-soak.mjs` runs the same scenario larger and longer, on either.
 */
const SIZES: Array<{ engine: ClusterOptions['engine']; name: string; runs: number }> = [
  { engine: 'postgres', name: 'PostgreSQL', runs: 2000 },
  { engine: 'mariadb', name: 'MariaDB', runs: 600 },
];

for (const { engine, name, runs } of SIZES) {
  describe(`a cluster of three instances on one ${name}`, { skip: skips[engine] }, () => {
    it(
      'loses no run, delivers once unless the delivering instance crashed, and keeps to the budget',
      { timeout: 280_000 },
      async () => {
        const report = await runCluster({
          engine,
          runs: Number(process.env.CLUSTER_RUNS ?? runs),
          databaseName: `cluster_e2e_${engine}`,
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
}
