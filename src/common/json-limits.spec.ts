import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZapierMessages } from '../zapier.messages.js';
import { exceedsJsonLimits } from './json-limits.js';

const LIMITS = { maxDepth: 64, maxValues: 1_000_000 };

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { inner: value };
  return value;
}

describe('exceedsJsonLimits', () => {
  it('counts a level per array or object, scalars none', () => {
    const tight = { maxDepth: 2, maxValues: 100 };
    for (const fits of [1, 'text', null, true, [], {}, [[]], { a: [1, 2] }, [{ b: null }]]) {
      assert.equal(exceedsJsonLimits(fits, tight), undefined, JSON.stringify(fits));
    }
    for (const deep of [[[[]]], { a: { b: { c: 1 } } }, [{ a: [] }]]) {
      assert.equal(
        exceedsJsonLimits(deep, tight, 'results'),
        ZapierMessages.jsonTooDeep('results', 2),
        JSON.stringify(deep),
      );
    }
  });

  it('accepts exactly maxDepth levels and refuses one more', () => {
    assert.equal(exceedsJsonLimits(nested(64), LIMITS), undefined);
    assert.equal(
      exceedsJsonLimits(nested(65), LIMITS),
      ZapierMessages.jsonTooDeep('the value', 64),
    );
  });

  it('measures a value nested deeper than JSON.stringify can go, without overflowing', () => {
    const deep = nested(500_000);
    assert.throws(() => JSON.stringify(deep), RangeError);
    assert.equal(exceedsJsonLimits(deep, LIMITS), ZapierMessages.jsonTooDeep('the value', 64));
  });

  it('counts every value, containers and scalars, and refuses more than maxValues', () => {
    const limits = { maxDepth: 64, maxValues: 5 };
    // The array, two objects, two scalars: five values.
    assert.equal(exceedsJsonLimits([{ a: 1 }, { b: 2 }], limits), undefined);
    assert.equal(
      exceedsJsonLimits([{ a: 1 }, { b: 2 }, 3], limits, 'errors'),
      ZapierMessages.jsonTooManyValues('errors', 5),
    );
    assert.equal(
      exceedsJsonLimits(new Array<number>(2_000_000).fill(0), LIMITS),
      ZapierMessages.jsonTooManyValues('the value', 1_000_000),
    );
  });
});
