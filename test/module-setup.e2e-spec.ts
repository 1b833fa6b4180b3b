import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Body,
  Controller,
  Injectable,
  Module,
  Post,
  UseGuards,
  type INestApplication,
} from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ZapierModule } from '../src/zapier.module.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { validateCallbackUrl, ZapierConfigurationError } from '../src/index.js';
import { ZapierCallbackService } from '../src/callback/zapier-callback.service.js';
import { ZapierSignatureGuard } from '../src/signature/zapier-signature.guard.js';
import { OnRunCompleted } from '../src/events/on-zapier-event.decorator.js';
import type { RunCompletedEvent } from '../src/events/run-completed.event.js';
import { ZAPIER_MIGRATIONS } from '../src/storage/migrations/index.js';
import { ZAPIER_ENTITIES } from '../src/storage/zapier-storage.entities.js';
import { ZapierActionRun } from '../src/storage/zapier-action-run.entity.js';
import { ZapierCallbackQuarantine } from '../src/storage/zapier-callback-quarantine.entity.js';
import { ZapierSandbox } from '../src/testing/index.js';
import { freshDatabase } from './support/data-sources.js';
import { sendCallback } from './support/callbacks.js';
import { TestLogger } from './support/test-logger.js';
import { startZapierApp } from './support/zapier-app.js';
import { eventually } from './support/zapier-harness.js';

let sandbox: ZapierSandbox;
const cleanups: Array<() => unknown> = [];
before(async () => {
  sandbox = await ZapierSandbox.start({ rateLimit: false });
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await sandbox.stop();
});

async function sqlite(name: string): Promise<DataSourceOptions> {
  const db = await freshDatabase('sqlite', name);
  cleanups.push(db.cleanup);
  return db.options;
}

const typeOrm = (options: DataSourceOptions, extra: Record<string, unknown> = {}) =>
  TypeOrmModule.forRoot({
    ...options,
    autoLoadEntities: true,
    migrations: ZAPIER_MIGRATIONS,
    migrationsRun: true,
    ...extra,
  });

