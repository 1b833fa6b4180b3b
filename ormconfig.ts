import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ZAPIER_ENTITIES } from './src/storage/zapier-storage.entities.js';
import { ZAPIER_MIGRATIONS } from './src/storage/migrations/index.js';

/**
 * TypeORM data source for the CLI (migrations) and the demo's PostgreSQL mode; never imported by
 * the library. PostgreSQL when DATABASE_URL is set, otherwise the demo's SQLite file.
 *
 *   npm run build:test && npx typeorm migration:run -d out/ormconfig.js
 */
export default new DataSource(
  process.env.DATABASE_URL
    ? {
        type: 'postgres',
        url: process.env.DATABASE_URL,
        entities: ZAPIER_ENTITIES,
        migrations: ZAPIER_MIGRATIONS,
      }
    : {
        type: 'better-sqlite3',
        database: process.env.SQLITE_FILE ?? '.data/zapier.db',
        enableWAL: true,
        entities: ZAPIER_ENTITIES,
        migrations: ZAPIER_MIGRATIONS,
      },
);
