/**
 * The longest value shown whole: a run id may be 255 code points, and the messages that name a
 * run tell the reader to copy it (`ZapierRunsService.redeliver('…')`), so it must not be cut.
 */
export const MAX_LOGGED_LENGTH = 256;

/**
 * Characters that would let a value forge or hide log lines: C0 and C1 controls with DEL
 * (CR, LF, ESC of ANSI sequences, NUL), lone surrogates, the Unicode line and paragraph
 * separators, and the bidirectional marks, embeddings, overrides and isolates (CVE-2021-42574).
 */
const UNSAFE = /[\p{Cc}\p{Cs}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/**
 * A value from outside (a request, Zapier's answer, a driver's error) made fit for one log line:
 * every unsafe character becomes `\u{hex}` (a newline `\u{a}`, ESC `\u{1b}`), and a value over
 * `maxLength` code points is cut there and ends with `… (N characters)`, N its full length.
 * Printable text, backslashes included, is left as it is.
 */
export function safeForLog(value: string, maxLength = MAX_LOGGED_LENGTH): string {
  let shown = value;
  let suffix = '';
  // Code points never outnumber UTF-16 units, so a short value needs no counting.
  if (value.length > maxLength) {
    let points = 0;
    let units = 0;
    let cut = value.length;
    for (const char of value) {
      if (points === maxLength) cut = units;
      points += 1;
      units += char.length;
    }
    if (points > maxLength) {
      shown = value.slice(0, cut);
      suffix = `… (${points} characters)`;
    }
  }
  return shown.replace(UNSAFE, escapeCharacter) + suffix;
}

function escapeCharacter(char: string): string {
  return `\\u{${(char.codePointAt(0) ?? 0).toString(16)}}`;
}
