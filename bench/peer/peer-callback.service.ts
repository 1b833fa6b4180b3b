import { Injectable, type OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import type { PeerCallbackDto } from './peer-callback.dto.js';
import { PeerRun } from './peer-run.entity.js';

/** Event names the peer emits (the module's are `zapier.run.*`). */
export const PEER_EVENTS = { completed: 'peer.run.completed', failed: 'peer.run.failed' } as const;

/**
 * One insert-or-ignore per callback, then an event when the row is new. The insert is its own
 * transaction (autocommit), so the 200 that follows means the row is committed.
 */
@Injectable()
export class PeerCallbackService implements OnModuleInit {
  private readonly postgres: boolean;
  private readonly sqlite: boolean;

  constructor(
    @InjectRepository(PeerRun) private readonly runs: Repository<PeerRun>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly events: EventEmitter2,
  ) {
    this.postgres = dataSource.options.type === 'postgres';
    this.sqlite = dataSource.options.type === 'better-sqlite3';
  }

  /** Same durability as the module: better-sqlite3 in WAL mode defaults to synchronous=NORMAL. */
  async onModuleInit(): Promise<void> {
    if (this.sqlite) await this.dataSource.query('PRAGMA synchronous = FULL');
  }

  async receive(body: PeerCallbackDto): Promise<{ runId: string; duplicate: boolean }> {
    const { data } = body;
    const inserted = await this.insertOrIgnore({
      runId: data.id,
      status: data.status,
      results: (data.results ?? []) as object[],
      errors: data.errors ?? [],
      receivedAt: Date.now(),
    });
    if (inserted) {
      this.events.emit(data.status === 'success' ? PEER_EVENTS.completed : PEER_EVENTS.failed, {
        runId: data.id,
        status: data.status,
        results: data.results ?? [],
        errors: data.errors ?? [],
      });
    }
    return { runId: data.id, duplicate: !inserted };
  }

  /**
   * `INSERT ... ON CONFLICT DO NOTHING` (`INSERT IGNORE` on MariaDB), telling whether the row was
   * new: PostgreSQL through `RETURNING` (TypeORM's `raw` lists the inserted rows), SQLite and
   * MariaDB through the affected-rows count (no `RETURNING` there, and TypeORM's `InsertResult`
   * looks the same for an ignored row).
   */
  private async insertOrIgnore(row: PeerRun): Promise<boolean> {
    const insert = this.runs.createQueryBuilder().insert().into(PeerRun).values(row).orIgnore();
    if (this.postgres) {
      const result = await insert.returning(['runId']).execute();
      return (result.raw as unknown[]).length > 0;
    }
    const [sql, parameters] = insert.getQueryAndParameters();
    const runner = this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(sql, parameters, true);
      return result.affected === 1;
    } finally {
      await runner.release();
    }
  }
}
