import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ZapierSandbox } from '../src/testing/index.js';
import { migratedDataSource } from './support/data-sources.js';
import { createDeliveryLog, readDeliveryLog } from './support/delivery-log.js';
import { eventually } from './support/zapier-harness.js';
import { ZapierNodeProcess } from './support/zapier-node-process.js';

const WITHOUT_OPENTELEMETRY = fileURLToPath(
  new URL('./fixtures/without-opentelemetry.js', import.meta.url),
);

describe('without @opentelemetry/api installed', () => {
  let sandbox: ZapierSandbox;
  let node: ZapierNodeProcess;
  let database: Awaited<ReturnType<typeof migratedDataSource>>;

  before(async () => {
    sandbox = await ZapierSandbox.start({ rateLimit: false });
    database = await migratedDataSource('sqlite', 'telemetry_absent');
    await createDeliveryLog(database.dataSource);
    node = await ZapierNodeProcess.start({
      instanceId: 'no-otel',
      database: { sqliteFile: String(database.dataSource.options.database) },
      zapier: { apiUrl: sandbox.url, jwksUrl: sandbox.jwksUrl, accessToken: 'any' },
      options: { delivery: { sweepIntervalMs: 100 } },
      execArgv: ['--import', WITHOUT_OPENTELEMETRY],
    });
  });
  after(async () => {
    await node?.stop();
    await sandbox.stop();
    await database.close();
  });

  it('boots, stores a callback and delivers its event, recording nothing', async () => {
    assert.match(node.stderrTail(), /opentelemetry: not installed/);
    const attempts = await sandbox.deliverCallback(`${node.url}/zapier/callbacks`, {
      id: 'arun_no_otel',
      status: 'success',
    });
    assert.deepEqual(
      attempts.map((attempt) => attempt.status),
      [200],
    );
    await eventually('the delivery', async () =>
      (await readDeliveryLog(database.dataSource)).some((row) => row.runId === 'arun_no_otel'),
    );
    assert.equal(node.errorLines, 0, node.stderrTail());
  });
});
