import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs } from './epoch-ms.transformer.js';

/**
 * A signed callback the module could not accept as a run result (not JSON, no run id, a status
 * that is not terminal...). Zapier does not retry the 4xx it got, so the body is kept here and
 * the run stays pending for the poller.
 *
 * @publicApi
 */
@Entity({ name: 'zapier_callback_quarantine' })
export class ZapierCallbackQuarantine {
  @PrimaryGeneratedColumn({ name: 'id', type: 'integer' })
  id!: number;

  /** The run id, when one could be read from the body. */
  @Column({ name: 'run_id', type: 'varchar', length: 255, nullable: true })
  runId!: string | null;

  /** Why the callback was rejected. */
  @Column({ name: 'reason', type: 'text' })
  reason!: string;

  /** The body as received. */
  @Column({ name: 'raw_body', type: 'text' })
  rawBody!: string;

  @Column({ name: 'received_at', type: 'bigint', transformer: epochMs })
  receivedAt!: Date;
}
