import { spawn } from 'node:child_process';
import mysql from 'mysql2/promise';
import { MARIADB_ADMIN_URL } from './mariadb.js';
import type { DatabaseServer } from './server-restart.js';

/**
 * The MariaDB server the tests use, to stop and start for real. Only for tests that run alone:
 * every other test using MariaDB would fail meanwhile.
 *
 * Stops the server with its own SHUTDOWN statement (what `service mariadb stop` asks for first)
 * and starts it again with `service mariadb start`, or with the shell command in
 * TEST_MARIADB_START for a server of a checkout's own (TEST_MARIADB_URL). Returns why it cannot,
 * when it cannot.
 */
export function localMariadbServer(): DatabaseServer | string {
  const command = process.env.TEST_MARIADB_START ?? 'service mariadb start';
  if (!process.env.TEST_MARIADB_START && process.getuid?.() !== 0) {
    return 'starting the MariaDB service needs root';
  }
  const server: DatabaseServer = {
    stop: async () => {
      const admin = await mysql.createConnection({ uri: MARIADB_ADMIN_URL });
      await admin.query('SHUTDOWN').finally(() => admin.destroy());
      for (let i = 0; i < 300 && (await server.isReady()); i++) await sleep(100);
    },
    start: async () => {
      // Detached, and not waited for: Debian's init script checks the server with credentials
      // from /etc/mysql/debian.cnf, which not every installation has, and then reports a
      // failure after 30 s for a server that runs. Whether it answers is what counts.
      spawn('sh', ['-c', command], { detached: true, stdio: 'ignore' }).unref();
      for (let i = 0; i < 300 && !(await server.isReady()); i++) await sleep(100);
    },
    isReady: async () => {
      try {
        const connection = await mysql.createConnection({
          uri: MARIADB_ADMIN_URL,
          connectTimeout: 1000,
        });
        await connection.end();
        return true;
      } catch {
        return false;
      }
    },
  };
  return server;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
