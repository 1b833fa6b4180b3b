import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  Req,
  SetMetadata,
  UseGuards,
  VersioningType,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { SkipThrottle, ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { ZapierSandbox } from '../src/testing/index.js';
import { ZAPIER_SIGNATURE_HEADER } from '../src/zapier.constants.js';
import { ZapierSignatureGuard } from '../src/signature/zapier-signature.guard.js';
import {
  ZapierCallbackService,
  type CallbackReceipt,
  type ZapierCallbackRequest,
} from '../src/callback/zapier-callback.service.js';
import { freshDatabase } from './support/data-sources.js';
import { postCallback, rows, sendCallback } from './support/callbacks.js';
import { SlowUpload } from './support/slow-upload.js';
import { startZapierApp, type Adapter, type ZapierApp } from './support/zapier-app.js';

/** A host's "everything needs a login unless marked public" guard, the common global APP_GUARD. */
const IS_PUBLIC = 'isPublic';
const Public = () => SetMetadata(IS_PUBLIC, true);

@Injectable()
class LoginRequiredGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    return (
      this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
        context.getHandler(),
        context.getClass(),
      ]) === true
    );
  }
}

@Controller('orders')
class OrdersController {
  @Get()
  list(): string[] {
    return [];
  }
}

/** The host's own global guards: a login wall and a throttler of 3 requests a minute. */
@Module({
  imports: [ThrottlerModule.forRoot([{ ttl: 60_000, limit: 3 }])],
  controllers: [OrdersController],
  providers: [
    { provide: APP_GUARD, useClass: LoginRequiredGuard },
    { provide: APP_GUARD, useClass: ThrottlerGuard },
  ],
})
class GuardedHostModule {}

/** The README's custom-route recipe: the host's own controller at `callbackPath`. */
@Controller('webhooks/zapier')
@Public()
@SkipThrottle()
class HostCallbackController {
  constructor(private readonly callbacks: ZapierCallbackService) {}

  @Post()
  @HttpCode(200)
  @UseGuards(ZapierSignatureGuard)
  receive(@Req() request: ZapierCallbackRequest): Promise<CallbackReceipt> {
    return this.callbacks.receive(request);
  }
}

@Module({ controllers: [HostCallbackController] })
class CustomRouteModule {}

const KiB = 1024;

for (const adapter of ['express', 'fastify'] as Adapter[]) {
  describe(`the host's own guards and routing on ${adapter}`, () => {
    let sandbox: ZapierSandbox;
    const databases: Array<Awaited<ReturnType<typeof freshDatabase>>> = [];
    const apps: ZapierApp[] = [];
    const start = async (
      options: Omit<Parameters<typeof startZapierApp>[0], 'adapter' | 'database' | 'zapier'>,
    ) => {
      const database = await freshDatabase('sqlite', `host_guards_${adapter}_${apps.length}`);
      databases.push(database);
      const app = await startZapierApp({
        adapter,
        database: database.options,
        zapier: { jwksUrl: sandbox.jwksUrl },
        ...options,
      });
      apps.push(app);
      return app;
    };

    before(async () => {
      sandbox = await ZapierSandbox.start({ rateLimit: false });
    });
    after(async () => {
      for (const app of apps) await app.close();
      await sandbox?.stop();
      databases.forEach((database) => database.cleanup());
    });

    it('without decorators, a global login guard turns callbacks away (the trap the README warns of)', async () => {
      const zapier = await start({ imports: [GuardedHostModule] });
      const answer = await sendCallback(zapier.url, sandbox.signer, {
        id: 'arun_walled',
        status: 'success',
      });
      assert.equal(answer.status, 403);
    });

    it('with controllerDecorators [Public(), SkipThrottle()], callbacks pass both global guards; the signature guard still runs', async () => {
      const zapier = await start({
        imports: [GuardedHostModule],
        extras: { controllerDecorators: [Public(), SkipThrottle()] },
      });
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          sendCallback(zapier.url, sandbox.signer, { id: `arun_public_${i}`, status: 'success' }),
        ),
      );
      assert.deepEqual(
        answers.map((answer) => answer.status),
        Array<number>(10).fill(200),
        'ten callbacks, over the throttler’s three a minute',
      );
      const unsigned = await postCallback(zapier.url, {
        headers: { 'content-type': 'application/json' },
        body: '{"data":{"id":"arun_forged","status":"success"}}',
      });
      assert.equal(unsigned.status, 401);
      const host = await fetch(`${zapier.url}/orders`);
      assert.equal(host.status, 403, 'the host’s other routes keep their guard');
      assert.equal((await rows(zapier.dataSource, 'zapier_action_runs')).length, 10);
    });

    it('keeps the callback route where Zapier was told it is under URI versioning', async () => {
      const zapier = await start({
        beforeListen: (app) =>
          app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }),
      });
      const answer = await sendCallback(zapier.url, sandbox.signer, {
        id: 'arun_versioned',
        status: 'success',
      });
      assert.equal(answer.status, 200);
      const moved = await sendCallback(
        zapier.url,
        sandbox.signer,
        { id: 'arun_versioned_v1', status: 'success' },
        '/v1/zapier/callbacks',
      );
      assert.equal(moved.status, 404);
    });

    it('gives a custom route at callbackPath the same body handling: large bodies, 401 before the body', async () => {
      const zapier = await start({
        imports: [GuardedHostModule, CustomRouteModule],
        extras: { registerController: false, callbackPath: 'webhooks/zapier', isGlobal: true },
      });
      const large = await sendCallback(
        zapier.url,
        sandbox.signer,
        { id: 'arun_custom_large', status: 'success', results: { text: 'x'.repeat(300 * KiB) } },
        '/webhooks/zapier',
      );
      assert.equal(large.status, 200, 'not Express’s or Fastify’s own 413');
      const [stored] = (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
        (row) => row.run_id === 'arun_custom_large',
      );
      assert.ok(String(stored?.raw_payload).length > 300 * KiB);

      const upload = new SlowUpload(zapier.url, '/webhooks/zapier', {
        'content-type': 'application/json',
        'content-length': 16 * 1024 * KiB,
        [ZAPIER_SIGNATURE_HEADER]: 'not-a-token',
      });
      await upload.write(Buffer.alloc(16 * KiB, 'a'));
      const refused = await upload.answer;
      assert.equal(refused.status, 401);
      assert.equal(refused.sentBeforeAnswer, 16 * KiB);
      upload.destroy();
      const defaultPath = await sendCallback(zapier.url, sandbox.signer, {
        id: 'arun_default_path',
        status: 'success',
      });
      assert.equal(defaultPath.status, 404, 'no module controller at the default path');
    });
  });
}
