import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { ZapierEvents } from '../events/zapier.events.js';
import {
  classifyListener,
  formatPattern,
  readEventRouting,
  receives,
  type EventRouting,
  type ListenerPattern,
} from './listener-patterns.js';

const DOTS: EventRouting = { wildcard: true, delimiter: '.' };
const COLONS: EventRouting = { wildcard: true, delimiter: ':' };
const LITERAL: EventRouting = { wildcard: false, delimiter: '.' };
const OWN = { events: Object.values(ZapierEvents), namespace: 'zapier' };
const tag = Symbol('tag');

/** What a real EventEmitter2 with these settings does: does a listener on `pattern` hear `name`? */
function emitterHears(routing: EventRouting, pattern: ListenerPattern, name: string): boolean {
  const emitter = new EventEmitter2({ wildcard: routing.wildcard, delimiter: routing.delimiter });
  let heard = false;
  try {
    emitter.on(pattern, () => (heard = true));
  } catch {
    return false;
  }
  emitter.emit(name);
  return heard;
}

const cases: Array<[EventRouting, ListenerPattern, string, boolean]> = [
  // exact names
  [DOTS, 'zapier.run.completed', 'zapier.run.completed', true],
  [DOTS, 'zapier.run.completed', 'zapier.run.failed', false],
  [DOTS, 'zapier.run', 'zapier.run.completed', false],
  // `*`: exactly one segment
  [DOTS, 'zapier.run.*', 'zapier.run.completed', true],
  [DOTS, 'zapier.*', 'zapier.run.completed', false],
  [DOTS, '*.run.completed', 'zapier.run.completed', true],
  [DOTS, '*', 'zapier.run.completed', false],
  [DOTS, '*', 'order', true],
  [DOTS, 'order.*', 'order', false],
  [DOTS, 'order.*', 'order.', true],
  // `**`: any number of segments, none included
  [DOTS, '**', 'zapier.run.completed', true],
  [DOTS, '**', 'order', true],
  [DOTS, 'zapier.**', 'zapier.run.completed', true],
  [DOTS, 'zapier.**', 'zapier', true],
  [DOTS, 'zapier.**', 'order.created', false],
  [DOTS, '**.completed', 'zapier.run.completed', true],
  [DOTS, '**.completed', 'completed', true],
  [DOTS, 'zapier.**.completed', 'zapier.run.completed', true],
  [DOTS, 'zapier.**.completed', 'zapier.completed', true],
  [DOTS, '**.*', 'order', true],
  [DOTS, '*.**', 'order', true],
  [DOTS, '**.**', 'order.created', false],
  [DOTS, 'zapier.**.**', 'zapier.run', false],
  // a custom delimiter: the dots of our names are part of one segment
  [COLONS, 'zapier.run.completed', 'zapier.run.completed', true],
  [COLONS, '**', 'zapier.run.completed', true],
  [COLONS, '*', 'zapier.run.completed', true],
  [COLONS, 'zapier.**', 'zapier.run.completed', false],
  [COLONS, 'zapier.run.*', 'zapier.run.completed', false],
  [COLONS, 'zapier:**', 'zapier.run.completed', false],
  [COLONS, 'zapier.run.completed:**', 'zapier.run.completed', true],
  [COLONS, 'order:*', 'order:created', true],
  // wildcard off: every pattern is a literal name
  [LITERAL, 'zapier.run.completed', 'zapier.run.completed', true],
  [LITERAL, 'zapier.**', 'zapier.run.completed', false],
  [LITERAL, '**', 'zapier.run.completed', false],
  [LITERAL, 'zapier.**', 'zapier.**', true],
  // arrays: one name given as segments (with wildcards), a plain key `a,b` without
  [DOTS, ['zapier', 'run', 'completed'], 'zapier.run.completed', true],
  [DOTS, ['zapier', '*', 'completed'], 'zapier.run.completed', true],
  [DOTS, ['zapier', '**'], 'zapier.run.failed', true],
  [DOTS, ['zapier.run.completed'], 'zapier.run.completed', false],
  [COLONS, ['zapier.run.completed', '**'], 'zapier.run.completed', true],
  [LITERAL, ['zapier.run.completed'], 'zapier.run.completed', true],
  [LITERAL, ['zapier', 'run', 'completed'], 'zapier.run.completed', false],
  [LITERAL, ['order', 'created'], 'order,created', true],
  // symbols never match a string name
  [DOTS, tag, 'zapier.run.completed', false],
  [DOTS, ['zapier', tag], 'zapier.run', false],
  [LITERAL, tag, 'zapier.run.completed', false],
  [LITERAL, [tag], 'zapier.run.completed', false],
];

