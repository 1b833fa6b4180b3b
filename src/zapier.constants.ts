import type { ZapierRunState } from './interfaces/action-run.interface.js';

/** Injection token of the resolved options (defaults applied, validated). */
export const ZAPIER_OPTIONS = 'zapier:options';
/** Injection token of the clock the module reads time from; tests override it. @publicApi */
export const ZAPIER_CLOCK = 'zapier:clock';
/** Injection token of the name of the TypeORM data source the module stores runs in. */
export const ZAPIER_DATA_SOURCE_NAME = 'zapier:data-source-name';

/** Name of the poller's interval in `SchedulerRegistry`. @publicApi */
export const ZAPIER_POLLER_JOB = 'zapier:poller';
/** Name of the retention job's interval in `SchedulerRegistry`. @publicApi */
export const ZAPIER_RETENTION_JOB = 'zapier:retention';
/** Name of the delivery sweep's interval in `SchedulerRegistry`. @publicApi */
export const ZAPIER_DELIVERY_JOB = 'zapier:delivery';

/**
 * The event namespace the module owns: the name `zapier` and every name starting with `zapier.`.
 * A listener whose pattern can match nothing outside it hears only the module's events.
 */
export const ZAPIER_EVENT_NAMESPACE = 'zapier';

/** Header Zapier puts the callback JWT in. */
export const ZAPIER_SIGNATURE_HEADER = 'zapier-callback-signature';

export const DEFAULT_API_BASE_URL = 'https://api.zapier.com';
export const DEFAULT_JWKS_URL = 'https://zapier.com/.well-known/jwks.json';
export const DEFAULT_CALLBACK_PATH = 'zapier/callbacks';

/** The row of `zapier_api_budget` that every instance of this app shares. */
export const ZAPIER_BUDGET_KEY = 'default';

/** Zapier keeps run results for 7 days from creation (docs/decisions.md#f2). */
export const ZAPIER_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Zapier's callback JWT is valid for 5 minutes after issue (docs/decisions.md#f3-signature). */
export const ZAPIER_TOKEN_LIFETIME_SECONDS = 300;
/** Zapier's rate-limit window and the cooldown a 429 starts (docs/decisions.md#f4). */
export const ZAPIER_RATE_WINDOW_MS = 60_000;
/**
 * Largest JWKS response read, in bytes. Zapier's key set is a few kilobytes; anything past this
 * is not a key set, and reading it is a failed fetch.
 */
export const ZAPIER_JWKS_MAX_BYTES = 1024 * 1024;

/** Every run state, in the order that decides a run's state: the first that applies. */
export const ZAPIER_RUN_STATES = [
  'parked',
  'delivering',
  'expired',
  'overdue',
  'pending',
  'delivered',
] as const satisfies readonly ZapierRunState[];
