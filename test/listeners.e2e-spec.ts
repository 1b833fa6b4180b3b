import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Injectable, type INestApplication } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { eventListenerMetadataKey } from '../src/compat/event-listener-metadata.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { ZapierSandbox } from '../src/testing/index.js';
import { freshDatabase } from './support/data-sources.js';
import { sendCallback } from './support/callbacks.js';
import { TestLogger } from './support/test-logger.js';
import { eventually, readRun } from './support/zapier-harness.js';
import { startZapierApp, type ZapierApp, type ZapierAppOptions } from './support/zapier-app.js';

/** A host event: the listeners below tell it from the module's events by its payload. */
interface OrderCreated {
  orderId: string;
}
type Heard = OrderCreated | { runId: string };

const listenerMetadata = (method: object): unknown =>
  Reflect.getMetadata(eventListenerMetadataKey(), method);

/** What the host sees when it emits its own `order.created` and a wildcard listener throws. */
async function emitOrder(app: INestApplication, logger: TestLogger) {
  const before = logger.entries.length;
  let outcome: 'resolved' | 'rejected';
  try {
    await app.get(EventEmitter2).emitAsync('order.created', { orderId: 'o1' });
    outcome = 'resolved';
  } catch {
    outcome = 'rejected';
  }
  const logged = logger.entries
    .slice(before)
    .filter((entry) => entry.level === 'error')
    .map(({ context, message }) => ({ context, message }));
  return { outcome, logged };
}

let sandbox: ZapierSandbox;
const apps: Array<{ close(): Promise<void> }> = [];
const cleanups: Array<() => void> = [];
before(async () => {
  sandbox = await ZapierSandbox.start({ rateLimit: false });
});
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const cleanup of cleanups.splice(0)) cleanup();
});
after(() => sandbox.stop());

async function start(name: string, options: Partial<ZapierAppOptions> = {}): Promise<ZapierApp> {
  const db = await freshDatabase('sqlite', `listeners_${name}`);
  cleanups.push(db.cleanup);
  const zapier = await startZapierApp({
    adapter: 'express',
    database: db.options,
    ...options,
    zapier: {
      jwksUrl: sandbox.jwksUrl,
      delivery: { retryBaseDelayMs: 20, sweepIntervalMs: 50 },
    },
  });
  apps.push(zapier);
  return zapier;
}

/** Sends a callback whose first delivery `RecordingListener` fails, and waits for the retry. */
async function deliverAfterOneFailure(zapier: ZapierApp, runId: string): Promise<void> {
  zapier.listener.failures = 1;
  assert.equal(
    (await sendCallback(zapier.url, sandbox.signer, { id: runId, status: 'success' })).status,
    200,
  );
  await zapier.listener.waitFor(1);
  assert.equal(zapier.listener.forRun(runId)[0].event.attempt, 2, 'delivered again after it threw');
  await eventually(
    'the delivery',
    async () => (await readRun(zapier.dataSource, runId))?.deliveryState === 'delivered',
  );
}

@Injectable()
class HostWideListener {
  readonly runs: string[] = [];

  @OnEvent('**')
  everything(payload: Heard): void {
    if ('orderId' in payload) throw new Error(`order ${payload.orderId} listener failed`);
    this.runs.push(payload.runId);
  }
}

describe('a host listener on "**" (wildcard: true)', () => {
  it('handles the host event order.created the same with ZapierModule imported as without it', async () => {
    const declared = structuredClone(listenerMetadata(HostWideListener.prototype.everything));
    assert.deepEqual(declared, [{ event: '**', options: undefined }]);

    const logger = new TestLogger();
    const moduleRef = await Test.createTestingModule({
      imports: [EventEmitterModule.forRoot({ wildcard: true })],
      providers: [HostWideListener],
    }).compile();
    const alone = moduleRef.createNestApplication({ logger });
    apps.push(alone);
    await alone.init();
    const withoutZapier = await emitOrder(alone, logger);
    assert.deepEqual(withoutZapier, {
      outcome: 'resolved',
      logged: [{ context: 'Event', message: 'order o1 listener failed' }],
    });

    const zapier = await start('host_wide', {
      eventEmitterOptions: { wildcard: true },
      providers: [HostWideListener],
    });
    assert.deepEqual(await emitOrder(zapier.app, zapier.logger), withoutZapier);
    assert.deepEqual(listenerMetadata(HostWideListener.prototype.everything), declared);
  });

  it('is named once in a boot warning, while a listener of zapier.run.completed still has a throw retried', async () => {
    const zapier = await start('host_wide_retry', {
      eventEmitterOptions: { wildcard: true },
      providers: [HostWideListener],
    });
    const warning = ZapierMessages.sharedListener(
      'HostWideListener.everything()',
      '"**"',
      'zapier.run.completed',
    );
    assert.equal(zapier.logger.entries.filter((entry) => entry.message === warning).length, 1);
    assert.match(warning, /logged but counted as delivered/);
    assert.equal(zapier.logger.find('warn', /RecordingListener/).length, 0);

    await deliverAfterOneFailure(zapier, 'arun_host_wide');
    assert.ok(zapier.app.get(HostWideListener).runs.includes('arun_host_wide'));
  });
});

