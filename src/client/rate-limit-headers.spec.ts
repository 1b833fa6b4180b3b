import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryAfterMs } from './rate-limit-headers.js';

const headers = (values: Record<string, string>) => new Headers(values);
const NOW = Date.parse('2026-11-27T12:00:00Z');

describe('retryAfterMs', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    assert.equal(retryAfterMs(headers({ 'retry-after': '17' }), NOW, 60_000), 17_000);
    assert.equal(retryAfterMs(headers({ 'retry-after': '1.5' }), NOW, 60_000), 1500);
    assert.equal(
      retryAfterMs(headers({ 'retry-after': 'Fri, 27 Nov 2026 12:00:45 GMT' }), NOW, 60_000),
      45_000,
    );
    assert.equal(
      retryAfterMs(headers({ 'retry-after': 'Fri, 27 Nov 2026 11:59:00 GMT' }), NOW, 60_000),
      0,
    );
  });

  it('falls back to X-RateLimit-Reset as an epoch or a delta, then to the default', () => {
    const epoch = String(NOW / 1000 + 30);
    assert.equal(retryAfterMs(headers({ 'x-ratelimit-reset': epoch }), NOW, 60_000), 30_000);
    assert.equal(retryAfterMs(headers({ 'x-ratelimit-reset': '12' }), NOW, 60_000), 12_000);
    assert.equal(retryAfterMs(headers({ 'retry-after': 'soon' }), NOW, 60_000), 60_000);
    assert.equal(retryAfterMs(headers({}), NOW, 60_000), 60_000);
  });

  it('prefers Retry-After over X-RateLimit-Reset', () => {
    assert.equal(
      retryAfterMs(headers({ 'retry-after': '5', 'x-ratelimit-reset': '50' }), NOW, 60_000),
      5000,
    );
  });
});
