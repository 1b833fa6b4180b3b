import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Shared state of the requests this app sends Zapier, one row for every instance on the same
 * database: the next free send slot (the rate budget), the end of a 429 cooldown, and how many create
 * calls are waiting for their response (and until when at the latest). All times are epoch milliseconds.
 *
 * @publicApi
 */
@Entity({ name: 'zapier_api_budget' })
export class ZapierApiBudget {
  @PrimaryColumn({ name: 'budget_key', type: 'varchar', length: 64 })
  budgetKey!: string;

  @Column({ name: 'next_slot_at', type: 'bigint', default: 0 })
  nextSlotAt!: string | number;

  @Column({ name: 'cooldown_until', type: 'bigint', default: 0 })
  cooldownUntil!: string | number;

  /** Create calls waiting for their response. */
  @Column({ name: 'creates_inflight', type: 'integer', default: 0 })
  createsInflight!: number;

  @Column({ name: 'creates_inflight_until', type: 'bigint', default: 0 })
  createsInflightUntil!: string | number;
}
