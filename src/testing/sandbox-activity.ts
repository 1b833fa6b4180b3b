/** Counts background work (run executions, deliveries) so callers can wait until none is left. */
export class SandboxActivity {
  private active = 0;
  private waiters: (() => void)[] = [];

  /** Counts `work` as active until it settles; the returned promise never rejects. */
  track<T>(work: Promise<T>): Promise<T | undefined> {
    this.active += 1;
    return work
      .catch(() => undefined)
      .finally(() => {
        this.active -= 1;
        if (this.active === 0) this.release();
      });
  }

  whenIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
