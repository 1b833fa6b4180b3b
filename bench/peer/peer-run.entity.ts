import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One run result as the straightforward receiver stores it: the id is the idempotency key. */
@Entity('peer_callback_runs')
export class PeerRun {
  @PrimaryColumn({ name: 'run_id', type: 'varchar', length: 255 })
  runId!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: string;

  @Column({ type: 'simple-json' })
  results!: object[];

  @Column({ type: 'simple-json' })
  errors!: object[];

  @Column({ name: 'received_at', type: 'bigint' })
  receivedAt!: number;
}
