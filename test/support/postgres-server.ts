import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The machine's own PostgreSQL cluster, to stop and start for real (Debian's pg_ctlcluster).
 * Only for tests that run alone: every other test using PostgreSQL would fail meanwhile.
 */
export interface PostgresServer {
  stop(): Promise<void>;
  start(): Promise<void>;
  isReady(): Promise<boolean>;
}

/** The cluster, or why it cannot be driven from here. */
export function localPostgresServer(): PostgresServer | string {
  let version: string | undefined;
  try {
    version = readdirSync('/etc/postgresql').sort().at(-1);
  } catch {
    return 'no /etc/postgresql: not a Debian PostgreSQL installation';
  }
  if (!version) return 'no PostgreSQL cluster under /etc/postgresql';
  if (process.getuid?.() !== 0) return 'stopping the PostgreSQL cluster needs root';
  const ctl = (action: 'start' | 'stop') =>
    run('pg_ctlcluster', [
      '--skip-systemctl-redirect',
      version,
      'main',
      action,
      ...(action === 'stop' ? ['-m', 'fast'] : []),
    ]);
  const server: PostgresServer = {
    stop: async () => {
      await ctl('stop');
    },
    start: async () => {
      await ctl('start');
      for (let i = 0; i < 100 && !(await server.isReady()); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    isReady: async () => {
      try {
        await run('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-q']);
        return true;
      } catch {
        return false;
      }
    },
  };
  return server;
}
