import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migratedDataSource } from '../../test/support/data-sources.js';
import { mariadbSkipReason } from '../../test/support/mariadb.js';
import { ZapierWriteQueueFullError } from '../errors/zapier-storage.errors.js';
import { GroupCommit } from './group-commit.js';
import { ZapierRunIntake } from './run-intake.repository.js';
import { refusedValue } from './sql/sql-refusals.js';
import { ZapierSql } from './sql/zapier-sql.js';
import type { TerminalResult } from './stored-run.js';

const mariadbSkip = await mariadbSkipReason();

/** A write that refuses any batch holding a negative item, like a database refusing a value. */
class RefusedValue extends Error {}

function recorder(maxConcurrent: number, maxItems = 100, maxWeight = 1e9) {
  const batches: number[][] = [];
  let running = 0;
  let peak = 0;
  let fail = false;
  const commit = new GroupCommit<number, string>(
    async (items) => {
      running += 1;
      peak = Math.max(peak, running);
      batches.push(items);
      await new Promise((resolve) => setTimeout(resolve, 10));
      running -= 1;
      if (fail) throw new Error('disk full');
      return items.map((item) => `ok ${item}`);
    },
    { maxConcurrent, maxItems, maxWeight, weight: (item) => item },
  );
  return {
    commit,
    batches,
    peak: () => peak,
    failNext: () => {
      fail = true;
    },
  };
}

describe('GroupCommit', () => {
  it('writes items submitted together in one batch and answers each with its own result', async () => {
    const { commit, batches } = recorder(1);
    const results = await Promise.all([1, 2, 3].map((item) => commit.submit(item)));
    assert.deepEqual(results, ['ok 1', 'ok 2', 'ok 3']);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  it('queues what arrives during a write into the next batch, never exceeding the concurrency', async () => {
    const { commit, batches, peak } = recorder(1);
    const first = commit.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [2, 3, 4].map((item) => commit.submit(item));
    await Promise.all([first, ...rest]);
    assert.deepEqual(batches, [[1], [2, 3, 4]]);
    assert.equal(peak(), 1);
  });

  it('splits by item count and by weight, but always takes at least one item', async () => {
    const byCount = recorder(1, 2);
    await Promise.all([1, 2, 3, 4, 5].map((item) => byCount.commit.submit(item)));
    assert.deepEqual(byCount.batches, [[1, 2], [3, 4], [5]]);
    const byWeight = recorder(1, 100, 10);
    await Promise.all([6, 3, 20, 1].map((item) => byWeight.commit.submit(item)));
    assert.deepEqual(byWeight.batches, [[6, 3], [20], [1]]);
  });

  it('rejects every item of a failed batch, and keeps working afterwards', async () => {
    const { commit, failNext } = recorder(2);
    failNext();
    const outcomes = await Promise.allSettled([1, 2].map((item) => commit.submit(item)));
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected'],
    );
  });

  it('with lingerMs, gathers items that trickle in into one batch, unless it is full', async () => {
    const batches: number[][] = [];
    const commit = new GroupCommit<number, number>(
      (items) => {
        batches.push(items);
        return Promise.resolve(items);
      },
      { maxConcurrent: 1, maxItems: 3, maxWeight: 100, weight: () => 1, lingerMs: 40 },
    );
    const trickle: Array<Promise<number>> = [];
    for (const item of [1, 2]) {
      trickle.push(commit.submit(item));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(trickle);
    assert.deepEqual(batches, [[1, 2]]);
    await Promise.all([3, 4, 5].map((item) => commit.submit(item)));
    assert.deepEqual(batches, [
      [1, 2],
      [3, 4, 5],
    ]);
  });

  it('writes a batch refused for one value again in halves: only the culprits fail', async () => {
    const batches: number[][] = [];
    const commit = new GroupCommit<number, string>(
      (items) => {
        batches.push(items);
        const bad = items.find((item) => item < 0);
        return bad === undefined
          ? Promise.resolve(items.map((item) => `ok ${item}`))
          : Promise.reject(new RefusedValue(`refused ${bad}`));
      },
      {
        maxConcurrent: 1,
        maxItems: 100,
        maxWeight: 1e9,
        weight: () => 1,
        isolate: (error) => error instanceof RefusedValue,
      },
    );
    const items = [1, 2, 3, -4, 5, 6, 7, 8, 9, -10, 11, 12];
    const outcomes = await Promise.allSettled(items.map((item) => commit.submit(item)));
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
      items.map((item) => (item < 0 ? `refused ${item}` : `ok ${item}`)),
    );
    // Every good item was written exactly once, and each culprit was finally tried alone.
    const written = batches.filter((batch) => batch.every((item) => item > 0)).flat();
    assert.deepEqual(
      written.sort((a, b) => a - b),
      items.filter((item) => item > 0),
    );
    assert.deepEqual(
      batches.filter((batch) => batch.length === 1 && batch[0] < 0),
      [[-4], [-10]],
    );
    assert.ok(batches.length <= 2 * items.length, `${batches.length} statements`);
  });

  it('rejects the whole batch at once, in one statement, on an error no single item causes', async () => {
    let statements = 0;
    const commit = new GroupCommit<number, number>(
      () => {
        statements += 1;
        return Promise.reject(new Error('connection terminated'));
      },
      {
        maxConcurrent: 1,
        maxItems: 100,
        maxWeight: 1e9,
        weight: () => 1,
        isolate: (error) => error instanceof RefusedValue,
      },
    );
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map((item) => commit.submit(item)));
    assert.ok(outcomes.every((o) => o.status === 'rejected'));
    assert.equal(statements, 1);
  });

  it('refuses at once what exceeds the queue bound, by count or weight, and queues again once it drains', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const commit = new GroupCommit<number, number>(
      async (items) => {
        await gate;
        return items;
      },
      { maxConcurrent: 1, maxItems: 2, maxWeight: 100, weight: (item) => item, maxQueued: 3 },
    );
    // The first batch is in flight (the database hangs); three more wait, the queue's bound.
    const inFlight = commit.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = [2, 3, 4].map((item) => commit.submit(item));
    const started = Date.now();
    await assert.rejects(commit.submit(5), (error: unknown) => {
      assert.ok(error instanceof ZapierWriteQueueFullError);
      assert.equal(error.queued, 3);
      assert.equal(error.limit, 3);
      return true;
    });
    assert.ok(Date.now() - started < 50, 'refused at once');
    release();
    assert.deepEqual(await Promise.all([inFlight, ...waiting]), [1, 2, 3, 4]);
    assert.equal(await commit.submit(6), 6);

    // By weight (default 4 × maxWeight = 40 here): a heavy lone item to an empty queue still goes.
    const heavy = new GroupCommit<number, number>((items) => Promise.resolve(items), {
      maxConcurrent: 1,
      maxItems: 10,
      maxWeight: 10,
      weight: (item) => item,
    });
    const first = heavy.submit(500);
    await assert.rejects(heavy.submit(1), ZapierWriteQueueFullError);
    assert.equal(await first, 500);
    const fits = [20, 20].map((item) => heavy.submit(item));
    await assert.rejects(heavy.submit(1), ZapierWriteQueueFullError);
    assert.deepEqual(await Promise.all(fits), [20, 20]);
  });
});

