import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { ZapierSandbox } from '../src/testing/index.js';
import { ZapierMessages } from '../src/zapier.messages.js';
import { ZAPIER_SIGNATURE_HEADER } from '../src/zapier.constants.js';
import { ZapierCallbackGate } from '../src/callback/zapier-callback-gate.js';
import { MAX_COMPRESSION_RATIO } from '../src/callback/read-callback-body.js';
import { engineSkipReasons, freshDatabase, type Engine } from './support/data-sources.js';
import { postCallback, rows, signedRaw } from './support/callbacks.js';
import { eventually } from './support/zapier-harness.js';
import { SlowUpload } from './support/slow-upload.js';
import { startZapierApp, type Adapter, type ZapierApp } from './support/zapier-app.js';

const skips = await engineSkipReasons();
const KiB = 1024;
const MiB = 1024 * KiB;
const PATH = '/zapier/callbacks';
const BODY_LIMIT = 4 * MiB;
/** Room for two callbacks at the limit being read at once, not three. */
const MEMORY_LIMIT = 9 * MiB;

const json = { 'content-type': 'application/json' };
let bomb: Buffer | undefined;
const gzipBomb = (): Buffer =>
  (bomb ??= gzipSync(Buffer.alloc(200 * MiB), { level: zlib.Z_BEST_COMPRESSION }));

