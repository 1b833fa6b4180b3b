import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { forgeHs256Token, forgeUnsignedToken, ZapierSandbox } from '../src/testing/index.js';
import { freshDatabase } from './support/data-sources.js';
import { httpExchange, rawExchange, type Exchange } from './support/raw-http.js';
import { SeededRandom } from './support/seeded-random.js';
import { startZapierApp, type Adapter, type ZapierApp } from './support/zapier-app.js';

/**
 * Fuzzes the live callback route, which is public and so must withstand any request, on Express and
 * on Fastify with SQLite: random methods, paths, headers, content types, encodings, framings and
 * bodies, signed or not, mixed with correctly signed control callbacks. Invariants, checked after
 * every request: no 5xx (the JWKS and the database are healthy, so a 5xx is always a bug), nothing
 * stored and nothing quarantined without a valid signature, every control request answered 200 and
 * heard exactly once by listeners, and the app still answering at the end.
 *
 * FUZZ_SEED=<n> replays a run; FUZZ_REQUESTS sets the number of requests per adapter.
 */

const MiB = 1024 * 1024;
const BODY_LIMIT = 4 * MiB;
const ROUTE = '/zapier/callbacks';
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 900);
const SIGNATURE = 'zapier-callback-signature';

type Auth = 'valid' | 'invalid' | 'none';
/**
 * `control`: a clean signed callback, must be answered 200 and stored; `maybe`: a signed run
 * result sent oddly, stored if and only if answered 200; `reject`: must not be stored (and, when
 * unsigned, not quarantined either).
 */
type Expect = 'control' | 'maybe' | 'reject';

interface FuzzCase {
  label: string;
  auth: Auth;
  expect: Expect;
  /** The run id in the body, when the body is a run result. */
  runId?: string;
  /** POST to the callback route: a 2xx there means "stored". */
  post: boolean;
  /** The server may go on working after answering (a body the client abandoned). */
  settle: boolean;
  preview: string;
  send(): Promise<Exchange>;
}

