import { randomBytes } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';

/**
 * Tokens an attacker can make without any secret: RS256, signed by a key of their own, each
 * with a random `kid`, so that the verifier sees an unknown key and asks the JWKS URL again
 * (docs/decisions.md#d8) before refusing it.
 */
export async function randomKidTokens(count: number): Promise<string[]> {
  const { privateKey } = await generateKeyPair('RS256');
  const now = Math.floor(Date.now() / 1000);
  return Promise.all(
    Array.from({ length: count }, () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: `attacker-${randomBytes(8).toString('hex')}` })
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(privateKey),
    ),
  );
}
