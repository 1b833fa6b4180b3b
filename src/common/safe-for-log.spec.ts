import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_LOGGED_LENGTH, safeForLog } from './safe-for-log.js';

describe('safeForLog', () => {
  it('leaves plain ASCII as it is, backslashes and quotes included', () => {
    const plain = `arun_01HZX-9 "quoted" 'single' \\n is two characters ~!@#$%^&*()`;
    assert.equal(safeForLog(plain), plain);
    assert.equal(safeForLog(''), '');
  });

  it('leaves printable non-ASCII text as it is', () => {
    assert.equal(safeForLog('café – 東京 🚀'), 'café – 東京 🚀');
  });

  it('escapes CR and LF, so a value cannot start a forged line', () => {
    assert.equal(
      safeForLog('run_1\r\n[FAKE] admin logged in'),
      'run_1\\u{d}\\u{a}[FAKE] admin logged in',
    );
  });

  it('escapes the ESC of ANSI sequences', () => {
    assert.equal(safeForLog('\u001b[31mred\u001b[0m'), '\\u{1b}[31mred\\u{1b}[0m');
  });

  it('escapes NUL, tab, DEL and the C1 controls', () => {
    assert.equal(
      safeForLog('a\u0000b\tc\u007fd\u0085e\u009bf'),
      'a\\u{0}b\\u{9}c\\u{7f}d\\u{85}e\\u{9b}f',
    );
  });

  it('escapes the Unicode line and paragraph separators', () => {
    assert.equal(safeForLog('a\u2028b\u2029c'), 'a\\u{2028}b\\u{2029}c');
  });

  it('escapes bidirectional overrides, embeddings, isolates and marks', () => {
    assert.equal(safeForLog('run\u202egpj.exe'), 'run\\u{202e}gpj.exe');
    assert.equal(
      safeForLog('\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c'),
      '\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{2066}\\u{2067}\\u{2068}\\u{2069}\\u{200e}\\u{200f}\\u{61c}',
    );
  });

  it('escapes a lone surrogate but keeps a pair', () => {
    assert.equal(safeForLog('a\ud800b\udc00c😀'), 'a\\u{d800}b\\u{dc00}c😀');
  });

  it(`shows ${MAX_LOGGED_LENGTH} code points whole, so a valid run id is never cut`, () => {
    const exact = 'x'.repeat(MAX_LOGGED_LENGTH);
    assert.equal(safeForLog(exact), exact);
    const emoji = '😀'.repeat(MAX_LOGGED_LENGTH);
    assert.equal(safeForLog(emoji), emoji);
  });

  it('cuts a longer value and names its full length', () => {
    const long = 'y'.repeat(10_000);
    assert.equal(safeForLog(long), `${'y'.repeat(MAX_LOGGED_LENGTH)}… (10000 characters)`);
    assert.equal(safeForLog('abcdef', 3), 'abc… (6 characters)');
  });

  it('cuts between code points, never inside a surrogate pair', () => {
    assert.equal(safeForLog('😀😀😀😀', 2), '😀😀… (4 characters)');
  });

  it('escapes within the part it keeps', () => {
    assert.equal(safeForLog('\n'.repeat(5), 2), '\\u{a}\\u{a}… (5 characters)');
  });

  it('returns one line with no control character for any input', () => {
    const all = Array.from({ length: 0x3000 }, (_, i) => String.fromCharCode(i)).join('');
    const shown = safeForLog(all, Infinity);
    assert.doesNotMatch(shown, /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u);
  });
});
