import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseActionRunCallback, type ParseOutcome } from './parse-action-run-callback.js';
import {
  ActionRunCallbackDataDto,
  ActionRunCallbackDto,
  ActionRunCallbackErrorDto,
} from './dto/action-run-callback.dto.js';

/**
 * Property-based tests of the callback parser. Its input is whatever a signed request carried, so
 * any JSON at all must end in a clean accept or reject: no throw, no prototype pollution, no
 * mutated input. Failures print fast-check's seed and path; replay with FC_SEED=<seed> (FC_RUNS
 * scales the run counts).
 */

const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
function params<T>(numRuns: number): fc.Parameters<T> {
  return {
    numRuns: Math.max(1, Math.round(numRuns * Number(process.env.FC_RUNS ?? 1))),
    ...(SEED === undefined ? {} : { seed: SEED }),
  };
}

type Json = unknown;
type JsonRecord = Record<string, unknown>;

const isRecord = (value: unknown): value is JsonRecord =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Code points, which is what PostgreSQL's `varchar(255)` counts. */
const codePoints = (text: string) => [...text].length;

/** JSON round trip: what the route hands the parser (own `__proto__` keys survive it). */
const viaJson = <T>(value: T): T =>
  value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);

/** Sets `key` as an own data property, even `__proto__` (plain assignment would not). */
function define(target: JsonRecord, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) {
      deepFreeze((value as Record<PropertyKey, unknown>)[key]);
    }
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Keys of Object.prototype and friends: assigning them naively changes prototypes or lookups. */
const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  '__defineGetter__',
  '__lookupGetter__',
] as const;
const FIELD_KEYS = [
  'data',
  'type',
  'id',
  'run_id',
  'status',
  'results',
  'errors',
  'code',
  'title',
  'detail',
  'delay',
  'meta',
] as const;
const KNOWN = new Set<string>([...PROTO_KEYS, ...FIELD_KEYS]);

const keyArb = fc.oneof(
  { arbitrary: fc.string({ maxLength: 12 }), weight: 4 },
  { arbitrary: fc.constantFrom(...PROTO_KEYS), weight: 2 },
  { arbitrary: fc.constantFrom(...FIELD_KEYS), weight: 2 },
);

/** A key that is neither a field the parser reads nor a prototype name. */
const plainExtraKeyArb = fc
  .string({ minLength: 1, maxLength: 12 })
  .filter((key) => !KNOWN.has(key));

const weirdStringArb = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  // Lone surrogates, variation selectors, NUL, bidi overrides, astral characters.
  fc.string({
    unit: fc.constantFrom('\uFE0F', '\uD800', '\uDC00', '\u0000', 'a', '😀', ' ', '\u202E'),
    maxLength: 300,
  }),
  fc.constantFrom(
    '',
    'run',
    'success',
    'error',
    'running',
    'queued',
    'waiting',
    'SUCCESS',
    'success ',
    ' error',
    '__proto__',
    'constructor',
    'a'.repeat(255),
    'a'.repeat(256),
    '😀'.repeat(255),
    'a\uFE0F'.repeat(200),
  ),
);

const weirdNumberArb = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, -1, 0.5, 1e308, -1e308, 2 ** 53 + 2, 5e-324, 30),
);

const leafArb: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  weirdNumberArb,
  weirdStringArb,
);

/** JSON values whose object keys are often prototype names or the parser's field names. */
const { value: hostileJsonArb } = fc.letrec<{ value: Json; array: Json[]; object: JsonRecord }>(
  (tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leafArb,
      tie('array'),
      tie('object'),
    ),
    array: fc.array(tie('value'), { maxLength: 5 }),
    object: fc
      .array(fc.tuple(keyArb, tie('value')), { maxLength: 6 })
      // Object.fromEntries creates own properties, `__proto__` included, as JSON.parse does.
      .map((entries): JsonRecord => Object.fromEntries(entries)),
  }),
);

