import type {
  OtelApi,
  OtelAttributes,
  OtelCounter,
  OtelHistogram,
  OtelMeter,
  OtelObservableResult,
  OtelSpan,
  OtelTracer,
} from './otel-api.js';
import {
  ZAPIER_ATTRIBUTES as A,
  ZAPIER_INSTRUMENTS as I,
  type CallbackOutcome,
  type CreateOutcome,
  type DeliveryOutcome,
  type PollOutcome,
} from './zapier-instruments.js';

/** What the observable gauges report, read from the database at each collection. */
export interface ZapierGaugeValues {
  pendingRuns: number;
  overdueRuns: number;
  parkedForDelivery: number;
  parkedForPoll: number;
  budgetReserved: number;
  budgetCooldownSeconds: number;
}

/** The instrumentation scope every instrument and span belongs to. */
const SCOPE = 'nestjs-zapier';

/** Buckets for durations in seconds: a callback takes milliseconds, a listener may take a minute. */
const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

interface Instruments {
  callbacks: OtelCounter;
  callbackDuration: OtelHistogram;
  polls: OtelCounter;
  creates: OtelCounter;
  apiRequests: OtelCounter;
  rateLimited: OtelCounter;
  deliveries: OtelCounter;
  deliveryLatency: OtelHistogram;
  listenerDuration: OtelHistogram;
  prunes: OtelCounter;
}

/**
 * The module's metrics and spans, through `@opentelemetry/api` when the host has it installed
 * (an optional peer), and nothing at all otherwise. Without an OpenTelemetry SDK registered the
 * API's own no-op implementations take the calls, so the cost is a few function calls.
 */
export class ZapierTelemetry {
  /** Records nothing: for a host without `@opentelemetry/api`, and for specs that build parts by hand. */
  static readonly disabled = new ZapierTelemetry(undefined);

  private readonly meter: OtelMeter | undefined;
  private readonly tracer: OtelTracer | undefined;
  private readonly instruments: Instruments | undefined;

  constructor(
    private readonly api: OtelApi | undefined,
    version?: string,
  ) {
    this.meter = api?.metrics.getMeter(SCOPE, version);
    this.tracer = api?.trace.getTracer(SCOPE, version);
    this.instruments = this.meter && createInstruments(this.meter);
  }

  /** Loads `@opentelemetry/api` if the host has it; disabled otherwise. */
  static async load(version?: string): Promise<ZapierTelemetry> {
    try {
      // A variable specifier: bundlers and TypeScript leave an optional peer alone.
      const specifier = '@opentelemetry/api';
      const api = (await import(specifier)) as OtelApi;
      return new ZapierTelemetry(api, version);
    } catch {
      return ZapierTelemetry.disabled;
    }
  }

  get enabled(): boolean {
    return this.api !== undefined;
  }

  callback(outcome: CallbackOutcome, seconds?: number): void {
    if (!this.instruments) return;
    const attributes = { [A.callbackOutcome]: outcome };
    this.instruments.callbacks.add(1, attributes);
    if (seconds !== undefined) this.instruments.callbackDuration.record(seconds, attributes);
  }

  poll(outcome: PollOutcome): void {
    this.instruments?.polls.add(1, { [A.pollOutcome]: outcome });
  }

  create(outcome: CreateOutcome): void {
    this.instruments?.creates.add(1, { [A.createOutcome]: outcome });
  }

  apiResponse(kind: 'create' | 'read', status: number): void {
    if (!this.instruments) return;
    this.instruments.apiRequests.add(1, { [A.apiRequest]: kind, [A.statusCode]: status });
    if (status === 429) this.instruments.rateLimited.add(1, { [A.apiRequest]: kind });
  }

  delivery(
    outcome: DeliveryOutcome,
    eventName: string,
    listenerSeconds: number,
    latencySeconds?: number,
  ): void {
    if (!this.instruments) return;
    const attributes = { [A.deliveryOutcome]: outcome, [A.eventName]: eventName };
    this.instruments.deliveries.add(1, attributes);
    this.instruments.listenerDuration.record(listenerSeconds, attributes);
    if (latencySeconds !== undefined) {
      this.instruments.deliveryLatency.record(latencySeconds, { [A.eventName]: eventName });
    }
  }

  pruned(kind: string, rows: number): void {
    if (rows > 0) this.instruments?.prunes.add(rows, { [A.pruneKind]: kind });
  }

  /**
   * Reports the gauges from `read()` at each collection, until the returned function is called.
   * A failed read reports nothing for that collection (the database being down is for the health
   * check to say).
   */
  observeGauges(read: () => Promise<ZapierGaugeValues>): () => void {
    const meter = this.meter;
    if (!meter) return () => undefined;
    const gauge = (spec: { name: string; unit: string; description: string }) =>
      meter.createObservableGauge(spec.name, spec);
    const pending = gauge(I.pendingRuns);
    const overdue = gauge(I.overdueRuns);
    const parked = gauge(I.parkedRuns);
    const reserved = gauge(I.budgetReserved);
    const cooldown = gauge(I.budgetCooldown);
    const observables = [pending, overdue, parked, reserved, cooldown];
    const callback = async (result: OtelObservableResult): Promise<void> => {
      let values: ZapierGaugeValues;
      try {
        values = await read();
      } catch {
        return;
      }
      result.observe(pending, values.pendingRuns);
      result.observe(overdue, values.overdueRuns);
      result.observe(parked, values.parkedForDelivery, { [A.parkedBy]: 'delivery' });
      result.observe(parked, values.parkedForPoll, { [A.parkedBy]: 'poll' });
      result.observe(reserved, values.budgetReserved);
      result.observe(cooldown, values.budgetCooldownSeconds);
    };
    meter.addBatchObservableCallback(callback, observables);
    return () => meter.removeBatchObservableCallback(callback, observables);
  }

  /**
   * Runs `fn` inside a span (a child of whatever span is active), ended when `fn` settles; a
   * throw marks it as an error and is rethrown.
   */
  async span<T>(
    name: string,
    attributes: OtelAttributes,
    fn: (span: ZapierSpan) => Promise<T>,
  ): Promise<T> {
    if (!this.tracer || !this.api) return fn(NO_SPAN);
    const error = this.api.SpanStatusCode.ERROR;
    return this.tracer.startActiveSpan(name, { attributes }, async (span: OtelSpan) => {
      try {
        return await fn(span);
      } catch (thrown) {
        span.recordException(thrown instanceof Error ? thrown : String(thrown));
        span.setStatus({
          code: error,
          message: thrown instanceof Error ? thrown.message : undefined,
        });
        throw thrown;
      } finally {
        span.end();
      }
    });
  }
}

/** What the code inside a span may add to it. */
export interface ZapierSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
}

const NO_SPAN: ZapierSpan = { setAttribute: () => undefined };

function createInstruments(meter: OtelMeter): Instruments {
  const counter = (spec: { name: string; unit: string; description: string }) =>
    meter.createCounter(spec.name, spec);
  const histogram = (spec: { name: string; unit: string; description: string }) =>
    meter.createHistogram(spec.name, {
      ...spec,
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  return {
    callbacks: counter(I.callbacks),
    callbackDuration: histogram(I.callbackDuration),
    polls: counter(I.polls),
    creates: counter(I.creates),
    apiRequests: counter(I.apiRequests),
    rateLimited: counter(I.rateLimited),
    deliveries: counter(I.deliveries),
    deliveryLatency: histogram(I.deliveryLatency),
    listenerDuration: histogram(I.listenerDuration),
    prunes: counter(I.prunes),
  };
}
