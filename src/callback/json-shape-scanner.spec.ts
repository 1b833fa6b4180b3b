import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonShapeScanner } from './json-shape-scanner.js';

const scan = (text: string, maxDepth = 3, maxValues = 10, chunk = text.length || 1) => {
  const scanner = new JsonShapeScanner({ maxDepth, maxValues });
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += chunk) {
    const problem = scanner.push(bytes.subarray(i, i + chunk));
    if (problem) return problem;
  }
  return scanner.elementCount;
};

describe('JsonShapeScanner', () => {
  it('counts containers and the commas and colons between elements', () => {
    assert.equal(scan('[]'), 1);
    assert.equal(scan('[1,2,3]'), 3);
    assert.equal(scan('{"a":1,"b":[true,null]}'), 6);
  });

  it('refuses nesting past maxDepth, and accepts it at maxDepth', () => {
    assert.equal(scan('[[[1]]]'), 3);
    assert.equal(scan('[[[[1]]]]'), 'depth');
    assert.equal(scan('{"a":{"b":{"c":{}}}}'), 'depth');
  });

  it('refuses more elements than maxValues', () => {
    assert.equal(scan(`[${Array(10).fill('{}').join(',')}]`, 3, 30), 20);
    assert.equal(scan(`[${Array(11).fill('0').join(',')}]`), 'values');
  });

  it('ignores structure inside strings, escaped quotes and backslashes included', () => {
    assert.equal(scan('["[[[[,,,,::::{{{{"]'), 1);
    assert.equal(scan('["a\\"[[[[[", "\\\\", "]]]]"]'), 3);
    assert.equal(scan('"\\\\"'), 0, 'a string ending in an escaped backslash is closed');
  });

  it('gives the same answer whatever the chunking, escapes split across chunks included', () => {
    for (const text of [
      '["a\\"[[[[[", "\\\\", "]]]]"]',
      '[[["x\\\\"],[[[1]]]]]',
      '{"k":"v\\"}"}',
    ]) {
      const whole = scan(text, 4, 100);
      for (let chunk = 1; chunk <= 4; chunk++) assert.equal(scan(text, 4, 100, chunk), whole);
    }
  });

  it('stays bounded on a body thousands deep: it stops at the first level past the limit', () => {
    const scanner = new JsonShapeScanner({ maxDepth: 64, maxValues: 1_000_000 });
    assert.equal(scanner.push(Buffer.from('['.repeat(100_000))), 'depth');
    assert.equal(scanner.elementCount, 65);
  });
});