interface ValidCase {
  payload: JsonRecord;
  /** What the parser must return for it. */
  expected: {
    runId: string;
    status: 'success' | 'error';
    results: unknown[];
    errors: JsonRecord[];
  };
}

/** Well-formed run ids: control characters are refused (see `isWellFormedRunId`). */
const runIdArb = fc
  .oneof(
    fc.stringMatching(/^arun_[A-Za-z0-9]{1,40}$/),
    fc.string({ minLength: 1, maxLength: 255 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 255 }),
    fc.constantFrom('a'.repeat(255), '😀'.repeat(255), ' ', '0'),
  )
  .filter((id) => !/\p{Cc}/u.test(id));

const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.option(arb, { nil: undefined, freq: 3 });

const resultObjectArb = fc
  .dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), {
    maxKeys: 6,
    noNullPrototype: true,
  })
  .map((value) => value as JsonRecord);

const errorItemArb = fc.record(
  {
    code: fc.oneof(
      fc.constantFrom('user', 'partner', 'system', 'throttled', 'authentication_error', ''),
      fc.string(),
    ),
    title: fc.oneof(fc.string(), fc.constant(null)),
    detail: fc.oneof(fc.string(), fc.constant(null)),
    delay: fc.oneof(fc.nat(), fc.constant(null)),
    meta: fc.oneof(resultObjectArb, fc.constant(null)),
    unknownExtra: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: ['code'] },
);

function extrasArb(keys: fc.Arbitrary<string>) {
  return fc.array(fc.tuple(keys, fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 });
}

/**
 * Well-formed callbacks in both documented shapes (docs/decisions.md#f2, #f3): `id` or `run_id`,
 * `results` an array, an object, null or absent, `errors` with optional fields, unknown fields
 * anywhere. `extraKeys` chooses the names of the unknown fields.
 */
function validCallbackArb(extraKeys: fc.Arbitrary<string>): fc.Arbitrary<ValidCase> {
  return fc
    .record({
      shape: fc.constantFrom('id', 'run_id'),
      runId: runIdArb,
      type: fc.constantFrom('run', undefined),
      status: fc.constantFrom('success', 'error'),
      results: fc.oneof(
        fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }),
        resultObjectArb,
        fc.constant(null),
        fc.constant(undefined),
      ),
      errors: optional(fc.oneof(fc.array(errorItemArb, { maxLength: 4 }), fc.constant(null))),
      topExtras: extrasArb(extraKeys),
      dataExtras: extrasArb(extraKeys),
      errorExtras: extrasArb(extraKeys),
    })
    .map((c) => {
      const data: JsonRecord = { [c.shape]: c.runId, status: c.status };
      if (c.type !== undefined) data.type = c.type;
      if (c.results !== undefined) data.results = c.results;
      if (c.errors !== undefined) {
        data.errors = c.errors?.map(({ unknownExtra, ...item }) => {
          const withExtras: JsonRecord = { ...item, unknownExtra };
          for (const [key, value] of c.errorExtras) {
            if (!(FIELD_KEYS as readonly string[]).includes(key)) define(withExtras, key, value);
          }
          return withExtras;
        });
      }
      for (const [key, value] of c.dataExtras) {
        if (!(FIELD_KEYS as readonly string[]).includes(key)) define(data, key, value);
      }
      const payload: JsonRecord = { data };
      for (const [key, value] of c.topExtras) if (key !== 'data') define(payload, key, value);
      const results = c.results;
      return {
        payload: viaJson(payload),
        expected: viaJson({
          runId: c.runId,
          status: c.status,
          results: Array.isArray(results) ? results : results == null ? [] : [results],
          errors: (c.errors ?? []).map((item) => ({
            code: item.code,
            title: typeof item.title === 'string' ? item.title : '',
            detail: typeof item.detail === 'string' ? item.detail : '',
            ...(typeof item.delay === 'number' ? { delay: item.delay } : {}),
            ...(item.meta !== undefined ? { meta: item.meta } : {}),
          })),
        }),
      };
    });
}

