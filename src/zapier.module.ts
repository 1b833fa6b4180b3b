import { Module } from '@nestjs/common';
import { ZAPIER_CLOCK, ZAPIER_OPTIONS } from './zapier.constants.js';
import { zapierHostProvider } from './zapier-host.provider.js';
import { ZapierConfigurableModule } from './zapier.module-definition.js';
import { ZapierSignatureVerifier } from './signature/zapier-signature.verifier.js';
import { ZapierSignatureGuard } from './signature/zapier-signature.guard.js';
import { ZapierCallbackService } from './callback/zapier-callback.service.js';
import { ZapierStorageCheck } from './storage/zapier-storage.check.js';
import { ZapierClaimedDeliveries } from './storage/claimed-deliveries.js';
import { ZapierRunIntake } from './storage/run-intake.repository.js';
import { ZapierPollQueue } from './storage/poll-queue.repository.js';
import { ZapierOutbox } from './storage/outbox.repository.js';
import { ZapierBudgetRepository } from './storage/request-budget.repository.js';
import { ZapierQuarantineRepository } from './storage/quarantine.repository.js';
import { ZapierRunReport } from './storage/run-report.repository.js';
import { ZapierRunLifecycle } from './runs/zapier-run-lifecycle.js';
import { ZapierPollSchedule } from './runs/zapier-poll-schedule.js';
import { ZapierRunsService } from './runs/zapier-runs.service.js';
import { ZapierDeliveryRunner } from './delivery/zapier-delivery.runner.js';
import { ZapierDeliveryScheduler } from './delivery/zapier-delivery.scheduler.js';
import { ZapierListenerInspector } from './delivery/zapier-listener-inspector.js';
import { ZapierRunningListeners } from './delivery/zapier-running-listeners.js';
import { ZapierRequestBudget } from './budget/zapier-request-budget.js';
import { ZapierClient } from './client/zapier.client.js';
import { ZapierHttp } from './client/zapier-http.js';
import { ZapierOverdueRunPoller } from './poller/zapier-overdue-run.poller.js';
import { ZapierRunGauges } from './storage/run-gauges.repository.js';
import { ZapierRetentionRepository } from './storage/retention.repository.js';
import { ZapierPruner } from './runs/zapier-pruner.js';
import { ZapierPruneScheduler } from './runs/zapier-prune.scheduler.js';
import { ZapierTelemetry } from './telemetry/zapier-telemetry.js';
import { ZapierTelemetryGauges } from './runs/zapier-telemetry-gauges.js';
import { ZapierHealthProbe } from './health/zapier-health.probe.js';

/**
 * Receives Zapier's action-run callbacks: verifies their signature, stores each run once, and
 * delivers `zapier.run.completed` / `zapier.run.failed` events to `@OnEvent` listeners at least
 * once. The host app imports `TypeOrmModule.forRoot()`, `EventEmitterModule.forRoot()` and
 * `ScheduleModule.forRoot()` itself; this module never calls another library's `forRoot`.
 *
 * @example
 * ```ts
 * @Module({ imports: [
 *   TypeOrmModule.forRoot({ type: 'better-sqlite3', database: 'zapier.db', autoLoadEntities: true, synchronize: true }),
 *   EventEmitterModule.forRoot(),
 *   ScheduleModule.forRoot(),
 *   ZapierModule.forRoot({ accessToken: process.env.ZAPIER_TOKEN }),
 * ] })
 * export class AppModule {}
 * ```
 * @publicApi
 */
@Module({
  providers: [
    zapierHostProvider,
    ZapierSignatureVerifier,
    ZapierSignatureGuard,
    ZapierCallbackService,
    ZapierStorageCheck,
    ZapierClaimedDeliveries,
    ZapierRunIntake,
    ZapierPollQueue,
    ZapierOutbox,
    ZapierBudgetRepository,
    ZapierQuarantineRepository,
    ZapierRunReport,
    ZapierRunLifecycle,
    ZapierPollSchedule,
    ZapierRunsService,
    ZapierDeliveryRunner,
    ZapierDeliveryScheduler,
    ZapierListenerInspector,
    ZapierRunningListeners,
    ZapierHttp,
    ZapierRequestBudget,
    ZapierClient,
    ZapierOverdueRunPoller,
    // `@opentelemetry/api` is an optional peer: loaded if the host has it, a no-op otherwise.
    { provide: ZapierTelemetry, useFactory: () => ZapierTelemetry.load() },
    ZapierRunGauges,
    ZapierTelemetryGauges,
    ZapierRetentionRepository,
    ZapierPruner,
    ZapierPruneScheduler,
    ZapierHealthProbe,
  ],
  exports: [
    ZapierClient,
    ZAPIER_OPTIONS,
    ZAPIER_CLOCK,
    ZapierSignatureVerifier,
    ZapierSignatureGuard,
    ZapierCallbackService,
    ZapierRunsService,
    // For ZapierHealthIndicator (nestjs-zapier/terminus), provided by the host next to this import.
    ZapierHealthProbe,
  ],
})
export class ZapierModule extends ZapierConfigurableModule {}