interface Tokens {
  valid: string[];
  invalid: string[];
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

async function makeTokens(sandbox: ZapierSandbox): Promise<Tokens> {
  const signer = sandbox.signer;
  const now = Math.floor(Date.now() / 1000);
  // Each is valid for 5 minutes, far longer than this file runs.
  const valid = await Promise.all(
    Array.from({ length: 16 }, (_, i) => signer.sign(i % 4 === 0 ? { kid: null } : {})),
  );
  const [header, payload, signature] = valid[0].split('.');
  // Tokens signed in the same second share their claims: take another payload from other claims.
  const otherPayload = (await signer.sign({ claims: { jti: 'other' } })).split('.')[1];
  const flip = (segment: string, at: number) =>
    `${segment.slice(0, at)}${segment[at] === 'A' ? 'B' : 'A'}${segment.slice(at + 1)}`;
  const invalid = [
    'not.a.jwt',
    'null',
    `Bearer ${valid[1]}`,
    `${valid[1]}.${signature}`,
    `${header}.${payload}`,
    `${header}.${payload}.`,
    `${flip(header, 3)}.${payload}.${signature}`,
    `${header}.${flip(payload, 9)}.${signature}`,
    `${header}.${payload}.${signature.slice(0, -3)}`,
    `${header}.${otherPayload}.${signature}`,
    forgeUnsignedToken({}, signer.kid),
    forgeUnsignedToken(),
    await forgeHs256Token(signer.jwks().keys[0]),
    await signer.signWithForeignKey(),
    await signer.sign({ issuedAt: now - 400 }),
    await signer.sign({ issuedAt: now - 400, expiresInSeconds: 3600 }),
    await signer.sign({ issuedAt: now + 120 }),
    await signer.sign({ omitClaims: ['exp'] }),
    await signer.sign({ omitClaims: ['iat'] }),
    await signer.sign({ kid: 'rotated-away' }),
    await signer.sign({ claims: { exp: 'soon' } }),
  ];
  return { valid, invalid };
}

// ---------------------------------------------------------------------------------------------
// Bodies

interface Body {
  bytes: Buffer;
  /** Set when the body is a well-formed run result for this id. */
  runId?: string;
  kind: string;
}

const text = (value: string) => Buffer.from(value, 'utf8');

function validPayload(rng: SeededRandom, runId: string, bigString = 0): string {
  const status = rng.pick(['success', 'error'] as const);
  const results = rng.weighted<unknown>([
    [4, []],
    [3, [{ email: 'a@example.com', n: rng.int(0, 1e6), s: 'é😀\u0000' }]],
    [2, { rowId: rng.int(0, 99) }],
    [1, null],
  ]);
  const data: Record<string, unknown> = {
    type: 'run',
    [rng.chance(0.5) ? 'id' : 'run_id']: runId,
    status,
    results: bigString > 0 ? [{ big: 'x'.repeat(bigString) }] : results,
    errors:
      status === 'error'
        ? [
            {
              code: rng.pick(['user', 'throttled', 'x-custom']),
              title: 'Failed',
              detail: 'Details',
              ...(rng.chance(0.3) ? { delay: rng.int(0, 60) } : {}),
              ...(rng.chance(0.3) ? { meta: { partner: 'p' } } : {}),
            },
          ]
        : [],
  };
  if (rng.chance(0.2)) data.unknown = { nested: [1, 2] };
  return JSON.stringify(rng.chance(0.1) ? { data, links: {} } : { data });
}

const nested = (depth: number, open: string, close: string, leaf = '') =>
  `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;

/** Bodies no correct implementation stores, whatever the signature. */
function invalidBody(rng: SeededRandom, id: string): Body {
  const depth = () => rng.size(10, 150_000);
  const valid = validPayload(rng, id);
  const kinds: Array<readonly [number, () => Omit<Body, 'kind'> & { kind?: string }]> = [
    [2, () => ({ bytes: Buffer.alloc(0), kind: 'empty' })],
    [4, () => ({ bytes: rng.bytes(rng.size(1, 8192)), kind: 'random bytes' })],
    [
      3,
      () => ({
        bytes: text(valid.slice(0, rng.int(1, valid.length - 2))),
        kind: 'truncated JSON',
      }),
    ],
    [2, () => ({ bytes: text(nested(depth(), '[', ']')), kind: 'deep array' })],
    [1, () => ({ bytes: text(nested(depth(), '{"a":', '}', '1')), kind: 'deep object' })],
    [2, () => ({ bytes: text(`{"data":${nested(depth(), '[', ']')}}`), kind: 'deep data' })],
    [
      2,
      () => ({
        bytes: text(
          `{"data":{"id":"${id}","status":"error","errors":${nested(depth(), '[', ']')}}}`,
        ),
        kind: 'deep errors',
      }),
    ],
    [
      2,
      () => ({
        bytes: text(`{"data":{"id":"${id}","status":"error","errors":[[{"code":"user"}]]}}`),
        kind: 'errors item is an array',
      }),
    ],
    [
      6,
      () => {
        const prefix = rng.pick([
          '"constructor":1,',
          '"constructor":null,',
          '"constructor":{},',
          '"__proto__":{},',
          '"__proto__":null,',
          '"__proto__":{"status":"success"},',
          '"prototype":{},',
        ]);
        const inData = rng.chance(0.5);
        const status = rng.pick(['running', 'queued', 'bogus', 'SUCCESS', '']);
        return {
          bytes: text(
            inData
              ? `{"data":{${prefix}"id":"${id}","status":"${status}"}}`
              : `{${prefix}"data":{"id":"${id}","status":"${status}"}}`,
          ),
          kind: `prototype key + status ${status || '""'}`,
        };
      },
    ],
    [
      5,
      () => ({
        bytes: text(
          rng.pick([
            '[]',
            '"string"',
            '123',
            'null',
            'true',
            '{}',
            '{"data":null}',
            '{"data":"x"}',
            '{"data":[]}',
            `{"data":{"id":"${id}"}}`,
            `{"data":{"id":"${id}","status":"running"}}`,
            `{"data":{"id":"${id}","status":"waiting","results":[]}}`,
            '{"data":{"status":"success"}}',
            '{"data":{"id":"","status":"success"}}',
            '{"data":{"id":1e999,"status":"success"}}',
            '{"data":{"id":12345678901234567890123,"status":"success"}}',
            `{"data":{"id":"${id}","status":"success","results":5}}`,
            `{"data":{"id":"${id}","status":"error","errors":{}}}`,
            `{"data":{"id":"${id}","status":"error","errors":["x"]}}`,
            `{"data":{"id":"${id}","status":"error","errors":[{"code":5}]}}`,
            `{"data":{"id":"${id}","status":"success","type":"job"}}`,
            `{"data":{"id":"${id}","status":"success","status":"running"}}`,
            `{"data":{"id":"${'a'.repeat(rng.int(256, 400))}","status":"success"}}`,
            `{"data":{"id":"${'a\\ufe0f'.repeat(200)}","status":"success"}}`,
            `{"data":{"id":"${id}","status":"success"}} trailing`,
            `{"data":{"id":"${id}","status":"success"}}{"data":{}}`,
          ]),
        ),
        kind: 'wrong shape',
      }),
    ],
    [
      2,
      () => ({
        // Invalid UTF-8 (overlong, surrogate half, stray continuation, 0xFF) in a non-terminal run.
        bytes: Buffer.concat([
          text(`{"data":{"id":"${id}`),
          rng.pick([
            Buffer.from([0xc0, 0xaf]),
            Buffer.from([0xed, 0xa0, 0x80]),
            Buffer.from([0x80]),
            Buffer.from([0xff, 0xfe]),
            Buffer.from([0xc3]),
          ]),
          text('","status":"running"}}'),
        ]),
        kind: 'invalid UTF-8',
      }),
    ],
    [
      1,
      () => ({
        bytes: text(
          `{"data":{"id":"${id}","status":"running","results":[{"s":"${'y'.repeat(rng.size(1, 3 * MiB))}"}]}}`,
        ),
        kind: 'huge non-terminal',
      }),
    ],
    [
      0.3,
      () => ({
        bytes: text(
          `{"data":{"id":"${id}","status":"success","results":[{"s":"${'z'.repeat(BODY_LIMIT + rng.int(1, MiB))}"}]}}`,
        ),
        kind: 'over the body limit',
      }),
    ],
  ];
  const body = rng.weighted(kinds)();
  return { bytes: body.bytes, kind: body.kind ?? 'invalid' };
}

