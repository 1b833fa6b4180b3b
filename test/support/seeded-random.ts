/**
 * A small seeded PRNG (mulberry32) for fuzz loops: the same seed replays the same requests.
 * `FUZZ_SEED` picks the seed; otherwise one is drawn and must be printed on failure.
 */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** The seed from `FUZZ_SEED`, or a fresh one. */
  static fromEnv(): SeededRandom {
    const fromEnv = process.env.FUZZ_SEED;
    const seed =
      fromEnv === undefined ? Math.floor(Math.random() * 2 ** 31) : Number.parseInt(fromEnv, 10);
    return new SeededRandom(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** An integer in [min, max], small values much more likely (log-uniform). */
  size(min: number, max: number): number {
    const low = Math.log(min + 1);
    const high = Math.log(max + 1);
    return Math.min(max, Math.max(min, Math.floor(Math.exp(low + this.next() * (high - low)) - 1)));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [weight, value] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return choices[choices.length - 1][1];
  }

  bytes(length: number): Buffer {
    const buffer = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i += 1) buffer[i] = Math.floor(this.next() * 256);
    return buffer;
  }

  /** A string of `length` characters drawn from `alphabet`. */
  string(length: number, alphabet: string): string {
    let out = '';
    for (let i = 0; i < length; i += 1) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }
}