describe('receives', () => {
  for (const [routing, pattern, name, expected] of cases) {
    const settings = `wildcard ${routing.wildcard ? 'on' : 'off'}, delimiter "${routing.delimiter}"`;
    it(`${formatPattern(pattern)} ${expected ? 'hears' : 'does not hear'} "${name}" (${settings}), as EventEmitter2 routes it`, () => {
      assert.equal(
        emitterHears(routing, pattern, name),
        expected,
        'the table agrees with EventEmitter2',
      );
      assert.equal(receives(pattern, name, routing), expected);
    });
  }
});

describe('classifyListener', () => {
  const table: Array<[EventRouting, ListenerPattern, ReturnType<typeof classifyListener>]> = [
    [DOTS, 'zapier.run.completed', { kind: 'ours', event: 'zapier.run.completed' }],
    [DOTS, 'zapier.**', { kind: 'ours', event: 'zapier.run.completed' }],
    [DOTS, 'zapier.run.*', { kind: 'ours', event: 'zapier.run.completed' }],
    [DOTS, 'zapier.*.failed', { kind: 'ours', event: 'zapier.run.failed' }],
    [DOTS, 'zapier.run.expired.**', { kind: 'ours', event: 'zapier.run.expired' }],
    [DOTS, ['zapier', 'run', '*'], { kind: 'ours', event: 'zapier.run.completed' }],
    [DOTS, '**', { kind: 'shared', event: 'zapier.run.completed' }],
    [DOTS, '*.run.completed', { kind: 'shared', event: 'zapier.run.completed' }],
    [DOTS, '**.failed', { kind: 'shared', event: 'zapier.run.failed' }],
    [DOTS, '*.**', { kind: 'shared', event: 'zapier.run.completed' }],
    [DOTS, 'order.*', { kind: 'none' }],
    [DOTS, 'zapier', { kind: 'none' }],
    [DOTS, 'zapierx.**', { kind: 'none' }],
    [DOTS, '**.**', { kind: 'none' }],
    [DOTS, ['zapier.run.completed'], { kind: 'none' }],
    [DOTS, tag, { kind: 'none' }],
    [COLONS, 'zapier.run.completed', { kind: 'ours', event: 'zapier.run.completed' }],
    [COLONS, 'zapier.run.failed:**', { kind: 'ours', event: 'zapier.run.failed' }],
    [COLONS, '**', { kind: 'shared', event: 'zapier.run.completed' }],
    [COLONS, '*', { kind: 'shared', event: 'zapier.run.completed' }],
    [COLONS, 'zapier.**', { kind: 'none' }],
    [COLONS, 'zapier:**', { kind: 'none' }],
    [LITERAL, 'zapier.run.completed', { kind: 'ours', event: 'zapier.run.completed' }],
    [LITERAL, ['zapier.run.failed'], { kind: 'ours', event: 'zapier.run.failed' }],
    [LITERAL, '**', { kind: 'none' }],
    [LITERAL, 'zapier.*', { kind: 'none' }],
    [LITERAL, tag, { kind: 'none' }],
  ];
  for (const [routing, pattern, expected] of table) {
    const settings = `wildcard ${routing.wildcard ? 'on' : 'off'}, delimiter "${routing.delimiter}"`;
    it(`${formatPattern(pattern)} is ${expected.kind} (${settings})`, () => {
      assert.deepEqual(classifyListener(pattern, routing, OWN), expected);
    });
  }

  it('agrees with EventEmitter2: ours hears no host event, shared hears some', () => {
    const hostEvents = [
      'order',
      'order.created',
      'order.run.completed',
      'order.failed',
      'order:created',
      'zapierx.run.completed',
    ];
    for (const [routing, pattern, expected] of table) {
      const heard = hostEvents.filter((name) => emitterHears(routing, pattern, name));
      assert.deepEqual(
        hostEvents.filter((name) => receives(pattern, name, routing)),
        heard,
      );
      if (expected.kind === 'ours') assert.deepEqual(heard, [], formatPattern(pattern));
      if (expected.kind === 'shared') assert.notDeepEqual(heard, [], formatPattern(pattern));
    }
  });
});

