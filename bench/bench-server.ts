import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ScheduleModule } from '@nestjs/schedule';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { DataSource } from 'typeorm';
import { ZapierModule } from '../src/zapier.module.js';
import { ZAPIER_MIGRATIONS } from '../src/storage/migrations/index.js';
import { ZapierOutbox } from '../src/storage/outbox.repository.js';
import { ZapierRunIntake } from '../src/storage/run-intake.repository.js';
import { PeerModule } from './peer/peer.module.js';
import { PeerRun } from './peer/peer-run.entity.js';
import type {
  BenchDatabase,
  ParentToServer,
  ServerSpec,
  ServerStats,
  ServerToParent,
  StatementCounts,
} from './support/bench-messages.js';
import { typeormOptions } from './support/bench-databases.js';
import { CeilingController } from './support/ceiling.controller.js';
import { EventCounter, TRACK_EVENT_IDS } from './support/event-counter.js';

/**
 * One benchmark server, in its own process: the ceiling, the peer or `ZapierModule`, on the given
 * adapter and database. Started by `run-bench` with its `ServerSpec` as the only argument; it
 * answers `stats` and `stop` over IPC.
 */

function appModule(spec: ServerSpec): Type<unknown> | DynamicModule {
  const counter = [EventCounter, { provide: TRACK_EVENT_IDS, useValue: spec.trackIds }];
  if (spec.kind === 'ceiling') {
    @Module({ controllers: [CeilingController] })
    class CeilingApp {}
    return CeilingApp;
  }
  const database = spec.database as BenchDatabase;
  if (spec.kind === 'peer') {
    @Module({
      imports: [
        TypeOrmModule.forRoot({
          ...typeormOptions(database),
          entities: [PeerRun],
          synchronize: true,
        }),
        EventEmitterModule.forRoot(),
        PeerModule.forRoot({ jwksUrl: spec.jwksUrl }),
      ],
      providers: counter,
    })
    class PeerApp {}
    return PeerApp;
  }
  @Module({
    imports: [
      TypeOrmModule.forRoot({
        ...typeormOptions(database),
        autoLoadEntities: true,
        migrations: ZAPIER_MIGRATIONS,
        migrationsRun: true,
      }),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRoot({ jwksUrl: spec.jwksUrl }),
    ],
    providers: counter,
  })
  class ZapierApp {}
  return ZapierApp;
}

/** What makes a 2xx durable on this server, read back from the database itself. */
async function durability(app: INestApplication, spec: ServerSpec): Promise<string> {
  if (!spec.database) return 'n/a (stores nothing)';
  const dataSource = app.get<DataSource>(getDataSourceToken());
  if (spec.database.type === 'postgres') {
    const [row] =
      await dataSource.query<Array<{ synchronous_commit: string }>>('SHOW synchronous_commit');
    return `synchronous_commit=${row.synchronous_commit}`;
  }
  if (spec.database.type === 'mariadb') {
    const [row] = await dataSource.query<Array<{ flush: string; binlog: string }>>(
      'SELECT @@innodb_flush_log_at_trx_commit AS flush, @@log_bin AS binlog',
    );
    return `innodb_flush_log_at_trx_commit=${row.flush} log_bin=${row.binlog}`;
  }
  const [mode] = await dataSource.query<Array<{ journal_mode: string }>>('PRAGMA journal_mode');
  const [sync] = await dataSource.query<Array<{ synchronous: number }>>('PRAGMA synchronous');
  const level = ['OFF', 'NORMAL', 'FULL', 'EXTRA'][sync.synchronous] ?? String(sync.synchronous);
  return `journal_mode=${mode.journal_mode} synchronous=${level}`;
}

const statements: StatementCounts = {};

/**
 * Diagnostics for profiled runs: counts the calls of the repositories' hot-path methods and the
 * run ids they carried (the batch sizes of the group commits), by wrapping them from the outside.
 */
function countStatements(): void {
  const hotPath: Array<[object, string[]]> = [
    [ZapierRunIntake.prototype, ['storeTerminal', 'statuses']],
    [ZapierOutbox.prototype, ['markDelivered', 'renewClaims']],
  ];
  for (const [prototype, names] of hotPath) {
    const methods = prototype as Record<string, (this: unknown, ...args: unknown[]) => unknown>;
    for (const name of names) {
      const original = methods[name];
      statements[name] = { calls: 0, rows: 0 };
      methods[name] = function (this: unknown, ...args: unknown[]) {
        statements[name].calls += 1;
        statements[name].rows += Array.isArray(args[0]) ? args[0].length : 1;
        return original.apply(this, args);
      };
    }
  }
}

/** The kernel's high-water mark of this process's RSS, in bytes; null where there is no /proc. */
function rssPeak(): number | null {
  try {
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kib === undefined ? null : Number(kib) * 1024;
  } catch {
    return null;
  }
}

/** Starts the high-water mark again from the current RSS (Linux: `5` to clear_refs). */
function resetRssPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // No /proc (or not Linux): rssPeak is then null anyway.
  }
}

function stats(app: INestApplication | undefined, spec: ServerSpec, gc = false): ServerStats {
  const memory = process.memoryUsage();
  const counter = spec.kind === 'ceiling' ? undefined : app?.get(EventCounter);
  const collect = (globalThis as { gc?: () => void }).gc;
  let afterGc: ServerStats['afterGc'];
  if (gc && collect) {
    collect();
    const collected = process.memoryUsage();
    afterGc = { rss: collected.rss, heapUsed: collected.heapUsed };
  }
  const cpu = process.cpuUsage();
  return {
    events: counter?.events ?? 0,
    distinctEventIds: counter?.distinctIds ?? -1,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    cpuMicros: cpu.user + cpu.system,
    statements: Object.keys(statements).length > 0 ? structuredClone(statements) : undefined,
    afterGc,
    rssPeak: rssPeak(),
  };
}

async function main(): Promise<void> {
  // The parent (BenchServer.start) passes what to serve as one JSON argument.
  const { values } = parseArgs({ options: { spec: { type: 'string' } }, strict: true });
  const spec = JSON.parse(values.spec ?? '') as ServerSpec;
  if (spec.diagnose && spec.kind === 'zapier') countStatements();
  const send = (message: ServerToParent) => process.send?.(message);
  const logger: ['error', 'warn'] = ['error', 'warn'];
  const module = appModule(spec);
  const app =
    spec.adapter === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), { logger })
      : await NestFactory.create(module, { logger });
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as import('node:http').Server).address() as AddressInfo;
  process.on('message', (message: ParentToServer) => {
    if (message.type === 'stats') {
      send({ type: 'stats', stats: stats(app, spec, message.gc) });
      if (message.resetPeak) resetRssPeak();
    } else if (message.type === 'stop') {
      void app.close().finally(() => {
        process.disconnect();
        // Let the CPU profile (--cpu-prof) be written, then go.
        process.exitCode = 0;
        setTimeout(() => process.exit(0), 2000).unref();
      });
    }
  });
  send({ type: 'ready', port, durability: await durability(app, spec), stats: stats(app, spec) });
}

main().catch((error: unknown) => {
  process.send?.({
    type: 'failed',
    message: error instanceof Error ? (error.stack ?? error.message) : String(error),
  } satisfies ServerToParent);
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 200).unref();
});
