import { Logger } from '@nestjs/common';
import type { DataSource, QueryRunner } from 'typeorm';
import { ZapierMessages } from '../../zapier.messages.js';
import {
  driverErrorCode,
  type SqlConnection,
  type SqlRow,
  type SqlStatementLimits,
  type SqlStatementRunner,
  type SqlTransactionLocks,
  ZapierStatementTimeoutError,
} from './sql-connection.js';

const MAX_ATTEMPTS = 4;
/**
 * ER_LOCK_DEADLOCK (InnoDB rolled the whole transaction back) and ER_LOCK_WAIT_TIMEOUT (it rolled
 * back the statement; the module then rolls back the rest): the work may run again.
 */
const TRANSIENT_CODES = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);
const TIMED_OUT = Symbol('timed out');

/** What the module uses of a mysql2 connection (TypeORM types its driver's objects as `any`). */
interface MysqlConnectionHandle {
  threadId: number | null;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  query(sql: string, values: unknown[], callback: (error: Error | null) => void): unknown;
  destroy(): void;
}

interface MysqlDriverHandle {
  /** The mysql2 module TypeORM loaded. */
  mysql?: { Connection: new (options: { config: object }) => MysqlConnectionHandle };
  /** The pool, and the configuration it makes its connections with (absent with replication). */
  pool?: { config: { connectionConfig: object } };
}

/**
 * MySQL and MariaDB: statements run on connections borrowed from the host's pool, each state
 * change either one autocommit statement or one short transaction (in READ COMMITTED when it
 * scans, see `SqlTransactionLocks`), under a client-side timer of `statementTimeoutMs` that covers the wait for a connection and every statement of the
 * transaction.
 *
 * A timer, because neither server bounds every statement the same way: MariaDB's
 * `max_statement_time` does not exist on MySQL, and MySQL's `MAX_EXECUTION_TIME` bounds SELECTs
 * only; setting either for the session would change, or have to restore, a connection the host
 * shares. When the timer fires the caller fails at once (a callback gets its 503) and the
 * connection is killed (`KILL <thread>`) from a connection of its own, made with the pool's own
 * configuration (a kill that queued for a pool the stuck statements hold would never run): the
 * server stops the statement and rolls its transaction back, and the connection never goes back
 * to the pool, so nothing of it can reach whoever would have used it next.
 */
export class MysqlConnection implements SqlConnection {
  private readonly logger = new Logger('ZapierStorage');
  private readonly kills = new Set<Promise<void>>();

  constructor(
    readonly dataSource: DataSource,
    private readonly limits: SqlStatementLimits,
  ) {}

  execute(sql: string, values: unknown[]): Promise<SqlRow[]> {
    return this.withConnection((run) => run(sql, values));
  }

  transaction<T>(
    work: (run: SqlStatementRunner) => Promise<T>,
    locks: SqlTransactionLocks,
  ): Promise<T> {
    return this.withConnection(async (run) => {
      // For this transaction only: the session keeps the host's level.
      if (locks === 'by-scan') await run('SET TRANSACTION ISOLATION LEVEL READ COMMITTED', []);
      await run('START TRANSACTION', []);
      let result: T;
      try {
        result = await work(run);
      } catch (error) {
        // A rollback that fails (the connection is gone, or the work timed out) leaves nothing:
        // the server rolls back a transaction whose connection ends.
        await run('ROLLBACK', []).catch(() => undefined);
        throw error;
      }
      await run('COMMIT', []);
      return result;
    });
  }

  retryDelay(error: unknown, attempts: number): number | null {
    if (attempts >= MAX_ATTEMPTS || !TRANSIENT_CODES.has(driverErrorCode(error))) return null;
    return Math.random() * 10 * attempts;
  }

  /** Waits for kills still under way; the pool itself is the host's. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.kills]);
  }

  private async withConnection<T>(work: (run: SqlStatementRunner) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    const timeoutMs = this.limits.statementTimeoutMs;
    let timedOut = false;
    let connection: MysqlConnectionHandle | undefined;
    // After the timer fired, nothing more is sent: not the next statement, not a ROLLBACK.
    const run: SqlStatementRunner = async (sql, values) => {
      if (timedOut) throw new ZapierStatementTimeoutError(timeoutMs);
      return ((await runner.query(sql, values, true)).records ?? []) as SqlRow[];
    };
    const attempt = (async () => {
      const handle = (await runner.connect()) as MysqlConnectionHandle;
      // The wait for a connection outlasted the timer: the caller has given up, so send nothing.
      if (timedOut) throw new ZapierStatementTimeoutError(timeoutMs);
      connection = handle;
      return work(run);
    })();
    const settled = attempt.then(
      () => undefined,
      () => undefined,
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, TIMED_OUT);
    });
    try {
      const outcome = await Promise.race([attempt, deadline]);
      if (outcome !== TIMED_OUT) {
        await release(runner);
        return outcome;
      }
    } catch (error) {
      await release(runner);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    timedOut = true;
    // The connection goes back to the pool only if the work never started on it; one that did is
    // killed, and a pool connection destroyed leaves the pool, so releasing it then does nothing.
    const started = connection;
    let stopped = Promise.resolve();
    if (started?.threadId != null) {
      stopped = this.kill(started.threadId, timeoutMs).finally(() => started.destroy());
      this.track(stopped);
    }
    void Promise.all([stopped, settled]).then(() => release(runner));
    throw new ZapierStatementTimeoutError(timeoutMs);
  }

  private track(kill: Promise<void>): void {
    this.kills.add(kill);
    void kill.finally(() => this.kills.delete(kill));
  }

  private async kill(threadId: number, timeoutMs: number): Promise<void> {
    const { mysql, pool } = this.dataSource.driver as unknown as MysqlDriverHandle;
    if (!mysql || !pool) return;
    // The pool's configuration, copied as mysql2's pool copies it for each of its connections.
    const base = pool.config.connectionConfig;
    const config = Object.create(
      Object.getPrototypeOf(base) as object | null,
      Object.getOwnPropertyDescriptors(base),
    ) as object;
    const killer = new mysql.Connection({ config });
    killer.on('error', () => undefined);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          killer.query('KILL ?', [threadId], (error) => (error ? reject(error) : resolve()));
        }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new ZapierStatementTimeoutError(timeoutMs)), timeoutMs);
        }),
      ]);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(ZapierMessages.statementKillFailed(threadId, reason));
    } finally {
      clearTimeout(timer);
      killer.destroy();
    }
  }
}

const release = (runner: QueryRunner): Promise<void> => runner.release().catch(() => undefined);
