import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { HttpStatus, Logger } from '@nestjs/common';
import fc from 'fast-check';
import { base64url, type JWTPayload } from 'jose';
import { resolveZapierOptions } from '../options/resolve-zapier-options.js';
import type { ZapierModuleOptions } from '../interfaces/zapier-module-options.interface.js';
import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';
import {
  ZapierSignatureException,
  ZapierUnavailableException,
} from '../errors/zapier-http.exceptions.js';
import { forgeHs256Token, forgeUnsignedToken, ZapierSandbox } from '../testing/index.js';
import { ZapierSignatureVerifier } from './zapier-signature.verifier.js';

/**
 * Property-based tests of the callback signature verifier. The callback route is public, so
 * anyone can send it anything: whatever arrives in `Zapier-Callback-Signature`, the verifier
 * answers 401 (never another error, never a 503 while the JWKS is healthy) unless it is a valid
 * token. Failures print fast-check's seed;
 * replay with FC_SEED=<seed> (FC_RUNS scales the run counts).
 */

const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
function params<T>(numRuns: number): fc.Parameters<T> {
  return {
    numRuns: Math.max(1, Math.round(numRuns * Number(process.env.FC_RUNS ?? 1))),
    ...(SEED === undefined ? {} : { seed: SEED }),
  };
}

const TOLERANCE = 30;
const MAX_AGE = 300;
const nowSeconds = () => Math.floor(Date.now() / 1000);
const encodeJson = (value: unknown) => base64url.encode(JSON.stringify(value));

type Outcome = { accepted: true; payload: JWTPayload } | { accepted: false; reason: string };

/** Verifies, and fails the property on anything but acceptance or a 401. */
async function verdict(verifier: ZapierSignatureVerifier, token: unknown): Promise<Outcome> {
  try {
    return { accepted: true, payload: await verifier.verify(token as string) };
  } catch (error) {
    const what = `${describeToken(token)} → ${String(error)}`;
    assert.ok(
      !(error instanceof ZapierUnavailableException),
      `503 with a healthy JWKS for ${what}`,
    );
    assert.ok(error instanceof ZapierSignatureException, `not a ZapierSignatureException: ${what}`);
    assert.equal(error.getStatus(), HttpStatus.UNAUTHORIZED, what);
    assert.equal(typeof error.reason, 'string', what);
    return { accepted: false, reason: error.reason };
  }
}

function describeToken(token: unknown): string {
  const text = JSON.stringify(token) ?? String(token);
  return text.length > 400 ? `${text.slice(0, 400)}… (${text.length} chars)` : text;
}

/**
 * Whether `candidate` is `original` as jose reads it: same header and payload text (the signed
 * input) and a signature segment that decodes to the same bytes. On Node 20 jose decodes with
 * `atob`, which ignores whitespace and `=` padding, so `sig + "=="` or a space inside the
 * signature still verifies; the claims are then identical to the original's.
 */
