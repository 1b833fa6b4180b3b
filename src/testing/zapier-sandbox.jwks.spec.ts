import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ZapierSandbox } from './zapier-sandbox.js';

async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
  assert.fail('expected a rejection');
}

/** A fresh remote set each time, so jose's cache never hides what the endpoint serves now. */
function verifyRemote(sandbox: ZapierSandbox, token: string, timeoutDuration = 5000) {
  const jwks = createRemoteJWKSet(new URL(sandbox.jwksUrl), { timeoutDuration });
  return jwtVerify(token, jwks, { requiredClaims: ['exp', 'iat'], algorithms: ['RS256'] });
}

void describe('ZapierSandbox JWKS', () => {
  let sandbox: ZapierSandbox;
  before(async () => {
    sandbox = await ZapierSandbox.start({ kid: 'zap-1' });
  });
  after(() => sandbox.stop());

  void it('serves the signing key at /.well-known/jwks.json', async () => {
    assert.equal(sandbox.jwksUrl, `${sandbox.url}/.well-known/jwks.json`);
    const before = sandbox.jwksRequests;
    const response = await fetch(sandbox.jwksUrl);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const { keys } = (await response.json()) as { keys: { kid: string; d?: string }[] };
    assert.deepEqual(
      keys.map((key) => key.kid),
      ['zap-1'],
    );
    assert.equal(keys[0]?.d, undefined);
    assert.equal(sandbox.jwksRequests, before + 1);
  });

  void it('rotates: old tokens fail against the new set unless keepPrevious', async () => {
    const oldToken = await sandbox.signer.sign();
    assert.ok(await verifyRemote(sandbox, oldToken));

    const kept = await sandbox.rotateKeys({ keepPrevious: true, kid: 'zap-2' });
    assert.equal(kept, 'zap-2');
    assert.equal(sandbox.signer.kid, 'zap-2');
    assert.ok(await verifyRemote(sandbox, oldToken), 'the previous key is still published');
    const secondToken = await sandbox.signer.sign();
    assert.ok(await verifyRemote(sandbox, secondToken));

    await sandbox.rotateKeys();
    assert.equal(await rejectionCode(verifyRemote(sandbox, oldToken)), 'ERR_JWKS_NO_MATCHING_KEY');
    assert.equal(
      await rejectionCode(verifyRemote(sandbox, secondToken)),
      'ERR_JWKS_NO_MATCHING_KEY',
    );
    assert.match(sandbox.signer.kid, /^sandbox-[0-9a-f]{8}$/);
    assert.ok(await verifyRemote(sandbox, await sandbox.signer.sign()));
  });

  void it('answers 503 when told to, and jose reports it', async () => {
    sandbox.setJwksBehaviour('error-503');
    try {
      assert.equal((await fetch(sandbox.jwksUrl)).status, 503);
      const token = await sandbox.signer.sign();
      assert.equal(await rejectionCode(verifyRemote(sandbox, token)), 'ERR_JOSE_GENERIC');
    } finally {
      sandbox.setJwksBehaviour('ok');
    }
  });

  void it('hangs when told to, so a JWKS client times out', async () => {
    sandbox.setJwksBehaviour('hang');
    try {
      const token = await sandbox.signer.sign();
      const before = sandbox.jwksRequests;
      assert.equal(await rejectionCode(verifyRemote(sandbox, token, 150)), 'ERR_JWKS_TIMEOUT');
      assert.equal(sandbox.jwksRequests, before + 1);
    } finally {
      sandbox.setJwksBehaviour('ok');
    }
  });

  void it('serves broken JSON when told to', async () => {
    sandbox.setJwksBehaviour('invalid-json');
    try {
      const response = await fetch(sandbox.jwksUrl);
      assert.equal(response.status, 200);
      await assert.rejects(response.json(), SyntaxError);
      const token = await sandbox.signer.sign();
      assert.equal(await rejectionCode(verifyRemote(sandbox, token)), 'ERR_JOSE_GENERIC');
    } finally {
      sandbox.setJwksBehaviour('ok');
    }
  });

  void it('serves {"keys": null} when told to, which jose rejects as malformed', async () => {
    sandbox.setJwksBehaviour('keys-null');
    try {
      const response = await fetch(sandbox.jwksUrl);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { keys: null });
      const token = await sandbox.signer.sign();
      assert.equal(await rejectionCode(verifyRemote(sandbox, token)), 'ERR_JWKS_INVALID');
    } finally {
      sandbox.setJwksBehaviour('ok');
    }
  });

  void it('serves the keys padded past 2 MiB when told to, still a valid key set', async () => {
    sandbox.setJwksBehaviour('oversized');
    try {
      const response = await fetch(sandbox.jwksUrl);
      const text = await response.text();
      assert.ok(Buffer.byteLength(text) > 2 * 1024 * 1024);
      const { keys } = JSON.parse(text) as { keys: { kid: string }[] };
      assert.equal(keys[0]?.kid, sandbox.signer.kid);
      assert.ok(await verifyRemote(sandbox, await sandbox.signer.sign()));
    } finally {
      sandbox.setJwksBehaviour('ok');
    }
  });

  void it('redirects when told to; jose refuses, a following client gets the keys', async () => {
    sandbox.setJwksBehaviour('redirect');
    try {
      const manual = await fetch(sandbox.jwksUrl, { redirect: 'manual' });
      assert.equal(manual.status, 302);
      const followed = await fetch(sandbox.jwksUrl);
      assert.equal(followed.status, 200);
      const { keys } = (await followed.json()) as { keys: { kid: string }[] };
      assert.equal(keys[0]?.kid, sandbox.signer.kid);
      const token = await sandbox.signer.sign();
      assert.equal(await rejectionCode(verifyRemote(sandbox, token)), 'ERR_JOSE_GENERIC');
    } finally {
      sandbox.setJwksBehaviour('ok');
    }
    assert.ok(await verifyRemote(sandbox, await sandbox.signer.sign()), 'back to ok');
  });

  void it('does not count JWKS requests as API requests', async () => {
    const before = sandbox.requests.length;
    await fetch(sandbox.jwksUrl);
    assert.equal(sandbox.requests.length, before);
  });
});
