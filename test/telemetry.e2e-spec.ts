import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metrics, trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { ZAPIER_INSTRUMENTS, ZAPIER_SPANS } from '../src/telemetry/zapier-instruments.js';
import { sendCallback, postCallback, signedRaw } from './support/callbacks.js';
import { httpExchange } from './support/raw-http.js';
import { engineSkipReasons, freshDatabase, type Engine } from './support/data-sources.js';
import {
  eventually,
  startPollerApp,
  startSandbox,
  TestClock,
  type PollerApp,
} from './support/zapier-harness.js';
import type { ZapierSandbox } from '../src/testing/index.js';

// The real SDK, registered globally before any app starts, as a host's tracing setup does.
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
const spanExporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] }),
);

/** What the SDK recorded since the last call: every metric of the module's scope, by name. */
async function collect(): Promise<Map<string, MetricData>> {
  metricExporter.reset();
  await reader.forceFlush();
  const found = new Map<string, MetricData>();
  for (const resource of metricExporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      if (scope.scope.name !== 'nestjs-zapier') continue;
      for (const metric of scope.metrics) found.set(metric.descriptor.name, metric);
    }
  }
  return found;
}

/** The points of a metric as `attribute value → value` (sums and gauges) for one attribute. */
function byAttribute(metric: MetricData | undefined, key: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const point of (metric?.dataPoints ?? []) as Array<DataPoint<number>>) {
    const label = String(point.attributes[key] ?? '');
    out[label] = (out[label] ?? 0) + point.value;
  }
  return out;
}

/** How many values a histogram got, per value of one attribute. */
function histogramCounts(metric: MetricData | undefined, key: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const point of (metric?.dataPoints ?? []) as Array<DataPoint<Histogram>>) {
    const label = String(point.attributes[key] ?? '');
    out[label] = (out[label] ?? 0) + point.value.count;
  }
  return out;
}

function spans(name: string): ReadableSpan[] {
  return spanExporter.getFinishedSpans().filter((span) => span.name === name);
}

const skips = await engineSkipReasons();

