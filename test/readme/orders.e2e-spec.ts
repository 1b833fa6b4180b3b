import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { Test } from '@nestjs/testing';
import { ZAPIER_MODULE_OPTIONS } from 'nestjs-zapier';
import { ZapierSandbox } from 'nestjs-zapier/testing';
import { AppModule } from './app.module.js';
import { Orders } from './orders.listener.js';

test('an order confirmation runs through Zapier and its result comes back', async (t) => {
  let appUrl = '';
  // A local Zapier: it serves its JWKS and API, runs the action, and calls back the app's
  // local address in place of the public callbackUrl.
  const sandbox = await ZapierSandbox.start({
    callbackTarget: () => `${appUrl}/zapier/callbacks`,
    outcome: () => ({ status: 'success', results: [{ messageId: 'msg-1' }] }),
  });
  t.after(() => sandbox.stop());

  process.env.ZAPIER_DB = `orders-test-${process.pid}.db`;
  t.after(() => rmSync(process.env.ZAPIER_DB!, { force: true }));
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(ZAPIER_MODULE_OPTIONS)
    .useValue({
      ...sandbox.moduleOptions(),
      callbackUrl: 'https://orders.example.com/zapier/callbacks',
    })
    .compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  t.after(() => app.close());
  appUrl = await app.getUrl();

  const orders = app.get(Orders);
  const runId = await orders.sendConfirmation(42, 'ada@example.com');
  await sandbox.whenIdle();
  for (let i = 0; i < 100 && !orders.handled.has(runId); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  assert.ok(orders.handled.has(runId), 'the completed event reached the listener');
  assert.equal(sandbox.run(runId)?.deliveries[0]?.status, 200);
});
