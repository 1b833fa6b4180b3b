import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type {
  ZapierDeliveryState,
  ZapierRunError,
  ZapierRunResults,
  ZapierRunSource,
  ZapierRunStatus,
} from '../interfaces/action-run.interface.js';
import { epochMs } from './epoch-ms.transformer.js';

/**
 * One Zapier action run: started by `ZapierClient`, or first seen in a verified callback. The
 * run id is the primary key, which is what makes storing a callback idempotent. The same row is
 * the poller's work queue and the outbox of the event sent to listeners.
 *
 * @publicApi
 */
@Entity({ name: 'zapier_action_runs' })
// Partial indexes: only the rows the poller and the delivery sweep look for are indexed, so a run
// that arrives terminal, or whose delivery is recorded, costs no entry (and no index write).
@Index('IDX_zapier_action_runs_poll', ['pollNextAt'], { where: `"status" = 'pending'` })
@Index('IDX_zapier_action_runs_delivery', ['deliveryNextAt'], {
  where: `"delivery_state" = 'pending'`,
})
export class ZapierActionRun {
  /** Zapier's run id (`arun_...`), an opaque string. */
  @PrimaryColumn({ name: 'run_id', type: 'varchar', length: 255 })
  runId!: string;

  @Column({ name: 'status', type: 'varchar', length: 16 })
  status!: ZapierRunStatus;

  /** The action id the run was started with; `null` for runs this app did not start. */
  @Column({ name: 'action', type: 'varchar', length: 255, nullable: true })
  action!: string | null;

  /** What the app attached in `createActionRun({ metadata })`. */
  @Column({ name: 'metadata', type: 'simple-json', nullable: true })
  metadata!: Record<string, unknown> | null;

  @Column({ name: 'results', type: 'simple-json', nullable: true })
  results!: ZapierRunResults | null;

  @Column({ name: 'errors', type: 'simple-json', nullable: true })
  errors!: ZapierRunError[] | null;

  /** The body exactly as Zapier sent it (callback) or answered it (poll). */
  @Column({ name: 'raw_payload', type: 'text', nullable: true })
  rawPayload!: string | null;

  @Column({ name: 'source', type: 'varchar', length: 16, nullable: true })
  source!: ZapierRunSource | null;

  /** Why the run expired: `retention` (older than Zapier keeps runs) or `not-found` (404). */
  @Column({ name: 'expired_reason', type: 'varchar', length: 32, nullable: true })
  expiredReason!: string | null;

  /** When `ZapierClient` submitted the run. */
  @Column({ name: 'submitted_at', type: 'bigint', nullable: true, transformer: epochMs })
  submittedAt!: Date | null;

  /** When the terminal result arrived (the callback request, or the poll response). */
  @Column({ name: 'received_at', type: 'bigint', nullable: true, transformer: epochMs })
  receivedAt!: Date | null;

  /** When the terminal state was committed. */
  @Column({ name: 'completed_at', type: 'bigint', nullable: true, transformer: epochMs })
  completedAt!: Date | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt!: Date;

  /** When the poller should next read this run (pending runs only). */
  @Column({ name: 'poll_next_at', type: 'bigint', nullable: true, transformer: epochMs })
  pollNextAt!: Date | null;

  @Column({ name: 'poll_attempts', type: 'integer', default: 0 })
  pollAttempts!: number;

  @Column({ name: 'poll_claimed_by', type: 'varchar', length: 255, nullable: true })
  pollClaimedBy!: string | null;

  @Column({ name: 'poll_claim_until', type: 'bigint', nullable: true, transformer: epochMs })
  pollClaimUntil!: Date | null;

  @Column({ name: 'poll_last_error', type: 'text', nullable: true })
  pollLastError!: string | null;

  @Column({ name: 'delivery_state', type: 'varchar', length: 16, default: 'none' })
  deliveryState!: ZapierDeliveryState;

  /** Delivery attempts made so far. */
  @Column({ name: 'delivery_attempts', type: 'integer', default: 0 })
  deliveryAttempts!: number;

  @Column({ name: 'delivery_next_at', type: 'bigint', nullable: true, transformer: epochMs })
  deliveryNextAt!: Date | null;

  @Column({ name: 'delivery_claimed_by', type: 'varchar', length: 255, nullable: true })
  deliveryClaimedBy!: string | null;

  @Column({ name: 'delivery_claim_until', type: 'bigint', nullable: true, transformer: epochMs })
  deliveryClaimUntil!: Date | null;

  @Column({ name: 'delivery_last_error', type: 'text', nullable: true })
  deliveryLastError!: string | null;

  @Column({ name: 'delivered_at', type: 'bigint', nullable: true, transformer: epochMs })
  deliveredAt!: Date | null;
}
