import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { freshDatabase, migratedDataSource } from '../../test/support/data-sources.js';
import { mariadbSkipReason } from '../../test/support/mariadb.js';
import { ZapierMessages } from '../zapier.messages.js';
import { inspectMysqlStorage } from './mysql-storage.check.js';
import { ZAPIER_ENTITIES } from './zapier-storage.entities.js';

const skip = await mariadbSkipReason();
const MiB = 1024 * 1024;

describe('what the module needs of MariaDB and its tables', { skip }, () => {
  let migrated: Awaited<ReturnType<typeof migratedDataSource>>;
  let synchronized: DataSource;
  before(async () => {
    migrated = await migratedDataSource('mariadb', 'storage_check_migrated');
    const { options } = await freshDatabase('mariadb', 'storage_check_synchronized');
    synchronized = await new DataSource({
      ...options,
      entities: ZAPIER_ENTITIES,
      synchronize: true,
    }).initialize();
  });
  after(async () => {
    await migrated?.close();
    await synchronized?.destroy();
  });

  it('finds nothing wrong with the tables the migration made, on this server', async () => {
    assert.deepEqual(await inspectMysqlStorage(migrated.dataSource, 20 * MiB), {
      errors: [],
      warnings: [],
    });
  });

  it('refuses the tables synchronize made: TEXT payloads and a collation that ignores case', async () => {
    const { errors } = await inspectMysqlStorage(synchronized, 20 * MiB);
    const [collation] = await synchronized.query<Array<{ c: string }>>(
      `SELECT COLLATION_NAME AS c FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'zapier_action_runs' AND COLUMN_NAME = 'run_id'`,
    );
    assert.deepEqual(errors, [
      ZapierMessages.mysqlRunIdCollation(collation.c),
      ZapierMessages.mysqlNarrowColumns([
        'zapier_action_runs.metadata',
        'zapier_action_runs.results',
        'zapier_action_runs.errors',
        'zapier_action_runs.raw_payload',
        'zapier_callback_quarantine.raw_body',
      ]),
    ]);
  });

  it('warns when the largest callback would not fit in one statement', async () => {
    const [row] = await migrated.dataSource.query<Array<{ p: string }>>(
      'SELECT @@GLOBAL.max_allowed_packet AS p',
    );
    const { warnings } = await inspectMysqlStorage(migrated.dataSource, 100 * MiB);
    assert.deepEqual(warnings, [ZapierMessages.mysqlPacketLimit(Number(row.p), 100 * MiB)]);
  });
});
