import { ZapierWriteQueueFullError } from '../errors/zapier-storage.errors.js';

interface Entry<I, O> {
  item: I;
  weight: number;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * Batches concurrent writes: items submitted while the database is busy with earlier batches
 * wait and go together in the next one. Under load, callbacks arriving within a millisecond or two
 * share one statement and one commit (one fsync), which is how the receiver stays fast without
 * weakening durability; at low load a lone item is written at once (after the current I/O phase,
 * so that requests parsed together are written together).
 *
 * One bad item fails alone: when a batch fails with an error `isolate` says one item can cause
 * (a value the database refuses), the batch is written again in halves, down to single items, so
 * that only the culprits are rejected and their neighbours commit. Any other failure (the
 * connection, a timeout) rejects the whole batch at once, without sending more statements to a
 * database that is failing anyway.
 *
 * The queue of items waiting is bounded: beyond `maxQueued` items or `maxQueuedWeight`, `submit`
 * rejects at once with `ZapierWriteQueueFullError`, so a hung database cannot pile up what its
 * callers hold in memory.
 */
export class GroupCommit<I, O> {
  private queue: Array<Entry<I, O>> = [];
  private queuedWeight = 0;
  private inFlight = 0;
  private scheduled = false;
  private readonly maxQueued: number;
  private readonly maxQueuedWeight: number;

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
      /**
       * Most items waiting to be written; an item submitted to an empty queue is always taken.
       * @default 10 × maxItems
       */
      maxQueued?: number;
      /**
       * Most total weight waiting to be written; an item submitted to an empty queue is always
       * taken, however heavy.
       * @default 4 × maxWeight
       */
      maxQueuedWeight?: number;
      /**
       * Whether a failed batch may have failed because of one of its items, and so is worth
       * writing again in halves. A write must change nothing when it throws for this to be safe.
       * @default never
       */
      isolate?(error: unknown): boolean;
    },
  ) {
    this.maxQueued = limits.maxQueued ?? 10 * limits.maxItems;
    this.maxQueuedWeight = limits.maxQueuedWeight ?? 4 * limits.maxWeight;
  }

  /**
   * Resolves with the item's own output once its batch is written; rejects with the batch's
   * error, with the item's own when it was isolated, or at once with `ZapierWriteQueueFullError`.
   */
  submit(item: I): Promise<O> {
    const weight = this.limits.weight(item);
    if (
      this.queue.length > 0 &&
      (this.queue.length >= this.maxQueued || this.queuedWeight + weight > this.maxQueuedWeight)
    ) {
      return Promise.reject(new ZapierWriteQueueFullError(this.queue.length, this.maxQueued));
    }
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, weight, resolve, reject });
      this.queuedWeight += weight;
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
      void this.commit(batch).finally(() => {
        this.inFlight -= 1;
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  /** Writes a batch; never rejects (each entry is settled instead). */
  private async commit(batch: Array<Entry<I, O>>): Promise<void> {
    let outputs: O[];
    try {
      outputs = await this.write(batch.map((entry) => entry.item));
    } catch (error) {
      if (batch.length > 1 && this.limits.isolate?.(error) === true) {
        // One halving per level: a lone culprit among n items costs about 2·log2(n) statements.
        const half = Math.ceil(batch.length / 2);
        await this.commit(batch.slice(0, half));
        await this.commit(batch.slice(half));
      } else {
        batch.forEach((entry) => entry.reject(error));
      }
      return;
    }
    batch.forEach((entry, i) => entry.resolve(outputs[i]));
  }

  private take(): Array<Entry<I, O>> {
    let weight = 0;
    let count = 0;
    while (count < this.queue.length && count < this.limits.maxItems) {
      const next = this.queue[count].weight;
      if (count > 0 && weight + next > this.limits.maxWeight) break;
      weight += next;
      count += 1;
    }
    this.queuedWeight -= weight;
    return this.queue.splice(0, count);
  }
}
