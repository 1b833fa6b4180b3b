import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import {
  engineSkipReasons,
  migratedDataSource,
  type Engine,
} from '../../test/support/data-sources.js';
import { ZapierMessages } from '../zapier.messages.js';
import type { TerminalResult } from './stored-run.js';
import { ZapierSql } from './sql/zapier-sql.js';
import { ZapierRunIntake } from './run-intake.repository.js';
import { ZapierOutbox } from './outbox.repository.js';
import { ZapierPollQueue } from './poll-queue.repository.js';
import { ZapierBudgetRepository } from './request-budget.repository.js';

/** The repositories over one data source, as the module wires them. */
function repositories(dataSource: DataSource) {
  const sql = new ZapierSql(dataSource);
  const budget = new ZapierBudgetRepository(sql);
  const outbox = new ZapierOutbox(sql);
  return {
    intake: new ZapierRunIntake(sql),
    outbox,
    polls: new ZapierPollQueue(sql),
    budget,
    /** What the lifecycle does when a create call finishes: the last one releases held results. */
    finishCreate: async (key: string, now: number) =>
      (await budget.finishCreate(key)) > 0 ? 0 : outbox.releaseHeld(now),
  };
}
type Repositories = ReturnType<typeof repositories>;

const skips = await engineSkipReasons();
const KEY = 'default';

function result(runId: string, status: 'success' | 'error' = 'success'): TerminalResult {
  return {
    runId,
    status,
    results: status === 'success' ? [{ n: 1 }] : [],
    errors: status === 'error' ? [{ code: 'user', title: 'T', detail: 'D' }] : [],
    rawPayload: JSON.stringify({ data: { id: runId, status } }),
    source: 'callback',
    receivedAt: 1000,
  };
}

const claim = (now: number, instanceId = 'i1') => ({ now, instanceId, claimUntil: now + 30_000 });

/**
 * What the migration creates on MySQL and MariaDB beyond what the entities can say (one column
 * type for every database): LONGTEXT payloads, which TypeORM's diff would replace by TEXT.
 */
const MYSQL_WIDER_THAN_ENTITIES = [
  'zapier_action_runs.metadata',
  'zapier_action_runs.results',
  'zapier_action_runs.errors',
  'zapier_action_runs.raw_payload',
  'zapier_callback_quarantine.raw_body',
];

