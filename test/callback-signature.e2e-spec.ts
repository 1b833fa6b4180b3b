import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { base64url } from 'jose';
import { ZapierSignatureException } from '../src/index.js';
import { forgeHs256Token, forgeUnsignedToken, ZapierSandbox } from '../src/testing/index.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { freshDatabase, type Engine } from './support/data-sources.js';
import { postgresSkipReason } from './support/postgres.js';
import { postCallback, rows } from './support/callbacks.js';
import { runResultBody } from './support/sample-runs.js';
import { startZapierApp, type Adapter, type ZapierApp } from './support/zapier-app.js';

const pgSkip = await postgresSkipReason();
const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Each case builds the Zapier-Callback-Signature header (or none) for a fresh run, and names the
 * reason the 401 gives (jose's error code, or `missing`).
 */
const forgeries: Array<[string, (sandbox: ZapierSandbox) => Promise<string | undefined>, string]> =
  [
    ['the header is missing', () => Promise.resolve(undefined), 'missing'],
    ['it is not a JWT', () => Promise.resolve('not.a.jwt'), 'ERR_JWS_INVALID'],
    ['it is an empty string', () => Promise.resolve(''), 'missing'],
    [
      'it names an unknown key',
      (s) => s.signer.sign({ kid: 'rotated-away' }),
      'ERR_JWKS_NO_MATCHING_KEY',
    ],
    [
      'it is signed by another key with the same kid',
      (s) => s.signer.signWithForeignKey(),
      'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    ],
    [
      'it expired',
      (s) => s.signer.sign({ issuedAt: nowSeconds() - 400, expiresInSeconds: 300 }),
      'ERR_JWT_EXPIRED',
    ],
    [
      'it has no exp',
      (s) => s.signer.sign({ omitClaims: ['exp'] }),
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
    ],
    [
      'it has no iat',
      (s) => s.signer.sign({ omitClaims: ['iat'] }),
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
    ],
    [
      'it is issued in the future',
      (s) => s.signer.sign({ issuedAt: nowSeconds() + 120 }),
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
    ],
    [
      'it is older than 5 minutes',
      (s) => s.signer.sign({ issuedAt: nowSeconds() - 400, expiresInSeconds: 3600 }),
      'ERR_JWT_EXPIRED',
    ],
    [
      'it uses alg none',
      (s) => Promise.resolve(forgeUnsignedToken({}, s.signer.kid)),
      'ERR_JOSE_ALG_NOT_ALLOWED',
    ],
    [
      'it is HS256 signed with the public key',
      (s) => forgeHs256Token(s.signer.jwks().keys[0]),
      'ERR_JOSE_ALG_NOT_ALLOWED',
    ],
    [
      'its claims were tampered with',
      async (s) => {
        const [header, , signature] = (await s.signer.sign()).split('.');
        const claims = { iat: nowSeconds(), exp: nowSeconds() + 3600 };
        return `${header}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
      },
      'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    ],
  ];

for (const adapter of ['express', 'fastify'] as Adapter[]) {
  for (const engine of ['sqlite', 'postgres'] as Engine[]) {
    describe(
      `signature checks on ${adapter} + ${engine}`,
      { skip: engine === 'postgres' && pgSkip },
      () => {
        let sandbox: ZapierSandbox;
        let zapier: ZapierApp;
        let cleanup: () => void;

        before(async () => {
          sandbox = await ZapierSandbox.start({ rateLimit: false });
          const db = await freshDatabase(engine, `signature_${adapter}_${engine}`);
          cleanup = db.cleanup;
          zapier = await startZapierApp({
            adapter,
            database: db.options,
            zapier: { jwksUrl: sandbox.jwksUrl },
          });
        });
        after(async () => {
          await zapier?.close();
          await sandbox?.stop();
          cleanup?.();
        });

        for (const [name, forge, reason] of forgeries) {
          it(`answers 401 (${reason}) when ${name}, storing and emitting nothing`, async () => {
            const token = await forge(sandbox);
            const body = runResultBody(`arun_${name}`);
            const headers: Record<string, string> = { 'content-type': 'application/json' };
            if (token !== undefined) headers['zapier-callback-signature'] = token;
            const answer = await postCallback(zapier.url, { headers, body });
            assert.equal(answer.status, 401);
            assert.deepEqual(answer.body, new ZapierSignatureException(reason).getResponse());
            const warning =
              reason === 'missing'
                ? ZapierMessages.signatureMissing()
                : ZapierMessages.signatureRejected(reason);
            assert.ok(zapier.logger.find('warn', warning).length >= 1, warning);
            assert.deepEqual(await rows(zapier.dataSource, 'zapier_action_runs'), []);
            assert.deepEqual(await rows(zapier.dataSource, 'zapier_callback_quarantine'), []);
            assert.equal(zapier.listener.events.length, 0);
          });
        }

        it('never logs the token itself', () => {
          const logged = zapier.logger.entries.map((entry) => entry.message).join('\n');
          assert.doesNotMatch(logged, /eyJ[A-Za-z0-9_-]{10,}/);
          assert.ok(
            zapier.logger.find('warn', ZapierMessages.signatureRejected('ERR_JWT_EXPIRED'))
              .length >= 1,
          );
        });

        it('accepts a token from a freshly rotated key on its first delivery', async () => {
          await new Promise((resolve) => setTimeout(resolve, 1100));
          await sandbox.rotateKeys();
          const fetchesBefore = sandbox.jwksRequests;
          const request = await sandbox.signer.callbackRequest({
            id: `arun_rotated_${adapter}`,
            status: 'success',
          });
          const answer = await postCallback(zapier.url, request);
          assert.equal(answer.status, 200);
          assert.equal(sandbox.jwksRequests, fetchesBefore + 1);
          await zapier.listener.waitFor(1);
        });
      },
    );
  }
}
