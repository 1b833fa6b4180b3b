/** Header access shared by fetch's `Headers` and plain objects. */
export interface HeaderReader {
  get(name: string): string | null;
}

const NUMBER = /^\d+(\.\d+)?$/;
const DAY = '(Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
/**
 * The three HTTP-date forms of RFC 9110 §5.6.7 (https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7):
 * IMF-fixdate, RFC 850 and asctime. `Date.parse` alone is far too lenient ("soon 5" is a date in
 * 2001 to V8), so a value must match one of them first.
 */
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`);
const RFC_850 = new RegExp(`^${DAY}[a-z]{0,6}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`);

/**
 * How long a header value asks us to wait from `now`, in ms; `null` when it names no usable wait
 * (empty, negative, not a number or an HTTP date, or a moment already past).
 *
 * A plain number is read by its magnitude relative to `now` (ms since the epoch), since servers
 * send all three forms and none is marked:
 * - at least `now / 10`: **epoch milliseconds** (an epoch in ms is about `now`; the nearest other
 *   reading, epoch seconds, is about `now / 1000`);
 * - else at least `now / 10_000`: **epoch seconds** (about `now / 1000`; as a delta it would be
 *   over 5 years today);
 * - else: **seconds from now**, integer or decimal.
 * Anything else must be an HTTP date. The result is not capped here: the budget clamps every
 * cooldown to `polling.maxCooldownMs`.
 */
export function parseWaitHeader(value: string | null | undefined, now: number): number | null {
  const text = value?.trim();
  if (!text) return null;
  if (NUMBER.test(text)) {
    const number = Number(text);
    if (!Number.isFinite(number)) return null;
    let wait: number;
    if (number >= now / 10) wait = number - now;
    else if (number >= now / 10_000) wait = number * 1000 - now;
    else wait = number * 1000;
    return wait >= 0 && Number.isFinite(wait) ? Math.ceil(wait) : null;
  }
  let date = Number.NaN;
  if (IMF_FIXDATE.test(text) || RFC_850.test(text)) date = Date.parse(text);
  // asctime carries no zone; HTTP dates are always GMT.
  else if (ASCTIME.test(text)) date = Date.parse(`${text} GMT`);
  if (Number.isNaN(date) || date < now) return null;
  return date - now;
}

/**
 * How long Zapier asks us to wait after a 429, in ms (docs/decisions.md#f4): `Retry-After`, else
 * `X-RateLimit-Reset`, each in any form {@link parseWaitHeader} reads; a value it cannot use
 * falls through to the next source, the last being `fallbackMs` (`polling.cooldownMs`). Never
 * negative; not capped (the budget does that).
 */
export function retryAfterMs(headers: HeaderReader, now: number, fallbackMs: number): number {
  return (
    parseWaitHeader(headers.get('retry-after'), now) ??
    parseWaitHeader(headers.get('x-ratelimit-reset'), now) ??
    fallbackMs
  );
}
