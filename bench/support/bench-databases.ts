import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { BenchDatabase, DatabaseName } from './bench-messages.js';

/** Where the benchmark finds PostgreSQL (same variable as the tests, or its own). */
export const POSTGRES_ADMIN_URL =
  process.env.BENCH_POSTGRES_URL ??
  process.env.TEST_POSTGRES_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';

/** Where the benchmark finds MariaDB (same variable as the tests, or its own). */
export const MARIADB_ADMIN_URL =
  process.env.BENCH_MARIADB_URL ?? process.env.TEST_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306';

/**
 * The same connection settings for the peer and the module: WAL on SQLite, the drivers' own
 * pools of 10 on the servers.
 */
export function typeormOptions(database: BenchDatabase): TypeOrmModuleOptions {
  if (database.type === 'sqlite') {
    return { type: 'better-sqlite3', database: database.file, enableWAL: true };
  }
  return { type: database.type, url: database.url };
}

/** Whether MariaDB answers, and its version (`SELECT VERSION()`). */
export async function mariadbVersion(): Promise<string | null> {
  try {
    const connection = await mysql.createConnection({
      uri: MARIADB_ADMIN_URL,
      connectTimeout: 2000,
    });
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
      return String(rows[0]?.v ?? 'unknown');
    } finally {
      await connection.end();
    }
  } catch {
    return null;
  }
}

async function mariadbAdmin(sql: string): Promise<void> {
  const connection = await mysql.createConnection({ uri: MARIADB_ADMIN_URL });
  try {
    await connection.query(sql);
  } finally {
    await connection.end();
  }
}

/** Whether PostgreSQL answers, and its version. */
export async function postgresVersion(): Promise<string | null> {
  const client = new pg.Client({
    connectionString: POSTGRES_ADMIN_URL,
    connectionTimeoutMillis: 2000,
  });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version ?? 'unknown';
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function admin<R extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** PostgreSQL's counters for one database (flushed by a backend at the latest when it exits). */
export interface PostgresCounts {
  commits: number;
  inserted: number;
  updated: number;
  deleted: number;
}

/** A fresh, empty database of the engine for one server; `drop()` removes it. */
export async function freshBenchDatabase(
  engine: DatabaseName,
  name: string,
): Promise<{
  database: BenchDatabase;
  drop(): Promise<void>;
  counts?: () => Promise<PostgresCounts>;
}> {
  if (engine === 'sqlite') {
    // On the disk (not tmpfs: checked by run-bench), so that synchronous=FULL really waits.
    const dir = mkdtempSync(join(tmpdir(), 'nestjs-zapier-bench-'));
    return {
      database: { type: 'sqlite', file: join(dir, `${name}.db`) },
      drop: () => {
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    };
  }
  const database = `nestjs_zapier_bench_${name}`.replace(/[^a-z0-9_]/gi, '_').toLowerCase();
  if (engine === 'mariadb') {
    await mariadbAdmin(`DROP DATABASE IF EXISTS \`${database}\``);
    await mariadbAdmin(`CREATE DATABASE \`${database}\``);
    const url = new URL(MARIADB_ADMIN_URL);
    url.pathname = `/${database}`;
    return {
      database: { type: 'mariadb', url: url.toString() },
      drop: () => mariadbAdmin(`DROP DATABASE IF EXISTS \`${database}\``),
    };
  }
  await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin(`CREATE DATABASE "${database}"`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${database}`;
  return {
    database: { type: 'postgres', url: url.toString() },
    drop: async () => {
      await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    },
    counts: async () => {
      const [row] = await admin<Record<keyof PostgresCounts, string>>(
        `SELECT xact_commit AS commits, tup_inserted AS inserted, tup_updated AS updated,
           tup_deleted AS deleted FROM pg_stat_database WHERE datname = $1`,
        [database],
      );
      return {
        commits: Number(row?.commits ?? 0),
        inserted: Number(row?.inserted ?? 0),
        updated: Number(row?.updated ?? 0),
        deleted: Number(row?.deleted ?? 0),
      };
    },
  };
}

/**
 * CPU time (user + system, microseconds) of every `postgres` process on this host, from /proc;
 * `null` where there is no /proc. Other users of the same server are counted too.
 */
export function postgresCpuMicros(): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const ticksPerSecond = 100;
  let ticks = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      if (name !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the name and state.
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended while we looked.
    }
  }
  return (ticks * 1_000_000) / ticksPerSecond;
}
