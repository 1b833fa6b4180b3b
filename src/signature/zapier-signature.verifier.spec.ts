import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpStatus, type HttpException } from '@nestjs/common';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import type { ZapierModuleOptions } from '../interfaces/zapier-module-options.interface.js';
import { ZapierSandbox } from '../testing/index.js';
import type { SandboxJwksBehaviour } from '../testing/zapier-sandbox.interfaces.js';
import { ZAPIER_JWKS_MAX_BYTES } from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import { captureNestLogs } from '../../test/support/spec-context.js';
import { ZapierSignatureVerifier } from './zapier-signature.verifier.js';

const seconds = (ms: number) => Math.floor(ms / 1000);

function verifierFor(
  jwksUrl: string,
  options: Partial<ZapierModuleOptions> = {},
  clock = { now: () => Date.now() },
) {
  return new ZapierSignatureVerifier(
    resolveZapierOptions({ jwksUrl, jwks: { timeoutMs: 300 }, ...options }),
    clock,
  );
}

async function statusOf(promise: Promise<unknown>): Promise<HttpStatus> {
  try {
    await promise;
    return 200;
  } catch (error) {
    return (error as HttpException).getStatus();
  }
}

/** What `JSON.parse` says about `text`: the reason a JWKS serving it is logged with. */
function syntaxErrorOf(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} parses`);
}

/** A clock that moves only when told to. */
function manualClock() {
  let now = Date.now();
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('ZapierSignatureVerifier', () => {
  const logs = captureNestLogs();
  let sandbox: ZapierSandbox;
  before(async () => {
    sandbox = await ZapierSandbox.start({ rateLimit: false });
  });
  after(() => sandbox.stop());

  it('allows the configured clock tolerance around exp and not a second more', async () => {
    const now = Date.now();
    const verifier = verifierFor(
      sandbox.jwksUrl,
      { clockToleranceSeconds: 30 },
      { now: () => now },
    );
    const expiredAgo = (s: number) =>
      sandbox.signer.sign({ issuedAt: seconds(now) - 300 - s, expiresInSeconds: 300 });
    assert.equal(await statusOf(verifier.verify(await expiredAgo(10))), 200);
    assert.equal(await statusOf(verifier.verify(await expiredAgo(29))), 200);
    assert.equal(await statusOf(verifier.verify(await expiredAgo(32))), HttpStatus.UNAUTHORIZED);
  });

  it('checks iss and aud only when configured', async () => {
    const strict = verifierFor(sandbox.jwksUrl, { issuer: 'zapier', audience: 'my-app' });
    const loose = verifierFor(sandbox.jwksUrl);
    const good = await sandbox.signer.sign({ claims: { iss: 'zapier', aud: 'my-app' } });
    const wrongAudience = await sandbox.signer.sign({ claims: { iss: 'zapier', aud: 'other' } });
    const none = await sandbox.signer.sign();
    assert.equal(await statusOf(strict.verify(good)), 200);
    assert.equal(await statusOf(strict.verify(wrongAudience)), HttpStatus.UNAUTHORIZED);
    assert.equal(await statusOf(strict.verify(none)), HttpStatus.UNAUTHORIZED);
    assert.equal(await statusOf(loose.verify(wrongAudience)), 200);
  });

  it('rejects an RS256 token when only other algorithms are allowed', async () => {
    const verifier = verifierFor(sandbox.jwksUrl, { algorithms: ['PS256'] });
    assert.equal(
      await statusOf(verifier.verify(await sandbox.signer.sign())),
      HttpStatus.UNAUTHORIZED,
    );
  });

  it('fetches the key set once for 20 concurrent callbacks on a cold cache', async () => {
    const verifier = verifierFor(sandbox.jwksUrl);
    const before = sandbox.jwksRequests;
    const token = await sandbox.signer.sign();
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () => statusOf(verifier.verify(token))),
    );
    assert.deepEqual(statuses, Array(20).fill(200));
    assert.equal(sandbox.jwksRequests - before, 1);
  });

  it('fetches at most about once a second under a flood of unknown kids', async () => {
    const verifier = verifierFor(sandbox.jwksUrl);
    await verifier.verify(await sandbox.signer.sign());
    const before = sandbox.jwksRequests;
    const started = Date.now();
    const flood = async () =>
      Promise.all(
        Array.from({ length: 50 }, async (_, i) =>
          statusOf(
            verifier.verify(await sandbox.signer.sign({ kid: `random-${Math.random()}-${i}` })),
          ),
        ),
      );
    const statuses = [...(await flood()), ...(await flood())];
    const elapsed = (Date.now() - started) / 1000;
    assert.ok(statuses.every((status) => status === HttpStatus.UNAUTHORIZED));
    const fetches = sandbox.jwksRequests - before;
    assert.ok(fetches >= 1, 'an unknown kid triggers a refetch');
    assert.ok(fetches <= Math.ceil(elapsed) + 1, `${fetches} fetches in ${elapsed} s`);
  });

  for (const behaviour of ['error-503', 'hang', 'invalid-json', 'redirect'] as const) {
    it(`answers 503 when the JWKS endpoint ${behaviour === 'hang' ? 'hangs' : `answers ${behaviour}`} and no keys are known`, async () => {
      sandbox.setJwksBehaviour(behaviour);
      try {
        const verifier = verifierFor(sandbox.jwksUrl);
        const started = Date.now();
        assert.equal(
          await statusOf(verifier.verify(await sandbox.signer.sign())),
          HttpStatus.SERVICE_UNAVAILABLE,
        );
        assert.ok(Date.now() - started < 1300, 'within the fetch timeout plus a second');
      } finally {
        sandbox.setJwksBehaviour('ok');
      }
    });
  }

  /** Statuses of `count` concurrent verifications of `token`, and the JWKS fetches they made. */
  async function burst(verifier: ZapierSignatureVerifier, token: string, count = 50) {
    const before = sandbox.jwksRequests;
    const statuses = await Promise.all(
      Array.from({ length: count }, () => statusOf(verifier.verify(token))),
    );
    return { statuses: new Set(statuses), fetches: sandbox.jwksRequests - before };
  }

  const failing: [SandboxJwksBehaviour, string][] = [
    ['error-503', ZapierMessages.jwksStatus(503)],
    ['invalid-json', syntaxErrorOf('{"keys": [')],
    ['keys-null', 'ERR_JWKS_INVALID: JSON Web Key Set malformed'],
    ['oversized', ZapierMessages.jwksTooLarge(ZAPIER_JWKS_MAX_BYTES)],
  ];
  for (const [behaviour, reason] of failing) {
    it(`on a cold start with a JWKS answering ${behaviour}, fetches once, then backs off answering 503 at once`, async () => {
      const clock = manualClock();
      const verifier = verifierFor(sandbox.jwksUrl, {}, clock);
      const token = await sandbox.signer.sign();
      sandbox.setJwksBehaviour(behaviour);
      try {
        assert.deepEqual(await burst(verifier, token), {
          statuses: new Set([HttpStatus.SERVICE_UNAVAILABLE]),
          fetches: 1,
        });
        assert.deepEqual(await burst(verifier, token), {
          statuses: new Set([HttpStatus.SERVICE_UNAVAILABLE]),
          fetches: 0,
        });
        sandbox.setJwksBehaviour('ok');
        clock.advance(500);
        assert.deepEqual(await burst(verifier, token, 1), {
          statuses: new Set([HttpStatus.SERVICE_UNAVAILABLE]),
          fetches: 0,
        });
        // Past the first backoff (1 s ± 20%): the next callbacks fetch once, and verify.
        clock.advance(800);
        assert.deepEqual(await burst(verifier, token), { statuses: new Set([200]), fetches: 1 });
      } finally {
        sandbox.setJwksBehaviour('ok');
      }
      assert.deepEqual(
        logs.entries.filter((entry) => entry.level === 'error').map((entry) => entry.message),
        [ZapierMessages.keysFetchFailed(sandbox.jwksUrl, reason)],
        'one error for the outage',
      );
      assert.equal(logs.find('log', ZapierMessages.keysReachableAgain(sandbox.jwksUrl)).length, 1);
    });
  }

  it('doubles the wait after each failed fetch, up to jwks.maxBackoffMs', async () => {
    const clock = manualClock();
    const verifier = verifierFor(sandbox.jwksUrl, { jwks: { maxBackoffMs: 3000 } }, clock);
    const token = await sandbox.signer.sign();
    sandbox.setJwksBehaviour('error-503');
    try {
      const fetchesAfter = async (ms: number) => {
        clock.advance(ms);
        return (await burst(verifier, token, 10)).fetches;
      };
      assert.equal(await fetchesAfter(0), 1);
      assert.equal(await fetchesAfter(1300), 1, 'second fetch after 1 s ± 20%');
      assert.equal(await fetchesAfter(1300), 0, 'the second wait is 2 s ± 20%');
      assert.equal(await fetchesAfter(1200), 1);
      // From the third wait on, 4 s capped at 3 s, then the jitter: 2.4 s to 3 s.
      assert.equal(await fetchesAfter(2300), 0, 'the third wait is capped');
      assert.equal(await fetchesAfter(800), 1);
      assert.equal(await fetchesAfter(2300), 0, 'it stays at the cap');
      assert.equal(await fetchesAfter(800), 1);
    } finally {
      sandbox.setJwksBehaviour('ok');
    }
    assert.deepEqual(
      logs.entries.filter((entry) => entry.level === 'error').map((entry) => entry.message),
      [ZapierMessages.keysFetchFailed(sandbox.jwksUrl, ZapierMessages.jwksStatus(503))],
    );
  });

  it('with stale keys and the JWKS down, verifies known kids and answers 503 at once to unknown ones', async () => {
    const clock = manualClock();
    const verifier = verifierFor(sandbox.jwksUrl, {}, clock);
    assert.equal(await statusOf(verifier.verify(await sandbox.signer.sign())), 200);
    sandbox.setJwksBehaviour('error-503');
    try {
      clock.advance(11 * 60_000);
      const known = await sandbox.signer.sign({ issuedAt: seconds(clock.now()) });
      const unknown = await sandbox.signer.sign({ issuedAt: seconds(clock.now()), kid: 'rotated' });
      // The first stale verification starts a background refresh, which fails.
      const before = sandbox.jwksRequests;
      assert.equal(await statusOf(verifier.verify(known)), 200);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(sandbox.jwksRequests - before, 1);
      assert.deepEqual(await burst(verifier, known), { statuses: new Set([200]), fetches: 0 });
      assert.deepEqual(await burst(verifier, unknown), {
        statuses: new Set([HttpStatus.SERVICE_UNAVAILABLE]),
        fetches: 0,
      });
    } finally {
      sandbox.setJwksBehaviour('ok');
    }
    assert.equal(
      logs.find(
        'error',
        ZapierMessages.keysRefreshFailed(sandbox.jwksUrl, ZapierMessages.jwksStatus(503)),
      ).length,
      1,
    );
  });

  it('answers 503 when nothing listens at the JWKS URL', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const verifier = verifierFor(`http://127.0.0.1:${port}/jwks.json`);
    assert.equal(
      await statusOf(verifier.verify(await sandbox.signer.sign())),
      HttpStatus.SERVICE_UNAVAILABLE,
    );
  });

  it('keeps accepting known keys while the JWKS is down, fresh or stale (stale-if-error)', async () => {
    let now = Date.now();
    const verifier = verifierFor(sandbox.jwksUrl, {}, { now: () => now });
    assert.equal(await statusOf(verifier.verify(await sandbox.signer.sign())), 200);
    sandbox.setJwksBehaviour('error-503');
    try {
      assert.equal(await statusOf(verifier.verify(await sandbox.signer.sign())), 200);
      now += 11 * 60_000;
      const token = await sandbox.signer.sign({ issuedAt: seconds(now) });
      assert.equal(await statusOf(verifier.verify(token)), 200);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await statusOf(verifier.verify(token)), 200);
    } finally {
      sandbox.setJwksBehaviour('ok');
    }
  });
});
