import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { validateCallbackUrl } from '../common/callback-url.js';
import {
  DEFAULT_API_BASE_URL,
  DEFAULT_JWKS_URL,
  ZAPIER_RETENTION_MS,
  ZAPIER_RATE_WINDOW_MS,
} from '../zapier.constants.js';
import { ZapierMessages } from '../zapier.messages.js';
import { ZapierConfigurationError } from '../errors/zapier-configuration.error.js';
import type {
  ZapierAccessTokenSource,
  ZapierModuleOptions,
} from '../interfaces/zapier-module-options.interface.js';

/** The options with every default applied; what the module's services read. */
export interface ResolvedZapierOptions {
  accessToken: ZapierAccessTokenSource | undefined;
  apiBaseUrl: string;
  jwksUrl: string;
  callbackUrl: string | undefined;
  issuer: string | string[] | undefined;
  audience: string | string[] | undefined;
  clockToleranceSeconds: number;
  algorithms: string[];
  jwks: {
    timeoutMs: number;
    cacheMaxAgeMs: number;
    minRefetchIntervalMs: number;
    maxBackoffMs: number;
  };
  callbackBodyLimit: number;
  callbackMemoryLimit: number;
  requestTimeoutMs: number;
  responseBodyLimit: number;
  createBodyShape: 'reference' | 'flat';
  resultLimits: { maxDepth: number; maxValues: number };
  polling: {
    enabled: boolean;
    intervalMs: number;
    overdueAfterMs: number;
    maxRequestsPerMinute: number;
    initialBackoffMs: number;
    maxBackoffMs: number;
    retentionMs: number;
    notFoundGraceMs: number;
    cooldownMs: number;
    maxCooldownMs: number;
    authErrorPauseMs: number;
    leaseMs: number;
  };
  delivery: {
    sweepIntervalMs: number;
    leaseMs: number;
    maxAttempts: number;
    retryBaseDelayMs: number;
    maxRetryDelayMs: number;
    concurrency: number;
    timeoutMs: number;
  };
  storage: {
    statementTimeoutMs: number;
    sqliteBusyTimeoutMs: number;
  };
  retention: {
    enabled: boolean;
    intervalMs: number;
    deliveredMs: number;
    expiredMs: number;
    /** `null`: parked runs are kept until re-driven. */
    parkedMs: number | null;
    quarantineMs: number;
    batchSize: number;
  };
  instanceId: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Keys of the options object `forRootAsync()`'s factory must not return (they are extras). */
const EXTRA_KEYS = [
  'callbackPath',
  'registerController',
  'controllerDecorators',
  'dataSource',
  'isGlobal',
] as const;

/**
 * Applies the defaults (written here and nowhere else) and validates the result. Throws
 * `ZapierConfigurationError` naming the first bad option.
 */
export function resolveZapierOptions(options: ZapierModuleOptions): ResolvedZapierOptions {
  if (options === null || typeof options !== 'object') {
    throw new ZapierConfigurationError(
      ZapierMessages.invalidOption('(options)', options, 'an object'),
    );
  }
  // forRoot() strips the extras before they get here, so any left came from forRootAsync's factory.
  for (const key of EXTRA_KEYS) {
    if (key in options) throw new ZapierConfigurationError(ZapierMessages.extraFromFactory(key));
  }
  const polling = options.polling ?? {};
  const delivery = options.delivery ?? {};
  const jwks = options.jwks ?? {};
  const resultLimits = options.resultLimits ?? {};
  if (resultLimits === null || typeof resultLimits !== 'object') {
    fail('resultLimits', resultLimits, 'an object such as { maxDepth: 64, maxValues: 1000000 }');
  }
  const storage = options.storage ?? {};
  const retention = options.retention ?? {};
  const resolved: ResolvedZapierOptions = {
    accessToken: accessToken(options.accessToken),
    apiBaseUrl: serviceUrl('apiBaseUrl', options.apiBaseUrl ?? DEFAULT_API_BASE_URL).replace(
      /\/+$/,
      '',
    ),
    jwksUrl: serviceUrl('jwksUrl', options.jwksUrl ?? DEFAULT_JWKS_URL),
    callbackUrl: callbackUrl(options.callbackUrl),
    issuer: stringOrList('issuer', options.issuer),
    audience: stringOrList('audience', options.audience),
    clockToleranceSeconds: integer('clockToleranceSeconds', options.clockToleranceSeconds, 30, 0),
    algorithms: algorithms(options.algorithms),
    jwks: {
      timeoutMs: integer('jwks.timeoutMs', jwks.timeoutMs, 5000, 1),
      cacheMaxAgeMs: integer('jwks.cacheMaxAgeMs', jwks.cacheMaxAgeMs, 600_000, 1000),
      minRefetchIntervalMs: integer(
        'jwks.minRefetchIntervalMs',
        jwks.minRefetchIntervalMs,
        1000,
        0,
      ),
      maxBackoffMs: integer('jwks.maxBackoffMs', jwks.maxBackoffMs, 30_000, 0),
    },
    callbackBodyLimit: integer(
      'callbackBodyLimit',
      options.callbackBodyLimit,
      20 * 1024 * 1024,
      1024,
    ),
    callbackMemoryLimit: integer(
      'callbackMemoryLimit',
      options.callbackMemoryLimit,
      96 * 1024 * 1024,
      1024,
    ),
    requestTimeoutMs: integer('requestTimeoutMs', options.requestTimeoutMs, 30_000, 1),
    responseBodyLimit: integer(
      'responseBodyLimit',
      options.responseBodyLimit,
      20 * 1024 * 1024,
      1024,
    ),
    createBodyShape: oneOf('createBodyShape', options.createBodyShape, [
      'reference',
      'flat',
    ] as const),
    resultLimits: {
      maxDepth: integer('resultLimits.maxDepth', resultLimits.maxDepth, 64, 1),
      maxValues: integer('resultLimits.maxValues', resultLimits.maxValues, 1_000_000, 1),
    },
    polling: {
      enabled: boolean('polling.enabled', polling.enabled, true),
      intervalMs: integer('polling.intervalMs', polling.intervalMs, 10_000, 10),
      overdueAfterMs: integer('polling.overdueAfterMs', polling.overdueAfterMs, 300_000, 0),
      maxRequestsPerMinute: integer(
        'polling.maxRequestsPerMinute',
        polling.maxRequestsPerMinute,
        50,
        1,
      ),
      initialBackoffMs: integer('polling.initialBackoffMs', polling.initialBackoffMs, 60_000, 1),
      maxBackoffMs: integer('polling.maxBackoffMs', polling.maxBackoffMs, 1_800_000, 1),
      retentionMs: integer('polling.retentionMs', polling.retentionMs, ZAPIER_RETENTION_MS, 1),
      notFoundGraceMs: integer('polling.notFoundGraceMs', polling.notFoundGraceMs, 600_000, 0),
      cooldownMs: integer('polling.cooldownMs', polling.cooldownMs, ZAPIER_RATE_WINDOW_MS, 1),
      maxCooldownMs: integer(
        'polling.maxCooldownMs',
        polling.maxCooldownMs,
        15 * ZAPIER_RATE_WINDOW_MS,
        ZAPIER_RATE_WINDOW_MS,
      ),
      authErrorPauseMs: integer('polling.authErrorPauseMs', polling.authErrorPauseMs, 60_000, 1),
      leaseMs: integer('polling.leaseMs', polling.leaseMs, 30_000, 100),
    },
    delivery: {
      sweepIntervalMs: integer('delivery.sweepIntervalMs', delivery.sweepIntervalMs, 5000, 10),
      leaseMs: integer('delivery.leaseMs', delivery.leaseMs, 30_000, 100),
      maxAttempts: integer('delivery.maxAttempts', delivery.maxAttempts, 10, 1),
      retryBaseDelayMs: integer('delivery.retryBaseDelayMs', delivery.retryBaseDelayMs, 5000, 1),
      maxRetryDelayMs: integer('delivery.maxRetryDelayMs', delivery.maxRetryDelayMs, 600_000, 1),
      concurrency: integer('delivery.concurrency', delivery.concurrency, 64, 1),
      timeoutMs: timerDelay('delivery.timeoutMs', delivery.timeoutMs, 60_000, 10),
    },
    storage: {
      statementTimeoutMs: integer(
        'storage.statementTimeoutMs',
        storage.statementTimeoutMs,
        10_000,
        1,
      ),
      sqliteBusyTimeoutMs: integer(
        'storage.sqliteBusyTimeoutMs',
        storage.sqliteBusyTimeoutMs,
        1000,
        0,
      ),
    },
    retention: {
      enabled: boolean('retention.enabled', retention.enabled, true),
      intervalMs: timerDelay('retention.intervalMs', retention.intervalMs, 3_600_000, 1000),
      deliveredMs: integer('retention.deliveredMs', retention.deliveredMs, 30 * DAY_MS, 1),
      expiredMs: integer('retention.expiredMs', retention.expiredMs, 30 * DAY_MS, 1),
      parkedMs:
        retention.parkedMs === null || retention.parkedMs === undefined
          ? null
          : integer('retention.parkedMs', retention.parkedMs, 0, 1),
      quarantineMs: integer('retention.quarantineMs', retention.quarantineMs, 7 * DAY_MS, 1),
      batchSize: integer('retention.batchSize', retention.batchSize, 500, 1),
    },
    instanceId: instanceId(options.instanceId),
  };
  // Upper bounds that must not fall below their lower bounds.
  const { jwks: keys, polling: polls } = resolved;
  atLeast(
    'jwks.maxBackoffMs',
    keys.maxBackoffMs,
    'jwks.minRefetchIntervalMs',
    keys.minRefetchIntervalMs,
  );
  atLeast(
    'polling.maxBackoffMs',
    polls.maxBackoffMs,
    'polling.initialBackoffMs',
    polls.initialBackoffMs,
  );
  atLeast('polling.maxCooldownMs', polls.maxCooldownMs, 'polling.cooldownMs', polls.cooldownMs);
  // A pruned run is forgotten: a late callback retry for it would be taken for a new run.
  const kept = resolved.retention;
  atLeast('retention.deliveredMs', kept.deliveredMs, 'polling.retentionMs', polls.retentionMs);
  atLeast('retention.expiredMs', kept.expiredMs, 'polling.retentionMs', polls.retentionMs);
  atLeast(
    'callbackMemoryLimit',
    resolved.callbackMemoryLimit,
    'callbackBodyLimit',
    resolved.callbackBodyLimit,
  );
  // JSON.stringify recurses: far deeper than this, serialising a result again overflows the stack.
  if (resolved.resultLimits.maxDepth > MAX_RESULT_DEPTH) {
    fail(
      'resultLimits.maxDepth',
      resolved.resultLimits.maxDepth,
      `an integer from 1 to ${MAX_RESULT_DEPTH}`,
    );
  }
  return resolved;
}

/** Deepest `resultLimits.maxDepth`: the depth the callback parser refuses beyond, too. */
const MAX_RESULT_DEPTH = 1000;

function atLeast(path: string, value: number, boundPath: string, bound: number): void {
  if (value < bound) fail(path, value, `at least ${boundPath} (${bound})`);
}

function fail(path: string, value: unknown, expected: string): never {
  throw new ZapierConfigurationError(ZapierMessages.invalidOption(path, value, expected));
}

function integer(path: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(path, value, `an integer of at least ${min}`);
  }
  return value;
}

