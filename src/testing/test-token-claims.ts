import type { JWTPayload } from 'jose';

/** Lifetime Zapier gives a callback token (docs/decisions.md#f3-signature). */
export const CALLBACK_TOKEN_LIFETIME_SECONDS = 300;

/**
 * What goes into a test token's claims. `issuedAt` is seconds since the epoch or a `Date`;
 * `claims` are added last, so they may also replace `iat` or `exp`.
 */
export interface TestTokenClaimOptions {
  issuedAt?: number | Date;
  expiresInSeconds?: number;
  omitClaims?: ('exp' | 'iat')[];
  claims?: Record<string, unknown>;
}

/** Builds `iat`/`exp` (now and now + 300 s by default) plus any extra claims. */
export function buildTestTokenClaims(options: TestTokenClaimOptions = {}): JWTPayload {
  const issuedAt = options.issuedAt ?? new Date();
  const iat =
    issuedAt instanceof Date ? Math.floor(issuedAt.getTime() / 1000) : Math.floor(issuedAt);
  const claims: JWTPayload = {
    iat,
    exp: iat + (options.expiresInSeconds ?? CALLBACK_TOKEN_LIFETIME_SECONDS),
    ...options.claims,
  };
  for (const name of options.omitClaims ?? []) delete claims[name];
  return claims;
}
