import { base64url, exportSPKI, importJWK, SignJWT, type JWK } from 'jose';
import { buildTestTokenClaims } from './test-token-claims.js';

/**
 * An unsecured token (`alg: "none"`, empty signature) with fresh `iat`/`exp` plus `claims`.
 * A correct verifier rejects it.
 *
 * @param kid a kid header, so the token looks like it names a trusted key.
 * @publicApi
 */
export function forgeUnsignedToken(claims: Record<string, unknown> = {}, kid?: string): string {
  const header = kid === undefined ? { alg: 'none' } : { alg: 'none', kid };
  const encode = (part: object) => base64url.encode(JSON.stringify(part));
  return `${encode(header)}.${encode(buildTestTokenClaims({ claims }))}.`;
}

/**
 * An HS256 token with fresh `iat`/`exp` plus `claims`, for the algorithm-confusion attack: given
 * an RSA public JWK, the HMAC secret is that key's SPKI PEM text, which a verifier that takes
 * `alg` from the token would use as the secret. A correct verifier rejects it.
 *
 * @param secretOrPublicJwk raw secret bytes, or a public JWK (e.g. `signer.jwks().keys[0]`).
 * @param kid a kid header; defaults to the JWK's `kid`.
 * @publicApi
 */
export async function forgeHs256Token(
  secretOrPublicJwk: Uint8Array | JWK,
  claims: Record<string, unknown> = {},
  kid?: string,
): Promise<string> {
  let secret: Uint8Array;
  let headerKid = kid;
  if (secretOrPublicJwk instanceof Uint8Array) {
    secret = secretOrPublicJwk;
  } else {
    const publicKey = await importJWK(secretOrPublicJwk, 'RS256', { extractable: true });
    if (publicKey instanceof Uint8Array) {
      throw new TypeError('forgeHs256Token needs an RSA public JWK or raw secret bytes.');
    }
    secret = new TextEncoder().encode(await exportSPKI(publicKey));
    headerKid ??= secretOrPublicJwk.kid;
  }
  return new SignJWT(buildTestTokenClaims({ claims }))
    .setProtectedHeader(
      headerKid === undefined ? { alg: 'HS256' } : { alg: 'HS256', kid: headerKid },
    )
    .sign(secret);
}
