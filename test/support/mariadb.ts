import mysql from 'mysql2/promise';
import { testDatabaseName } from './database-names.js';

/** Where the tests find MariaDB (or MySQL); override with TEST_MARIADB_URL. */
export const MARIADB_ADMIN_URL = process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306';

const MIN_PACKET = 64 * 1024 * 1024;

let availability: Promise<boolean> | undefined;

/** Whether MariaDB answers; memoised for the process. */
export function mariadbAvailable(): Promise<boolean> {
  availability ??= (async () => {
    try {
      const connection = await mysql.createConnection({
        uri: MARIADB_ADMIN_URL,
        connectTimeout: 2000,
      });
      await connection.query('SELECT 1');
      await connection.end();
      return true;
    } catch {
      return false;
    }
  })();
  return availability;
}

/**
 * What a MariaDB suite passes to `describe(..., { skip })`: `false` when the server answers, a
 * visible reason when it does not. In CI (`CI=true`) a missing server is a failure, never a skip.
 */
export async function mariadbSkipReason(): Promise<string | false> {
  if (await mariadbAvailable()) return false;
  if (process.env.CI) {
    throw new Error(`MariaDB is required in CI but ${MARIADB_ADMIN_URL} does not answer.`);
  }
  const reason = `MariaDB not reachable at ${MARIADB_ADMIN_URL}: skipped (required when CI=true)`;
  console.warn(`NOTICE: ${reason}`);
  return reason;
}

/**
 * Creates (or recreates) an empty database for one test file and returns its URL, as TypeORM's
 * `type: 'mariadb'` takes it. Each file gets its own database so that files can run in parallel.
 */
export async function createMariadbDatabase(name: string): Promise<string> {
  const database = testDatabaseName(name);
  const connection = await mysql.createConnection({ uri: MARIADB_ADMIN_URL });
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await connection.query(`CREATE DATABASE \`${database}\``);
    // The specs send callbacks of 10 MB, whose statements MariaDB's default of 16 MB cannot
    // carry (see ZapierMessages.mysqlPacketLimit); MySQL 8's default is 64 MB. Only ever raised,
    // for connections opened from now on.
    await connection.query(
      `SET GLOBAL max_allowed_packet = GREATEST(@@GLOBAL.max_allowed_packet, ${MIN_PACKET})`,
    );
  } finally {
    await connection.end();
  }
  const url = new URL(MARIADB_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}
