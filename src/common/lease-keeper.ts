import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';

/**
 * Keeps this instance's claims on rows alive while it works on them. A claim holds for `leaseMs`
 * unless renewed; the keeper renews every held claim each `leaseMs / 3`, in one call, so only a
 * dead instance's claims run out (and another instance takes the work over). The timer runs only
 * while something is held, and never keeps the process alive.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;

  constructor(
    private readonly leaseMs: number,
    private readonly clock: ZapierClock,
    /** Extends the claims on `ids` until `until`; a failure is reported, then retried next beat. */
    private readonly renew: (ids: string[], until: number) => Promise<void>,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Until when a claim taken now holds. */
  claimUntil(): number {
    return this.clock.now() + this.leaseMs;
  }

  /** Starts renewing the claim on `id` (counted: hold twice, release twice). */
  hold(id: string): void {
    this.held.set(id, (this.held.get(id) ?? 0) + 1);
    this.timer ??= setInterval(() => void this.beat(), Math.max(50, this.leaseMs / 3));
    this.timer.unref();
  }

  release(id: string): void {
    const count = (this.held.get(id) ?? 0) - 1;
    if (count > 0) this.held.set(id, count);
    else this.held.delete(id);
    if (this.held.size === 0) this.stop();
  }

  /** Runs `work` while holding the claim on `id`. */
  async while<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.hold(id);
    try {
      return await work();
    } finally {
      this.release(id);
    }
  }

  isHeld(id: string): boolean {
    return this.held.has(id);
  }

  get size(): number {
    return this.held.size;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    try {
      await this.renew([...this.held.keys()], this.claimUntil());
    } catch (error) {
      this.onError(error);
    } finally {
      this.renewing = false;
    }
  }
}
