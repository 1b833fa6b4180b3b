/** Limits on the shape of a callback's JSON, checked on its bytes before it is parsed. */
export interface JsonShapeLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most elements: array items and object members, counted together. */
  maxValues: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * Measures JSON as its bytes stream in, in one pass and constant memory, so that a body nested
 * thousands deep or holding millions of tiny elements is refused before `JSON.parse` turns it into
 * hundreds of megabytes of heap (a 20 MiB `[{},{},…]` is about 7 million objects). Only structure
 * is counted: strings are skipped, their escapes included. It does not validate the JSON; the
 * parser still does that, on input this has already bounded.
 */
export class JsonShapeScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private elements = 0;

  constructor(private readonly limits: JsonShapeLimits) {}

  /** Elements seen so far; each costs heap once parsed, whatever its size in bytes. */
  get elementCount(): number {
    return this.elements;
  }

  /** Scans the next chunk; returns what is wrong once a limit is passed (and stays wrong). */
  push(chunk: Uint8Array): 'depth' | 'values' | undefined {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      switch (byte) {
        case QUOTE:
          this.inString = true;
          break;
        case OPEN_BRACE:
        case OPEN_BRACKET:
          this.depth += 1;
          this.elements += 1;
          if (this.depth > this.limits.maxDepth) return 'depth';
          break;
        case CLOSE_BRACE:
        case CLOSE_BRACKET:
          this.depth -= 1;
          break;
        // Every element after a container's first is preceded by a comma, and every object
        // member has a colon: together with the containers they bound the element count.
        case COMMA:
        case COLON:
          this.elements += 1;
          break;
      }
      if (this.elements > this.limits.maxValues) return 'values';
    }
    return undefined;
  }
}