for (const engine of ['sqlite', 'postgres', 'mariadb'] as Engine[]) {
  describe(`run storage on ${engine}`, { skip: skips[engine] }, () => {
    let dataSource: DataSource;
    let close: () => Promise<void>;
    let store: Repositories;

    before(async () => {
      ({ dataSource, close } = await migratedDataSource(engine, 'store_spec'));
      store = repositories(dataSource);
    });
    after(() => close());

    it('creates by migration exactly the schema the entities describe', async () => {
      const pending = await dataSource.driver.createSchemaBuilder().log();
      const changes = pending.upQueries.map((q) => q.query);
      if (engine !== 'mariadb') {
        assert.deepEqual(changes, []);
        return;
      }
      // TypeORM would only replace the LONGTEXT payloads by TEXT ones (dropping them: its
      // schema diff reads the rest exactly as the entities say).
      const replaced = changes.map((query) => {
        const match = /^ALTER TABLE `(\w+)` (?:DROP COLUMN|ADD) `(\w+)`( text|$)/.exec(query);
        return match ? `${match[1]}.${match[2]}` : query;
      });
      assert.deepEqual(
        replaced.sort(),
        [...MYSQL_WIDER_THAN_ENTITIES, ...MYSQL_WIDER_THAN_ENTITIES].sort(),
      );
      const columns = await dataSource.query<
        Array<{ name: string; type: string; collation: string }>
      >(
        `SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME) AS name, COLUMN_TYPE AS type,
  COLLATION_NAME AS collation FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'zapier%'
  AND DATA_TYPE IN ('varchar', 'text', 'longtext')`,
      );
      for (const column of columns) {
        assert.equal(column.collation, 'utf8mb4_nopad_bin', `${column.name}: exact comparison`);
        const wide = MYSQL_WIDER_THAN_ENTITIES.includes(column.name);
        if (wide) assert.equal(column.type, 'longtext', column.name);
      }
    });

    it('tells run ids apart by case and by trailing spaces', async () => {
      const changed = await store.intake.storeTerminal(
        [result('arun_Case'), result('arun_case'), result('arun_case ')],
        claim(1),
        KEY,
      );
      assert.deepEqual([...changed.keys()].sort(), ['arun_Case', 'arun_case', 'arun_case ']);
    });

    it('reserves a slot within a wait only when there is one, changing nothing otherwise', async () => {
      const key = 'within';
      assert.equal(await store.budget.reserveSlotWithin(key, 1000, 1000, 500), 1000);
      assert.equal(await store.budget.reserveSlotWithin(key, 1000, 1000, 500), null);
      assert.equal((await store.budget.read(key))?.nextSlotAt, 2000);
      assert.equal(await store.budget.reserveSlotWithin(key, 1600, 1000, 500), 2000);
    });

    it('stores a new terminal run once, claimed for delivery by the storing instance', async () => {
      const first = await store.intake.storeTerminal([result('r1')], claim(5000), KEY);
      assert.deepEqual([...first.keys()], ['r1']);
      assert.equal(first.get('r1')?.deliveryNextAt, 5000);
      assert.equal(first.get('r1')?.metadata, null);
      const again = await store.intake.storeTerminal(
        [result('r1'), result('r2')],
        claim(6000),
        KEY,
      );
      assert.deepEqual([...again.keys()], ['r2']);
      const [row] = await dataSource.query<Record<string, unknown>[]>(
        `SELECT status, delivery_state, delivery_claimed_by, completed_at FROM zapier_action_runs WHERE run_id = 'r1'`,
      );
      assert.equal(row.status, 'success');
      assert.equal(row.delivery_state, 'pending');
      assert.equal(row.delivery_claimed_by, 'i1');
      assert.equal(Number(row.completed_at), 5000);
    });

    it('keeps the first terminal state when a later result disagrees', async () => {
      await store.intake.storeTerminal([result('r3', 'success')], claim(1), KEY);
      const later = await store.intake.storeTerminal([result('r3', 'error')], claim(2), KEY);
      assert.equal(later.size, 0);
      assert.deepEqual(
        await store.intake.statuses(['r3', 'missing']),
        new Map([['r3', 'success']]),
      );
    });

    it('moves a submitted run from pending to terminal with its metadata', async () => {
      const recorded = await store.intake.recordSubmitted({
        runId: 'r4',
        action: 'act',
        metadata: { orderId: 7 },
        submittedAt: 100,
        firstPollAt: 400,
        now: 100,
      });
      assert.deepEqual(recorded, { status: 'pending', deliveryReleased: false });
      const changed = await store.intake.storeTerminal([result('r4', 'error')], claim(200), KEY);
      assert.deepEqual(changed.get('r4')?.metadata, { orderId: 7 });
      assert.equal(changed.get('r4')?.submittedAt, 100);
      assert.equal(changed.get('r4')?.status, 'error');
    });

    it('defers delivery of an unknown run while a create may be in flight, then attaches metadata', async () => {
      await store.budget.beginCreate('deferral', 10_000, 40_000);
      const changed = await store.intake.storeTerminal([result('r5')], claim(10_500), 'deferral');
      assert.equal(changed.get('r5')?.deliveryNextAt, 40_000);
      assert.equal(
        (await store.outbox.claimDue(claim(11_000, 'other'), 10, 10)).some((r) => r.runId === 'r5'),
        false,
      );
      const recorded = await store.intake.recordSubmitted({
        runId: 'r5',
        action: 'act',
        metadata: { orderId: 8 },
        submittedAt: 10_000,
        firstPollAt: 99_999,
        now: 11_000,
      });
      assert.deepEqual(recorded, { status: 'success', deliveryReleased: true });
      const claimed = await store.outbox.claimDue(claim(11_001, 'other'), 10, 10);
      const r5 = claimed.find((r) => r.runId === 'r5');
      assert.deepEqual(r5?.metadata, { orderId: 8 });
      assert.equal(r5?.status, 'success');
      assert.deepEqual(r5?.results, [{ n: 1 }]);
    });

    it('releases held-back unknown runs when the last create in flight finishes, not before', async () => {
      const key = 'release';
      await store.budget.beginCreate(key, 1_000, 50_000);
      await store.budget.beginCreate(key, 1_100, 60_000);
      const changed = await store.intake.storeTerminal(
        [result('held1'), result('held2')],
        claim(1_200),
        key,
      );
      assert.equal(changed.get('held1')?.deliveryNextAt, 60_000);
      assert.equal(await store.finishCreate(key, 1_300), 0, 'one create is still waiting');
      assert.equal((await store.budget.read(key))?.createsInflight, 1);
      assert.equal(await store.finishCreate(key, 1_400), 2);
      const claimed = await store.outbox.claimDue(claim(1_500, 'other'), 100, 10);
      assert.deepEqual(
        claimed
          .filter((r) => r.runId.startsWith('held'))
          .map((r) => r.runId)
          .sort(),
        ['held1', 'held2'],
      );
      const after = await store.intake.storeTerminal([result('held3')], claim(1_600), key);
      assert.equal(after.get('held3')?.deliveryNextAt, 1_600, 'nothing in flight: no wait');
    });

    it('forgets a create count whose deadline passed (its caller died)', async () => {
      const key = 'stale';
      await store.budget.beginCreate(key, 1_000, 2_000);
      await store.budget.beginCreate(key, 5_000, 9_000);
      assert.deepEqual(
        [
          (await store.budget.read(key))?.createsInflight,
          (await store.budget.read(key))?.createsInflightUntil,
        ],
        [1, 9_000],
      );
      const late = await store.intake.storeTerminal([result('late')], claim(10_000), key);
      assert.equal(
        late.get('late')?.deliveryNextAt,
        10_000,
        'a passed deadline holds nothing back',
      );
    });

    it('spaces budget slots and pushes them past a cooldown', async () => {
      const key = 'spacing';
      assert.equal(await store.budget.reserveSlot(key, 1000, 1200), 1000);
      assert.equal(await store.budget.reserveSlot(key, 1000, 1200), 2200);
      assert.equal(await store.budget.reserveSlot(key, 1500, 1200), 3400);
      assert.equal(await store.budget.reserveSlot(key, 9000, 1200), 9000);
      await store.budget.startCooldown(key, 70_000);
      await store.budget.startCooldown(key, 50_000);
      assert.equal(await store.budget.reserveSlot(key, 10_000, 1200), 70_000);
      const budget = await store.budget.read(key);
      assert.equal(budget?.cooldownUntil, 70_000);
    });

    it('polls pending runs once per claim, expires them, and delivers with retries', async () => {
      for (const runId of ['p1', 'p2', 'p3']) {
        await store.intake.recordSubmitted({
          runId,
          action: 'act',
          metadata: null,
          submittedAt: 0,
          firstPollAt: runId === 'p3' ? 50_000 : 1_000,
          now: 0,
        });
      }
      const a = await store.polls.claimDue(claim(2000, 'a'), 10);
      const b = await store.polls.claimDue(claim(2000, 'b'), 10);
      assert.deepEqual(a.map((r) => r.runId).sort(), ['p1', 'p2']);
      assert.deepEqual(b, []);
      await store.polls.reschedule('p1', 'a', {
        nextAt: 9000,
        attempts: 1,
        lastError: null,
        now: 2000,
      });
      await store.polls.reschedule('p2', 'b', {
        nextAt: 9000,
        attempts: 1,
        lastError: null,
        now: 2000,
      });
      const later = await store.polls.claimDue(claim(9500, 'b'), 10);
      assert.deepEqual(
        later.map((r) => r.runId),
        ['p1'],
      );
      assert.equal(later[0].pollAttempts, 1);

      const expired = await store.intake.expire(
        { runIds: ['p1', 'p3', 'r1'] },
        'not-found',
        claim(10_000),
      );
      assert.deepEqual(expired.map((r) => r.runId).sort(), ['p1', 'p3']);
      assert.equal(expired[0].status, 'expired');
      assert.equal(expired[0].expiredReason, 'not-found');

      await store.outbox.markFailed('p1', 'i1', {
        error: 'boom',
        nextAt: 20_000,
        park: false,
        now: 10_001,
      });
      assert.equal((await store.outbox.markDelivered(['p3'], 'someone-else', 10_002)).size, 0);
      assert.equal((await store.outbox.markDelivered(['p3'], 'i1', 10_002)).size, 1);
      const early = await store.outbox.claimDue(claim(15_000, 'x'), 100, 10);
      assert.equal(
        early.some((r) => r.runId === 'p1'),
        false,
      );
      const due = await store.outbox.claimDue(claim(20_000, 'x'), 100, 10);
      const p1 = due.find((r) => r.runId === 'p1');
      assert.equal(p1?.attempt, 2);
      await store.outbox.markFailed('p1', 'x', {
        error: 'boom',
        nextAt: 0,
        park: true,
        now: 20_001,
      });
      assert.equal(
        (await store.outbox.claimDue(claim(99_000, 'x'), 100, 10)).some((r) => r.runId === 'p1'),
        false,
      );
      assert.equal(await store.outbox.requeue('p1', 99_000), true);
      const requeued = await store.outbox.claimDue(claim(99_001, 'x'), 100, 10);
      assert.equal(requeued.find((r) => r.runId === 'p1')?.attempt, 1);
    });

    it('expires runs older than the retention in one statement', async () => {
      await store.intake.recordSubmitted({
        runId: 'old',
        action: 'a',
        metadata: { k: 1 },
        submittedAt: 5,
        firstPollAt: 5,
        now: 5,
      });
      const expired = await store.intake.expire(
        { createdBefore: 6, limit: 100 },
        'retention',
        claim(7),
      );
      // p2 (created at 0, still pending) is older than the cut-off too.
      assert.deepEqual(expired.map((r) => [r.runId, r.expiredReason, r.metadata]).sort(), [
        ['old', 'retention', { k: 1 }],
        ['p2', 'retention', null],
      ]);
    });

    it('counts a delivery cut short by a crash as an attempt, and parks after the last one', async () => {
      await store.intake.storeTerminal([result('crashy')], claim(1_000, 'dead'), KEY);
      // "dead" never marks it; its claim runs out and others take over, attempt after attempt.
      const second = await store.outbox.claimDue(claim(40_000, 'x'), 100, 3);
      assert.equal(second.find((r) => r.runId === 'crashy')?.attempt, 2);
      const third = await store.outbox.claimDue(claim(80_000, 'y'), 100, 3);
      assert.equal(third.find((r) => r.runId === 'crashy')?.attempt, 3);
      const fourth = await store.outbox.claimDue(claim(120_000, 'z'), 100, 3);
      assert.equal(fourth.find((r) => r.runId === 'crashy')?.parked, true);
      const [row] = await dataSource.query<Array<Record<string, unknown>>>(
        `SELECT delivery_state, delivery_attempts, delivery_last_error, delivery_claimed_by FROM zapier_action_runs WHERE run_id = 'crashy'`,
      );
      assert.deepEqual(
        [row.delivery_state, Number(row.delivery_attempts), row.delivery_claimed_by],
        ['parked', 3, null],
      );
      assert.equal(row.delivery_last_error, ZapierMessages.deliveryInterrupted());
    });

    it('keeps a renewed poll claim away from other instances', async () => {
      await store.intake.recordSubmitted({
        runId: 'renewed',
        action: 'a',
        metadata: null,
        submittedAt: 0,
        firstPollAt: 0,
        now: 500_000,
      });
      const [mine] = await store.polls.claimDue(
        { now: 500_000, instanceId: 'me', claimUntil: 530_000 },
        1,
      );
      assert.equal(mine?.runId, 'renewed');
      await store.polls.renewClaims(['renewed'], 'me', 560_000);
      await store.polls.renewClaims(['renewed'], 'not-me', 999_999);
      const early = await store.polls.claimDue(
        { now: 540_000, instanceId: 'other', claimUntil: 570_000 },
        10,
      );
      assert.equal(
        early.some((r) => r.runId === 'renewed'),
        false,
      );
      const late = await store.polls.claimDue(
        { now: 560_001, instanceId: 'other', claimUntil: 590_000 },
        10,
      );
      assert.equal(
        late.some((r) => r.runId === 'renewed'),
        true,
      );
    });

    it('claims no more than the limit asked for', async () => {
      for (let i = 0; i < 6; i++) {
        await store.intake.recordSubmitted({
          runId: `lim${i}`,
          action: 'a',
          metadata: null,
          submittedAt: 0,
          firstPollAt: 1,
          now: 1,
        });
      }
      await store.intake.storeTerminal(
        ['d0', 'd1', 'd2', 'd3'].map((id) => result(id)),
        claim(1, 'nobody'),
        'limits',
      );
      await store.outbox.releaseClaims(['d0', 'd1', 'd2', 'd3'], 'nobody');
      assert.equal((await store.polls.claimDue(claim(5, 'l1'), 1)).length, 1);
      assert.equal((await store.polls.claimDue(claim(5, 'l2'), 2)).length, 2);
      assert.equal((await store.outbox.claimDue(claim(5, 'l3'), 1, 10)).length, 1);
      assert.equal(
        (await store.intake.expire({ createdBefore: 2, limit: 2 }, 'retention', claim(5))).length,
        2,
      );
    });
  });
}

