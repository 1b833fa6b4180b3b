import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import {
  Column,
  Entity,
  getMetadataArgsStorage,
  PrimaryGeneratedColumn,
  type DataSource,
} from 'typeorm';
import {
  ZAPIER_ENTITIES,
  ZAPIER_MIGRATIONS,
  ZapierModule,
  ZapierRunsService,
} from '../src/index.js';
import { ZapierSandbox } from '../src/testing/index.js';
import { awaitMarkerEvent, postCallback } from './support/callbacks.js';
import { engineSkipReasons, freshDatabase } from './support/data-sources.js';
import { CELLS, describeOnEachCell } from './support/matrix.js';
import { RecordingListener } from './support/recording-listener.js';
import { runIds, SAMPLE_RESULTS, successCallback } from './support/sample-runs.js';
import { TestLogger } from './support/test-logger.js';

const skips = await engineSkipReasons();

/** The host's own table, on its default data source. */
@Entity('host_orders')
class HostOrder {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  note!: string;
}

let sandbox: ZapierSandbox;
before(async () => {
  sandbox = await ZapierSandbox.start({ rateLimit: false });
});
after(() => sandbox?.stop());

/** Table names in the data source's database (its current schema on PostgreSQL). */
async function tables(dataSource: DataSource): Promise<string[]> {
  const { type } = dataSource.options;
  const rows = await dataSource.query<Array<{ name: string }>>(
    type === 'postgres'
      ? 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()'
      : type === 'mariadb'
        ? 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()'
        : "SELECT name FROM sqlite_master WHERE type = 'table'",
  );
  return rows.map((row) => row.name).sort();
}

// The data source is an extra, so it sits next to useFactory under forRootAsync. The adapter
// plays no part in where runs are stored: one adapter, both registrations, both engines.
describeOnEachCell(
  'the dataSource extra',
  skips,
  ({ engine, registration, key }) => {
    let app: INestApplication;
    let url: string;
    let defaultSource: DataSource;
    let zapierSource: DataSource;
    const cleanups: Array<() => unknown> = [];
    const runId = runIds(`ds_${key}`);

    before(async () => {
      const host = await freshDatabase(engine, `ds_host_${key}`);
      cleanups.push(host.cleanup);
      const zapierDb = await freshDatabase(engine, `ds_zapier_${key}`);
      cleanups.push(zapierDb.cleanup);
      const moduleRef = await Test.createTestingModule({
        imports: [
          // The host's default data source: autoLoadEntities and synchronize, so any entity
          // registered on it by mistake would get its table here.
          TypeOrmModule.forRoot({ ...host.options, autoLoadEntities: true, synchronize: true }),
          TypeOrmModule.forRoot({
            ...zapierDb.options,
            name: 'zapier',
            autoLoadEntities: true,
            migrations: ZAPIER_MIGRATIONS,
            migrationsRun: true,
          }),
          TypeOrmModule.forFeature([HostOrder]),
          EventEmitterModule.forRoot(),
          ScheduleModule.forRoot(),
          registration === 'forRoot'
            ? ZapierModule.forRoot({ jwksUrl: sandbox.jwksUrl, dataSource: 'zapier' })
            : ZapierModule.forRootAsync({
                dataSource: 'zapier',
                useFactory: () => Promise.resolve({ jwksUrl: sandbox.jwksUrl }),
              }),
        ],
        providers: [RecordingListener],
      }).compile();
      app = moduleRef.createNestApplication({ logger: new TestLogger() });
      await app.listen(0, '127.0.0.1');
      url = await app.getUrl();
      defaultSource = app.get<DataSource>(getDataSourceToken());
      zapierSource = app.get<DataSource>(getDataSourceToken('zapier'));
    });
    after(async () => {
      await app?.close();
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it('stores callbacks in the named data source, not in the default one', async () => {
      const id = runId();
      const answer = await postCallback(
        url,
        await sandbox.signer.callbackRequest(successCallback(id)),
      );
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { runId: id, duplicate: false });
      const listener = app.get(RecordingListener);
      await awaitMarkerEvent({ url, listener }, sandbox.signer, runId());
      const [heard] = listener.forRun(id);
      assert.equal(heard?.name, 'zapier.run.completed');
      assert.deepEqual((heard?.event as { results: unknown }).results, SAMPLE_RESULTS);
      assert.equal((await app.get(ZapierRunsService).findRun(id))?.status, 'success');

      const stored = await zapierSource.query<Array<{ run_id: string }>>(
        'SELECT run_id FROM zapier_action_runs ORDER BY run_id',
      );
      assert.ok(
        stored.some((row) => row.run_id === id),
        `the named database has ${JSON.stringify(stored)}`,
      );
      const own = await tables(defaultSource);
      assert.ok(!own.includes('zapier_action_runs'), `the default database has ${own.join(', ')}`);
    });

    it("creates the module's tables only in the named database", async () => {
      // From the entities' decorators, whichever data source they ended up on.
      const moduleTables = getMetadataArgsStorage()
        .tables.filter((table) => (ZAPIER_ENTITIES as unknown[]).includes(table.target))
        .map((table) => String(table.name))
        .sort();
      assert.equal(moduleTables.length, ZAPIER_ENTITIES.length);
      const named = await tables(zapierSource);
      for (const table of moduleTables)
        assert.ok(named.includes(table), `${table} in ${named.join(', ')}`);

      const own = await tables(defaultSource);
      assert.ok(own.includes('host_orders'), `the default database has ${own.join(', ')}`);
      assert.deepEqual(
        own.filter((table) => moduleTables.includes(table) || table.startsWith('zapier_')),
        [],
      );
      assert.deepEqual(
        ZAPIER_ENTITIES.filter((entity) => defaultSource.hasMetadata(entity)).map((e) => e.name),
        [],
        'no module entity is registered on the default data source',
      );
    });
  },
  CELLS.filter((cell) => cell.adapter === 'express'),
);
