import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { toCallbackPayload, type ZapierCallbackInput } from './callback-payload.js';
import { buildTestTokenClaims, type TestTokenClaimOptions } from './test-token-claims.js';

const ALGORITHM = 'RS256';

/**
 * Options for a test `Zapier-Callback-Signature` token.
 *
 * @publicApi
 */
export interface ZapierTestSignOptions extends TestTokenClaimOptions {
  /**
   * Seconds since the epoch, or a `Date`.
   * @default now
   */
  issuedAt?: number | Date;
  /**
   * `exp - iat`.
   * @default 300
   */
  expiresInSeconds?: number;
  /** Claims to leave out, to test a verifier's `requiredClaims`. */
  omitClaims?: ('exp' | 'iat')[];
  /** Extra claims such as `iss` or `aud`; they may also replace `iat` and `exp`. */
  claims?: Record<string, unknown>;
  /**
   * The `kid` header: a string to send another kid, `null` to send none.
   * @default the signer's current kid
   */
  kid?: string | null;
}

/**
 * A signed callback request, ready to send with any HTTP client (supertest, fetch, inject).
 *
 * @publicApi
 */
export interface ZapierTestCallbackRequest {
  headers: { 'content-type': 'application/json'; 'zapier-callback-signature': string };
  body: string;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * Signs action-run callbacks the way Zapier does (RS256 JWT with `iat` and `exp = iat + 300`,
 * docs/decisions.md#f3-signature) with a key generated for the test, and publishes the matching
 * JWKS.
 *
 * @example
 * const signer = await ZapierTestSigner.create();
 * // serve signer.jwks() at the module's jwksUrl, then:
 * const { headers, body } = await signer.callbackRequest({ id: 'arun_1', status: 'success' });
 * @publicApi
 */
export class ZapierTestSigner {
  private previous: SigningKey | null = null;
  private foreignKey: CryptoKey | null = null;

  private constructor(private current: SigningKey) {}

  /**
   * Generates a fresh RSA key pair.
   *
   * @param options.kid the key id; defaults to `sandbox-<8 hex>`.
   */
  static async create(options: { kid?: string } = {}): Promise<ZapierTestSigner> {
    return new ZapierTestSigner(await createSigningKey(options.kid));
  }

  /** The kid of the key that signs now. */
  get kid(): string {
    return this.current.kid;
  }

  /**
   * The public keys a verifier should trust: the current key, then the previous one when the
   * last {@link rotate} kept it.
   */
  jwks(): { keys: JWK[] } {
    const keys = [this.current, ...(this.previous ? [this.previous] : [])];
    return { keys: keys.map((key) => ({ ...key.publicJwk })) };
  }

  /** A JWT for the `Zapier-Callback-Signature` header, signed with the current key. */
  sign(options: ZapierTestSignOptions = {}): Promise<string> {
    return this.signWith(this.current.privateKey, options);
  }

  /**
   * A JWT that carries the current kid but is signed by a different key, as an attacker who
   * knows the kid would produce. A correct verifier rejects it.
   */
  async signWithForeignKey(options: ZapierTestSignOptions = {}): Promise<string> {
    this.foreignKey ??= (await generateKeyPair(ALGORITHM)).privateKey;
    return this.signWith(this.foreignKey, options);
  }

  /** A callback body plus the headers Zapier sends with it, signed with the current key. */
  async callbackRequest(
    payload: ZapierCallbackInput,
    signOptions: ZapierTestSignOptions = {},
  ): Promise<ZapierTestCallbackRequest> {
    return {
      headers: {
        'content-type': 'application/json',
        'zapier-callback-signature': await this.sign(signOptions),
      },
      body: JSON.stringify(toCallbackPayload(payload)),
    };
  }

  /**
   * Replaces the signing key with a new one. With `keepPrevious`, {@link jwks} still lists the
   * key it replaced (only that one), as a provider does during a graceful rotation.
   *
   * @returns the new kid.
   */
  async rotate(options: { kid?: string; keepPrevious?: boolean } = {}): Promise<string> {
    const next = await createSigningKey(options.kid);
    this.previous = options.keepPrevious ? this.current : null;
    this.current = next;
    return next.kid;
  }

  private signWith(key: CryptoKey, options: ZapierTestSignOptions): Promise<string> {
    const kid = options.kid === undefined ? this.current.kid : options.kid;
    return new SignJWT(buildTestTokenClaims(options))
      .setProtectedHeader(kid === null ? { alg: ALGORITHM } : { alg: ALGORITHM, kid })
      .sign(key);
  }
}

async function createSigningKey(kid = `sandbox-${randomBytes(4).toString('hex')}`) {
  const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: ALGORITHM, use: 'sig' };
  return { kid, privateKey, publicJwk } satisfies SigningKey;
}