for (const engine of ['postgres', 'mariadb'] as Engine[]) {
  describe(`run storage across two ${engine} connections`, { skip: skips[engine] }, () => {
    let first: Awaited<ReturnType<typeof migratedDataSource>>;
    let second: DataSource;
    before(async () => {
      first = await migratedDataSource(engine, 'store_spec_cluster');
      const { DataSource } = await import('typeorm');
      second = new DataSource({ ...first.dataSource.options });
      await second.initialize();
    });
    after(async () => {
      await second.destroy();
      await first.close();
    });

    it('lets exactly one of 20 concurrent identical results through', async () => {
      const stores = [repositories(first.dataSource), repositories(second)];
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          stores[i % 2].intake.storeTerminal([result('same')], claim(1, `i${i}`), KEY),
        ),
      );
      assert.equal(outcomes.filter((changed) => changed.has('same')).length, 1);
    });

    it('gives concurrent pollers disjoint claims and concurrent budget callers distinct slots', async () => {
      const stores = [repositories(first.dataSource), repositories(second)];
      for (let i = 0; i < 40; i++) {
        await stores[0].intake.recordSubmitted({
          runId: `c${i}`,
          action: 'a',
          metadata: null,
          submittedAt: 0,
          firstPollAt: 0,
          now: 0,
        });
      }
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) => stores[i % 2].polls.claimDue(claim(1, `p${i}`), 5)),
      );
      const ids = claims.flat().map((r) => r.runId);
      assert.equal(new Set(ids).size, ids.length);
      assert.equal(ids.length, 40);

      const slots = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          stores[i % 2].budget.reserveSlot('cluster', 1000, 100),
        ),
      );
      assert.deepEqual(
        [...slots].sort((x, y) => x - y),
        Array.from({ length: 30 }, (_, i) => 1000 + i * 100),
      );
    });
  });
}
