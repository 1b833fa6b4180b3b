import type { PhaseResult } from './bench-messages.js';

/** Counts and latencies of one phase of a load (warm-up, a round, or a fixed count). */
export class LatencyRecorder {
  completed = 0;
  ok = 0;
  errors = 0;
  private latencies = new Float64Array(1 << 14);

  record(latencyMs: number, ok: boolean): void {
    this.push(latencyMs);
    if (ok) this.ok += 1;
    else this.errors += 1;
  }

  /** Adds another recorder's requests (to pool the rounds). */
  absorb(other: LatencyRecorder): void {
    for (let i = 0; i < other.completed; i += 1) this.push(other.latencies[i]);
    this.ok += other.ok;
    this.errors += other.errors;
  }

  private push(latencyMs: number): void {
    if (this.completed === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.completed] = latencyMs;
    this.completed += 1;
  }

  result(durationMs: number): PhaseResult {
    const sorted = this.latencies.slice(0, this.completed).sort();
    return {
      completed: this.completed,
      ok: this.ok,
      errors: this.errors,
      durationMs,
      rate: durationMs > 0 ? (this.completed * 1000) / durationMs : 0,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
    };
  }
}

/** Nearest-rank percentile of sorted values (0 when empty). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** Median of numbers (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
