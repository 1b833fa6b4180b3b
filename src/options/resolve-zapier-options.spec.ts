import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZapierConfigurationError } from '../errors/zapier-configuration.error.js';
import { ZapierMessages } from '../zapier.messages.js';
import { resolveZapierOptions } from './resolve-zapier-options.js';

describe('resolveZapierOptions', () => {
  it('applies the documented defaults', () => {
    const options = resolveZapierOptions({});
    assert.equal(options.apiBaseUrl, 'https://api.zapier.com');
    assert.equal(options.jwksUrl, 'https://zapier.com/.well-known/jwks.json');
    assert.equal(options.clockToleranceSeconds, 30);
    assert.deepEqual(options.algorithms, ['RS256']);
    assert.equal(options.callbackBodyLimit, 20 * 1024 * 1024);
    assert.equal(options.responseBodyLimit, 20 * 1024 * 1024);
    assert.equal(options.createBodyShape, 'reference');
    assert.deepEqual(options.jwks, {
      timeoutMs: 5000,
      cacheMaxAgeMs: 600_000,
      minRefetchIntervalMs: 1000,
      maxBackoffMs: 30_000,
    });
    assert.deepEqual(options.polling, {
      enabled: true,
      intervalMs: 10_000,
      overdueAfterMs: 300_000,
      maxRequestsPerMinute: 50,
      initialBackoffMs: 60_000,
      maxBackoffMs: 1_800_000,
      retentionMs: 7 * 24 * 3600 * 1000,
      notFoundGraceMs: 600_000,
      cooldownMs: 60_000,
      maxCooldownMs: 900_000,
      authErrorPauseMs: 60_000,
      leaseMs: 30_000,
    });
    assert.deepEqual(options.delivery, {
      sweepIntervalMs: 5000,
      leaseMs: 30_000,
      maxAttempts: 10,
      retryBaseDelayMs: 5000,
      maxRetryDelayMs: 600_000,
      concurrency: 64,
      timeoutMs: 60_000,
    });
    assert.deepEqual(options.resultLimits, { maxDepth: 64, maxValues: 1_000_000 });
    assert.deepEqual(options.storage, { statementTimeoutMs: 10_000, sqliteBusyTimeoutMs: 1000 });
    assert.match(options.instanceId, /^.+:\d+:[0-9a-f]{6}$/);
  });

  it('keeps the result limits given, each defaulted on its own', () => {
    assert.deepEqual(resolveZapierOptions({ resultLimits: { maxDepth: 1000 } }).resultLimits, {
      maxDepth: 1000,
      maxValues: 1_000_000,
    });
    assert.deepEqual(resolveZapierOptions({ resultLimits: { maxValues: 10 } }).resultLimits, {
      maxDepth: 64,
      maxValues: 10,
    });
  });

  it('keeps what is given and trims a trailing slash off the API URL', () => {
    const token = () => 'fresh';
    const options = resolveZapierOptions({
      apiBaseUrl: 'http://127.0.0.1:4000/',
      accessToken: token,
      polling: { maxRequestsPerMinute: 120 },
    });
    assert.equal(options.apiBaseUrl, 'http://127.0.0.1:4000');
    assert.equal(options.accessToken, token);
    assert.equal(options.polling.maxRequestsPerMinute, 120);
    assert.equal(options.polling.intervalMs, 10_000);
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['polling.intervalMs', { polling: { intervalMs: 1.5 } }, 'an integer of at least 10'],
    [
      'polling.maxRequestsPerMinute',
      { polling: { maxRequestsPerMinute: 0 } },
      'an integer of at least 1',
    ],
    ['delivery.leaseMs', { delivery: { leaseMs: 'long' } }, 'an integer of at least 100'],
    ['delivery.timeoutMs', { delivery: { timeoutMs: 0 } }, 'an integer of at least 10'],
    [
      'delivery.timeoutMs',
      { delivery: { timeoutMs: 2 ** 31 } },
      'an integer of at least 10 and at most 2147483647 (24.8 days)',
    ],
    ['polling.enabled', { polling: { enabled: 'yes' } }, 'true or false'],
    [
      'storage.statementTimeoutMs',
      { storage: { statementTimeoutMs: 0 } },
      'an integer of at least 1',
    ],
    [
      'storage.sqliteBusyTimeoutMs',
      { storage: { sqliteBusyTimeoutMs: -1 } },
      'an integer of at least 0',
    ],
    ['createBodyShape', { createBodyShape: 'nested' }, 'one of reference, flat'],
    ['jwks.cacheMaxAgeMs', { jwks: { cacheMaxAgeMs: Number.NaN } }, 'an integer of at least 1000'],
    [
      'polling.maxCooldownMs',
      { polling: { maxCooldownMs: 59_999 } },
      'an integer of at least 60000',
    ],
    ['resultLimits.maxDepth', { resultLimits: { maxDepth: 0 } }, 'an integer of at least 1'],
    ['resultLimits.maxDepth', { resultLimits: { maxDepth: 1001 } }, 'an integer from 1 to 1000'],
    ['resultLimits.maxValues', { resultLimits: { maxValues: 2.5 } }, 'an integer of at least 1'],
    [
      'resultLimits',
      { resultLimits: 64 },
      'an object such as { maxDepth: 64, maxValues: 1000000 }',
    ],
  ];
  for (const [path, options, expected] of invalid) {
    it(`names ${path} when it is invalid`, () => {
      assert.throws(
        () => resolveZapierOptions(options),
        (error: unknown) =>
          error instanceof ZapierConfigurationError &&
          error.message ===
            ZapierMessages.invalidOption(
              path,
              path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], options),
              expected,
            ),
      );
    });
  }

  /** The message `resolveZapierOptions(options)` throws. */
  function messageFor(options: Record<string, unknown>): string {
    try {
      resolveZapierOptions(options);
    } catch (error) {
      assert.ok(error instanceof ZapierConfigurationError, String(error));
      return error.message;
    }
    assert.fail('the options were accepted');
  }

  const TOKEN_EXPECTED = 'a non-empty string or a function returning one';
  for (const [name, token, shape] of [
    ['a number', 987_654_321, 'a number'],
    ['a blank string', '  \n\t ', 'a blank string of 5 characters'],
    ['an object', { value: 'sk_live_hunter2' }, 'an object'],
    ['a list', ['sk_live_hunter2'], 'an array'],
    ['null', null, 'null'],
  ] as const) {
    it(`never shows an access token that is ${name}, only its shape`, () => {
      const message = messageFor({ accessToken: token });
      assert.equal(message, ZapierMessages.invalidOption('accessToken', token, TOKEN_EXPECTED));
      assert.ok(message.includes(`"accessToken" is ${shape};`), message);
      assert.ok(!message.includes('987654321') && !message.includes('hunter2'), message);
    });
  }

  it('shows an empty access token as an empty string', () => {
    assert.ok(messageFor({ accessToken: '' }).includes('"accessToken" is an empty string;'));
  });

  it('hides secrets nested in a value it shows', () => {
    const issuer = { apiKey: 'sk_live_hunter2', name: 'zapier' };
    const message = messageFor({ issuer });
    assert.equal(
      message,
      ZapierMessages.invalidOption(
        'issuer',
        issuer,
        'a non-empty string or a non-empty list of them',
      ),
    );
    assert.ok(!message.includes('hunter2'), message);
    assert.ok(message.includes('"apiKey":"a string of 15 characters"'), message);
  });

  it('shows at most 100 characters of a long value, and its length', () => {
    const shape = 'x'.repeat(5000);
    const message = messageFor({ createBodyShape: shape });
    assert.equal(
      message,
      ZapierMessages.invalidOption('createBodyShape', shape, 'one of reference, flat'),
    );
    assert.ok(message.includes(`"${'x'.repeat(99)}… (5002 characters)`), message);
    assert.ok(message.length < 300, `${message.length} characters`);
  });

  it('refuses URLs Zapier would not serve, and http:// except on loopback', () => {
    assert.throws(() => resolveZapierOptions({ jwksUrl: 'http://zapier.com/jwks' }), /"jwksUrl"/);
    assert.throws(
      () => resolveZapierOptions({ apiBaseUrl: 'not a url' }),
      /"apiBaseUrl".*absolute URL/,
    );
    assert.doesNotThrow(() => resolveZapierOptions({ jwksUrl: 'http://localhost:9/jwks' }));
  });

  it('checks the callback URL with Zapier’s rules', () => {
    assert.throws(
      () => resolveZapierOptions({ callbackUrl: 'http://example.com/cb' }),
      /"callbackUrl"/,
    );
    assert.throws(
      () => resolveZapierOptions({ callbackUrl: 'https://192.168.1.2/cb' }),
      /"callbackUrl"/,
    );
    assert.equal(
      resolveZapierOptions({ callbackUrl: 'https://example.com/cb' }).callbackUrl,
      'https://example.com/cb',
    );
  });

  it('refuses symmetric algorithms, which would let the public key sign', () => {
    assert.throws(() => resolveZapierOptions({ algorithms: ['HS256'] }), /"algorithms"/);
    assert.throws(() => resolveZapierOptions({ algorithms: [] }), /"algorithms"/);
    assert.deepEqual(resolveZapierOptions({ algorithms: ['RS256', 'PS256'] }).algorithms, [
      'RS256',
      'PS256',
    ]);
  });

  it('refuses a backoff cap below the first gap', () => {
    assert.throws(
      () => resolveZapierOptions({ polling: { initialBackoffMs: 10_000, maxBackoffMs: 5000 } }),
      /"polling\.maxBackoffMs" is 5000; expected at least polling\.initialBackoffMs \(10000\)/,
    );
  });

  it('refuses a cooldown cap below the fallback cooldown, and takes one of a single window', () => {
    assert.throws(
      () => resolveZapierOptions({ polling: { cooldownMs: 120_000, maxCooldownMs: 90_000 } }),
      (error: unknown) =>
        error instanceof ZapierConfigurationError &&
        error.message ===
          ZapierMessages.invalidOption(
            'polling.maxCooldownMs',
            90_000,
            'at least polling.cooldownMs (120000)',
          ),
    );
    assert.throws(
      () => resolveZapierOptions({ polling: { maxCooldownMs: 90_000.5 } }),
      /"polling\.maxCooldownMs" is 90000\.5; expected an integer of at least 60000/,
    );
    assert.equal(
      resolveZapierOptions({ polling: { maxCooldownMs: 60_000 } }).polling.maxCooldownMs,
      60_000,
    );
  });

  it('refuses a JWKS backoff cap below the least refetch interval', () => {
    assert.throws(
      () => resolveZapierOptions({ jwks: { minRefetchIntervalMs: 2000, maxBackoffMs: 1000 } }),
      (error: unknown) =>
        error instanceof ZapierConfigurationError &&
        error.message ===
          ZapierMessages.invalidOption(
            'jwks.maxBackoffMs',
            1000,
            'at least jwks.minRefetchIntervalMs (2000)',
          ),
    );
  });

  it('refuses the import-time extras when a factory returns them', () => {
    for (const key of ['callbackPath', 'registerController', 'dataSource', 'isGlobal']) {
      assert.throws(
        () => resolveZapierOptions({ [key]: 'x' }),
        (error: unknown) => (error as Error).message === ZapierMessages.extraFromFactory(key),
      );
    }
  });
});
