import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DataSource, InstanceChecker, type DataSourceOptions } from 'typeorm';
import { ZAPIER_ENTITIES } from '../storage/zapier-storage.entities.js';
import { ZAPIER_MIGRATIONS } from '../storage/migrations/index.js';
import { CliError, CliExit } from './cli-exit.js';
import { CliMessages } from './cli.messages.js';

/**
 * The host's data source file, as TypeORM's own CLI reads it (`-d ./dist/data-source.js`): a
 * module exporting one `DataSource`, as its default export or a named one (a promise of one
 * too). A CommonJS file's `module.exports` counts as its default export.
 */
export async function loadHostDataSource(file: string): Promise<DataSource> {
  let exported: Record<string, unknown>;
  try {
    exported = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (error) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new CliError(CliMessages.dataSourceUnreadable(file, cause), CliExit.usage);
  }
  const found = new Map<DataSource, string>();
  const consider = async (name: string, value: unknown) => {
    const candidate = await value;
    if (InstanceChecker.isDataSource(candidate) && !found.has(candidate)) {
      found.set(candidate, name);
    }
  };
  for (const [name, value] of Object.entries(exported)) await consider(name, value);
  const cjs = exported.default;
  if (typeof cjs === 'object' && cjs !== null && !InstanceChecker.isDataSource(cjs)) {
    for (const [name, value] of Object.entries(cjs)) await consider(name, value);
  }
  if (found.size === 0) throw new CliError(CliMessages.noDataSource(file), CliExit.usage);
  if (found.size > 1) {
    throw new CliError(CliMessages.severalDataSources(file, [...found.values()]), CliExit.usage);
  }
  return [...found.keys()][0];
}

/**
 * The CLI's own data source on the host's database: the host's connection options, with only
 * the module's entities and migrations, and nothing that could change the schema on its own or
 * run the host's code (synchronize, dropSchema, subscribers, migrationsRun). The host's
 * `migrationsTableName` is kept, so `migrate` and the host's own migration runs share one record.
 */
export function cliDataSource(host: DataSource): DataSource {
  const options = {
    ...host.options,
    entities: ZAPIER_ENTITIES,
    migrations: ZAPIER_MIGRATIONS,
    subscribers: [],
    synchronize: false,
    dropSchema: false,
    migrationsRun: false,
    logging: false,
    cache: false,
  } as DataSourceOptions;
  return new DataSource(options);
}
