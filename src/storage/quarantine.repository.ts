import { Injectable } from '@nestjs/common';
import { SqlParams } from './sql/sql-params.js';
import { ZapierSql } from './sql/zapier-sql.js';

/** A signed callback that could not be accepted as a run result. */
export interface QuarantineEntry {
  runId: string | null;
  reason: string;
  rawBody: string;
  receivedAt: number;
}

/** Keeps signed callbacks that were refused, so nothing Zapier sent is lost. */
@Injectable()
export class ZapierQuarantineRepository {
  constructor(private readonly sql: ZapierSql) {}

  async insert(entry: QuarantineEntry): Promise<void> {
    const p = new SqlParams();
    await this.sql.query(
      `INSERT INTO zapier_callback_quarantine (run_id, reason, raw_body, received_at)
VALUES (${p.add(entry.runId)}, ${p.add(entry.reason)}, ${p.add(entry.rawBody)}, ${p.add(
        entry.receivedAt,
        'bigint',
      )})`,
      p,
    );
  }
}
