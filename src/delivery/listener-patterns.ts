import type { EventEmitter2 } from '@nestjs/event-emitter';

/** The two settings of the host's emitter that decide which names a listener's pattern receives. */
export interface EventRouting {
  /** Whether `*` and `**` segments are wildcards; without it every pattern is a literal name. */
  wildcard: boolean;
  /** What separates the segments of a name. */
  delimiter: string;
}

/** What `@OnEvent()` accepts as its first argument. */
export type ListenerPattern = string | symbol | Array<string | symbol>;

/** Which names a listener's pattern receives, measured against the module's own events. */
export type ListenerReach =
  /** None of the module's events. */
  | { kind: 'none' }
  /** Some of the module's events and nothing outside the module's namespace. */
  | { kind: 'ours'; event: string }
  /** Some of the module's events, and names outside the module's namespace too. */
  | { kind: 'shared'; event: string };

/** The module's event names and the namespace they live in (`zapier`: that name and `zapier.…`). */
export interface OwnEvents {
  events: readonly string[];
  namespace: string;
}

/**
 * How the emitter routes names. EventEmitter2 keeps them on the instance, as the fields its own
 * `on()` and `emit()` read: `wildcard` is set when the option is on, `delimiter` is `'.'` on the
 * prototype unless the option names another (`configure()` in
 * https://github.com/EventEmitter2/EventEmitter2/blob/master/lib/eventemitter2.js).
 */
export function readEventRouting(emitter: EventEmitter2): EventRouting {
  const fields = emitter as unknown as { wildcard?: unknown; delimiter?: unknown };
  return {
    wildcard: Boolean(fields.wildcard),
    delimiter:
      typeof fields.delimiter === 'string' && fields.delimiter !== '' ? fields.delimiter : '.',
  };
}

/**
 * Whether a listener on `pattern` hears `name` when it is emitted as a string: `*` matches one
 * segment, `**` any number of segments, none included.
 */
export function receives(pattern: ListenerPattern, name: string, routing: EventRouting): boolean {
  return hears(pattern, name, routing, false);
}

/**
 * `receives`, widened where EventEmitter2's tree search strays from those rules: a `*` next to a
 * `**` can match nothing at the end of a name (`a.*.**` hears `a`). A superset, so that no
 * listener that might hear the module's events is taken for one that cannot.
 */
function mayReceive(pattern: ListenerPattern, name: string, routing: EventRouting): boolean {
  return hears(pattern, name, routing, true);
}

function hears(
  pattern: ListenerPattern,
  name: string,
  routing: EventRouting,
  widened: boolean,
): boolean {
  if (!routing.wildcard) return literalKey(pattern) === name;
  let segments = segmentsOf(pattern, routing);
  // EventEmitter2 drops a listener whose pattern has two `**` in a row without a word.
  if (segments.some((segment, i) => segment === '**' && segments[i + 1] === '**')) return false;
  if (widened) segments = collapseWildcardRuns(segments);
  return matchSegments(segments, name.split(routing.delimiter));
}

/**
 * Sorts a listener by what it can hear. `ours` only when every name its pattern can match is in
 * the module's namespace; when in doubt, `shared`.
 */
export function classifyListener(
  pattern: ListenerPattern,
  routing: EventRouting,
  own: OwnEvents,
): ListenerReach {
  const event = own.events.find((name) => mayReceive(pattern, name, routing));
  if (event === undefined) return { kind: 'none' };
  // Without wildcards, or without a wildcard segment, the pattern names exactly one event.
  if (!routing.wildcard) return { kind: 'ours', event };
  const segments = segmentsOf(pattern, routing);
  const first = segments.findIndex((segment) => segment === '*' || segment === '**');
  if (first === -1) return { kind: 'ours', event };
  if (first === 0) return { kind: 'shared', event };
  // It received one of our names, so the segments before the first wildcard are strings, and
  // every name it matches is `head` or starts with `head + delimiter`.
  const head = (segments.slice(0, first) as string[]).join(routing.delimiter);
  const onlyOurs =
    inNamespace(head, own.namespace) && (head + routing.delimiter).startsWith(`${own.namespace}.`);
  return { kind: onlyOurs ? 'ours' : 'shared', event };
}

/** The pattern as it reads in `@OnEvent()`, for messages. */
export function formatPattern(pattern: ListenerPattern): string {
  if (Array.isArray(pattern)) return `[${pattern.map(formatSegment).join(', ')}]`;
  return formatSegment(pattern);
}

function formatSegment(segment: string | symbol): string {
  return typeof segment === 'string' ? `"${segment}"` : String(segment);
}

function inNamespace(name: string, namespace: string): boolean {
  return name === namespace || name.startsWith(`${namespace}.`);
}

/** The key a listener is stored under when wildcards are off (a plain object key). */
function literalKey(pattern: ListenerPattern): string | undefined {
  if (typeof pattern === 'string') return pattern;
  // An array becomes the key `String(array)`; one holding a symbol cannot be made a key at all.
  if (Array.isArray(pattern) && pattern.every((segment) => typeof segment === 'string')) {
    return pattern.join(',');
  }
  return undefined;
}

/** With wildcards, a string is split on the delimiter; an array already is the segments. */
function segmentsOf(pattern: ListenerPattern, routing: EventRouting): Array<string | symbol> {
  if (typeof pattern === 'string') return pattern.split(routing.delimiter);
  return Array.isArray(pattern) ? pattern : [pattern];
}

/** Each run of wildcard segments that holds a `**` becomes one `**`. */
function collapseWildcardRuns(segments: Array<string | symbol>): Array<string | symbol> {
  const collapsed: Array<string | symbol> = [];
  let run: Array<string | symbol> = [];
  for (const segment of [...segments, undefined]) {
    if (segment === '*' || segment === '**') {
      run.push(segment);
      continue;
    }
    collapsed.push(...(run.includes('**') ? ['**'] : run));
    run = [];
    if (segment !== undefined) collapsed.push(segment);
  }
  return collapsed;
}

function matchSegments(pattern: ReadonlyArray<string | symbol>, name: readonly string[]): boolean {
  if (pattern.length === 0) return name.length === 0;
  const [head, ...rest] = pattern;
  if (head === '**') {
    for (let skipped = 0; skipped <= name.length; skipped++) {
      if (matchSegments(rest, name.slice(skipped))) return true;
    }
    return false;
  }
  if (name.length === 0) return false;
  return (head === '*' || head === name[0]) && matchSegments(rest, name.slice(1));
}