/** The longest delay `setTimeout` takes; a longer one fires after 1 ms instead. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** An integer that is used as a timer's delay as it is. */
function timerDelay(path: string, value: unknown, fallback: number, min: number): number {
  const delay = integer(path, value, fallback, min);
  if (delay > MAX_TIMER_DELAY_MS) {
    fail(
      path,
      value,
      `an integer of at least ${min} and at most ${MAX_TIMER_DELAY_MS} (24.8 days)`,
    );
  }
  return delay;
}

function boolean(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(path, value, 'true or false');
  return value;
}

function oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): T {
  if (value === undefined) return allowed[0];
  if (!allowed.includes(value as T)) fail(path, value, `one of ${allowed.join(', ')}`);
  return value as T;
}

function accessToken(value: unknown): ZapierAccessTokenSource | undefined {
  if (value === undefined || typeof value === 'function') {
    return value as ZapierAccessTokenSource | undefined;
  }
  if (typeof value !== 'string' || value.trim() === '') {
    fail('accessToken', value, 'a non-empty string or a function returning one');
  }
  return value;
}

function stringOrList(path: string, value: unknown): string | string[] | undefined {
  if (value === undefined) return undefined;
  const ok =
    (typeof value === 'string' && value !== '') ||
    (Array.isArray(value) &&
      value.length > 0 &&
      value.every((item) => typeof item === 'string' && item !== ''));
  if (!ok) fail(path, value, 'a non-empty string or a non-empty list of them');
  return value as string | string[];
}

function algorithms(value: unknown): string[] {
  if (value === undefined) return ['RS256'];
  const asymmetric = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((alg) => typeof alg === 'string' && asymmetric.test(alg))
  ) {
    // Symmetric algorithms would let anyone holding the public key sign (alg confusion).
    fail('algorithms', value, 'a non-empty list of asymmetric JWS algorithms such as ["RS256"]');
  }
  return value as string[];
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Zapier's endpoints are HTTPS; plain HTTP is accepted only on loopback, for local fakes. */
function serviceUrl(path: string, value: unknown): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    fail(path, value, 'an absolute URL');
  }
  if (typeof value !== 'string') fail(path, value, 'an absolute URL');
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    fail(path, value, 'an https:// URL (http:// only on localhost)');
  }
  return value;
}

function callbackUrl(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail('callbackUrl', value, 'a public https:// URL');
  try {
    validateCallbackUrl(value);
  } catch (error) {
    fail('callbackUrl', value, `a URL Zapier accepts (${(error as Error).message})`);
  }
  return value;
}

function instanceId(value: unknown): string {
  if (value === undefined) return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  if (typeof value !== 'string' || value === '' || value.length > 200) {
    fail('instanceId', value, 'a non-empty string of at most 200 characters');
  }
  return value;
}