function sameToken(candidate: unknown, original: string): boolean {
  if (typeof candidate !== 'string') return false;
  if (candidate === original) return true;
  const a = candidate.split('.');
  const b = original.split('.');
  if (a.length !== 3 || a[0] !== b[0] || a[1] !== b[1]) return false;
  try {
    return Buffer.from(base64url.decode(a[2])).equals(Buffer.from(base64url.decode(b[2])));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64Char = fc.constantFrom(...B64URL.split(''));
const segmentArb = fc.oneof(
  fc.string({ unit: b64Char, maxLength: 400 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => base64url.encode(bytes)),
  fc.constantFrom('', '=', '==', 'e30', 'bnVsbA', 'W10', 'eyJ9'),
);
const oddCharArb = fc.constantFrom(
  '.',
  '=',
  ' ',
  '\t',
  '+',
  '/',
  '\u0000',
  'é',
  '😀',
  '\uD800',
  '"',
  ',',
  '\\',
);

const claimValueArb = fc.oneof(
  fc.integer({ min: -1e10, max: 1e10 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53 + 2),
  fc.string({ maxLength: 12 }),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.constant({}),
);

const headerArb = fc.record(
  {
    alg: fc.oneof(
      fc.constantFrom(
        'RS256',
        'HS256',
        'none',
        'None',
        'PS256',
        'RS512',
        'ES256',
        'EdDSA',
        'rs256',
      ),
      claimValueArb,
    ),
    kid: fc.oneof(fc.string({ maxLength: 20 }), claimValueArb),
    typ: fc.constantFrom('JWT', 'jwt', 'at+jwt'),
    crit: fc.constantFrom(['b64'], ['exp'], [], 'b64'),
    b64: fc.boolean(),
    jku: fc.constant('http://127.0.0.1:1/jwks.json'),
    x5u: fc.constant('http://127.0.0.1:1/cert'),
  },
  { requiredKeys: [] },
);

const claimsArb = fc.record(
  {
    iat: claimValueArb,
    exp: claimValueArb,
    nbf: claimValueArb,
    iss: claimValueArb,
    aud: claimValueArb,
  },
  { requiredKeys: [] },
);

/** Headers that name the real key (or none) and parse, so verification reaches the signature. */
function plausibleHeader(kid: string) {
  return fc.oneof(
    fc.constant({ alg: 'RS256', kid }),
    fc.constant({ alg: 'RS256' }),
    headerArb.map((header) => ({ alg: 'RS256', kid, ...header })),
    headerArb,
  );
}

function forgedTokenArb(kid: string): fc.Arbitrary<unknown> {
  const jsonShaped = fc
    .tuple(
      plausibleHeader(kid),
      fc.oneof(
        claimsArb,
        fc.constant({ iat: nowSeconds(), exp: nowSeconds() + 300 }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      fc.oneof(
        fc.uint8Array({ minLength: 256, maxLength: 256 }).map((b) => base64url.encode(b)),
        segmentArb,
      ),
    )
    .map(
      ([header, claims, signature]) => `${encodeJson(header)}.${encodeJson(claims)}.${signature}`,
    );
  return fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ unit: fc.oneof(b64Char, oddCharArb), maxLength: 600 }),
    fc.array(segmentArb, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
    jsonShaped,
    jsonShaped.map((token) => `Bearer ${token}`),
    fc.constantFrom(undefined, '', ' ', '.', '..', '...', 'not.a.jwt', 'null', 'undefined'),
    fc.array(fc.string(), { maxLength: 3 }),
    // Huge values: 20 kB to 200 kB per segment.
    fc
      .tuple(fc.integer({ min: 20_000, max: 200_000 }), b64Char)
      .map(([n, c]) => `${c.repeat(n)}.${c.repeat(n)}.${c.repeat(n)}`),
  );
}

/** One edit of a compact token. */
type Mutation = (token: string, context: { kid: string; others: string[] }) => string;

const replaceSegment = (token: string, index: number, segment: string) => {
  const parts = token.split('.');
  parts[index % parts.length] = segment;
  return parts.join('.');
};

function reencode(token: string, index: 0 | 1, change: (value: Record<string, unknown>) => void) {
  const parts = token.split('.');
  let decoded: unknown;
  try {
    decoded = JSON.parse(new TextDecoder().decode(base64url.decode(parts[index] ?? '')));
  } catch {
    decoded = undefined;
  }
  const value =
    typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded)
      ? (decoded as Record<string, unknown>)
      : {};
  change(value);
  parts[index] = encodeJson(value);
  return parts.join('.');
}

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  // Replace, insert or delete one character anywhere.
  fc.tuple(fc.nat(), fc.oneof(b64Char, oddCharArb)).map(([at, char]): Mutation => (t) => {
    const i = at % t.length;
    return `${t.slice(0, i)}${char}${t.slice(i + 1)}`;
  }),
  fc.tuple(fc.nat(), fc.oneof(b64Char, oddCharArb)).map(
    ([at, char]): Mutation =>
      (t) =>
        `${t.slice(0, at % (t.length + 1))}${char}${t.slice(at % (t.length + 1))}`,
  ),
  fc.nat().map(
    (at): Mutation =>
      (t) =>
        `${t.slice(0, at % t.length)}${t.slice((at % t.length) + 1)}`,
  ),
  // Flip the case of one character (base64url is case sensitive).
  fc.nat().map((at): Mutation => (t) => {
    // An earlier mutation of the same chain may have emptied the token.
    if (t.length === 0) return t;
    const i = at % t.length;
    const c = t[i];
    const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
    return `${t.slice(0, i)}${flipped}${t.slice(i + 1)}`;
  }),
  // Swap, drop, duplicate or add segments.
  fc.tuple(fc.nat(2), fc.nat(2)).map(([i, j]): Mutation => (t) => {
    const parts = t.split('.');
    [parts[i], parts[j]] = [parts[j], parts[i]];
    return parts.join('.');
  }),
  fc.nat(2).map(
    (i): Mutation =>
      (t) =>
        t
          .split('.')
          .filter((_, k) => k !== i)
          .join('.'),
  ),
  fc.nat(2).map((i): Mutation => (t) => {
    const parts = t.split('.');
    return [...parts.slice(0, i + 1), parts[i], ...parts.slice(i + 1)].join('.');
  }),
  segmentArb.map(
    (s): Mutation =>
      (t) =>
        `${t}.${s}`,
  ),
  // Truncate, append, prepend.
  fc.nat().map(
    (n): Mutation =>
      (t) =>
        t.slice(0, n % t.length),
  ),
  fc.string({ unit: fc.oneof(b64Char, oddCharArb), minLength: 1, maxLength: 8 }).map(
    (s): Mutation =>
      (t) =>
        `${t}${s}`,
  ),
  fc.string({ unit: fc.oneof(b64Char, oddCharArb), minLength: 1, maxLength: 8 }).map(
    (s): Mutation =>
      (t) =>
        `${s}${t}`,
  ),
  // Replace a whole segment by random base64url, or by the same segment of another valid token.
  fc.tuple(fc.nat(2), segmentArb).map(
    ([i, s]): Mutation =>
      (t) =>
        replaceSegment(t, i, s),
  ),
  fc.tuple(fc.nat(2), fc.nat()).map(
    ([i, k]): Mutation =>
      (t, { others }) =>
        replaceSegment(t, i, others[k % others.length].split('.')[i]),
  ),
  // Re-encode the header with another alg / kid / extra members, keeping the signature.
  headerArb.map(
    (changes): Mutation =>
      (t) =>
        reencode(t, 0, (header) => {
          for (const [key, value] of Object.entries(changes)) header[key] = value;
        }),
  ),
  fc.constantFrom<Mutation>(
    (t) => reencode(t, 0, (header) => delete header.kid),
    (t) => reencode(t, 0, (header) => (header.alg = 'none')),
    (t) => reencode(t, 0, (header) => (header.alg = 'HS256')),
    (t) => reencode(t, 0, (header) => (header.kid = `${String(header.kid)}x`)),
    (t) => reencode(t, 0, () => undefined),
    (t) => reencode(t, 1, () => undefined),
    // A header whose own "__proto__" member says alg none.
    (t, { kid }) =>
      replaceSegment(
        t,
        0,
        base64url.encode(`{"alg":"RS256","kid":${JSON.stringify(kid)},"__proto__":{"alg":"none"}}`),
      ),
    // alg none with an empty signature: the classic bypass.
    (t) =>
      `${reencode(t, 0, (header) => (header.alg = 'none'))
        .split('.')
        .slice(0, 2)
        .join('.')}.`,
  ),
  // Re-encode the claims with other exp / iat / extra claims, keeping the signature.
  claimsArb.map(
    (changes): Mutation =>
      (t) =>
        reencode(t, 1, (claims) => {
          for (const [key, value] of Object.entries(changes)) claims[key] = value;
        }),
  ),
  fc.integer({ min: -100_000, max: 100_000 }).map(
    (shift): Mutation =>
      (t) =>
        reencode(t, 1, (claims) => {
          claims.exp = Number(claims.exp) + shift;
          claims.iat = Number(claims.iat) + shift;
        }),
  ),
);

// ---------------------------------------------------------------------------------------------

describe('ZapierSignatureVerifier (properties)', () => {
  let sandbox: ZapierSandbox;
  let verifier: ZapierSignatureVerifier;
  /** Valid tokens of several shapes, signed once (each is valid for 5 minutes). */
  let valid: string[];

  const verifierFor = (options: Partial<ZapierModuleOptions> = {}, clock?: ZapierClock) =>
    new ZapierSignatureVerifier(
      resolveZapierOptions({
        jwksUrl: sandbox.jwksUrl,
        // Unknown kids refetch at once here; the 1 s spacing has its own test.
        jwks: { minRefetchIntervalMs: 0, timeoutMs: 2000 },
        ...options,
      }),
      clock ?? { now: () => Date.now() },
    );

  before(async () => {
    // The verifier logs a warning per rejected token: thousands here.
    Logger.overrideLogger(false);
    sandbox = await ZapierSandbox.start({ rateLimit: false });
    verifier = verifierFor();
    const now = nowSeconds();
    valid = await Promise.all([
      sandbox.signer.sign(),
      sandbox.signer.sign({ kid: null }),
      sandbox.signer.sign({ issuedAt: now - 200 }),
      sandbox.signer.sign({ issuedAt: now + 10, expiresInSeconds: 3600 }),
      sandbox.signer.sign({ claims: { iss: 'zapier', aud: ['x', 'y'], sub: 'run', jti: 'j' } }),
      sandbox.signer.sign({ claims: { nested: { a: [1, 2, { b: null }] }, unicode: 'é😀' } }),
    ]);
    for (const token of valid) {
      assert.equal((await verdict(verifier, token)).accepted, true, 'fixture tokens verify');
    }
  });
  after(async () => {
    await sandbox?.stop();
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
  });

  it('answers 401, and only 401, to arbitrary header values', async () => {
    await fc.assert(
      fc.asyncProperty(forgedTokenArb(sandbox.signer.kid), async (token) => {
        const outcome = await verdict(verifier, token);
        assert.equal(outcome.accepted, false, `accepted ${describeToken(token)}`);
      }),
      params(1500),
    );
  });

  it('rejects every mutation of a valid token that changes what was signed', async () => {
    let equivalentAccepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        async (pick, mutations) => {
          const original = valid[pick % valid.length];
          const context = { kid: sandbox.signer.kid, others: valid.filter((t) => t !== original) };
          const mutated = mutations.reduce((token, mutate) => mutate(token, context), original);
          const outcome = await verdict(verifier, mutated);
          if (!outcome.accepted) return;
          // Splicing in the segments of another valid token can rebuild that token, which is valid.
          assert.ok(
            valid.some((token) => sameToken(mutated, token)),
            `accepted a mutated token ${describeToken(mutated)} (original ${original})`,
          );
          if (mutated !== original) equivalentAccepted += 1;
        },
      ),
      params(2500),
    );
    // Informational: jose tolerates padding/whitespace in the signature segment (same bytes).
    if (process.env.TEST_LOGS && equivalentAccepted > 0) {
      console.log(`${equivalentAccepted} re-encodings of the same signature were accepted`);
    }
  });

  it('rejects the known forgeries for any claims: alg none, HS256 with the public key, a foreign key', async () => {
    const jwk = sandbox.signer.jwks().keys[0];
    await fc.assert(
      fc.asyncProperty(
        claimsArb,
        fc.constantFrom('none', 'hs256', 'foreign'),
        fc.boolean(),
        async (claims, kind, withKid) => {
          const fresh = { iat: nowSeconds(), exp: nowSeconds() + 300, ...claims };
          const kid = withKid ? sandbox.signer.kid : undefined;
          const token =
            kind === 'none'
              ? forgeUnsignedToken(fresh, kid)
              : kind === 'hs256'
                ? await forgeHs256Token(jwk, fresh, kid)
                : await sandbox.signer.signWithForeignKey({
                    claims: fresh,
                    kid: withKid ? undefined : null,
                  });
          assert.equal((await verdict(verifier, token)).accepted, false, token);
        },
      ),
      params(200),
    );
  });

  it('accepts every correctly signed token whose iat/exp are in the window, claims intact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -(MAX_AGE - 10), max: TOLERANCE - 5 }),
        fc.integer({ min: 5, max: 10_000_000 }),
        fc.boolean(),
        fc.dictionary(
          fc
            .string({ minLength: 1, maxLength: 8 })
            .filter((k) => !['iat', 'exp', 'nbf'].includes(k)),
          fc.jsonValue({ maxDepth: 2 }),
          { maxKeys: 4, noNullPrototype: true },
        ),
        async (iatOffset, expOffset, withKid, extra) => {
          const now = nowSeconds();
          const claims = { ...extra, iat: now + iatOffset, exp: now + expOffset };
          const token = await sandbox.signer.sign({
            claims,
            kid: withKid ? undefined : null,
          });
          const outcome = await verdict(verifier, token);
          assert.ok(
            outcome.accepted,
            `rejected ${JSON.stringify(claims)}: ${JSON.stringify(outcome)}`,
          );
          assert.ok(
            isDeepStrictEqual(outcome.payload, JSON.parse(JSON.stringify(claims))),
            'the verified claims are the signed ones',
          );
        },
      ),
      params(300),
    );
  });

  it('decides any signed claim set exactly as the documented rules say (model, fixed clock)', async () => {
    const fixedMs = Date.now();
    const now = Math.floor(fixedMs / 1000);
    const plain = verifierFor({}, { now: () => fixedMs });
    const strict = verifierFor(
      { issuer: 'zapier', audience: ['app', 'other'] },
      { now: () => fixedMs },
    );
    const near = (spread: number) =>
      fc.oneof(
        fc.integer({ min: now - spread, max: now + spread }),
        fc.double({ min: now - spread, max: now + spread, noNaN: true }),
      );
    const claim = fc.oneof(
      { arbitrary: near(400), weight: 6 },
      {
        arbitrary: fc.constantFrom(
          now - TOLERANCE,
          now + TOLERANCE,
          now - MAX_AGE - TOLERANCE,
          now - MAX_AGE - TOLERANCE - 1,
          now + TOLERANCE + 1,
        ),
        weight: 2,
      },
      { arbitrary: claimValueArb, weight: 1 },
      { arbitrary: fc.constant(String(now)), weight: 1 },
    );
    const claimsModelArb = fc.record(
      {
        iat: claim,
        exp: claim,
        nbf: claim,
        iss: fc.oneof(fc.constantFrom('zapier', 'Zapier', ''), claimValueArb),
        aud: fc.oneof(
          fc.constantFrom('app', 'other', 'nope', ['x', 'app'], ['x'], []),
          claimValueArb,
        ),
      },
      { requiredKeys: [] },
    );
    const model = (c: Record<string, unknown>, checkIssuer: boolean): boolean => {
      const num = (key: string) => typeof c[key] === 'number';
      if (!('exp' in c) || !('iat' in c)) return false;
      if (checkIssuer) {
        if (!('iss' in c) || !('aud' in c)) return false;
        if (c.iss !== 'zapier') return false;
        const aud = c.aud;
        const ok =
          typeof aud === 'string'
            ? ['app', 'other'].includes(aud)
            : Array.isArray(aud) && aud.some((a) => a === 'app' || a === 'other');
        if (!ok) return false;
      }
      if (!num('iat')) return false;
      if ('nbf' in c && !num('nbf')) return false;
      if ('nbf' in c && (c.nbf as number) > now + TOLERANCE) return false;
      if (!num('exp')) return false;
      if ((c.exp as number) <= now - TOLERANCE) return false;
      const age = now - (c.iat as number);
      return age - TOLERANCE <= MAX_AGE && age >= -TOLERANCE;
    };
    await fc.assert(
      fc.asyncProperty(claimsModelArb, async (claims) => {
        const signed = JSON.parse(JSON.stringify(claims)) as Record<string, unknown>;
        const token = await sandbox.signer.sign({
          claims: signed,
          omitClaims: (['exp', 'iat'] as const).filter((name) => !(name in signed)),
        });
        for (const [name, v, checkIssuer] of [
          ['plain', plain, false],
          ['iss/aud', strict, true],
        ] as const) {
          const outcome = await verdict(v, token);
          assert.equal(
            outcome.accepted,
            model(signed, checkIssuer),
            `${name} verifier at now=${now} for ${JSON.stringify(signed)}: ${JSON.stringify(outcome)}`,
          );
        }
      }),
      params(1200),
    );
  });

  it('rejects a duplicated header (an array, or the values joined by a comma)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...valid), { minLength: 2, maxLength: 3 }),
        async (tokens) => {
          assert.equal((await verdict(verifier, tokens)).accepted, false);
          assert.equal((await verdict(verifier, tokens.join(', '))).accepted, false);
        },
      ),
      params(50),
    );
  });
});
