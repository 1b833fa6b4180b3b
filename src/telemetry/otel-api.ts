/**
 * The part of `@opentelemetry/api` the module uses, described here rather than imported, so that
 * the package's types never refer to an optional peer a host may not have installed.
 */
export type OtelAttributes = Record<string, string | number | boolean>;

export interface OtelCounter {
  add(value: number, attributes?: OtelAttributes): void;
}

export interface OtelHistogram {
  record(value: number, attributes?: OtelAttributes): void;
}

export interface OtelObservableResult {
  observe(observable: OtelObservable, value: number, attributes?: OtelAttributes): void;
}

export type OtelObservable = object;

export interface OtelMeter {
  createCounter(name: string, options: { description: string; unit: string }): OtelCounter;
  createHistogram(
    name: string,
    options: { description: string; unit: string; advice?: { explicitBucketBoundaries: number[] } },
  ): OtelHistogram;
  createObservableGauge(
    name: string,
    options: { description: string; unit: string },
  ): OtelObservable;
  addBatchObservableCallback(
    callback: (result: OtelObservableResult) => Promise<void>,
    observables: OtelObservable[],
  ): void;
  removeBatchObservableCallback(
    callback: (result: OtelObservableResult) => Promise<void>,
    observables: OtelObservable[],
  ): void;
}

export interface OtelSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error | string): void;
  end(): void;
}

export interface OtelTracer {
  startActiveSpan<T>(
    name: string,
    options: { kind?: number; attributes?: OtelAttributes },
    fn: (span: OtelSpan) => T,
  ): T;
}

/** `import('@opentelemetry/api')`, as far as the module uses it. */
export interface OtelApi {
  metrics: { getMeter(name: string, version?: string): OtelMeter };
  trace: { getTracer(name: string, version?: string): OtelTracer };
  SpanStatusCode: { ERROR: number };
  SpanKind: { INTERNAL: number; SERVER: number; CLIENT: number; CONSUMER: number };
}
