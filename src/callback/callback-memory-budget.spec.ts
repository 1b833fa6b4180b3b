import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallbackMemoryBudget } from './callback-memory-budget.js';

describe('CallbackMemoryBudget', () => {
  it('grants shares until the budget is spent, and takes nothing for a refused growth', () => {
    const budget = new CallbackMemoryBudget(100);
    const first = budget.open();
    const second = budget.open();
    assert.equal(first.growTo(60), true);
    assert.equal(second.growTo(50), false);
    assert.equal(budget.inUse, 60);
    assert.equal(second.growTo(40), true);
    assert.equal(budget.inUse, 100);
    assert.equal(first.growTo(61), false, 'growing counts only the difference, and still fails');
    assert.equal(budget.inUse, 100);
  });

  it('gives a share back once, however often it is released', () => {
    const budget = new CallbackMemoryBudget(100);
    const share = budget.open();
    share.growTo(70);
    share.release();
    share.release();
    assert.equal(budget.inUse, 0);
    assert.equal(share.growTo(10), false, 'a released share grows no more');
    assert.equal(budget.inUse, 0);
  });

  it('tells a share that could never fit by the whole budget', () => {
    const share = new CallbackMemoryBudget(100).open();
    assert.equal(share.limit, 100);
    assert.equal(share.growTo(101), false);
  });
});