@Injectable()
class ColonListeners {
  readonly heard = { all: [] as string[], one: [] as string[], dotted: [] as string[] };

  /** Every name. */
  @OnEvent('**')
  all(payload: Heard): void {
    if ('runId' in payload) this.heard.all.push(payload.runId);
  }

  /** Names of one segment: with ":" between segments, zapier.run.completed is one. */
  @OnEvent('*')
  one(payload: Heard): void {
    if ('runId' in payload) this.heard.one.push(payload.runId);
  }

  /** One literal segment "zapier.**" with ":" between segments: matches none of our names. */
  @OnEvent('zapier.**')
  dotted(payload: Heard): void {
    if ('runId' in payload) this.heard.dotted.push(payload.runId);
  }

  /** Names whose first segment is "zapier": none of ours, whose one segment is the whole name. */
  @OnEvent('zapier:**')
  colon(): void {
    throw new Error('never called: no zapier:… event is emitted');
  }
}

describe('with delimiter ":" and wildcard: true', () => {
  it('matches our dotted names as one segment: "**" and "*" are shared, exact names are ours', async () => {
    const declared = {
      dotted: structuredClone(listenerMetadata(ColonListeners.prototype.dotted)),
      colon: structuredClone(listenerMetadata(ColonListeners.prototype.colon)),
    };
    const zapier = await start('colon', {
      eventEmitterOptions: { wildcard: true, delimiter: ':' },
      providers: [ColonListeners],
    });
    const warnings = zapier.logger.entries.filter((entry) => entry.level === 'warn');
    const shared = ['all', 'one'].map((method) =>
      ZapierMessages.sharedListener(
        `ColonListeners.${method}()`,
        method === 'all' ? '"**"' : '"*"',
        'zapier.run.completed',
      ),
    );
    assert.deepEqual(
      warnings.filter((entry) => entry.message.includes('ColonListeners')).map((e) => e.message),
      shared,
    );

    await deliverAfterOneFailure(zapier, 'arun_colon');
    const { heard } = zapier.app.get(ColonListeners);
    assert.ok(heard.all.includes('arun_colon'));
    assert.ok(heard.one.includes('arun_colon'));
    assert.deepEqual(heard.dotted, []);
    assert.deepEqual(listenerMetadata(ColonListeners.prototype.dotted), declared.dotted);
    assert.deepEqual(listenerMetadata(ColonListeners.prototype.colon), declared.colon);
  });
});

@Injectable()
class LiteralListeners {
  @OnEvent('**')
  all(): void {}

  @OnEvent('zapier.*')
  zapier(): void {}
}

describe('with wildcard off', () => {
  it('takes every pattern as a literal name: "**" and "zapier.*" hear nothing of ours and are left alone', async () => {
    const declared = {
      all: structuredClone(listenerMetadata(LiteralListeners.prototype.all)),
      zapier: structuredClone(listenerMetadata(LiteralListeners.prototype.zapier)),
    };
    const zapier = await start('literal', { providers: [LiteralListeners] });
    assert.equal(zapier.logger.find('warn', /LiteralListeners/).length, 0);
    assert.deepEqual(listenerMetadata(LiteralListeners.prototype.all), declared.all);
    assert.deepEqual(listenerMetadata(LiteralListeners.prototype.zapier), declared.zapier);
    await deliverAfterOneFailure(zapier, 'arun_literal');
  });
});
