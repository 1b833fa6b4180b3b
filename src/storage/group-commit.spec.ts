import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommit } from './group-commit.js';

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
});
