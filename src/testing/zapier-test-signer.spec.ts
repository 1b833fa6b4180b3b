import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  exportSPKI,
  importJWK,
  jwtVerify,
  type JWTVerifyOptions,
} from 'jose';
import { forgeHs256Token, forgeUnsignedToken } from './forged-tokens.js';
import { ZapierTestSigner } from './zapier-test-signer.js';

const STRICT: JWTVerifyOptions = { requiredClaims: ['exp', 'iat'], algorithms: ['RS256'] };

async function verify(signer: ZapierTestSigner, token: string, options: JWTVerifyOptions = {}) {
  return jwtVerify(token, createLocalJWKSet(signer.jwks()), { ...STRICT, ...options });
}

/** Without an `algorithms` allow-list, so the JWKS key selection is what refuses the token. */
async function verifyAnyAlg(signer: ZapierTestSigner, token: string) {
  return jwtVerify(token, createLocalJWKSet(signer.jwks()), { requiredClaims: ['exp', 'iat'] });
}

async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
  assert.fail('expected a rejection');
}

void describe('ZapierTestSigner', () => {
  let signer: ZapierTestSigner;
  before(async () => {
    signer = await ZapierTestSigner.create();
  });

  void it('generates a sandbox-<8 hex> kid, or uses the one given', async () => {
    assert.match(signer.kid, /^sandbox-[0-9a-f]{8}$/);
    const named = await ZapierTestSigner.create({ kid: 'zapier-2026' });
    assert.equal(named.kid, 'zapier-2026');
  });

  void it('publishes one public RSA signing key', () => {
    const { keys } = signer.jwks();
    assert.equal(keys.length, 1);
    const [key] = keys;
    assert.equal(key?.kty, 'RSA');
    assert.equal(key?.kid, signer.kid);
    assert.equal(key?.alg, 'RS256');
    assert.equal(key?.use, 'sig');
    assert.equal(key?.d, undefined, 'the JWKS must not leak the private exponent');
  });

  void it('signs RS256 with kid, iat now and exp = iat + 300', async () => {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const token = await signer.sign();
    const { payload, protectedHeader } = await verify(signer, token);
    assert.deepEqual(protectedHeader, { alg: 'RS256', kid: signer.kid });
    assert.ok(payload.iat! >= nowSeconds && payload.iat! <= nowSeconds + 1, `iat ${payload.iat}`);
    assert.equal(payload.exp! - payload.iat!, 300);
  });

  void it('takes issuedAt as seconds or a Date, and expiresInSeconds', async () => {
    const fromSeconds = await verify(signer, await signer.sign({ issuedAt: 1_700_000_000 }), {
      currentDate: new Date(1_700_000_100_000),
    });
    assert.equal(fromSeconds.payload.iat, 1_700_000_000);
    assert.equal(fromSeconds.payload.exp, 1_700_000_300);
    const fromDate = await verify(
      signer,
      await signer.sign({ issuedAt: new Date(1_700_000_000_900), expiresInSeconds: 60 }),
      { currentDate: new Date(1_700_000_010_000) },
    );
    assert.equal(fromDate.payload.iat, 1_700_000_000);
    assert.equal(fromDate.payload.exp, 1_700_000_060);
  });

  void it('produces a token jose reports as expired once exp has passed', async () => {
    const token = await signer.sign({ issuedAt: new Date(Date.now() - 10 * 60_000) });
    assert.equal(await rejectionCode(verify(signer, token)), 'ERR_JWT_EXPIRED');
  });

  void it('omits claims so requiredClaims fails', async () => {
    for (const claim of ['exp', 'iat'] as const) {
      const token = await signer.sign({ omitClaims: [claim] });
      assert.equal(
        await rejectionCode(verify(signer, token)),
        'ERR_JWT_CLAIM_VALIDATION_FAILED',
        claim,
      );
      assert.ok(await verify(signer, token, { requiredClaims: [] }), `${claim} omitted only`);
    }
  });

  void it('adds extra claims such as iss and aud', async () => {
    const token = await signer.sign({ claims: { iss: 'https://zapier.com', aud: 'acme' } });
    const { payload } = await verify(signer, token, {
      issuer: 'https://zapier.com',
      audience: 'acme',
    });
    assert.equal(payload.iss, 'https://zapier.com');
    assert.equal(
      await rejectionCode(verify(signer, token, { audience: 'other' })),
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  void it('sends no kid with kid: null, and another kid when asked', async () => {
    const anonymous = await signer.sign({ kid: null });
    assert.deepEqual(decodeProtectedHeader(anonymous), { alg: 'RS256' });
    assert.ok(await verify(signer, anonymous), 'a single key matches without a kid');
    const unknown = await signer.sign({ kid: 'nobody' });
    assert.equal(await rejectionCode(verify(signer, unknown)), 'ERR_JWKS_NO_MATCHING_KEY');
  });

  void it('signs with a foreign key under the same kid, which fails verification', async () => {
    const token = await signer.signWithForeignKey();
    assert.equal(decodeProtectedHeader(token).kid, signer.kid);
    assert.equal(
      await rejectionCode(verify(signer, token)),
      'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    );
  });

  void it('builds a callback request from the shorthand', async () => {
    const request = await signer.callbackRequest({ id: 'arun_1', status: 'success' });
    assert.equal(request.headers['content-type'], 'application/json');
    assert.ok(await verify(signer, request.headers['zapier-callback-signature']));
    assert.deepEqual(JSON.parse(request.body), {
      data: { type: 'run', id: 'arun_1', status: 'success', results: [], errors: [] },
    });
  });

  void it('passes a full payload through unchanged and applies sign options', async () => {
    const payload = {
      data: {
        type: 'run' as const,
        id: 'arun_2',
        status: 'error' as const,
        results: { odd: true },
        errors: [{ code: 'throttled', title: 'Slow down', detail: 'Later', delay: 30 }],
      },
    };
    const request = await signer.callbackRequest(payload, { kid: null });
    assert.deepEqual(JSON.parse(request.body), payload);
    assert.equal(
      decodeProtectedHeader(request.headers['zapier-callback-signature']).kid,
      undefined,
    );
  });
});

void describe('ZapierTestSigner.rotate', () => {
  void it('replaces the key, so earlier tokens stop verifying', async () => {
    const signer = await ZapierTestSigner.create({ kid: 'k1' });
    const old = await signer.sign();
    assert.equal(await signer.rotate({ kid: 'k2' }), 'k2');
    assert.equal(signer.kid, 'k2');
    assert.deepEqual(
      signer.jwks().keys.map((key) => key.kid),
      ['k2'],
    );
    assert.equal(await rejectionCode(verify(signer, old)), 'ERR_JWKS_NO_MATCHING_KEY');
    assert.ok(await verify(signer, await signer.sign()));
  });

  void it('keeps only the key it replaced with keepPrevious', async () => {
    const signer = await ZapierTestSigner.create({ kid: 'k1' });
    const first = await signer.sign();
    await signer.rotate({ kid: 'k2', keepPrevious: true });
    assert.deepEqual(
      signer.jwks().keys.map((key) => key.kid),
      ['k2', 'k1'],
    );
    assert.ok(await verify(signer, first));
    await signer.rotate({ kid: 'k3', keepPrevious: true });
    assert.deepEqual(
      signer.jwks().keys.map((key) => key.kid),
      ['k3', 'k2'],
    );
    assert.equal(await rejectionCode(verify(signer, first)), 'ERR_JWKS_NO_MATCHING_KEY');
  });
});

void describe('forged tokens', () => {
  let signer: ZapierTestSigner;
  before(async () => {
    signer = await ZapierTestSigner.create();
  });

  void it('forgeUnsignedToken makes an alg "none" token that jose refuses', async () => {
    const token = forgeUnsignedToken({ sub: 'x' }, signer.kid);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'none', kid: signer.kid });
    assert.ok(token.endsWith('.'), 'the signature part is empty');
    assert.equal(await rejectionCode(verifyAnyAlg(signer, token)), 'ERR_JOSE_NOT_SUPPORTED');
    assert.equal(await rejectionCode(verify(signer, token)), 'ERR_JOSE_ALG_NOT_ALLOWED');
  });

  void it('forgeHs256Token signs with the public key PEM, which jose refuses', async () => {
    const jwk = signer.jwks().keys[0];
    const token = await forgeHs256Token(jwk, { sub: 'x' });
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', kid: signer.kid });
    const publicKey = await importJWK(jwk, 'RS256', { extractable: true });
    assert.ok(!(publicKey instanceof Uint8Array));
    const pem = await exportSPKI(publicKey);
    const naive = await jwtVerify(token, new TextEncoder().encode(pem), { algorithms: ['HS256'] });
    assert.equal(naive.payload.sub, 'x', 'a verifier that trusts alg would accept it');
    assert.equal(await rejectionCode(verifyAnyAlg(signer, token)), 'ERR_JOSE_NOT_SUPPORTED');
    assert.equal(await rejectionCode(verify(signer, token)), 'ERR_JOSE_ALG_NOT_ALLOWED');
  });

  void it('forgeHs256Token takes raw secret bytes', async () => {
    const secret = new TextEncoder().encode('a-shared-secret-of-some-length-!');
    const token = await forgeHs256Token(secret, {}, 'k');
    const { payload } = await jwtVerify(token, secret, { requiredClaims: ['exp', 'iat'] });
    assert.equal(payload.exp! - payload.iat!, 300);
    assert.equal(decodeProtectedHeader(token).kid, 'k');
  });
});