/** Well-formed run results, some of them sent in odd but legal ways. */
function validBody(rng: SeededRandom, runId: string): Body {
  const kind = rng.weighted([
    [10, 'plain'],
    [1, 'large'],
    [1, 'bom'],
    [1, 'whitespace'],
    [1, 'prototype-named unknown field'],
    [0.5, 'deep results'],
  ] as const);
  switch (kind) {
    case 'large':
      return { bytes: text(validPayload(rng, runId, rng.size(100_000, 3 * MiB))), runId, kind };
    case 'bom':
      return { bytes: text(`\uFEFF${validPayload(rng, runId)}`), runId, kind };
    case 'whitespace':
      return { bytes: text(`\r\n\t ${validPayload(rng, runId)} \n`), runId, kind };
    case 'prototype-named unknown field': {
      const payload = JSON.parse(validPayload(rng, runId)) as { data: Record<string, unknown> };
      const name = rng.pick(['constructor', 'toString', 'hasOwnProperty', 'valueOf']);
      const value = rng.pick([1, 'x', {}, []]);
      const inData = rng.chance(0.5);
      const json = JSON.stringify(
        inData ? { data: { ...payload.data, [name]: value } } : { ...payload, [name]: value },
      );
      return { bytes: text(json), runId, kind: `${kind} ${name}` };
    }
    case 'deep results': {
      const payload = validPayload(rng, runId).replace(
        /"results":(\[[^\]]*\]|\{[^}]*\}|null)/,
        `"results":${nested(rng.size(1000, 100_000), '[', ']')}`,
      );
      return { bytes: text(payload), runId, kind };
    }
    default:
      return { bytes: text(validPayload(rng, runId)), runId, kind };
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'application/json;charset="UTF-8"',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=',
  'application/vnd.api+json',
  'APPLICATION/JSON',
  'text/json',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '*/*',
  '',
  'application/json;;;',
  'application/json; charset=utf-8; charset=ascii',
  `application/${'x'.repeat(5000)}`,
  'application/json , text/plain',
];
const ENCODINGS = [
  'identity',
  'gzip',
  'x-gzip',
  'deflate',
  'br',
  'GZIP',
  'gzip, gzip',
  'compress',
  'zstd',
  '',
  'identity, gzip',
];
const METHODS = ['GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'FOO', 'TRACE'];
const PATHS = [
  `${ROUTE}/`,
  `${ROUTE}?x=1`,
  `${ROUTE}/../callbacks`,
  '/Zapier/Callbacks',
  `/${ROUTE}`,
  `${ROUTE}%00`,
  `${ROUTE}/extra`,
  '/',
  '/zapier',
  `${ROUTE}?${'q'.repeat(9000)}`,
];

function encode(rng: SeededRandom, encoding: string, body: Buffer): Buffer {
  if (!rng.chance(0.7)) return body; // declared but not applied
  switch (encoding.toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return gzipSync(body);
    case 'deflate':
      return deflateSync(body);
    case 'br':
      return brotliCompressSync(body);
    default:
      return body;
  }
}

function randomToken(rng: SeededRandom): string {
  return rng.pick([
    () => rng.string(rng.size(1, 600), `${B64URL}.`),
    () => [0, 1, 2].map(() => rng.string(rng.size(0, 400), B64URL)).join('.'),
    () => rng.string(rng.size(1, 200), ' !"#$%&\'()*+,-./0123456789:;<=>?@AZaz[]^_`{|}~'),
    () => `${rng.string(rng.size(20, 12_000), B64URL)}.${rng.string(20, B64URL)}.x`,
  ])();
}

function authHeaders(rng: SeededRandom, auth: Auth, tokens: Tokens): Array<[string, string]> {
  const name = rng.pick([SIGNATURE, 'Zapier-Callback-Signature', 'ZAPIER-CALLBACK-SIGNATURE']);
  if (auth === 'none') return rng.chance(0.15) ? [[name, '']] : [];
  if (auth === 'valid') {
    const token = rng.pick(tokens.valid);
    // Node trims the value, so surrounding blanks leave it valid.
    return [[name, rng.chance(0.1) ? ` ${token}\t` : token]];
  }
  return rng.weighted<() => Array<[string, string]>>([
    [6, () => [[name, rng.pick(tokens.invalid)]]],
    [3, () => [[name, randomToken(rng)]]],
    // Two valid tokens: Node joins repeated headers with ", ", which is not a JWT.
    [
      1,
      () => [
        [name, rng.pick(tokens.valid)],
        [SIGNATURE, rng.pick(tokens.valid)],
      ],
    ],
    [0.5, () => [[name, 'a'.repeat(rng.int(17_000, 70_000))]]],
  ])();
}

function preview(bytes: Buffer): string {
  const head = bytes
    .subarray(0, 120)
    .toString('utf8')
    .replace(/[^\x20-\x7e]/g, '·');
  return bytes.length > 120 ? `${head}… (${bytes.length} bytes)` : head;
}

interface Context {
  rng: SeededRandom;
  tokens: Tokens;
  url: string;
  port: number;
  nextId: () => string;
}

/** A signed, well-formed callback sent the clean way: must be answered 200 and stored. */
function controlCase({ rng, tokens, url, nextId }: Context): FuzzCase {
  const runId = nextId();
  const body = validBody(rng, runId);
  const chunked = rng.chance(0.2);
  const headers: Array<[string, string]> = [
    ['content-type', rng.pick(['application/json', 'application/json; charset=utf-8'])],
    [SIGNATURE, rng.pick(tokens.valid)],
  ];
  const expect: Expect = body.kind === 'plain' || body.kind === 'large' ? 'control' : 'maybe';
  return {
    label: `signed ${body.kind} callback${chunked ? ' (chunked)' : ''}`,
    auth: 'valid',
    expect,
    runId,
    post: true,
    settle: false,
    preview: preview(body.bytes),
    send: () =>
      httpExchange(url, {
        method: 'POST',
        path: ROUTE,
        headers,
        body: body.bytes,
        chunks: chunked ? [rng.int(1, 64), rng.int(1, 4096), rng.int(1, 100_000)] : undefined,
      }),
  };
}

/** Any method, path, headers, encoding and body, over node:http. */
function httpCase({ rng, tokens, url, nextId }: Context, auth: Auth): FuzzCase {
  const id = nextId();
  const body =
    auth === 'valid'
      ? rng.chance(0.3)
        ? validBody(rng, id)
        : invalidBody(rng, id)
      : rng.chance(0.4)
        ? validBody(rng, id)
        : invalidBody(rng, id);
  const method = rng.chance(0.8) ? 'POST' : rng.pick(METHODS);
  const path = rng.chance(0.85) ? ROUTE : rng.pick(PATHS);
  const headers: Array<[string, string]> = [];
  const contentType = rng.weighted<string | undefined>([
    [6, 'application/json'],
    [4, rng.pick(CONTENT_TYPES)],
    [1, undefined],
  ]);
  if (contentType !== undefined) headers.push(['content-type', contentType]);
  if (rng.chance(0.05)) headers.push(['content-type', 'text/plain']);
  let bytes = body.bytes;
  let encoding: string | undefined;
  if (rng.chance(0.2)) {
    encoding = rng.pick(ENCODINGS);
    headers.push(['content-encoding', encoding]);
    bytes = encode(rng, encoding, bytes);
  }
  headers.push(...authHeaders(rng, auth, tokens));
  if (rng.chance(0.1)) headers.push(['x-forwarded-for', '10.0.0.1, 127.0.0.1']);
  if (rng.chance(0.05)) headers.push(['expect', '100-continue']);
  const chunked = rng.chance(0.25);
  const clean =
    method === 'POST' &&
    path === ROUTE &&
    (contentType === 'application/json' ||
      contentType?.startsWith('application/json; charset=utf-8')) &&
    encoding === undefined &&
    headers.filter(([name]) => name === 'content-type').length === 1;
  const expect: Expect =
    auth !== 'valid' || body.runId === undefined
      ? 'reject'
      : clean && body.kind === 'plain'
        ? 'control'
        : 'maybe';
  return {
    label: `${auth} signature, ${body.kind}, ${method} ${path.slice(0, 40)}, ct=${contentType ?? '(none)'}${
      encoding === undefined ? '' : `, ce=${encoding}`
    }${chunked ? ', chunked' : ''}`,
    auth,
    expect,
    runId: body.runId,
    post: method === 'POST' && path.split('?')[0].replace(/\/$/, '') === ROUTE,
    settle: false,
    preview: preview(body.bytes),
    send: () =>
      httpExchange(url, {
        method,
        path,
        headers,
        body: bytes,
        chunks: chunked ? [rng.int(1, 16), rng.int(1, 1024), rng.int(1, 65_536)] : undefined,
      }),
  };
}

/** Broken or unusual HTTP framing, written byte by byte on a socket. */
function rawCase({ rng, tokens, port, nextId }: Context, auth: Auth): FuzzCase {
  const id = nextId();
  const body = rng.chance(0.5) ? validBody(rng, id) : invalidBody(rng, id);
  if (body.bytes.length > 256 * 1024) body.bytes = body.bytes.subarray(0, 256 * 1024);
  const signature = authHeaders(rng, auth, tokens)
    .filter(([, value]) => value.length < 16_000)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const head = (method: string, extra: string, version = 'HTTP/1.1') =>
    `${method} ${ROUTE} ${version}\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n${signature}${extra}\r\n`;
  const b = body.bytes;
  const hex = b.length.toString(16);
  const framings: Array<readonly [string, () => { bytes: Buffer; halfClose?: boolean }]> = [
    [
      'content-length larger than the body',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', `Content-Length: ${b.length + rng.int(1, 5000)}\r\n`)),
          b,
        ]),
        halfClose: true,
      }),
    ],
    [
      'content-length smaller than the body',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', `Content-Length: ${rng.int(0, Math.max(0, b.length - 1))}\r\n`)),
          b,
        ]),
      }),
    ],
    [
      'odd content-length',
      () => ({
        bytes: Buffer.concat([
          text(
            head(
              'POST',
              `Content-Length: ${rng.pick(['-1', '+5', '12abc', '0x10', '', ' ', '99999999999999999999', `${b.length}, ${b.length}`])}\r\n`,
            ),
          ),
          b,
        ]),
        halfClose: true,
      }),
    ],
    [
      'two content-lengths',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', `Content-Length: ${b.length}\r\nContent-Length: ${b.length + 1}\r\n`)),
          b,
        ]),
      }),
    ],
    [
      'chunked and content-length',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', `Transfer-Encoding: chunked\r\nContent-Length: ${b.length}\r\n`)),
          text(`${hex}\r\n`),
          b,
          text('\r\n0\r\n\r\n'),
        ]),
      }),
    ],
    [
      'bad chunk size',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', 'Transfer-Encoding: chunked\r\n')),
          text(`${rng.pick(['ZZ', '-1', ' ', 'FFFFFFFFFFFFFFFFFF', '1 1'])}\r\n`),
          b,
          text('\r\n0\r\n\r\n'),
        ]),
        halfClose: true,
      }),
    ],
    [
      'truncated chunked body',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', 'Transfer-Encoding: chunked\r\n')),
          text(`${(b.length + 10).toString(16)}\r\n`),
          b,
        ]),
        halfClose: true,
      }),
    ],
    [
      'chunk extensions and trailers',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', 'Transfer-Encoding: chunked\r\n')),
          text(`${hex};name=value\r\n`),
          b,
          text(`\r\n0\r\nX-Trailer: 1\r\n${SIGNATURE}: ${rng.pick(tokens.valid)}\r\n\r\n`),
        ]),
      }),
    ],
    [
      'unknown transfer-encoding',
      () => ({
        bytes: Buffer.concat([
          text(
            head(
              'POST',
              `Transfer-Encoding: ${rng.pick(['gzip', 'identity', 'chunked, gzip', 'chunkedx'])}\r\n`,
            ),
          ),
          b,
        ]),
        halfClose: true,
      }),
    ],
    [
      'obsolete header folding',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', `X-Folded: a\r\n  b\r\nContent-Length: ${b.length}\r\n`)),
          b,
        ]),
      }),
    ],
    [
      'control and non-ASCII bytes in a header',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', `Content-Length: ${b.length}\r\n`)).subarray(0, 20),
          Buffer.from([0x01, 0xff, 0xc3, 0xa9, 0x7f]),
          text(head('POST', `Content-Length: ${b.length}\r\n`)).subarray(20),
          b,
        ]),
      }),
    ],
    [
      'HTTP/1.0',
      () => ({
        bytes: Buffer.concat([
          text(head('POST', `Content-Length: ${b.length}\r\n`, 'HTTP/1.0')),
          b,
        ]),
      }),
    ],
    [
      'odd request line',
      () => ({
        bytes: Buffer.concat([
          text(
            head(
              rng.pick(['post', 'P0ST', 'CONNECT', 'PRI', 'POST POST']),
              `Content-Length: ${b.length}\r\n`,
            ),
          ),
          b,
        ]),
        halfClose: true,
      }),
    ],
    [
      'garbage',
      () => ({
        bytes: Buffer.concat([rng.bytes(rng.size(1, 2000)), text('\r\n\r\n')]),
        halfClose: true,
      }),
    ],
  ];
  const [framing, build] = rng.pick(framings);
  const { bytes, halfClose } = build();
  return {
    label: `raw: ${framing}, ${auth} signature, ${body.kind}`,
    auth,
    expect: auth === 'valid' && body.runId !== undefined ? 'maybe' : 'reject',
    runId: body.runId,
    post: true,
    settle: true,
    preview: preview(bytes),
    send: () => rawExchange(port, bytes, { halfClose, timeoutMs: 5000 }),
  };
}

