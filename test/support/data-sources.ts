import 'reflect-metadata';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ZAPIER_ENTITIES } from '../../src/storage/zapier-storage.entities.js';
import { ZAPIER_MIGRATIONS } from '../../src/storage/migrations/index.js';
import { createMariadbDatabase, mariadbSkipReason } from './mariadb.js';
import { createPostgresDatabase, postgresSkipReason } from './postgres.js';
import { temporarySqliteFile } from './sqlite.js';

/** A database engine a suite runs on. */
export type Engine = 'sqlite' | 'postgres' | 'mariadb';

/** Why a suite on each engine is skipped here, or `false` where it runs. */
export type EngineSkips = Readonly<Record<Engine, string | false>>;

/**
 * Whether each engine answers: SQLite always does; a server that does not is skipped with a
 * visible notice, except when `CI=true`, where this throws instead.
 */
export async function engineSkipReasons(): Promise<EngineSkips> {
  return {
    sqlite: false,
    postgres: await postgresSkipReason(),
    mariadb: await mariadbSkipReason(),
  };
}

/** TypeORM options for a fresh, empty database of the engine, plus a cleanup. */
export async function freshDatabase(
  engine: Engine,
  name: string,
): Promise<{ options: DataSourceOptions; cleanup(): void }> {
  if (engine === 'postgres') {
    const url = await createPostgresDatabase(name);
    return { options: { type: 'postgres', url }, cleanup: () => undefined };
  }
  if (engine === 'mariadb') {
    const url = await createMariadbDatabase(name);
    return { options: { type: 'mariadb', url }, cleanup: () => undefined };
  }
  const file = temporarySqliteFile();
  return {
    options: { type: 'better-sqlite3', database: file.path, enableWAL: true },
    cleanup: file.remove,
  };
}

/** An initialised data source on a fresh database with the module's schema (via migrations). */
export async function migratedDataSource(
  engine: Engine,
  name: string,
): Promise<{ dataSource: DataSource; close(): Promise<void> }> {
  const { options, cleanup } = await freshDatabase(engine, name);
  const dataSource = new DataSource({
    ...options,
    entities: ZAPIER_ENTITIES,
    migrations: ZAPIER_MIGRATIONS,
    migrationsRun: true,
  });
  await dataSource.initialize();
  return {
    dataSource,
    close: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      cleanup();
    },
  };
}
