/**
 * Batches concurrent writes: items submitted while the database is busy with earlier batches
 * wait and go together in the next one. Under load, callbacks arriving within a millisecond or two
 * share one statement and one commit (one fsync), which is how the receiver stays fast without
 * weakening durability; at low load a lone item is written at once (after the current I/O phase,
 * so that requests parsed together are written together).
 */
export class GroupCommit<I, O> {
  private queue: Array<{ item: I; resolve(value: O): void; reject(error: unknown): void }> = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly limits: {
      /** Batches written at the same time (1 for SQLite's single writer). */
      maxConcurrent: number;
      /** Most items in one batch. */
      maxItems: number;
      /** Most total weight (e.g. payload bytes) in one batch; a heavier lone item still goes. */
      maxWeight: number;
      weight(item: I): number;
      /**
       * How long a batch that is not full may wait for more items before it is written (0: after
       * the current I/O phase). For items that trickle in, such as finished deliveries.
       */
      lingerMs?: number;
    },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.limits.maxConcurrent) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      this.flush();
    };
    const linger = this.limits.lingerMs ?? 0;
    if (linger > 0 && this.queue.length < this.limits.maxItems) setTimeout(flush, linger);
    else setImmediate(flush);
  }

  private flush(): void {
    while (this.queue.length > 0 && this.inFlight < this.limits.maxConcurrent) {
      const batch = this.take();
      this.inFlight += 1;
      this.write(batch.map((entry) => entry.item))
        .then(
          (outputs) => batch.forEach((entry, i) => entry.resolve(outputs[i])),
          (error: unknown) => batch.forEach((entry) => entry.reject(error)),
        )
        .finally(() => {
          this.inFlight -= 1;
          if (this.queue.length > 0) this.schedule();
        });
    }
  }

  private take(): typeof this.queue {
    let weight = 0;
    let count = 0;
    while (count < this.queue.length && count < this.limits.maxItems) {
      const next = this.limits.weight(this.queue[count].item);
      if (count > 0 && weight + next > this.limits.maxWeight) break;
      weight += next;
      count += 1;
    }
    return this.queue.splice(0, count);
  }
}
