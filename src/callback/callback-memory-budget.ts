/**
 * Heap a parsed JSON element costs beyond its bytes (a small object or array slot in V8 is 30 to
 * 60 bytes): what makes `[{},{},…]` about twenty times its size once parsed.
 */
export const HEAP_BYTES_PER_JSON_ELEMENT = 64;

/**
 * The memory that callbacks being read and stored at once may hold, shared by all of them: body
 * bytes plus an estimate for their parsed elements. A callback takes its share as its bytes
 * arrive and gives it back when its response is finished (so bodies waiting for the database
 * count too). When the budget is spent, a callback is answered 503 (Zapier retries it) instead
 * of the process running out of memory.
 */
export class CallbackMemoryBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** What is held right now, in bytes. */
  get inUse(): number {
    return this.used;
  }

  /** A share that grows as one callback is read, and is returned once. */
  open(): CallbackMemoryShare {
    let held = 0;
    let closed = false;
    return {
      limit: this.limit,
      growTo: (bytes: number): boolean => {
        if (closed || bytes <= held) return !closed;
        if (this.used + bytes - held > this.limit) return false;
        this.used += bytes - held;
        held = bytes;
        return true;
      },
      release: (): void => {
        if (closed) return;
        closed = true;
        this.used -= held;
        held = 0;
      },
    };
  }
}

export interface CallbackMemoryShare {
  /** The whole budget: a share that needs more can never be granted. */
  readonly limit: number;
  /** Raises this callback's share to `bytes`; false (and nothing taken) when the budget is spent. */
  growTo(bytes: number): boolean;
  /** Gives the share back; later calls do nothing. */
  release(): void;
}
