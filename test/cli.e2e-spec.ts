import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DataSourceOptions } from 'typeorm';
import type { ZapierRunState } from '../src/interfaces/action-run.interface.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { CliMessages } from '../src/cli/cli.messages.js';
import type { ZapierSandbox } from '../src/testing/zapier-sandbox.js';
import { described, hostProject, jsonOf, runCli, type CliRun } from './support/cli.js';
import { freshDatabase, type Engine } from './support/data-sources.js';
import { postgresSkipReason } from './support/postgres.js';
import { SAMPLE_RESULTS, SAMPLE_RUN } from './support/sample-runs.js';
import {
  eventually,
  MINUTE,
  readRun,
  startPollerApp,
  startSandbox,
  TestClock,
  type PollerApp,
} from './support/zapier-harness.js';

const pgSkip = await postgresSkipReason();
const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as {
  version: string;
};

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const expectCode = (run: CliRun, code: number): void =>
  assert.equal(run.code, code, described(run));

/** A run as `runs list --json` and `runs show --json` print it (the fields the tests read). */
interface RunJson {
  runId: string;
  state: ZapierRunState;
  status: string;
  results: unknown;
  rawPayload?: string;
}

// Each test is one or a few short child processes: run them side by side.
describe('nestjs-zapier --help, --version and usage errors', { concurrency: true }, () => {
  const commands = [
    [],
    ['runs'],
    ['runs', 'list'],
    ['runs', 'show'],
    ['runs', 'redeliver'],
    ['runs', 'repoll'],
    ['quarantine'],
    ['quarantine', 'list'],
    ['quarantine', 'show'],
    ['migrate'],
    ['prune'],
    ['sandbox'],
    ['send-callback'],
  ];
  for (const command of commands) {
    it(`nestjs-zapier ${[...command, '--help'].join(' ')} prints its usage and exits 0`, async () => {
      const run = await runCli([...command, '--help']);
      expectCode(run, 0);
      assert.ok(
        run.stdout.startsWith(`Usage: nestjs-zapier${command.map((word) => ` ${word}`).join('')} `),
        run.stdout,
      );
    });
  }

  it('lists the exit codes in the top-level help', async () => {
    const run = await runCli(['--help']);
    assert.match(run.stdout, /Exit codes:\n {2}0 {2}done\n {2}1 {2}failed/);
    assert.match(run.stdout, / {2}4 {2}not applicable/);
  });

  it('prints the package version', async () => {
    const run = await runCli(['--version']);
    expectCode(run, 0);
    assert.equal(run.stdout.trim(), version);
  });

  it('exits 2 for an unknown command, a missing data source and a bad value', async () => {
    const unknown = await runCli(['runz']);
    expectCode(unknown, 2);
    assert.match(unknown.stderr, /unknown command 'runz'/);
    const missing = await runCli(['runs', 'list']);
    expectCode(missing, 2);
    assert.match(missing.stderr, /required option '-d, --data-source <file>' not specified/);
    const since = await runCli(['runs', 'list', '-d', 'x.js', '--since', 'soon']);
    expectCode(since, 2);
    assert.match(since.stderr, new RegExp(escape(CliMessages.notADuration('soon'))));
  });
});

/** A nested value `levels` deep, beyond the app's resultLimits.maxDepth. */
function nested(levels: number): Record<string, unknown> {
  let value: unknown = 'leaf';
  for (let i = 1; i < levels; i++) value = { inner: value };
  return { inner: value };
}