describe('GroupCommit over the run intake on MariaDB', { skip: mariadbSkip }, () => {
  let database: Awaited<ReturnType<typeof migratedDataSource>>;
  before(async () => {
    database = await migratedDataSource('mariadb', 'group_commit_spec');
  });
  after(() => database?.close());

  it('writes a batch the server refuses for one run id again in halves: only that result fails, its neighbours commit', async () => {
    const intake = new ZapierRunIntake(new ZapierSql(database.dataSource));
    const batches: number[] = [];
    const commit = new GroupCommit<TerminalResult, boolean>(
      async (items) => {
        batches.push(items.length);
        const changed = await intake.storeTerminal(
          items,
          { now: 1, instanceId: null, claimUntil: null },
          'default',
        );
        return items.map((item) => changed.has(item.runId));
      },
      {
        maxConcurrent: 1,
        maxItems: 100,
        maxWeight: 1e9,
        weight: () => 1,
        isolate: (error) => refusedValue(error) !== undefined,
      },
    );
    const result = (runId: string): TerminalResult => ({
      runId,
      status: 'success',
      results: [],
      errors: [],
      rawPayload: '{}',
      source: 'callback',
      receivedAt: 1,
    });
    // Longer than the column's 255 characters: strict mode refuses it (ER_DATA_TOO_LONG).
    const culprit = `arun_${'x'.repeat(300)}`;
    const ids = Array.from({ length: 8 }, (_, i) => `arun_gc_${i}`);
    const items = [...ids.slice(0, 5), culprit, ...ids.slice(5)].map(result);
    const outcomes = await Promise.allSettled(items.map((item) => commit.submit(item)));

    outcomes.forEach((outcome, i) => {
      if (items[i].runId !== culprit) {
        assert.deepEqual(outcome, { status: 'fulfilled', value: true });
        return;
      }
      assert.ok(outcome.status === 'rejected');
      assert.match(String(refusedValue(outcome.reason)), /ER_DATA_TOO_LONG/);
    });
    assert.equal(batches[0], items.length, 'all in one batch first');
    const stored = await database.dataSource.query<Array<{ run_id: string }>>(
      'SELECT run_id FROM zapier_action_runs ORDER BY run_id',
    );
    assert.deepEqual(
      stored.map((row) => row.run_id),
      [...ids].sort(),
    );
  });
});
