import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpStatus, type HttpException } from '@nestjs/common';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import type { ZapierModuleOptions } from '../interfaces/zapier-module-options.interface.js';
import { ZapierSandbox } from '../testing/index.js';
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

describe('ZapierSignatureVerifier', () => {
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