for (const engine of ['sqlite', 'postgres'] as Engine[]) {
  describe(`nestjs-zapier on ${engine}`, { skip: engine === 'postgres' && pgSkip }, () => {
    const project = hostProject();
    let cleanupDatabase: () => void = () => undefined;
    let dataSourceFile = '';
    let database: DataSourceOptions;
    let sandbox: ZapierSandbox | undefined;
    let zapier: PollerApp | undefined;
    /** The seeded runs by what they stand for. */
    const ids: Record<string, string> = {};

    /** The CLI on the host's data source file, from the host's folder. */
    const cli = (...args: string[]) =>
      runCli([...args, '-d', dataSourceFile], { cwd: project.dir });
    const listed = async (...args: string[]): Promise<RunJson[]> => {
      const run = await cli('runs', 'list', '--json', ...args);
      expectCode(run, 0);
      return jsonOf<RunJson[]>(run);
    };
    const stateOf = async (runId: string): Promise<ZapierRunState> => {
      const run = await cli('runs', 'show', runId, '--json');
      expectCode(run, 0);
      return jsonOf<RunJson>(run).state;
    };

    before(async () => {
      const db = await freshDatabase(engine, 'ops_cli');
      cleanupDatabase = db.cleanup;
      database = db.options;
      // A user's own data source file, as the README shows it: ESM with a default export on
      // SQLite, CommonJS with a named export on PostgreSQL.
      const options = JSON.stringify(db.options);
      if (engine === 'sqlite') {
        dataSourceFile = join(project.dir, 'data-source.mjs');
        writeFileSync(
          dataSourceFile,
          `import { DataSource } from 'typeorm';
import { ZAPIER_ENTITIES, ZAPIER_MIGRATIONS } from 'nestjs-zapier';
export default new DataSource({ ...${options}, entities: [...ZAPIER_ENTITIES], migrations: [...ZAPIER_MIGRATIONS] });
`,
        );
      } else {
        dataSourceFile = join(project.dir, 'data-source.cjs');
        writeFileSync(
          dataSourceFile,
          `const { DataSource } = require('typeorm');
exports.dataSource = new DataSource({ ...${options}, entities: [], migrations: [] });
`,
        );
      }
    });
    after(async () => {
      await zapier?.close();
      await sandbox?.stop();
      cleanupDatabase();
      project.remove();
    });

    it('migrate creates the tables with the shipped migrations, once', async () => {
      const first = await cli('migrate', '--json');
      expectCode(first, 0);
      assert.deepEqual(jsonOf(first), { executed: ['ZapierInitialSchema1764201600000'] });
      const again = await cli('migrate');
      expectCode(again, 0);
      assert.match(again.stdout, /up to date; no migration to run/);
    });

    it('runs list shows every run the module stored, each in its state', async () => {
      // The app shares the module's clock with the sandbox, so runs can be started in the past.
      const clock = new TestClock();
      const started = await startSandbox({ now: () => clock.now(), retentionMs: 15 * MINUTE });
      sandbox = started.sandbox;
      zapier = await startPollerApp({
        sandbox,
        database,
        clock,
        zapier: {
          polling: { overdueAfterMs: 10 * MINUTE, notFoundGraceMs: 0 },
          delivery: { maxAttempts: 1 },
          resultLimits: { maxDepth: 8 },
        },
      });
      started.target.url = zapier.url;
      const create = async (outcome: Parameters<ZapierSandbox['queueOutcome']>[0]) => {
        sandbox?.queueOutcome(outcome);
        return (await (zapier as PollerApp).client.createActionRun(SAMPLE_RUN)).id;
      };
      const never = { status: 'success', callback: 'never', delayMs: 0 } as const;

      // Started 20 minutes ago: Zapier (15 minutes of retention here) forgot it: expired.
      clock.advance(-20 * MINUTE);
      ids.expired = await create(never);
      // 12 minutes ago: overdue; one answers a result too deep to store (parked), one is running.
      clock.advance(8 * MINUTE);
      ids.pollParked = await create({ ...never, results: [nested(12)] });
      ids.overdue = await create({ ...never, delayMs: 60 * MINUTE });
      clock.advance(12 * MINUTE);
      await zapier.poller.tick();
      await zapier.listener.waitFor(1);
      // Now: one delivered, two whose listener fails (parked), one pending.
      ids.delivered = await create({ status: 'success', results: SAMPLE_RESULTS, delayMs: 0 });
      await zapier.listener.waitFor(2);
      zapier.listener.failures = 1;
      ids.parked1 = await create({ status: 'error', delayMs: 0 });
      ids.parked2 = await create({ status: 'error', delayMs: 0 });
      for (const runId of [ids.parked1, ids.parked2]) {
        await eventually(`${runId} parked`, async () => {
          return (await readRun(zapier!.dataSource, runId))?.deliveryState === 'parked';
        });
      }
      ids.pending = await create(never);
      // A signed callback that is not a run result: quarantined.
      const quarantined = await fetch(`${zapier.url}/zapier/callbacks`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'zapier-callback-signature': await sandbox.signer.sign(),
        },
        body: JSON.stringify({ data: { type: 'run', id: 'arun_ops_odd', status: 'running' } }),
      });
      assert.equal(quarantined.status, 400);

      const runs = await listed();
      assert.deepEqual(Object.fromEntries(runs.map((run) => [run.runId, run.state])), {
        [ids.expired]: 'expired',
        [ids.pollParked]: 'parked',
        [ids.overdue]: 'overdue',
        [ids.delivered]: 'delivered',
        [ids.parked1]: 'parked',
        [ids.parked2]: 'parked',
        [ids.pending]: 'pending',
      });
      assert.deepEqual(runs[0].runId, ids.pending, 'newest first');
      assert.equal(runs.find((run) => run.runId === ids.delivered)?.status, 'success');

      const table = await cli('runs', 'list');
      expectCode(table, 0);
      const [heading, ...lines] = table.stdout.trimEnd().split('\n');
      assert.match(heading, /^RUN ID +STATE +STATUS +CREATED +AGE +POLLS +DELIVERIES +LAST ERROR$/);
      assert.equal(lines.length, 7);
      assert.match(lines.find((line) => line.startsWith(ids.parked1)) ?? '', / parked +error /);
    });

    it('runs list filters by state, age and count', async () => {
      const idsOf = async (...args: string[]) => (await listed(...args)).map((run) => run.runId);
      const [parked, overdue, pending, expired, delivered, delivering, recent, newest] =
        await Promise.all([
          idsOf('--state', 'parked'),
          idsOf('--state', 'overdue'),
          idsOf('--state', 'pending'),
          idsOf('--state', 'expired'),
          idsOf('--state', 'delivered'),
          idsOf('--state', 'delivering'),
          idsOf('--since', '10m'),
          idsOf('--limit', '2'),
        ]);
      assert.deepEqual(parked.sort(), [ids.pollParked, ids.parked1, ids.parked2].sort());
      assert.deepEqual(overdue, [ids.overdue]);
      assert.deepEqual(pending, [ids.pending]);
      assert.deepEqual(expired, [ids.expired]);
      assert.deepEqual(delivered, [ids.delivered]);
      assert.deepEqual(delivering, []);
      assert.deepEqual(
        recent.sort(),
        [ids.delivered, ids.parked1, ids.parked2, ids.pending].sort(),
      );
      assert.deepEqual(newest, [ids.pending, ids.parked2]);
      const bad = await cli('runs', 'list', '--state', 'lost');
      expectCode(bad, 2);
      assert.match(
        bad.stderr,
        /Allowed choices are parked, delivering, expired, overdue, pending, delivered/,
      );
    });

    it('runs show prints one run; 3 for a run the database does not hold', async () => {
      const run = await cli('runs', 'show', ids.delivered, '--json');
      expectCode(run, 0);
      const shown = jsonOf<RunJson>(run);
      assert.equal(shown.state, 'delivered');
      assert.deepEqual(shown.results, SAMPLE_RESULTS);
      assert.match(shown.rawPayload ?? '', new RegExp(ids.delivered));
      const human = await cli('runs', 'show', ids.pollParked);
      expectCode(human, 0);
      assert.match(human.stdout, /^state +parked$/m);
      assert.match(
        human.stdout,
        new RegExp(`^poll error +${escape(ZapierMessages.jsonTooDeep('results', 8))}$`, 'm'),
      );
      const missing = await cli('runs', 'show', 'arun_nobody');
      expectCode(missing, 3);
      assert.equal(missing.stderr.trim(), CliMessages.runNotFound('arun_nobody'));
      // The data source file can come from the environment too.
      const fromEnv = await runCli(['runs', 'show', ids.delivered], {
        cwd: project.dir,
        env: { NESTJS_ZAPIER_DATA_SOURCE: dataSourceFile },
      });
      expectCode(fromEnv, 0);
    });

    it('runs redeliver queues a parked run again, and --parked every one; the app delivers them', async () => {
      const app = zapier as PollerApp;
      const [pending, nobody, pollParked, neither, both] = await Promise.all([
        cli('runs', 'redeliver', ids.pending),
        cli('runs', 'redeliver', 'arun_nobody'),
        cli('runs', 'redeliver', ids.pollParked),
        cli('runs', 'redeliver'),
        cli('runs', 'redeliver', ids.parked1, '--parked'),
      ]);
      expectCode(pending, 4);
      expectCode(nobody, 3);
      expectCode(pollParked, 4);
      assert.equal(
        pollParked.stderr.trim(),
        CliMessages.notRedeliverable(ids.pollParked, 'parked'),
      );
      expectCode(neither, 2);
      assert.equal(neither.stderr.trim(), CliMessages.redeliverWhich());
      expectCode(both, 2);

      const one = await cli('runs', 'redeliver', ids.parked1, '--json');
      expectCode(one, 0);
      assert.deepEqual(jsonOf(one), { queued: [ids.parked1] });
      await eventually('parked1 delivered', () => app.listener.forRun(ids.parked1).length === 1);
      await eventually(
        'parked1 recorded',
        async () => (await stateOf(ids.parked1)) === 'delivered',
      );

      const all = await cli('runs', 'redeliver', '--parked', '--json');
      expectCode(all, 0);
      assert.deepEqual(jsonOf(all), { queued: [ids.parked2] });
      await eventually('parked2 delivered', () => app.listener.forRun(ids.parked2).length === 1);
      const none = await cli('runs', 'redeliver', '--parked');
      expectCode(none, 0);
      assert.equal(none.stdout.trim(), 'No parked runs.');
      assert.equal(
        app.listener.events.length,
        4,
        'expired, delivered, parked1, parked2: once each',
      );
    });

    it('runs repoll makes a run the poller parked due at once', async () => {
      const [nobody, pending] = await Promise.all([
        cli('runs', 'repoll', 'arun_nobody'),
        cli('runs', 'repoll', ids.pending),
      ]);
      expectCode(nobody, 3);
      expectCode(pending, 4);
      const repolled = await cli('runs', 'repoll', ids.pollParked, '--json');
      expectCode(repolled, 0);
      assert.deepEqual(jsonOf(repolled), { repolled: ids.pollParked });
      assert.equal(await stateOf(ids.pollParked), 'overdue');
      expectCode(await cli('runs', 'repoll', ids.pollParked), 4);
    });

    it('quarantine list and show print the quarantined callback; 3 and 2 for a bad id', async () => {
      const list = await cli('quarantine', 'list', '--json');
      expectCode(list, 0);
      const entries =
        jsonOf<Array<{ id: number; runId: string; reason: string; bytes: number }>>(list);
      assert.equal(entries.length, 1);
      assert.equal(entries[0].runId, 'arun_ops_odd');
      const shown = await cli('quarantine', 'show', String(entries[0].id), '--json');
      expectCode(shown, 0);
      const entry = jsonOf<{ rawBody: string; reason: string }>(shown);
      assert.equal(
        (JSON.parse(entry.rawBody) as { data: { status: string } }).data.status,
        'running',
      );
      assert.equal(entry.reason, entries[0].reason);
      const human = await cli('quarantine', 'show', String(entries[0].id));
      expectCode(human, 0);
      assert.match(human.stdout, /"status":"running"/);
      expectCode(await cli('quarantine', 'show', '999'), 3);
      expectCode(await cli('quarantine', 'show', 'abc'), 2);
      const table = await cli('quarantine', 'list');
      assert.match(table.stdout, /^ID +RUN ID +RECEIVED +BYTES +REASON\n/);
    });

    it("prune counts with --dry-run, then deletes what is past the ages given; 2 for an age below Zapier's retention", async () => {
      const counted = await cli('prune', '--dry-run', '--quarantine', '1ms', '--json');
      expectCode(counted, 0);
      const nothingOld = { delivered: 0, expired: 0, parked: 0 };
      assert.deepEqual(jsonOf(counted), { dryRun: true, ...nothingOld, quarantined: 1 });
      assert.equal(jsonOf<unknown[]>(await cli('quarantine', 'list', '--json')).length, 1);
      const pruned = await cli('prune', '--quarantine', '1ms');
      expectCode(pruned, 0);
      assert.match(pruned.stdout, /^Deleted:\nKIND +ROWS\n/);
      assert.match(pruned.stdout, /quarantined +1\n/);
      assert.deepEqual(jsonOf(await cli('quarantine', 'list', '--json')), []);
      const refused = await cli('prune', '--delivered', '1d');
      expectCode(refused, 2);
      assert.match(refused.stderr, /retention\.deliveredMs/);
    });

    it('exits 2 for a file without a data source, and 1 for a database that does not answer or has no tables', async () => {
      const empty = join(project.dir, 'empty.mjs');
      writeFileSync(empty, 'export const answer = 42;\n');
      const none = await runCli(['runs', 'list', '-d', empty], { cwd: project.dir });
      expectCode(none, 2);
      assert.equal(none.stderr.trim(), CliMessages.noDataSource(empty));
      expectCode(await runCli(['runs', 'list', '-d', 'nowhere.js'], { cwd: project.dir }), 2);

      const unreachable = join(project.dir, 'unreachable.mjs');
      const options =
        engine === 'sqlite'
          ? { type: 'better-sqlite3', database: join(dataSourceFile, 'not-a-directory.db') }
          : { type: 'postgres', url: `${(database as { url: string }).url}_gone` };
      writeFileSync(
        unreachable,
        `import { DataSource } from 'typeorm';\nexport default new DataSource(${JSON.stringify(options)});\n`,
      );
      const down = await runCli(['runs', 'list', '-d', unreachable], { cwd: project.dir });
      expectCode(down, 1);
      assert.match(down.stderr, /^The database did not answer/);

      const emptyDatabase = join(project.dir, 'tables-missing.mjs');
      const fresh = await freshDatabase(engine, 'ops_cli_empty');
      writeFileSync(
        emptyDatabase,
        `import { DataSource } from 'typeorm';\nexport default new DataSource(${JSON.stringify(fresh.options)});\n`,
      );
      const tables = await runCli(['runs', 'list', '-d', emptyDatabase], { cwd: project.dir });
      fresh.cleanup();
      expectCode(tables, 1);
      assert.match(
        tables.stderr,
        /^The database has no zapier_ tables yet .*nestjs-zapier migrate -d /,
      );
    });
  });
}
