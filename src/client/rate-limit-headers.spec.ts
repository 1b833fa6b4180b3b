import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWaitHeader, retryAfterMs } from './rate-limit-headers.js';

const headers = (values: Record<string, string>) => new Headers(values);
const NOW = Date.parse('2026-11-27T12:00:00Z');

describe('parseWaitHeader', () => {
  it('reads seconds from now, integer or decimal', () => {
    assert.equal(parseWaitHeader('17', NOW), 17_000);
    assert.equal(parseWaitHeader(' 60 ', NOW), 60_000);
    assert.equal(parseWaitHeader('1.5', NOW), 1500);
    assert.equal(parseWaitHeader('0.0001', NOW), 1);
    assert.equal(parseWaitHeader('0', NOW), 0);
  });

  it('reads the three HTTP-date forms', () => {
    assert.equal(parseWaitHeader('Fri, 27 Nov 2026 12:00:45 GMT', NOW), 45_000);
    assert.equal(parseWaitHeader('Friday, 27-Nov-26 12:00:45 GMT', NOW), 45_000);
    assert.equal(parseWaitHeader('Fri Nov 27 12:00:45 2026', NOW), 45_000);
  });

  it('reads an epoch in seconds or in milliseconds, told apart by magnitude', () => {
    assert.equal(parseWaitHeader(String(NOW / 1000 + 30), NOW), 30_000);
    assert.equal(parseWaitHeader(String(NOW / 1000 + 30.25), NOW), 30_250);
    assert.equal(parseWaitHeader(String(NOW + 30_000), NOW), 30_000);
    assert.equal(parseWaitHeader(`${NOW + 1234}.5`, NOW), 1235);
  });

  it('sets the boundaries relative to the clock, not to today', () => {
    // A clock at 29 000 000 ms: epoch ms from now / 10, epoch seconds from now / 10_000.
    const now = 29_000_000;
    assert.equal(parseWaitHeader('2899', now), 2_899_000, 'below 2900: seconds from now');
    assert.equal(parseWaitHeader('30000', now), 1_000_000, 'from 2900: epoch seconds');
    assert.equal(parseWaitHeader('2900', now), null, 'epoch second 2900 is past');
    assert.equal(parseWaitHeader('30000000', now), 1_000_000, 'from 2 900 000: epoch ms');
    assert.equal(parseWaitHeader('2900000', now), null, 'epoch ms 2 900 000 is past');
  });

  it('gives null for a moment already past', () => {
    assert.equal(parseWaitHeader('Fri, 27 Nov 2026 11:59:00 GMT', NOW), null);
    assert.equal(parseWaitHeader(String(NOW / 1000 - 1), NOW), null);
    assert.equal(parseWaitHeader(String(NOW - 1), NOW), null);
    // An epoch in ms from 1990 is far in the past, not 20 000 years of seconds.
    assert.equal(parseWaitHeader(String(Date.UTC(1990, 0, 1)), NOW), null);
  });

  it('gives null for junk, negatives and NaN', () => {
    for (const junk of [
      '',
      '   ',
      'soon',
      'soon 5',
      '-5',
      '-0.5',
      '+5',
      '1e3',
      'NaN',
      'Infinity',
      '5s',
      '5 seconds',
      '1.',
      '.5',
      '0x10',
      '12, 13',
      'Mon, 2',
      'Fri, 99 Nov 2026 12:00:45 GMT',
      '2026-11-27T12:05:00Z',
      'Fri, 27 Nov 2026 12:05:00 +0100',
    ]) {
      assert.equal(parseWaitHeader(junk, NOW), null, JSON.stringify(junk));
    }
    assert.equal(parseWaitHeader(null, NOW), null);
    assert.equal(parseWaitHeader(undefined, NOW), null);
  });

  it('passes a huge wait through uncapped (the budget clamps it)', () => {
    // An epoch in ms read as seconds would be 56 000 years; read by magnitude it is 5 minutes.
    assert.equal(parseWaitHeader(String(NOW + 300_000), NOW), 300_000);
    assert.equal(parseWaitHeader('99999999', NOW), 99_999_999_000);
    assert.equal(parseWaitHeader('9'.repeat(30), NOW), Math.ceil(Number('9'.repeat(30)) - NOW));
    assert.equal(parseWaitHeader('Fri, 31 Dec 9999 23:59:59 GMT', NOW), 253_402_300_799_000 - NOW);
    assert.equal(parseWaitHeader('9'.repeat(400), NOW), null, 'not a finite number');
  });
});

describe('retryAfterMs', () => {
  it('prefers Retry-After, then X-RateLimit-Reset, then the fallback', () => {
    assert.equal(
      retryAfterMs(headers({ 'retry-after': '5', 'x-ratelimit-reset': '50' }), NOW, 60_000),
      5000,
    );
    const epoch = String(NOW / 1000 + 30);
    assert.equal(retryAfterMs(headers({ 'x-ratelimit-reset': epoch }), NOW, 60_000), 30_000);
    assert.equal(retryAfterMs(headers({ 'x-ratelimit-reset': '12' }), NOW, 60_000), 12_000);
    assert.equal(
      retryAfterMs(headers({ 'x-ratelimit-reset': String(NOW + 9000) }), NOW, 60_000),
      9000,
    );
    assert.equal(retryAfterMs(headers({}), NOW, 60_000), 60_000);
  });

  it('falls through a Retry-After it cannot use to X-RateLimit-Reset, then to the fallback', () => {
    const reset = String(NOW / 1000 + 20);
    for (const bad of ['soon', '-1', 'NaN', 'Fri, 27 Nov 2026 11:59:00 GMT', String(NOW - 5)]) {
      assert.equal(
        retryAfterMs(headers({ 'retry-after': bad, 'x-ratelimit-reset': reset }), NOW, 60_000),
        20_000,
        bad,
      );
      assert.equal(
        retryAfterMs(
          headers({ 'retry-after': bad, 'x-ratelimit-reset': String(NOW / 1000 - 20) }),
          NOW,
          60_000,
        ),
        60_000,
        `${bad}, with a past reset`,
      );
    }
  });

  it('reads every form in X-RateLimit-Reset too', () => {
    const reset = (value: string) =>
      retryAfterMs(headers({ 'x-ratelimit-reset': value }), NOW, 60_000);
    assert.equal(reset('Fri, 27 Nov 2026 12:00:10 GMT'), 10_000);
    assert.equal(reset(String(NOW + 10_000)), 10_000);
    assert.equal(reset('2.5'), 2500);
    assert.equal(reset('junk'), 60_000);
  });
});
