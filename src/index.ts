export { ZapierModule } from './zapier.module.js';
export { ZAPIER_MODULE_OPTIONS } from './zapier.module-definition.js';
export {
  ZAPIER_CLOCK,
  ZAPIER_OPTIONS,
  ZAPIER_POLLER_JOB,
  ZAPIER_DELIVERY_JOB,
  ZAPIER_RETENTION_JOB,
  ZAPIER_SIGNATURE_HEADER,
} from './zapier.constants.js';
export type {
  ZapierAccessTokenSource,
  ZapierDeliveryOptions,
  ZapierJwksOptions,
  ZapierModuleExtras,
  ZapierModuleOptions,
  ZapierPollingOptions,
  ZapierResultLimits,
  ZapierRetentionOptions,
  ZapierStorageOptions,
} from './interfaces/zapier-module-options.interface.js';
export type { ZapierClock } from './interfaces/zapier-clock.interface.js';
export type {
  ActionRun,
  ZapierCallbackPayload,
  ZapierDeliveryState,
  ZapierRunError,
  ZapierRunErrorCode,
  ZapierRunResults,
  ZapierRunSource,
  ZapierRunState,
  ZapierRunStatus,
  ZapierTerminalStatus,
} from './interfaces/action-run.interface.js';
export {
  ZapierEvents,
  ZAPIER_RUN_COMPLETED,
  ZAPIER_RUN_EXPIRED,
  ZAPIER_RUN_FAILED,
} from './events/zapier.events.js';
export type { ZapierEventMap, ZapierEventName } from './events/zapier.events.js';
export { ZapierRunEvent } from './events/zapier-run-event.js';
export { RunCompletedEvent } from './events/run-completed.event.js';
export { RunFailedEvent } from './events/run-failed.event.js';
export { RunExpiredEvent } from './events/run-expired.event.js';
export type { RunExpiredReason } from './events/run-expired.event.js';
export {
  OnRunCompleted,
  OnRunExpired,
  OnRunFailed,
  OnZapierEvent,
} from './events/on-zapier-event.decorator.js';
export { ZapierActionRun } from './storage/zapier-action-run.entity.js';

export { ZapierCallbackQuarantine } from './storage/zapier-callback-quarantine.entity.js';
export { ZapierApiBudget } from './storage/zapier-api-budget.entity.js';
export { ZAPIER_ENTITIES } from './storage/zapier-storage.entities.js';
export { ZAPIER_MIGRATIONS, ZapierInitialSchema1764201600000 } from './storage/migrations/index.js';
export { ZapierRunsService } from './runs/zapier-runs.service.js';
export type { ZapierPruneReport } from './runs/zapier-pruner.js';
export type { ZapierListedRun, ZapierRunListOptions } from './runs/zapier-runs.service.js';
export { ZapierSignatureGuard } from './signature/zapier-signature.guard.js';
export { ZapierCallbackService } from './callback/zapier-callback.service.js';
export type {
  CallbackReceipt,
  VerifiedCallback,
  ZapierCallbackRequest,
} from './callback/zapier-callback.service.js';
export { ZapierConfigurationError } from './errors/zapier-configuration.error.js';
export {
  ZapierInvalidCallbackException,
  ZapierSignatureException,
  ZapierUnavailableException,
} from './errors/zapier-http.exceptions.js';
export { ZapierCallbackUrlError, validateCallbackUrl } from './common/callback-url.js';
export type { ZapierCallbackUrlRule } from './common/callback-url.js';
export { ZapierClient } from './client/zapier.client.js';
export type { CreateActionRunInput } from './client/zapier.client.js';
export {
  ZapierApiError,
  ZapierRateLimitedError,
  ZapierRunNotRecordedError,
} from './client/zapier-api.error.js';
export type { ZapierApiErrorItem } from './client/zapier-api.error.js';
