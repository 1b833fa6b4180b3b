import 'reflect-metadata';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ZAPIER_ENTITIES } from './src/storage/zapier-storage.entities.js';
import { ZAPIER_MIGRATIONS } from './src/storage/migrations/index.js';

/**
 * TypeORM data source for the CLI (migrations); never imported by the library. The server
 * DATABASE_URL names (postgres://, or mysql:// and mariadb:// for MySQL and MariaDB), otherwise
 * the SQLite file SQLITE_FILE.
 *
 *   npm run build:test && npx typeorm migration:run -d out/ormconfig.js
 */
function storage(url: string | undefined): DataSourceOptions {
  if (url === undefined) {
    return {
      type: 'better-sqlite3',
      database: process.env.SQLITE_FILE ?? '.data/zapier.db',
      enableWAL: true,
    };
  }
  if (/^(mysql|mariadb):/i.test(url)) return { type: 'mariadb', url };
  return { type: 'postgres', url };
}

export default new DataSource({
  ...storage(process.env.DATABASE_URL || undefined),
  entities: ZAPIER_ENTITIES,
  migrations: ZAPIER_MIGRATIONS,
});