// ---------------------------------------------------------------------------------------------

interface Counts {
  runs: number;
  quarantined: number;
}

async function counts(zapier: ZapierApp): Promise<Counts> {
  const [row] = await zapier.dataSource.query<Array<{ runs: number; quarantined: number }>>(
    'SELECT (SELECT COUNT(*) FROM zapier_action_runs) AS runs, (SELECT COUNT(*) FROM zapier_callback_quarantine) AS quarantined',
  );
  return { runs: Number(row.runs), quarantined: Number(row.quarantined) };
}

/** Waits until the counts stop moving (a request the client abandoned may still be processed). */
async function settledCounts(zapier: ZapierApp): Promise<Counts> {
  let last = await counts(zapier);
  for (let stable = 0, waited = 0; stable < 3 && waited < 1000; waited += 15) {
    await new Promise((resolve) => setTimeout(resolve, 15));
    const now = await counts(zapier);
    stable = now.runs === last.runs && now.quarantined === last.quarantined ? stable + 1 : 0;
    last = now;
  }
  return last;
}

const codePoints = (value: string) => [...value].length;

for (const adapter of ['express', 'fastify'] as Adapter[]) {
  describe(`fuzzing the callback route on ${adapter} + sqlite`, () => {
    let sandbox: ZapierSandbox;
    let zapier: ZapierApp;
    let cleanup: () => void;
    let tokens: Tokens;
    const unhandled: string[] = [];
    const onUnhandled = (error: unknown) => unhandled.push(String(error));

    before(async () => {
      process.on('unhandledRejection', onUnhandled);
      process.on('uncaughtException', onUnhandled);
      sandbox = await ZapierSandbox.start({ rateLimit: false });
      const db = await freshDatabase('sqlite', `fuzz_${adapter}`);
      cleanup = db.cleanup;
      zapier = await startZapierApp({
        adapter,
        database: db.options,
        zapier: { jwksUrl: sandbox.jwksUrl, callbackBodyLimit: BODY_LIMIT },
      });
      tokens = await makeTokens(sandbox);
    });
    after(async () => {
      await zapier?.close();
      await sandbox?.stop();
      cleanup?.();
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
    });

    it(`answers ${REQUESTS} hostile requests without a 5xx, storing only what is signed`, async () => {
      const rng = SeededRandom.fromEnv();
      const started = Date.now();
      let serial = 0;
      const context: Context = {
        rng,
        tokens,
        url: zapier.url,
        port: Number(new URL(zapier.url).port),
        nextId: () => `fz_${adapter}_${rng.seed}_${++serial}`,
      };
      const problems: string[] = [];
      const tally = new Map<string, number>();
      /** Run ids answered 200 (first time): each must be heard exactly once. */
      const stored = new Set<string>();
      let observedRuns = 0;
      let observedQuarantine = 0;
      const initial = await counts(zapier);

      for (let i = 0; i < REQUESTS; i += 1) {
        const auth = rng.weighted<Auth>([
          [3, 'valid'],
          [4, 'invalid'],
          [3, 'none'],
        ]);
        const fuzzCase = rng.weighted<() => FuzzCase>([
          [3, () => controlCase(context)],
          [12, () => httpCase(context, auth)],
          [2, () => rawCase(context, auth)],
        ])();
        const before = await counts(zapier);
        const answer = await fuzzCase.send();
        if (answer.error?.startsWith('not sent')) {
          tally.set('not sent', (tally.get('not sent') ?? 0) + 1);
          continue;
        }
        const after = fuzzCase.settle ? await settledCounts(zapier) : await counts(zapier);
        observedRuns += after.runs - before.runs;
        observedQuarantine += after.quarantined - before.quarantined;
        const outcome = `${answer.status ?? `no answer (${answer.error ?? 'closed'})`}`;
        tally.set(
          `${fuzzCase.expect} → ${answer.status ?? 'none'}`,
          (tally.get(`${fuzzCase.expect} → ${answer.status ?? 'none'}`) ?? 0) + 1,
        );
        const fail = (what: string) =>
          problems.push(
            `#${i} ${what} — ${fuzzCase.label} → ${outcome} ${answer.body.slice(0, 200)}\n      body: ${fuzzCase.preview}`,
          );

        if (answer.status !== null && answer.status >= 500) fail(`5xx (${answer.status})`);
        if (answer.error === 'timeout') fail('no answer within 5 s');
        let response: { runId?: unknown; duplicate?: unknown } = {};
        try {
          response = JSON.parse(answer.body) as typeof response;
        } catch {
          response = {};
        }
        const accepted = answer.status === 200 && typeof response.runId === 'string';
        // Whatever the verdict below, a run answered as new must then be heard exactly once.
        if (accepted && response.duplicate === false) stored.add(response.runId as string);

        const answered2xx = answer.status !== null && answer.status < 300;
        if (fuzzCase.auth !== 'valid') {
          if (after.runs !== before.runs) fail('stored a run from an unsigned request');
          else if (fuzzCase.post && answered2xx) fail('accepted an unsigned request');
          if (after.quarantined !== before.quarantined) fail('quarantined an unsigned request');
          continue;
        }
        if (fuzzCase.expect === 'reject') {
          if (after.runs !== before.runs) fail('stored a run from a body that is not a run result');
          else if (fuzzCase.post && answered2xx) fail('accepted a body that is not a run result');
          if (answered2xx) continue;
        }
        if (fuzzCase.expect === 'control' && !accepted)
          fail('a clean signed callback was not accepted');
        if (accepted) {
          const runId = response.runId as string;
          if (fuzzCase.runId !== undefined && runId !== fuzzCase.runId) {
            fail(`answered for run ${JSON.stringify(runId).slice(0, 80)}, sent ${fuzzCase.runId}`);
          }
          if (runId === '' || codePoints(runId) > 255) fail('accepted a run id longer than 255');
          if (response.duplicate === false && after.runs !== before.runs + 1) {
            fail('answered 200 but stored no new run');
          }
          if (after.quarantined !== before.quarantined) fail('answered 200 but quarantined');
        } else if (fuzzCase.expect === 'maybe' && after.runs !== before.runs) {
          fail('stored a run but did not answer 200');
        }
      }

      // The app still answers a clean callback.
      const finalId = `fz_${adapter}_${rng.seed}_final`;
      const last = await httpExchange(zapier.url, {
        method: 'POST',
        path: ROUTE,
        headers: [
          ['content-type', 'application/json'],
          [SIGNATURE, await sandbox.signer.sign()],
        ],
        body: Buffer.from(
          JSON.stringify({ data: { id: finalId, status: 'success', results: [] } }),
        ),
      });
      if (last.status !== 200)
        problems.push(`the final clean callback got ${last.status ?? last.error}`);
      else stored.add(finalId);

      // Listeners: exactly one event per stored run, none for anything else.
      const deadline = Date.now() + 15_000;
      const heard = () => new Set(zapier.listener.events.map((e) => e.event.runId));
      while ([...stored].some((id) => !heard().has(id)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const perRun = new Map<string, number>();
      for (const { event } of zapier.listener.events) {
        perRun.set(event.runId, (perRun.get(event.runId) ?? 0) + 1);
      }
      for (const id of stored) {
        const n = perRun.get(id) ?? 0;
        if (n !== 1) problems.push(`run ${id} was heard ${n} times`);
      }
      for (const [id, n] of perRun) {
        if (!stored.has(id))
          problems.push(
            `an event (${n}×) for run ${JSON.stringify(id).slice(0, 80)} that was never accepted`,
          );
      }
      const rows = await zapier.dataSource.query<Array<{ run_id: string; status: string }>>(
        'SELECT run_id, status FROM zapier_action_runs',
      );
      for (const row of rows) {
        if (row.status !== 'success' && row.status !== 'error') {
          problems.push(
            `run ${JSON.stringify(row.run_id).slice(0, 80)} stored with status ${JSON.stringify(row.status)}`,
          );
        }
      }
      const final = await settledCounts(zapier);
      if (final.runs - initial.runs !== observedRuns + (last.status === 200 ? 1 : 0)) {
        problems.push('runs were stored after their request was answered');
      }
      if (final.quarantined - initial.quarantined !== observedQuarantine) {
        problems.push('bodies were quarantined after their request was answered');
      }
      if (unhandled.length > 0)
        problems.push(`unhandled errors: ${unhandled.slice(0, 3).join(' | ')}`);

      const errors = [
        ...new Set(
          zapier.logger.entries
            .filter((e) => e.level === 'error')
            .map((e) => e.message.slice(0, 160)),
        ),
      ];
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const summary = [...tally]
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join(', ');
      if (process.env.TEST_LOGS) {
        console.log(
          `${adapter}: ${REQUESTS} requests in ${seconds} s, seed ${rng.seed}; ${summary}`,
        );
      }
      assert.ok(
        problems.length === 0,
        [
          `${problems.length} problem(s) in ${REQUESTS} requests on ${adapter} (${seconds} s). ` +
            `Replay with FUZZ_SEED=${rng.seed}.`,
          ...problems.slice(0, 25).map((p) => `  - ${p}`),
          ...(problems.length > 25 ? [`  … and ${problems.length - 25} more`] : []),
          `  app errors logged: ${errors.slice(0, 10).join(' | ') || 'none'}`,
          `  answers: ${summary}`,
        ].join('\n'),
      );
    });
  });
}
