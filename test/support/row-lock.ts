import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Engine } from './data-sources.js';

/** A run's row held locked by a connection of the test's own, as another writer would. */
export interface RowLock {
  /** Whether some other connection to the database is waiting for a lock now. */
  othersWaiting(): Promise<boolean>;
  release(): Promise<void>;
}

/** Locks the row of `runId` in the database at `url` until `release()`. */
export async function lockRunRow(engine: Engine, url: string, runId: string): Promise<RowLock> {
  if (engine === 'postgres') {
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM zapier_action_runs WHERE run_id = $1 FOR UPDATE', [runId]);
    return {
      othersWaiting: async () => {
        const waiting = await locker.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return Number(waiting.rows[0].n) > 0;
      },
      release: async () => {
        await locker.query('ROLLBACK');
        await locker.end();
      },
    };
  }
  if (engine !== 'mariadb') throw new Error(`No row locks to hold on ${engine}.`);
  const locker = await mysql.createConnection({ uri: url });
  await locker.query('START TRANSACTION');
  await locker.query('SELECT 1 FROM zapier_action_runs WHERE run_id = ? FOR UPDATE', [runId]);
  return {
    othersWaiting: async () => {
      // InnoDB refreshes what INNODB_TRX shows only once it has gone unread for 100 ms: polled
      // more often, it would show the same (stale) transactions forever.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const [rows] = await locker.query<mysql.RowDataPacket[]>(
        `SELECT count(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'`,
      );
      return Number(rows[0].n) > 0;
    },
    release: async () => {
      await locker.query('ROLLBACK');
      await locker.end();
    },
  };
}
