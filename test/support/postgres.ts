import pg from 'pg';
import { testDatabaseName } from './database-names.js';

/** Where the tests find PostgreSQL; override with TEST_POSTGRES_URL. */
export const POSTGRES_ADMIN_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let availability: Promise<boolean> | undefined;

/** Whether PostgreSQL answers; memoised for the process. */
export function postgresAvailable(): Promise<boolean> {
  availability ??= (async () => {
    const client = new pg.Client({
      connectionString: POSTGRES_ADMIN_URL,
      connectionTimeoutMillis: 2000,
    });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return availability;
}

/**
 * What a PostgreSQL suite passes to `describe(..., { skip })`: `false` when the server answers,
 * a visible reason when it does not. In CI (`CI=true`) a missing server is a failure, never a skip.
 */
export async function postgresSkipReason(): Promise<string | false> {
  if (await postgresAvailable()) return false;
  if (process.env.CI) {
    throw new Error(`PostgreSQL is required in CI but ${POSTGRES_ADMIN_URL} does not answer.`);
  }
  const reason = `PostgreSQL not reachable at ${POSTGRES_ADMIN_URL}: skipped (required when CI=true)`;
  console.warn(`NOTICE: ${reason}`);
  return reason;
}

/**
 * Creates (or recreates) an empty database for one test file and returns its URL. Each file gets
 * its own database so that files can run in parallel.
 */
export async function createPostgresDatabase(name: string): Promise<string> {
  const database = testDatabaseName(name);
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}