describe('classifyListener against EventEmitter2 itself', () => {
  const segments = ['zapier', 'run', 'completed', 'order', '*', '**'];
  const patterns: string[][] = [[]];
  for (let length = 1; length <= 4; length++) {
    for (const shorter of patterns.filter((pattern) => pattern.length === length - 1)) {
      for (const segment of segments) patterns.push([...shorter, segment]);
    }
  }
  const words = ['zapier', 'run', 'completed', 'order', 'x'];

  for (const routing of [DOTS, COLONS]) {
    const names: string[] = [...words];
    for (let depth = 1; depth < 3; depth++) {
      for (const name of names.filter((n) => n.split(routing.delimiter).length === depth)) {
        for (const word of words) names.push(name + routing.delimiter + word);
      }
    }
    names.push(...OWN.events);
    const hostNames = names.filter((name) => name !== 'zapier' && !name.startsWith('zapier.'));

    it(`never calls ours a listener that hears a host event, nor none one that hears ours (delimiter "${routing.delimiter}")`, () => {
      for (const segmentsOfPattern of patterns.slice(1)) {
        const pattern = segmentsOfPattern.join(routing.delimiter);
        const reach = classifyListener(pattern, routing, OWN);
        if (reach.kind === 'ours') {
          const strays = hostNames.filter((name) => emitterHears(routing, pattern, name));
          assert.deepEqual(strays, [], pattern);
        }
        if (reach.kind === 'none') {
          const missed = OWN.events.filter((name) => emitterHears(routing, pattern, name));
          assert.deepEqual(missed, [], pattern);
        }
      }
    });
  }

  it('counts as hearing an event what EventEmitter2 delivers beyond the glob rules', () => {
    // EventEmitter2 lets `*` next to a trailing `**` match nothing: `a.*.**` hears `a`.
    const pattern = 'zapier.run.completed.*.**';
    assert.equal(emitterHears(DOTS, pattern, 'zapier.run.completed'), true);
    assert.equal(receives(pattern, 'zapier.run.completed', DOTS), false);
    assert.deepEqual(classifyListener(pattern, DOTS, OWN), {
      kind: 'ours',
      event: 'zapier.run.completed',
    });
    assert.deepEqual(classifyListener('**.completed.*.**', DOTS, OWN), {
      kind: 'shared',
      event: 'zapier.run.completed',
    });
  });
});

describe('readEventRouting', () => {
  it("reads wildcard and delimiter from the emitter's own fields", () => {
    assert.deepEqual(readEventRouting(new EventEmitter2()), { wildcard: false, delimiter: '.' });
    assert.deepEqual(readEventRouting(new EventEmitter2({ wildcard: true })), DOTS);
    assert.deepEqual(
      readEventRouting(new EventEmitter2({ wildcard: true, delimiter: ':' })),
      COLONS,
    );
    assert.deepEqual(readEventRouting(new EventEmitter2({ delimiter: ':' })), {
      wildcard: false,
      delimiter: ':',
    });
    // EventEmitter2 ignores an empty delimiter and keeps '.'.
    assert.deepEqual(readEventRouting(new EventEmitter2({ wildcard: true, delimiter: '' })), DOTS);
  });
});
