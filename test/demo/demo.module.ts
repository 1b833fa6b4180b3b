import { Module, type DynamicModule } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { ZAPIER_MIGRATIONS, ZapierModule } from '../../src/index.js';
import type { DemoDatabase } from './options.js';
import { DemoListener } from './demo-listener.service.js';

/** A run without a callback is polled this long after its create (the module's default: 5 min). */
export const DEMO_OVERDUE_AFTER_MS = 2000;
/** Zapier's 7-day retention, shortened so the run that never finishes expires during the demo. */
export const DEMO_RETENTION_MS = 5000;

/** Where the demo app finds its database and its Zapier (the sandbox). */
export interface DemoModuleConfig {
  /** A SQLite file, or a database server. */
  database: { sqliteFile: string } | DemoDatabase;
  accessToken: string;
  apiBaseUrl: string;
  jwksUrl: string;
  /** The public HTTPS URL Zapier calls back (the sandbox maps it to this app). */
  callbackUrl: string;
  /** `polling.maxRequestsPerMinute`. */
  maxRequestsPerMinute: number;
}

/**
 * The README's quick start, as an app would write it: the host imports TypeORM, the event
 * emitter and the scheduler, then `ZapierModule.forRoot()`; a plain `@OnEvent` listener hears
 * the results. Only the polling timings are shortened, so the demo ends in seconds.
 */
@Module({})
export class DemoModule {
  static forRoot(config: DemoModuleConfig): DynamicModule {
    const database = storage(config.database);
    return {
      module: DemoModule,
      imports: [
        TypeOrmModule.forRoot(database),
        EventEmitterModule.forRoot(),
        ScheduleModule.forRoot(),
        ZapierModule.forRoot({
          accessToken: config.accessToken,
          apiBaseUrl: config.apiBaseUrl,
          jwksUrl: config.jwksUrl,
          callbackUrl: config.callbackUrl,
          polling: {
            // Production defaults are minutes (callbacks of long actions are late by design) and
            // 7 days; seconds here, so lost callbacks are recovered and a stuck run expires
            // while you watch.
            overdueAfterMs: DEMO_OVERDUE_AFTER_MS,
            intervalMs: 500,
            initialBackoffMs: 500,
            retentionMs: DEMO_RETENTION_MS,
            maxRequestsPerMinute: config.maxRequestsPerMinute,
          },
        }),
      ],
      providers: [DemoListener],
    };
  }
}

/**
 * The quick start's `synchronize`, except on MariaDB and MySQL, whose tables must come from the
 * shipped migration (LONGTEXT payloads, a binary collation: synchronize can make neither).
 */
function storage(database: DemoModuleConfig['database']): TypeOrmModuleOptions {
  const common = { autoLoadEntities: true } as const;
  if ('sqliteFile' in database) {
    return { ...common, type: 'better-sqlite3', database: database.sqliteFile, synchronize: true };
  }
  if (database.type === 'postgres') {
    return { ...common, type: 'postgres', url: database.url, synchronize: true };
  }
  return {
    ...common,
    type: database.type,
    url: database.url,
    migrations: ZAPIER_MIGRATIONS,
    migrationsRun: true,
  };
}
