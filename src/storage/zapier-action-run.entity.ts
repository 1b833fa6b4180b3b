import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type {
  ZapierRunError,
  ZapierRunResults,
  ZapierRunStatus,
} from '../interfaces/action-run.interface.js';
import { epochMs } from './epoch-ms.transformer.js';

/** How a run's terminal state reached the module. @publicApi */
export type ZapierRunSource = 'callback' | 'poll';

/**
 * Where delivery of a run's event to listeners stands: `none` while there is nothing to deliver
 * (the run is pending), `pending` until every listener finished without throwing, `delivered`
 * after that, `parked` after too many failed attempts (see `ZapierRunsService.redeliver`).
 *
 * @publicApi
 */
export type ZapierDispatchState = 'none' | 'pending' | 'delivered' | 'parked';

/**
 * One Zapier action run: started by `ZapierClient`, or first seen in a verified callback. The
 * run id is the primary key, which is what makes storing a callback idempotent. The same row is
 * the poller's work queue and the outbox of the event sent to listeners.
 *
 * @publicApi
 */
@Entity({ name: 'zapier_action_runs' })
// Partial indexes: only the rows the poller and the dispatcher look for are indexed, so a run
// that arrives terminal, or whose delivery is recorded, costs no entry (and no index write).
@Index('IDX_zapier_action_runs_poll', ['pollNextAt'], { where: `"status" = 'pending'` })
@Index('IDX_zapier_action_runs_dispatch', ['dispatchNextAt'], {
  where: `"dispatch_state" = 'pending'`,
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

  @Column({ name: 'dispatch_state', type: 'varchar', length: 16, default: 'none' })
  dispatchState!: ZapierDispatchState;

  /** Delivery attempts made so far. */
  @Column({ name: 'dispatch_attempts', type: 'integer', default: 0 })
  dispatchAttempts!: number;

  @Column({ name: 'dispatch_next_at', type: 'bigint', nullable: true, transformer: epochMs })
  dispatchNextAt!: Date | null;

  @Column({ name: 'dispatch_claimed_by', type: 'varchar', length: 255, nullable: true })
  dispatchClaimedBy!: string | null;

  @Column({ name: 'dispatch_claim_until', type: 'bigint', nullable: true, transformer: epochMs })
  dispatchClaimUntil!: Date | null;

  @Column({ name: 'dispatch_last_error', type: 'text', nullable: true })
  dispatchLastError!: string | null;

  @Column({ name: 'delivered_at', type: 'bigint', nullable: true, transformer: epochMs })
  deliveredAt!: Date | null;
}
