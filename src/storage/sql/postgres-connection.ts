import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { ZapierMessages } from '../../zapier.messages.js';
import {
  driverErrorCode,
  type SqlConnection,
  type SqlRow,
  type SqlStatementLimits,
  ZapierStatementTimeoutError,
} from './sql-connection.js';

const MAX_ATTEMPTS = 4;
/** deadlock_detected, serialization_failure: the statement was rolled back and may run again. */
const TRANSIENT_CODES = new Set(['40P01', '40001']);
const TIMED_OUT = Symbol('timed out');

/** What the module uses of node-postgres (TypeORM types its driver's pool as `any`). */
interface PgClient {
  processID?: number | null;
  connect(): Promise<unknown>;
  query(sql: string, values: unknown[]): Promise<unknown>;
  end(): Promise<void>;
}
interface PgPool {
  /** The client class the pool makes its connections with, and the options it gives them. */
  Client: new (options: unknown) => PgClient;
  options: unknown;
}

/**
 * PostgreSQL: statements run on connections borrowed from the host's pool, under a client-side
 * timer of `statementTimeoutMs` that covers the wait for a connection too.
 *
 * Why a timer and `pg_cancel_backend` rather than `SET LOCAL statement_timeout`: every statement
 * of the module is a single autocommit statement, so `SET LOCAL` would have to wrap each one in
 * BEGIN / SET / COMMIT (three round trips instead of one, on every callback), and a session-wide
 * `SET` would change, or have to restore, a connection the host shares. The timer costs nothing
 * until it fires. When it does, the caller fails at once (a callback gets its 503), and the
 * server-side work is stopped by `pg_cancel_backend` from a connection of its own, made with the
 * pool's own client class and options: when the module's statements hold every pooled connection
 * (all waiting on one lock), a cancel that queued for the pool would never run. The borrowed
 * connection goes back to the pool only once its statement has ended (cancelled, or finished
 * meanwhile), so a late cancel can never hit whoever uses the connection next.
 */
export class PostgresConnection implements SqlConnection {
  private readonly logger = new Logger('ZapierStorage');
  private readonly cancels = new Set<Promise<void>>();

  constructor(
    readonly dataSource: DataSource,
    private readonly limits: SqlStatementLimits,
  ) {}

  async execute(sql: string, values: unknown[]): Promise<SqlRow[]> {
    const runner = this.dataSource.createQueryRunner();
    const timeoutMs = this.limits.statementTimeoutMs;
    let timedOut = false;
    let backend: number | null = null;
    const statement = (async () => {
      const client = (await runner.connect()) as PgClient;
      // The wait for a connection outlasted the timer: the caller has given up, so send nothing.
      if (timedOut) throw new ZapierStatementTimeoutError(timeoutMs);
      backend = client.processID ?? null;
      return (await runner.query(sql, values, true)).records as SqlRow[] | undefined;
    })();
    const released = statement.then(
      () => runner.release(),
      () => runner.release(),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, TIMED_OUT);
    });
    try {
      const outcome = await Promise.race([statement, deadline]);
      if (outcome !== TIMED_OUT) {
        await released;
        return outcome ?? [];
      }
    } catch (error) {
      await released;
      throw error;
    } finally {
      clearTimeout(timer);
    }
    timedOut = true;
    void released.catch(() => undefined);
    if (backend !== null) this.track(this.cancel(backend, timeoutMs));
    throw new ZapierStatementTimeoutError(timeoutMs);
  }

  retryDelay(error: unknown, attempts: number): number | null {
    if (attempts >= MAX_ATTEMPTS || !TRANSIENT_CODES.has(driverErrorCode(error))) return null;
    return Math.random() * 10 * attempts;
  }

  /** Waits for cancels still under way; the pool itself is the host's. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.cancels]);
  }

  private track(cancel: Promise<void>): void {
    this.cancels.add(cancel);
    void cancel.finally(() => this.cancels.delete(cancel));
  }

  private async cancel(backend: number, timeoutMs: number): Promise<void> {
    const pool = (this.dataSource.driver as unknown as { master?: PgPool }).master;
    if (!pool) return;
    const client = new pool.Client(pool.options);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect().then(() => client.query('SELECT pg_cancel_backend($1)', [backend])),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new ZapierStatementTimeoutError(timeoutMs)), timeoutMs);
        }),
      ]);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(ZapierMessages.statementCancelFailed(backend, reason));
    } finally {
      clearTimeout(timer);
      await client.end().catch(() => undefined);
    }
  }
}