for (const adapter of ['express', 'fastify'] as Adapter[]) {
  for (const engine of ['sqlite', 'postgres', 'mariadb'] as Engine[]) {
    describe(`hostile callbacks on ${adapter} + ${engine}`, { skip: skips[engine] }, () => {
      let sandbox: ZapierSandbox;
      let zapier: ZapierApp;
      let database: Awaited<ReturnType<typeof freshDatabase>>;
      const memoryInUse = () => zapier.app.get(ZapierCallbackGate).memoryInUse;

      before(async () => {
        sandbox = await ZapierSandbox.start({ rateLimit: false });
        database = await freshDatabase(engine, `hostile_${adapter}_${engine}`);
        zapier = await startZapierApp({
          adapter,
          database: database.options,
          zapier: {
            jwksUrl: sandbox.jwksUrl,
            callbackBodyLimit: BODY_LIMIT,
            callbackMemoryLimit: MEMORY_LIMIT,
            resultLimits: { maxDepth: 32, maxValues: 50_000 },
          },
        });
      });
      after(async () => {
        await zapier?.close();
        await sandbox?.stop();
        database?.cleanup();
      });

      for (const [name, signature] of [
        ['no signature', () => Promise.resolve(undefined)],
        ['a forged signature', () => sandbox.signer.signWithForeignKey()],
      ] as const) {
        it(`answers an upload with ${name} 401 after its first bytes, and closes`, async () => {
          const token = await signature();
          const upload = new SlowUpload(zapier.url, PATH, {
            ...json,
            'content-length': 16 * MiB,
            ...(token ? { [ZAPIER_SIGNATURE_HEADER]: token } : {}),
          });
          await upload.write(Buffer.alloc(64 * KiB, 'a'));
          const answer = await upload.answer;
          assert.equal(answer.status, 401);
          assert.equal(answer.headers.connection, 'close');
          assert.equal(answer.sentBeforeAnswer, 64 * KiB, 'answered before the rest was sent');
          // The server does not wait for the other 16 MiB that will never come.
          await Promise.race([
            upload.closed,
            new Promise((_, reject) =>
              setTimeout(() => reject(new Error('the connection stayed open')), 5000),
            ),
          ]);
          assert.equal(memoryInUse(), 0);
        });
      }

      it('lets Zapier read its 413 after sending megabytes of a body it declared too large', async () => {
        const answers = await Promise.all(
          Array.from({ length: 5 }, async () => {
            const upload = new SlowUpload(
              zapier.url,
              PATH,
              {
                ...json,
                'content-length': 4 * BODY_LIMIT,
                [ZAPIER_SIGNATURE_HEADER]: await sandbox.signer.sign(),
              },
              { readWhenDone: true },
            );
            // 6 MiB: more than a client has in flight when the answer comes, less than what the
            // server drops after a signed request's answer (8 MiB) before it closes.
            const chunk = Buffer.alloc(256 * KiB, 'a');
            while (upload.open && upload.bytesSent < 6 * MiB) await upload.write(chunk);
            upload.startReading();
            const answer = await upload.answer.catch((error: Error) => error.message);
            upload.destroy();
            return typeof answer === 'string' ? answer : answer.status;
          }),
        );
        // Closing at once, with the upload unread, resets the connection and loses the answer.
        assert.deepEqual(answers, Array<number>(5).fill(413), 'no answer lost to a reset');
      });

      it('logs a few warnings a minute for a flood of bad signatures, not one per request', async () => {
        const missing = () => zapier.logger.find('warn', ZapierMessages.signatureMissing()).length;
        const before = missing();
        const answers = await Promise.all(
          Array.from({ length: 200 }, () =>
            postCallback(zapier.url, { headers: json, body: '{}' }),
          ),
        );
        assert.ok(answers.every((answer) => answer.status === 401));
        assert.ok(missing() - before <= 5, `${missing() - before} warnings for 200 requests`);
      });

      // Fastify routes by exact case: there that path is not the route at all.
      if (adapter === 'express') {
        it('guards the route whatever the case of its path (Express routes case-insensitively)', async () => {
          const upload = new SlowUpload(zapier.url, '/Zapier/Callbacks', {
            ...json,
            'content-length': 4 * MiB,
          });
          const answer = await upload.answer;
          upload.destroy();
          assert.equal(answer.status, 401);
          assert.equal(answer.sentBeforeAnswer, 0);
        });
      }

      it('refuses an unsigned compression bomb with 401 before a byte of it arrives', async () => {
        const bomb = gzipBomb();
        const upload = new SlowUpload(zapier.url, PATH, {
          ...json,
          'content-encoding': 'gzip',
          'content-length': bomb.length,
        });
        // Nothing of the body is sent until the answer is in: there is nothing to inflate.
        const answer = await upload.answer;
        upload.destroy();
        assert.equal(answer.status, 401);
        assert.equal(answer.sentBeforeAnswer, 0);
        assert.equal(memoryInUse(), 0);
      });

      it('refuses a signed compression bomb with 413 once it inflates past any real ratio', async () => {
        const quarantinedBefore = (await rows(zapier.dataSource, 'zapier_callback_quarantine'))
          .length;
        for (const [encoding, bomb] of [
          ['br', brotliCompressSync(Buffer.alloc(BODY_LIMIT - KiB, ' '))],
          // 200 KiB on the wire, 200 MiB inflated: it all arrives long before it is inflated, so
          // only a ratio taken on what the decoder consumed stops it before the size limit.
          ['gzip', gzipBomb()],
        ] as const) {
          const request = await signedRaw(sandbox.signer, bomb);
          const answer = await postCallback(zapier.url, {
            headers: { ...request.headers, 'content-encoding': encoding },
            body: bomb,
          });
          assert.equal(answer.status, 413, encoding);
          assert.equal(
            answer.body?.message,
            ZapierMessages.bodyCompressionRatio(MAX_COMPRESSION_RATIO),
          );
        }
        assert.equal(
          (await rows(zapier.dataSource, 'zapier_callback_quarantine')).length,
          quarantinedBefore,
          'a bomb is not kept',
        );
        await eventually('the memory to be given back', () => memoryInUse() === 0);
      });

      it('takes a large gzip callback whose ratio is a real one', async () => {
        const results = Array.from({ length: 3500 }, (_, row) => ({
          row,
          note: randomBytes(512).toString('hex'),
        }));
        const text = JSON.stringify({
          data: { id: 'arun_big_gzip', status: 'success', results },
        });
        const compressed = gzipSync(text);
        assert.ok(text.length > 3 * MiB, `${text.length} bytes`);
        const request = await signedRaw(sandbox.signer, compressed);
        const answer = await postCallback(zapier.url, {
          headers: { ...request.headers, 'content-encoding': 'gzip' },
          body: compressed,
        });
        assert.equal(answer.status, 200);
        const [stored] = (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
          (row) => row.run_id === 'arun_big_gzip',
        );
        assert.equal(stored?.raw_payload, text);
      });

      for (const [name, body, problem] of [
        [
          'nested thousands deep',
          `{"data":{"id":"arun_deep","status":"success","results":${'['.repeat(5000)}${']'.repeat(5000)}}}`,
          ZapierMessages.bodyTooDeep(34),
        ],
        [
          'holding millions of elements',
          `{"data":{"id":"arun_wide","status":"success","results":[${Array(1_200_000).fill('{}').join(',')}]}}`,
          ZapierMessages.bodyTooManyValues(50_000),
        ],
      ] as const) {
        it(`answers a signed body ${name} 400 and quarantines what was read of it`, async () => {
          const before = (await rows(zapier.dataSource, 'zapier_callback_quarantine')).length;
          const answer = await postCallback(zapier.url, await signedRaw(sandbox.signer, body));
          assert.equal(answer.status, 400, JSON.stringify(answer.body));
          assert.equal(answer.body?.message, ZapierMessages.invalidCallback(problem));
          await eventually(
            'the quarantine row',
            async () =>
              (await rows(zapier.dataSource, 'zapier_callback_quarantine')).length === before + 1,
          );
          const [kept] = (await rows(zapier.dataSource, 'zapier_callback_quarantine')).slice(-1);
          const raw = String(kept?.raw_body);
          assert.ok(body.startsWith(raw), 'a prefix of the body, as received');
          assert.ok(raw.length < 1 * MiB, `kept ${raw.length} bytes, not the whole body`);
          assert.equal(kept?.reason, problem);
          assert.equal(
            (await rows(zapier.dataSource, 'zapier_action_runs')).filter(
              (row) => row.run_id === 'arun_deep' || row.run_id === 'arun_wide',
            ).length,
            0,
          );
        });
      }

      it('answers 503 to a signed callback once the callbacks being read hold the memory budget, and takes it when retried', async () => {
        const text = (id: string) =>
          JSON.stringify({
            data: { id, status: 'success', results: { pad: 'x'.repeat(BODY_LIMIT - 200) } },
          });
        const slow = await Promise.all(
          ['arun_mem_1', 'arun_mem_2'].map(async (id) => {
            const body = Buffer.from(text(id));
            const upload = new SlowUpload(zapier.url, PATH, {
              ...json,
              'content-length': body.length,
              [ZAPIER_SIGNATURE_HEADER]: await sandbox.signer.sign(),
            });
            await upload.write(body.subarray(0, body.length - 10));
            return { upload, rest: body.subarray(body.length - 10) };
          }),
        );
        await eventually('both uploads to be held', () => memoryInUse() > 2 * (BODY_LIMIT - KiB));
        const third = await postCallback(
          zapier.url,
          await signedRaw(sandbox.signer, text('arun_mem_3')),
        );
        assert.equal(third.status, 503);
        assert.equal(third.body?.message, ZapierMessages.callbackMemorySpent());
        for (const { upload, rest } of slow) await upload.write(rest);
        const answers = await Promise.all(slow.map(({ upload }) => upload.answer));
        assert.deepEqual(
          answers.map((answer) => answer.status),
          [200, 200],
        );
        slow.forEach(({ upload }) => upload.destroy());
        await eventually('the memory to be given back', () => memoryInUse() === 0);
        const retried = await postCallback(
          zapier.url,
          await signedRaw(sandbox.signer, text('arun_mem_3')),
        );
        assert.equal(retried.status, 200, 'Zapier’s retry is taken');
        const stored = (await rows(zapier.dataSource, 'zapier_action_runs')).map(
          (row) => row.run_id,
        );
        for (const id of ['arun_mem_1', 'arun_mem_2', 'arun_mem_3']) {
          assert.ok(stored.includes(id), id);
        }
      });
    });
  }
}
