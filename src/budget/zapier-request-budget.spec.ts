import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { migratedDataSource } from '../../test/support/data-sources.js';
import { eventually } from '../../test/support/zapier-harness.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import { ZapierBudgetRepository, type BudgetState } from '../storage/request-budget.repository.js';
import { ZapierSql } from '../storage/sql/zapier-sql.js';
import { ZAPIER_BUDGET_KEY } from '../zapier.constants.js';
import { ZapierRequestBudget } from './zapier-request-budget.js';
import { captureNestLogs, within } from '../../test/support/spec-context.js';
import { ZapierMessages } from '../zapier.messages.js';

/** Zapier's 60 s window plus the budget's 500 ms margin. */
const SPACED_OVER_MS = 60_500;

/** Whether `promise` has settled, without waiting for it. */
async function state(promise: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  const pending = Symbol('pending');
  const outcome = await Promise.race([
    promise.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    new Promise<typeof pending>((resolve) => setImmediate(() => resolve(pending))),
  ]);
  return outcome === pending ? 'pending' : outcome;
}

describe('ZapierRequestBudget', () => {
  let dataSource: DataSource;
  let close: () => Promise<void>;
  let now: number;
  const clock: ZapierClock = { now: () => now };
  let repository: ZapierBudgetRepository;
  const logs = captureNestLogs();
  let databases = 0;
  let budgets: ZapierRequestBudget[];

  beforeEach(async () => {
    now = 3_000_000;
    budgets = [];
    ({ dataSource, close } = await migratedDataSource('sqlite', `request_budget_${databases++}`));
    repository = new ZapierBudgetRepository(new ZapierSql(dataSource));
  });
  afterEach(async () => {
    // Rejects whatever still waits for a slot.
    for (const budget of budgets) budget.beforeApplicationShutdown();
    await close();
  });

  function budgetOf(
    maxRequestsPerMinute: number,
    polling: { maxCooldownMs?: number } = {},
    store: ZapierBudgetRepository = repository,
  ): ZapierRequestBudget {
    const options = resolveZapierOptions({
      instanceId: 'i1',
      polling: { maxRequestsPerMinute, ...polling },
    });
    const budget = new ZapierRequestBudget(store, options, clock);
    budgets.push(budget);
    return budget;
  }

  const row = async (): Promise<BudgetState | null> => repository.read(ZAPIER_BUDGET_KEY);

  /** A waiting acquire's rejection, asserted to be an AbortError. */
  async function assertAborted(promise: Promise<void>): Promise<void> {
    await assert.rejects(within(promise, 2_000, 'the aborted acquire'), (error: Error) => {
      assert.equal(error.name, 'AbortError');
      return true;
    });
  }

  it('spaces slots ceil((60 s + 500 ms) / maxRequestsPerMinute) apart', () => {
    for (const perMinute of [50, 60, 7, 1, 60_500]) {
      assert.equal(
        budgetOf(perMinute).intervalMs,
        Math.ceil(SPACED_OVER_MS / perMinute),
        `${perMinute} a minute`,
      );
    }
    assert.equal(budgetOf(50).intervalMs, 1_210);
  });

  it('answers at once when idle, and reserves the following slots one interval apart', async () => {
    const budget = budgetOf(50);
    const start = now;
    await within(budget.acquire(), 1_000, 'an idle acquire');
    assert.equal((await row())?.nextSlotAt, start + 1_210);

    const stop = new AbortController();
    const second = budget.acquire(stop.signal);
    const third = budget.acquire(stop.signal);
    await eventually(
      'both slots reserved',
      async () => (await row())?.nextSlotAt === start + 3 * 1_210,
    );
    assert.equal(await state(second), 'pending');
    assert.equal(await state(third), 'pending');
    stop.abort();
    await assertAborted(second);
    await assertAborted(third);

    // Idle long enough: the next one goes at once again, and idle time buys no burst.
    now = start + 10 * 60_000;
    await within(budget.acquire(), 1_000, 'an acquire after idling');
    assert.equal((await row())?.nextSlotAt, now + 1_210);
    const later = new AbortController();
    const burst = budget.acquire(later.signal);
    await eventually(
      'the next slot reserved',
      async () => (await row())?.nextSlotAt === now + 2_420,
    );
    assert.equal(await state(burst), 'pending');
    later.abort();
    await assertAborted(burst);
  });

  it('answers at once when the clock reaches the reserved slot', async () => {
    const budget = budgetOf(1);
    const start = now;
    await within(budget.acquire(), 1_000, 'the first acquire');
    now = start + SPACED_OVER_MS;
    await within(budget.acquire(), 1_000, 'the acquire at its slot');
    assert.equal((await row())?.nextSlotAt, start + 2 * SPACED_OVER_MS);
  });

  it('lets a waiting acquire go once its slot comes, in order', async () => {
    // 50 ms slots, on real timers: the wait itself is a timer.
    const budget = budgetOf(1_210);
    assert.equal(budget.intervalMs, 50);
    const started = Date.now();
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2].map((i) =>
        budget.acquire().then(() => {
          order.push(i);
          return Date.now() - started;
        }),
      ),
    ).then((elapsed) => {
      assert.ok(elapsed[0] < 45, `the first went at once (${elapsed[0]} ms)`);
      assert.ok(elapsed[2] >= 95, `the third waited two slots (${elapsed[2]} ms)`);
    });
    assert.deepEqual(order, [0, 1, 2]);
    assert.equal((await row())?.nextSlotAt, now + 150);
  });

  it('pushes slots past a cooldown, on every instance sharing the row', async () => {
    const budget = budgetOf(50);
    const otherInstance = budgetOf(50);
    const start = now;
    await budget.cooldown(60_000);
    assert.equal((await row())?.cooldownUntil, start + 60_000);
    assert.equal(logs.find('warn', ZapierMessages.rateLimited(60)).length, 1);

    const stop = new AbortController();
    const waiting = otherInstance.acquire(stop.signal);
    await eventually(
      'a slot after the cooldown reserved',
      async () => (await row())?.nextSlotAt === start + 60_000 + 1_210,
    );
    assert.equal(await state(waiting), 'pending');
    stop.abort();
    await assertAborted(waiting);

    now = start + 70_000;
    await within(otherInstance.acquire(), 1_000, 'an acquire after the cooldown');
    assert.equal((await row())?.nextSlotAt, now + 1_210);
  });

  it('makes a request already waiting for its slot wait for a cooldown that starts meanwhile', async () => {
    // 500 ms slots, on real timers: the cooldown starts while the second acquire sleeps.
    const budget = budgetOf(121);
    assert.equal(budget.intervalMs, 500);
    const start = now;
    await budget.acquire();
    const stop = new AbortController();
    const waiting = budget.acquire(stop.signal);
    await eventually(
      'the second slot reserved',
      async () => (await row())?.nextSlotAt === start + 1_000,
    );
    await budget.cooldown(10_000);
    // Once its slot comes, it sees the cooldown and reserves a slot past it instead of going.
    await eventually(
      'a slot past the cooldown reserved',
      async () => (await row())?.nextSlotAt === start + 10_000 + 500,
    );
    assert.equal(await state(waiting), 'pending');
    stop.abort();
    await assertAborted(waiting);
  });

  it('logs a cooldown once, and again only when a longer one starts', async () => {
    const budget = budgetOf(50);
    await budget.cooldown(60_000);
    await budget.cooldown(30_000);
    await budget.cooldown(60_000);
    assert.equal(logs.find('warn', ZapierMessages.rateLimited(60)).length, 1);
    await budget.cooldown(90_000);
    assert.equal(logs.find('warn', ZapierMessages.rateLimited(90)).length, 1);
    assert.equal((await row())?.cooldownUntil, now + 90_000);
  });

  it('rejects a waiting acquire with an AbortError when its signal aborts', async () => {
    const budget = budgetOf(1);
    await budget.acquire();
    const stop = new AbortController();
    const waiting = budget.acquire(stop.signal);
    await eventually(
      'the slot reserved',
      async () => (await row())?.nextSlotAt === now + 2 * 60_500,
    );
    assert.equal(await state(waiting), 'pending');
    stop.abort();
    await assertAborted(waiting);
  });

  it('rejects every waiting acquire with an AbortError on shutdown', async () => {
    const budget = budgetOf(1);
    await budget.acquire();
    const withoutSignal = budget.acquire();
    const withSignal = budget.acquire(new AbortController().signal);
    await eventually(
      'both slots reserved',
      async () => (await row())?.nextSlotAt === now + 3 * 60_500,
    );
    budget.beforeApplicationShutdown();
    await assertAborted(withoutSignal);
    await assertAborted(withSignal);
  });

  it('rejects an acquire after shutdown or with an aborted signal, even when a slot is free', async () => {
    const budget = budgetOf(50);
    const aborted = AbortSignal.abort();
    await assertAborted(budget.acquire(aborted));
    budget.beforeApplicationShutdown();
    now += 60_000;
    await assertAborted(budget.acquire());
  });

  it('cuts a cooldown to polling.maxCooldownMs, and stores the cut value', async () => {
    const budget = budgetOf(50, { maxCooldownMs: 120_000 });
    // An epoch in ms taken for seconds: thousands of years.
    await budget.cooldown(1_764_244_800_000 * 1000);
    assert.equal((await row())?.cooldownUntil, now + 120_000);
    assert.equal(
      logs.find('warn', ZapierMessages.cooldownCapped(1_764_244_800_000, 120)).length,
      1,
    );
    await budget.cooldown(Number.POSITIVE_INFINITY);
    assert.equal((await row())?.cooldownUntil, now + 120_000);
    await budget.cooldown(Number.NaN);
    await budget.cooldown(-5);
    assert.equal((await row())?.cooldownUntil, now + 120_000, 'never shortened');
    // A wait within the cap is kept as asked, and logged as a plain 429.
    now += 200_000;
    await budget.cooldown(90_000);
    assert.equal((await row())?.cooldownUntil, now + 90_000);
    assert.equal(logs.find('warn', ZapierMessages.rateLimited(90)).length, 1);
  });

  it('takes a slot within maxWaitMs, and refuses at once without one when it is further', async () => {
    const budget = budgetOf(50);
    const start = now;
    assert.deepEqual(await budget.acquireWithin(1000), { acquired: true });
    assert.equal((await row())?.nextSlotAt, start + 1_210);
    // The next slot is 1210 ms away: too far for 1000 ms, close enough for 2000 ms.
    assert.deepEqual(await within(budget.acquireWithin(1000), 1_000, 'a refusal'), {
      acquired: false,
      waitMs: 1_210,
    });
    assert.equal((await row())?.nextSlotAt, start + 1_210, 'no slot taken');
    now = start + 1_210;
    assert.deepEqual(await budget.acquireWithin(0), { acquired: true });

    await budget.cooldown(60_000);
    const before = await row();
    assert.deepEqual(await within(budget.acquireWithin(30_000), 1_000, 'a refusal'), {
      acquired: false,
      waitMs: 60_000,
    });
    assert.deepEqual(await row(), before, 'no slot taken during the cooldown');
    // Past the cooldown, the create goes at once again.
    now += 60_000;
    assert.deepEqual(await within(budget.acquireWithin(30_000), 1_000, 'an acquire'), {
      acquired: true,
    });
  });

  it('refuses a waiting acquireWithin whose slot a new cooldown pushes past its deadline', async () => {
    // 500 ms slots, on real timers: the cooldown starts while the second caller sleeps.
    const budget = budgetOf(121);
    await budget.acquire();
    const waiting = budget.acquireWithin(5_000);
    await eventually(
      'the second slot reserved',
      async () => (await row())?.nextSlotAt === now + 1_000,
    );
    await budget.cooldown(60_000);
    assert.deepEqual(await within(waiting, 3_000, 'the refusal'), {
      acquired: false,
      waitMs: 60_000,
    });
  });

  it('sleeps a huge stored wait in bounded steps instead of spinning', async () => {
    // A cooldown written before maxCooldownMs existed (or by a broken peer): 30 000 years away.
    let queries = 0;
    const counting = new Proxy(repository, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          queries += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      await repository.startCooldown(ZAPIER_BUDGET_KEY, now + 1e15);
      const budget = budgetOf(50, {}, counting);
      const stop = new AbortController();
      const waiting = budget.acquire(stop.signal);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(await state(waiting), 'pending');
      // One reservation, then one timer step: an overflowed timer would fire every 1 ms and
      // reserve again each time.
      assert.ok(queries <= 2, `${queries} queries in 300 ms`);
      stop.abort();
      await assertAborted(waiting);
      assert.deepEqual(
        warnings.filter((warning) => warning.name === 'TimeoutOverflowWarning'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });
});