const validArb = validCallbackArb(plainExtraKeyArb);
const validWithPrototypeNamesArb = validCallbackArb(fc.constantFrom(...PROTO_KEYS));

type Path = ReadonlyArray<string | number>;

/** One field of a valid callback replaced by `value` (or removed), or `data` / the body itself. */
function replaceAt(payload: JsonRecord, path: Path, value: unknown, remove: boolean): unknown {
  if (path.length === 0) return remove ? undefined : value;
  const copy = viaJson(payload);
  let parent: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) {
    const next = parent[step];
    if (typeof next !== 'object' || next === null) return copy;
    parent = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (remove) delete parent[last];
  else if (Array.isArray(parent)) parent[last as number] = value;
  else define(parent, String(last), value);
  return copy;
}

const PATHS: Path[] = [
  [],
  ['data'],
  ['data', 'type'],
  ['data', 'id'],
  ['data', 'run_id'],
  ['data', 'status'],
  ['data', 'results'],
  ['data', 'errors'],
  ['data', 'errors', 0],
  ['data', 'errors', 0, 'code'],
  ['data', 'errors', 0, 'title'],
  ['data', 'errors', 0, 'detail'],
  ['data', 'errors', 0, 'delay'],
  ['data', 'errors', 0, 'meta'],
];

/** Valid callbacks with one field replaced by a hostile value: the interesting boundary. */
const nearValidArb: fc.Arbitrary<unknown> = fc
  .tuple(validArb, fc.constantFrom(...PATHS), hostileJsonArb, fc.boolean())
  .map(([c, path, value, remove]) => replaceAt(c.payload, path, value, remove));

/** Both `id` and `run_id`, with strings of every length around the 255 limit. */
const bothIdsArb = fc
  .record({
    id: fc.oneof(weirdStringArb, fc.string({ minLength: 250, maxLength: 300 }), leafArb),
    run_id: fc.oneof(weirdStringArb, fc.string({ minLength: 250, maxLength: 300 }), leafArb),
    status: fc.constantFrom('success', 'error'),
  })
  .map((data) => ({ data }));

/** Deeply nested values (arrays and objects) inside every field, and at the top. */
const deepArb = fc
  .tuple(
    fc.integer({ min: 1, max: 3000 }),
    fc.constantFrom(...PATHS),
    fc.constantFrom('array', 'object', 'data'),
  )
  .chain(([depth, path, kind]) =>
    validArb.map((c) => {
      let value: unknown = 'leaf';
      for (let i = 0; i < depth; i += 1) {
        value = kind === 'array' ? [value] : kind === 'object' ? { a: value } : { data: value };
      }
      return replaceAt(c.payload, path, value, false);
    }),
  );

/** Very wide objects and arrays at the top, in data, results and errors. */
const wideArb = fc
  .tuple(fc.integer({ min: 100, max: 20_000 }), fc.constantFrom(...PATHS))
  .chain(([width, path]) =>
    validArb.map((c) => {
      const wide: JsonRecord = {};
      for (let i = 0; i < width; i += 1) wide[`k${i}`] = i;
      return replaceAt(c.payload, path, path.length % 2 ? wide : Object.values(wide), false);
    }),
  );

const anyJsonArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue(), weight: 2 },
  { arbitrary: hostileJsonArb, weight: 2 },
  { arbitrary: hostileJsonArb.map((data) => ({ data })), weight: 2 },
  { arbitrary: nearValidArb, weight: 6 },
  { arbitrary: bothIdsArb, weight: 1 },
  { arbitrary: validWithPrototypeNamesArb.map((c) => c.payload), weight: 1 },
);

// ---------------------------------------------------------------------------------------------
// Checks

