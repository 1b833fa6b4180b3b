import pg from 'pg';
import { POSTGRES_ADMIN_URL } from './postgres.js';

/**
 * Makes one database unreachable for the app, as if its server were down: new connections are
 * refused and the app's open connections are killed. `restore()` lets connections in again.
 */
export async function cutPostgresDatabase(
  databaseUrl: string,
): Promise<{ restore(): Promise<void> }> {
  const database = new URL(databaseUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS false`);
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
  } finally {
    await admin.end();
  }
  return {
    restore: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`ALTER DATABASE "${database}" WITH ALLOW_CONNECTIONS true`);
      } finally {
        await client.end();
      }
    },
  };
}