async function listen(imports: unknown[], providers: unknown[] = [], controllers: unknown[] = []) {
  const moduleRef = await Test.createTestingModule({
    imports: imports as never[],
    providers: providers as never[],
    controllers: controllers as never[],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: new TestLogger() });
  cleanups.push(() => app.close());
  await app.listen(0, '127.0.0.1');
  const { port } = (
    app.getHttpServer() as import('node:http').Server
  ).address() as import('node:net').AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

async function bootError(imports: unknown[]): Promise<Error> {
  try {
    const moduleRef = await Test.createTestingModule({ imports: imports as never[] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    cleanups.push(() => app.close());
    await app.init();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected startup to fail');
}

@Injectable()
class ZapierSettings {
  readonly jwksUrl = () => sandbox.jwksUrl;
}
@Module({ providers: [ZapierSettings], exports: [ZapierSettings] })
class SettingsModule {}

describe('ZapierModule setup', () => {
  it('takes options from forRootAsync (imports + inject) and the path from its extras', async () => {
    const { url } = await listen([
      typeOrm(await sqlite('setup_async')),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRootAsync({
        imports: [SettingsModule],
        inject: [ZapierSettings],
        useFactory: (settings: ZapierSettings) => ({ jwksUrl: settings.jwksUrl() }),
        callbackPath: '/hooks/zapier/',
      }),
    ]);
    assert.equal(
      (
        await sendCallback(
          url,
          sandbox.signer,
          { id: 'arun_a', status: 'success' },
          '/hooks/zapier',
        )
      ).status,
      200,
    );
    assert.equal(
      (await sendCallback(url, sandbox.signer, { id: 'arun_b', status: 'success' })).status,
      404,
    );
  });

  it('refuses an extra returned by the async factory, naming it', async () => {
    const error = await bootError([
      typeOrm(await sqlite('setup_extra')),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRootAsync({
        useFactory: () => ({ jwksUrl: sandbox.jwksUrl, callbackPath: 'x' }) as never,
      }),
    ]);
    assert.equal(error.message, ZapierMessages.extraFromFactory('callbackPath'));
  });

  for (const [name, options, expected] of [
    [
      'a negative poll interval',
      { polling: { intervalMs: -1 } },
      ZapierMessages.invalidOption('polling.intervalMs', -1, 'an integer of at least 10'),
    ],
    [
      'a JWKS URL over plain http',
      { jwksUrl: 'http://zapier.example/jwks' },
      ZapierMessages.invalidOption(
        'jwksUrl',
        'http://zapier.example/jwks',
        'an https:// URL (http:// only on localhost)',
      ),
    ],
    [
      'a private callback URL',
      { callbackUrl: 'https://10.0.0.1/cb' },
      ZapierMessages.invalidOption(
        'callbackUrl',
        'https://10.0.0.1/cb',
        `a URL Zapier accepts (${callbackUrlProblem('https://10.0.0.1/cb')})`,
      ),
    ],
    [
      'an empty access token',
      { accessToken: '' },
      ZapierMessages.invalidOption(
        'accessToken',
        '',
        'a non-empty string or a function returning one',
      ),
    ],
    [
      'a symmetric algorithm',
      { algorithms: ['HS256'] },
      ZapierMessages.invalidOption(
        'algorithms',
        ['HS256'],
        'a non-empty list of asymmetric JWS algorithms such as ["RS256"]',
      ),
    ],
  ] as const) {
    it(`fails at startup on ${name}, naming the option`, async () => {
      const error = await bootError([
        typeOrm(await sqlite(`setup_bad_${name.replace(/\W+/g, '_')}`)),
        EventEmitterModule.forRoot(),
        ScheduleModule.forRoot(),
        ZapierModule.forRoot(options as never),
      ]);
      assert.ok(error instanceof ZapierConfigurationError, `${error.name}: ${error.message}`);
      assert.equal(error.message, expected);
    });
  }

  it('fails at startup on an access token that is not a string, without showing it', async () => {
    const token = 987_654_321;
    const error = await bootError([
      typeOrm(await sqlite('setup_bad_numeric_token')),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRoot({ accessToken: token as never }),
    ]);
    assert.ok(error instanceof ZapierConfigurationError, `${error.name}: ${error.message}`);
    assert.equal(
      error.message,
      ZapierMessages.invalidOption(
        'accessToken',
        token,
        'a non-empty string or a function returning one',
      ),
    );
    assert.ok(!error.message.includes(String(token)), error.message);
  });

  it('says which import to add when EventEmitterModule is missing', async () => {
    const error = await bootError([
      typeOrm(await sqlite('setup_no_events')),
      ScheduleModule.forRoot(),
      ZapierModule.forRoot({}),
    ]);
    assert.equal(error.message, ZapierMessages.missingEventEmitter());
  });

  it('says which import to add when ScheduleModule is missing', async () => {
    const error = await bootError([
      typeOrm(await sqlite('setup_no_schedule')),
      EventEmitterModule.forRoot(),
      ZapierModule.forRoot({}),
    ]);
    assert.equal(error.message, ZapierMessages.missingScheduler());
  });

  it('says how to register the entities when the data source lists its own', async () => {
    const options = await sqlite('setup_entities');
    const error = await bootError([
      TypeOrmModule.forRoot({ ...options, entities: [], synchronize: true }),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRoot({}),
    ]);
    assert.equal(
      error.message,
      ZapierMessages.entitiesNotRegistered('default', [
        'ZapierActionRun',
        'ZapierCallbackQuarantine',
        'ZapierApiBudget',
      ]),
    );
  });

  it('names the one entity missing from a hand-written list', async () => {
    const options = await sqlite('setup_entities_partial');
    const error = await bootError([
      TypeOrmModule.forRoot({
        ...options,
        entities: [ZapierActionRun, ZapierCallbackQuarantine],
        synchronize: true,
      }),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRoot({}),
    ]);
    assert.equal(
      error.message,
      ZapierMessages.entitiesNotRegistered('default', ['ZapierApiBudget']),
    );
  });

  it('says which import to add when TypeOrmModule is missing', async () => {
    const error = await bootError([
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRoot({}),
    ]);
    assert.equal(error.message, ZapierMessages.missingDataSource('default'));
  });

  it('says to run the migrations when the tables do not exist', async () => {
    const options = await sqlite('setup_tables');
    const error = await bootError([
      TypeOrmModule.forRoot({ ...options, autoLoadEntities: true }),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRoot({}),
    ]);
    // The cause in between is the database's own wording (a printable marker: controls are escaped).
    const marker = '<cause>';
    const [head, tail] = ZapierMessages.tableMissing('zapier_action_runs', marker).split(marker);
    assert.ok(error.message.startsWith(head) && error.message.endsWith(tail), error.message);
  });

  it('checks every table, not only the runs table', async () => {
    const options = await sqlite('setup_tables_partial');
    const seed = new DataSource({
      ...options,
      entities: [ZapierActionRun, ZapierCallbackQuarantine],
    });
    await seed.initialize();
    await seed.synchronize();
    await seed.destroy();
    const error = await bootError([
      TypeOrmModule.forRoot({ ...options, autoLoadEntities: true }),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRoot({}),
    ]);
    assert.match(error.message, /^Table "zapier_api_budget" does not exist/);
  });

  it('works with the entities listed by hand and synchronize instead of migrations', async () => {
    const { url } = await listen([
      TypeOrmModule.forRoot({
        ...(await sqlite('setup_listed')),
        entities: ZAPIER_ENTITIES,
        synchronize: true,
      }),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      ZapierModule.forRoot({ jwksUrl: sandbox.jwksUrl }),
    ]);
    assert.equal(
      (await sendCallback(url, sandbox.signer, { id: 'arun_listed', status: 'success' })).status,
      200,
    );
  });
});

@Injectable()
class WildcardListener {
  readonly heard: string[] = [];
  readonly typed: string[] = [];

  @OnEvent('zapier.**')
  any(event: { runId: string }): void {
    this.heard.push(event.runId);
  }

  @OnRunCompleted()
  completed(event: RunCompletedEvent): void {
    this.typed.push(event.runId);
  }
}

describe('events reach the host emitter exactly once', () => {
  let app: INestApplication;
  let url: string;
  before(async () => {
    ({ app, url } = await listen(
      [
        typeOrm(await sqlite('setup_wildcard')),
        EventEmitterModule.forRoot({ wildcard: true }),
        ScheduleModule.forRoot(),
        ZapierModule.forRoot({ jwksUrl: sandbox.jwksUrl }),
      ],
      [WildcardListener],
    ));
  });

  it('delivers to wildcard and typed listeners once each, with the host emitter options', async () => {
    assert.equal(
      (await sendCallback(url, sandbox.signer, { id: 'arun_w', status: 'success' })).status,
      200,
    );
    const listener = app.get(WildcardListener);
    const reached = (id: string) => listener.heard.includes(id) && listener.typed.includes(id);
    await eventually('the first run to reach both listeners', () => reached('arun_w'), 5000);
    // A second run: a second delivery of the first would reach the listeners before it does.
    assert.equal(
      (await sendCallback(url, sandbox.signer, { id: 'arun_w2', status: 'success' })).status,
      200,
    );
    await eventually('the second run to reach both listeners', () => reached('arun_w2'), 5000);
    assert.deepEqual(listener.heard, ['arun_w', 'arun_w2']);
    assert.deepEqual(listener.typed, ['arun_w', 'arun_w2']);
  });
});

@Controller('my/zapier')
@UseGuards(ZapierSignatureGuard)
class OwnRoute {
  constructor(private readonly callbacks: ZapierCallbackService) {}

  @Post()
  receive(@Body() body: unknown) {
    return this.callbacks.handle({ body });
  }
}

describe('registerController: false', () => {
  it('mounts no route, and the exported guard and service serve the host own route', async () => {
    const { url } = await listen(
      [
        typeOrm(await sqlite('setup_own_route')),
        EventEmitterModule.forRoot(),
        ScheduleModule.forRoot(),
        ZapierModule.forRoot({
          jwksUrl: sandbox.jwksUrl,
          registerController: false,
          isGlobal: true,
        }),
      ],
      [],
      [OwnRoute],
    );
    assert.equal(
      (await sendCallback(url, sandbox.signer, { id: 'arun_own', status: 'success' })).status,
      404,
    );
    const answer = await sendCallback(
      url,
      sandbox.signer,
      { id: 'arun_own', status: 'success' },
      '/my/zapier',
    );
    assert.equal(answer.status, 201);
    assert.deepEqual(answer.body, { runId: 'arun_own', duplicate: false });
    const unsigned = await fetch(`${url}/my/zapier`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(unsigned.status, 401);
  });
});

describe('under a global prefix', () => {
  it('serves the callback route with its large-body limit on Express', async () => {
    const zapier = await startZapierApp({
      adapter: 'express',
      database: await sqlite('setup_prefix'),
      zapier: { jwksUrl: sandbox.jwksUrl },
      beforeListen: (app) => app.setGlobalPrefix('api'),
    });
    cleanups.push(() => zapier.close());
    const big = 'z'.repeat(2 * 1024 * 1024);
    const answer = await sendCallback(
      zapier.url,
      sandbox.signer,
      { id: 'arun_p', status: 'success', results: [{ big }] },
      '/api/zapier/callbacks',
    );
    assert.equal(answer.status, 200);
  });
});

/** Why `validateCallbackUrl` refuses `url`, as the option error quotes it. */
function callbackUrlProblem(url: string): string {
  try {
    validateCallbackUrl(url);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${url} is accepted`);
}