const PROTOTYPES: Array<[string, object]> = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
  ['ActionRunCallbackDto.prototype', ActionRunCallbackDto.prototype],
  ['ActionRunCallbackDataDto.prototype', ActionRunCallbackDataDto.prototype],
  ['ActionRunCallbackErrorDto.prototype', ActionRunCallbackErrorDto.prototype],
];
const describePrototype = (proto: object): unknown[][] =>
  Reflect.ownKeys(proto).map((key) => {
    const descriptor = Object.getOwnPropertyDescriptor(proto, key)!;
    const value: unknown = descriptor.value ?? descriptor.get;
    const parent: unknown = Object.getPrototypeOf(proto);
    return [String(key), value, parent];
  });
const pristine = PROTOTYPES.map(([, proto]) => describePrototype(proto));

function assertNoPollution(input: unknown): void {
  PROTOTYPES.forEach(([name, proto], index) => {
    assert.ok(
      isDeepStrictEqual(describePrototype(proto), pristine[index]),
      `${name} changed after parsing ${show(input)}`,
    );
  });
  const fresh = { ...new ActionRunCallbackDataDto() } as JsonRecord;
  assert.deepEqual(Object.keys(fresh), [], 'a fresh DTO carries no inherited input');
}

function show(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Parses, failing the property (with the input) if the parser throws. */
function parse(input: unknown): ParseOutcome {
  try {
    return parseActionRunCallback(input);
  } catch (error) {
    assert.fail(`parseActionRunCallback threw ${String(error)} for ${show(input)}`);
  }
}

/** The contract of an outcome, whatever the input. */
function assertWellFormed(input: unknown, outcome: ParseOutcome): void {
  const where = `for ${show(input)} → ${show(outcome)}`;
  assert.ok(isRecord(outcome) && typeof outcome.ok === 'boolean', `no outcome ${where}`);
  if (!outcome.ok) {
    assert.ok(
      Array.isArray(outcome.problems) && outcome.problems.length > 0,
      `no problem ${where}`,
    );
    for (const problem of outcome.problems) {
      assert.ok(typeof problem === 'string' && problem.length > 0, `empty problem ${where}`);
    }
    // The quarantine keeps this id in a varchar(255) column.
    const { runId } = outcome;
    assert.ok(
      runId === null || (typeof runId === 'string' && runId !== '' && codePoints(runId) <= 255),
      `a rejected payload reports runId ${show(runId)} ${where}`,
    );
    return;
  }
  const { value } = outcome;
  assert.deepEqual(Object.keys(value).sort(), ['errors', 'results', 'runId', 'status'], where);
  assert.ok(isRecord(input) && isRecord(input.data), `accepted a non-object ${where}`);
  const data = input.data;
  assert.equal(typeof value.runId, 'string', where);
  assert.ok(value.runId.length > 0, `empty runId ${where}`);
  assert.ok(codePoints(value.runId) <= 255, `runId of ${codePoints(value.runId)} chars ${where}`);
  // A lone surrogate becomes U+FFFD in the database, so two such ids would share one row.
  assert.ok(!/\p{Cs}/u.test(value.runId), `runId with a lone surrogate ${where}`);
  // A NUL is refused by PostgreSQL, and newlines or escapes would forge log lines.
  assert.ok(!/\p{Cc}/u.test(value.runId), `runId with a control character ${where}`);
  assert.ok(
    (Object.hasOwn(data, 'id') && value.runId === data.id) ||
      (Object.hasOwn(data, 'run_id') && value.runId === data.run_id),
    `runId is neither data.id nor data.run_id ${where}`,
  );
  assert.ok(value.status === 'success' || value.status === 'error', `status ${where}`);
  assert.equal(value.status, data.status, `status differs from data.status ${where}`);
  if (Object.hasOwn(data, 'type')) {
    assert.ok(data.type === 'run' || data.type == null, `accepted type ${show(data.type)}`);
  }
  assert.ok(Array.isArray(value.results), `results not an array ${where}`);
  const results = data.results;
  if (Array.isArray(results)) assert.deepEqual(value.results, results, where);
  else if (results == null) assert.deepEqual(value.results, [], where);
  else {
    assert.ok(isRecord(results), `accepted results ${show(results)} ${where}`);
    assert.deepEqual(value.results, [results], where);
  }
  assert.ok(Array.isArray(value.errors), `errors not an array ${where}`);
  for (const error of value.errors) {
    assert.ok(isRecord(error), where);
    assert.equal(typeof error.code, 'string', where);
    assert.equal(typeof error.title, 'string', where);
    assert.equal(typeof error.detail, 'string', where);
    if ('delay' in error) assert.ok(Number.isInteger(error.delay) && error.delay! >= 0, where);
    if ('meta' in error) assert.ok(error.meta === null || isRecord(error.meta), where);
  }
  const sent = data.errors;
  assert.ok(sent == null || Array.isArray(sent), `accepted errors ${show(sent)} ${where}`);
  if (Array.isArray(sent)) {
    assert.equal(value.errors.length, sent.length, `errors were dropped ${where}`);
    sent.forEach((item: unknown, index) => {
      assert.ok(isRecord(item), `accepted an errors item that is not an object ${where}`);
      assert.equal(typeof item.code, 'string', `accepted a non-string code ${where}`);
      assert.equal(value.errors[index].code, item.code, where);
    });
  }
}

// ---------------------------------------------------------------------------------------------

describe('parseActionRunCallback (properties)', () => {
  it('never throws and returns a well-formed outcome for arbitrary JSON bodies', () => {
    fc.assert(
      fc.property(anyJsonArb, (body) => {
        const input = viaJson(body);
        const outcome = parse(input);
        assertWellFormed(input, outcome);
        assertNoPollution(input);
      }),
      params(3000),
    );
  });

  it('never throws for values JSON cannot even express (Maps, boxed values, null prototypes…)', () => {
    const anything = fc.anything({
      key: keyArb,
      maxDepth: 4,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
    });
    fc.assert(
      fc.property(
        fc.oneof(
          anything,
          anything.map((data) => ({ data })),
        ),
        (input) => {
          assertWellFormed(input, parse(input));
          assertNoPollution(input);
        },
      ),
      params(1500),
    );
  });

  it('survives deep and wide bodies (up to 3000 levels, 20 000 keys) in every field', () => {
    fc.assert(
      fc.property(fc.oneof(deepArb, wideArb), (input) => {
        assertWellFormed(input, parse(input));
      }),
      params(150),
    );
  });

  it('accepts every well-formed callback, in both shapes, and normalises it exactly', () => {
    fc.assert(
      fc.property(validArb, ({ payload, expected }) => {
        const outcome = parse(payload);
        assert.ok(outcome.ok, `rejected ${show(payload)}: ${show(outcome)}`);
        assert.deepEqual(outcome.value, expected);
        assertWellFormed(payload, outcome);
      }),
      params(1500),
    );
  });

  it('accepts and normalises well-formed callbacks whose unknown fields have prototype names', () => {
    fc.assert(
      fc.property(validWithPrototypeNamesArb, ({ payload, expected }) => {
        const outcome = parse(payload);
        assert.ok(outcome.ok, `rejected ${show(payload)}: ${show(outcome)}`);
        assert.deepEqual(outcome.value, expected);
        assertNoPollution(payload);
      }),
      params(1000),
    );
  });

  it('rejects a callback whose status, id, results or errors is invalid', () => {
    const invalid = fc.oneof(
      // Status: only the two terminal values (docs/decisions.md#d3).
      fc.tuple(
        validArb,
        fc.constant(['data', 'status'] as Path),
        hostileJsonArb.filter((v) => v !== 'success' && v !== 'error'),
      ),
      // The run id (whichever shape the payload uses): a non-empty string of ≤ 255 characters.
      fc.tuple(
        validArb,
        fc.constant(['data', '<id>'] as Path),
        fc.oneof(
          fc.constantFrom('', 'a'.repeat(256), '😀'.repeat(256), 'a\uFE0F'.repeat(200)),
          fc.string({ minLength: 256, maxLength: 400 }),
          leafArb.filter((v) => typeof v !== 'string'),
          fc.array(leafArb, { maxLength: 2 }),
        ),
      ),
      // Results: an array, an object or nothing.
      fc.tuple(
        validArb,
        fc.constant(['data', 'results'] as Path),
        leafArb.filter((v) => v !== null),
      ),
      // Errors: an array of objects with a string code.
      fc.tuple(
        validArb,
        fc.constant(['data', 'errors'] as Path),
        fc.oneof(
          leafArb.filter((v) => v !== null),
          hostileJsonArb.filter(isRecord),
          fc.array(fc.oneof(leafArb, fc.array(hostileJsonArb, { maxLength: 2 })), {
            minLength: 1,
            maxLength: 3,
          }),
          fc.array(
            fc.record({ code: leafArb.filter((v) => typeof v !== 'string'), title: leafArb }),
            { minLength: 1, maxLength: 2 },
          ),
        ),
      ),
      // type: "run" when present.
      fc.tuple(
        validArb,
        fc.constant(['data', 'type'] as Path),
        leafArb.filter((v) => v !== 'run' && v !== null),
      ),
    );
    fc.assert(
      fc.property(invalid, ([c, path, value]) => {
        const data = c.payload.data as JsonRecord;
        const field = path[1] === '<id>' ? (Object.hasOwn(data, 'id') ? 'id' : 'run_id') : path[1];
        const input = replaceAt(c.payload, ['data', field], value, false);
        const outcome = parse(input);
        assert.equal(outcome.ok, false, `accepted ${show(input)} → ${show(outcome)}`);
        assertWellFormed(input, outcome);
      }),
      params(2000),
    );
  });

  it('gives the same verdict when an unknown field (any name, even __proto__) is added anywhere', () => {
    const where = fc.constantFrom('body', 'data', 'error');
    const key = fc.oneof(plainExtraKeyArb, fc.constantFrom(...PROTO_KEYS));
    const base = fc.oneof(
      validArb.map((c) => c.payload),
      nearValidArb.filter(isRecord),
    );
    fc.assert(
      fc.property(base, where, key, hostileJsonArb, (payload, level, name, value) => {
        const before = parse(viaJson(payload));
        const input = viaJson(payload);
        const data = input.data;
        const errors = isRecord(data) ? data.errors : undefined;
        const target =
          level === 'body'
            ? input
            : level === 'data'
              ? data
              : Array.isArray(errors)
                ? (errors[0] as unknown)
                : undefined;
        fc.pre(isRecord(target));
        define(target, name, value);
        const after = parse(input);
        assert.equal(
          after.ok,
          before.ok,
          `adding ${JSON.stringify(name)}: ${show(value)} at ${level} turned ${show(payload)} from ${show(before)} into ${show(after)}`,
        );
        if (before.ok && after.ok) assert.deepEqual(after.value, before.value);
        assertNoPollution(input);
      }),
      params(3000),
    );
  });

  it('does not mutate its input, even a deeply frozen one', () => {
    fc.assert(
      fc.property(anyJsonArb, (body) => {
        const input = viaJson(body);
        const snapshot = viaJson(input);
        parse(input);
        assert.deepStrictEqual(input, snapshot);
        const frozen = deepFreeze(viaJson(body));
        assertWellFormed(frozen, parse(frozen));
      }),
      params(1500),
    );
  });

  it('never pollutes Object.prototype or the DTO classes through __proto__ / constructor keys', () => {
    const polluter = fc.constantFrom(
      '{"__proto__":{"polluted":1,"status":"success"}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      '{"__proto__":{"__proto__":{"polluted":1}}}',
      '{"prototype":{"polluted":1}}',
    );
    const at = fc.constantFrom('body', 'data', 'error');
    fc.assert(
      fc.property(validArb, polluter, at, (c, text, level) => {
        const [name, value] = Object.entries(JSON.parse(text) as JsonRecord)[0];
        const input = viaJson(c.payload);
        const data = input.data as JsonRecord;
        const target =
          level === 'body'
            ? input
            : level === 'data' || !Array.isArray(data.errors) || !data.errors[0]
              ? data
              : (data.errors[0] as JsonRecord);
        define(target, name, value);
        parse(input);
        assertNoPollution(input);
        assert.equal(({} as JsonRecord).polluted, undefined);
        assert.equal((new ActionRunCallbackDto() as unknown as JsonRecord).polluted, undefined);
      }),
      params(300),
    );
  });
});

/** The smallest inputs the properties above found; each one is a bug report. */
describe('parseActionRunCallback (inputs the properties found)', () => {
  const cases: Array<[string, string]> = [
    ['"constructor": null at the top', '{"constructor":null,"data":{"id":"x","status":"success"}}'],
    ['"constructor": null in data', '{"data":{"constructor":null,"id":"x","status":"success"}}'],
    [
      '"constructor": null in an error',
      '{"data":{"id":"x","status":"error","errors":[{"code":"u","constructor":null}]}}',
    ],
    ['"__proto__": null at the top', '{"__proto__":null,"data":{"id":"x","status":"success"}}'],
  ];
  for (const [name, text] of cases) {
    it(`does not throw on ${name}`, () => {
      const input = JSON.parse(text) as unknown;
      assertWellFormed(input, parse(input));
    });
  }

  const rejected: Array<[string, string]> = [
    [
      'a non-terminal status behind "constructor"',
      '{"constructor":1,"data":{"id":"x","status":"running"}}',
    ],
    ['a bogus status behind "__proto__"', '{"__proto__":{},"data":{"id":"x","status":"bogus"}}'],
    [
      'a bogus status behind data.constructor',
      '{"data":{"constructor":0,"id":"x","status":"bogus"}}',
    ],
    [
      'results 5 behind data.__proto__',
      '{"data":{"__proto__":[],"id":"x","status":"success","results":5}}',
    ],
    [
      'a numeric error code behind constructor',
      '{"data":{"id":"x","status":"error","errors":[{"code":5,"constructor":1}]}}',
    ],
    [
      'an errors item that is an array',
      '{"data":{"id":"x","status":"error","errors":[[{"code":5}]]}}',
    ],
    [
      'an id of 300 characters next to a run_id',
      `{"data":{"id":"${'a'.repeat(300)}","run_id":"y","status":"success"}}`,
    ],
    ['an id with a lone surrogate', '{"data":{"id":"x\\ud800","status":"success"}}'],
    ['an id with a NUL', '{"data":{"id":"x\\u0000","status":"success"}}'],
    ['a run_id with a newline', '{"data":{"run_id":"x\\ny","status":"success"}}'],
    [
      'an id of 400 characters counted as 200',
      `{"data":{"id":"${'a\\ufe0f'.repeat(200)}","status":"success"}}`,
    ],
  ];
  for (const [name, text] of rejected) {
    it(`rejects ${name}`, () => {
      const input = JSON.parse(text) as unknown;
      const outcome = parse(input);
      assertWellFormed(input, outcome);
      assert.equal(outcome.ok, false, show(outcome));
    });
  }

  it('reports a rejected run id only when it fits the quarantine column (≤ 255 characters)', () => {
    const input = JSON.parse(`{"data":{"id":"${'b'.repeat(300)}","status":"running"}}`) as unknown;
    assertWellFormed(input, parse(input));
  });
});