for (const engine of ['sqlite', 'postgres', 'mariadb'] as Engine[]) {
  describe(`metrics and traces through the OpenTelemetry SDK (${engine})`, () => {
    const skip = skips[engine];
    let sandbox: ZapierSandbox;
    let target: { url: string | null };
    let app: PollerApp;
    let cleanup: () => void;
    const clock = new TestClock();

    before(async () => {
      if (skip) return;
      ({ sandbox, target } = await startSandbox({
        now: () => clock.now(),
        outcome: (request) =>
          request.action === 'never-calls-back'
            ? { status: 'success', results: [{ polled: true }], callback: 'never' }
            : { status: 'success', results: [] },
      }));
      const database = await freshDatabase(engine, `telemetry_${engine}`);
      cleanup = database.cleanup;
      app = await startPollerApp({ sandbox, database: database.options, clock });
      target.url = app.url;
    });
    after(async () => {
      if (skip) return;
      await app.close();
      await sandbox.stop();
      cleanup();
    });

    it('counts callbacks by outcome and times those that reached the store', { skip }, async () => {
      await collect();
      spanExporter.reset();
      const signer = sandbox.signer;
      assert.equal(
        (await sendCallback(app.url, signer, { id: 'arun_t1', status: 'success' })).status,
        200,
      );
      assert.equal(
        (await sendCallback(app.url, signer, { id: 'arun_t1', status: 'success' })).status,
        200,
      );
      const unsigned = await postCallback(app.url, {
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(unsigned.status, 401);
      const invalid = await postCallback(app.url, await signedRaw(signer, '{"data":{}}'));
      assert.equal(invalid.status, 400);
      // Declares more than callbackBodyLimit (20 MiB): refused on its headers, nothing sent.
      const tooLarge = await httpExchange(app.url, {
        method: 'POST',
        path: '/zapier/callbacks',
        headers: [
          ['content-type', 'application/json'],
          ['zapier-callback-signature', await signer.sign()],
          ['content-length', String(64 * 1024 * 1024)],
        ],
      });
      assert.equal(tooLarge.status, 413);

      await eventually('the event', () => app.listener.events.length === 1);
      const recorded = await collect();
      assert.deepEqual(
        byAttribute(recorded.get(ZAPIER_INSTRUMENTS.callbacks.name), 'zapier.callback.outcome'),
        { stored: 1, duplicate: 1, unauthorized: 1, invalid: 1, too_large: 1 },
      );
      assert.deepEqual(
        histogramCounts(
          recorded.get(ZAPIER_INSTRUMENTS.callbackDuration.name),
          'zapier.callback.outcome',
        ),
        { stored: 1, duplicate: 1, invalid: 1 },
      );
      assert.equal(recorded.get(ZAPIER_INSTRUMENTS.callbackDuration.name)?.descriptor.unit, 's');
      const callbackSpans = spans(ZAPIER_SPANS.callback);
      assert.deepEqual(
        callbackSpans.map((span) => span.attributes['zapier.run.id'] ?? null),
        ['arun_t1', 'arun_t1', null],
      );
      assert.equal(callbackSpans[2].status.code, 2, 'the invalid one is an error span');
    });

    it('counts the delivery, its listener time and its latency, in a span', { skip }, async () => {
      // The delivery of arun_t1 happened during the previous test; count one more here.
      spanExporter.reset();
      await collect();
      await sendCallback(app.url, sandbox.signer, { id: 'arun_t2', status: 'error' });
      await eventually('the event', () => app.listener.events.length === 2);
      await eventually('the delivery span', () => spans(ZAPIER_SPANS.delivery).length === 1);
      const recorded = await collect();
      assert.deepEqual(
        byAttribute(recorded.get(ZAPIER_INSTRUMENTS.deliveries.name), 'zapier.delivery.outcome'),
        { delivered: 1 },
      );
      assert.deepEqual(
        histogramCounts(
          recorded.get(ZAPIER_INSTRUMENTS.listenerDuration.name),
          'zapier.event.name',
        ),
        { 'zapier.run.failed': 1 },
      );
      assert.deepEqual(
        histogramCounts(recorded.get(ZAPIER_INSTRUMENTS.deliveryLatency.name), 'zapier.event.name'),
        { 'zapier.run.failed': 1 },
      );
      const [span] = spans(ZAPIER_SPANS.delivery);
      assert.equal(span.attributes['zapier.run.id'], 'arun_t2');
      assert.equal(span.attributes['zapier.delivery.outcome'], 'delivered');
    });

    it('counts creates, API requests and polls, and reports the gauges', { skip }, async () => {
      spanExporter.reset();
      await collect();
      const { id } = await app.client.createActionRun({
        action: 'never-calls-back',
        inputs: {},
        authentication: null,
      });
      let recorded = await collect();
      assert.deepEqual(
        byAttribute(recorded.get(ZAPIER_INSTRUMENTS.creates.name), 'zapier.create.outcome'),
        { created: 1 },
      );
      assert.deepEqual(
        byAttribute(recorded.get(ZAPIER_INSTRUMENTS.apiRequests.name), 'zapier.api.request'),
        { create: 1 },
      );
      assert.equal(spans(ZAPIER_SPANS.create)[0]?.attributes['zapier.run.id'], id);
      assert.deepEqual(
        byAttribute(recorded.get(ZAPIER_INSTRUMENTS.pendingRuns.name), ''),
        { '': 1 },
        'one run pending',
      );
      assert.deepEqual(byAttribute(recorded.get(ZAPIER_INSTRUMENTS.overdueRuns.name), ''), {
        '': 0,
      });
      assert.deepEqual(
        byAttribute(recorded.get(ZAPIER_INSTRUMENTS.parkedRuns.name), 'zapier.run.parked_by'),
        { delivery: 0, poll: 0 },
      );
      assert.ok(recorded.has(ZAPIER_INSTRUMENTS.budgetReserved.name));
      assert.deepEqual(byAttribute(recorded.get(ZAPIER_INSTRUMENTS.budgetCooldown.name), ''), {
        '': 0,
      });

      // Zapier has finished the run; it is overdue here.
      await eventually('the run to finish at Zapier', () => sandbox.run(id)?.status === 'success');
      clock.advance(61_000);
      recorded = await collect();
      assert.deepEqual(byAttribute(recorded.get(ZAPIER_INSTRUMENTS.overdueRuns.name), ''), {
        '': 1,
      });
      await app.poller.tick();
      await eventually('the polled event', () => app.listener.events.length === 3);
      recorded = await collect();
      assert.deepEqual(
        byAttribute(recorded.get(ZAPIER_INSTRUMENTS.polls.name), 'zapier.poll.outcome'),
        { completed: 1 },
      );
      assert.deepEqual(
        byAttribute(recorded.get(ZAPIER_INSTRUMENTS.apiRequests.name), 'http.response.status_code'),
        { '200': 1 },
      );
      assert.equal(spans(ZAPIER_SPANS.poll)[0]?.attributes['zapier.run.id'], id);
      assert.deepEqual(byAttribute(recorded.get(ZAPIER_INSTRUMENTS.pendingRuns.name), ''), {
        '': 0,
      });
    });
  });
}
