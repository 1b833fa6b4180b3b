import type { DynamicModule, INestApplication, Provider, Type } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource, DataSourceOptions } from 'typeorm';
import { getDataSourceToken } from '@nestjs/typeorm';
import { ZapierModule } from '../../src/zapier.module.js';
import { ZAPIER_CLOCK } from '../../src/zapier.constants.js';
import type {
  ZapierModuleExtras,
  ZapierModuleOptions,
} from '../../src/interfaces/zapier-module-options.interface.js';
import type { ZapierClock } from '../../src/interfaces/zapier-clock.interface.js';
import { ZAPIER_MIGRATIONS } from '../../src/storage/migrations/index.js';
import { RecordingListener } from './recording-listener.js';
import { TestLogger } from './test-logger.js';

export type Adapter = 'express' | 'fastify';

export interface ZapierAppOptions {
  adapter: Adapter;
  /** Where runs are stored: TypeORM options of a fresh database (see `freshDatabase`). */
  database: DataSourceOptions;
  zapier: ZapierModuleOptions;
  extras?: ZapierModuleExtras;
  /** Register with `forRootAsync` (options from a factory) instead of `forRoot`. */
  async?: boolean;
  clock?: ZapierClock;
  providers?: Provider[];
  /** Controllers of the app's root module, next to the module's own. */
  controllers?: Type<unknown>[];
  /** Extra modules (or replacements of the three host modules, see `omit`). */
  imports?: Array<Type<unknown> | DynamicModule>;
  omit?: Array<'events' | 'schedule'>;
  eventEmitterOptions?: Parameters<typeof EventEmitterModule.forRoot>[0];
  /** Runs on the app before it listens (global prefix, shutdown hooks...). */
  beforeListen?: (app: INestApplication) => void;
  /** Port on 127.0.0.1; a free one by default. */
  port?: number;
}

export interface ZapierApp {
  app: INestApplication;
  url: string;
  listener: RecordingListener;
  logger: TestLogger;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * Boots a real Nest app the way the README's quick start does (TypeORM, EventEmitter and
 * Schedule imported by the host, ZapierModule on top) and listens on 127.0.0.1.
 */
export async function startZapierApp(options: ZapierAppOptions): Promise<ZapierApp> {
  const logger = new TestLogger();
  const zapierImport = options.async
    ? ZapierModule.forRootAsync({
        ...options.extras,
        useFactory: () => Promise.resolve(options.zapier),
      })
    : ZapierModule.forRoot({ ...options.zapier, ...options.extras });
  let builder = Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        ...options.database,
        autoLoadEntities: true,
        migrations: ZAPIER_MIGRATIONS,
        migrationsRun: true,
        // Short busy timeout so that "database is locked" tests do not block for 5 s.
        ...(options.database.type === 'better-sqlite3' ? { timeout: 1000 } : {}),
      }),
      ...(options.omit?.includes('events')
        ? []
        : [EventEmitterModule.forRoot(options.eventEmitterOptions)]),
      ...(options.omit?.includes('schedule') ? [] : [ScheduleModule.forRoot()]),
      zapierImport,
      ...(options.imports ?? []),
    ],
    providers: [RecordingListener, ...(options.providers ?? [])],
    controllers: options.controllers ?? [],
  });
  if (options.clock) builder = builder.overrideProvider(ZAPIER_CLOCK).useValue(options.clock);
  const moduleRef = await builder.compile();
  const app =
    options.adapter === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(), { logger })
      : moduleRef.createNestApplication({ logger });
  app.useLogger(logger);
  options.beforeListen?.(app);
  await app.listen(options.port ?? 0, '127.0.0.1');
  const server = app.getHttpServer() as import('node:http').Server;
  const address = server.address() as import('node:net').AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    listener: app.get(RecordingListener),
    logger,
    dataSource: app.get<DataSource>(getDataSourceToken()),
    close: () => app.close(),
  };
}
