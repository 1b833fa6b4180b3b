import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { SAMPLE_RESULTS } from './support/sample-runs.js';

const root = realpathSync(fileURLToPath(new URL('../../', import.meta.url)));
const RUN_ID = 'arun_commonjs_1';

/**
 * A CommonJS host as a user writes one without a compiler: `require()` only, decorators applied
 * as plain calls. It prints one `RESULT <json>` line; Nest's own logs stay on stderr.
 */
const PROGRAM = `'use strict';
const { join } = require('node:path');

const resolved = {
  main: require.resolve('nestjs-zapier'),
  testing: require.resolve('nestjs-zapier/testing'),
};
let deepImport = null;
try {
  require.resolve('nestjs-zapier/dist/index.js');
} catch (error) {
  deepImport = error.code;
}

const zapier = require('nestjs-zapier');
const testing = require('nestjs-zapier/testing');
const { Injectable, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { EventEmitterModule } = require('@nestjs/event-emitter');
const { ScheduleModule } = require('@nestjs/schedule');
const { TypeOrmModule } = require('@nestjs/typeorm');

class RunListener {
  constructor() {
    this.heard = [];
  }
  completed(event) {
    this.heard.push(event);
  }
}
Injectable()(RunListener);
zapier.OnRunCompleted()(
  RunListener.prototype,
  'completed',
  Object.getOwnPropertyDescriptor(RunListener.prototype, 'completed'),
);

async function main() {
  const sandbox = await testing.ZapierSandbox.start({ rateLimit: false });
  class AppModule {}
  Module({
    imports: [
      TypeOrmModule.forRoot({
        type: 'better-sqlite3',
        database: join(__dirname, 'zapier.db'),
        autoLoadEntities: true,
        migrations: zapier.ZAPIER_MIGRATIONS,
        migrationsRun: true,
      }),
      EventEmitterModule.forRoot(),
      ScheduleModule.forRoot(),
      zapier.ZapierModule.forRoot({ jwksUrl: sandbox.jwksUrl }),
    ],
    providers: [RunListener],
  })(AppModule);
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const url = await app.getUrl();

  const request = await sandbox.signer.callbackRequest({
    id: process.env.RUN_ID,
    status: 'success',
    results: JSON.parse(process.env.RESULTS),
  });
  const response = await fetch(url + '/zapier/callbacks', { method: 'POST', ...request });
  const answer = { status: response.status, body: await response.json() };
  const listener = app.get(RunListener);
  for (let i = 0; i < 500 && listener.heard.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const event = listener.heard[0];
  console.log(
    'RESULT ' +
      JSON.stringify({
        resolved,
        deepImport,
        exports: {
          ZapierModule: typeof zapier.ZapierModule,
          forRoot: typeof zapier.ZapierModule.forRoot,
          testing: Object.keys(testing).sort(),
        },
        answer,
        heard: listener.heard.length,
        event: event && {
          className: event.constructor.name,
          isRunCompletedEvent: event instanceof zapier.RunCompletedEvent,
          runId: event.runId,
          status: event.status,
          results: event.results,
          source: event.source,
          attempt: event.attempt,
        },
      }),
  );
  await app.close();
  await sandbox.stop();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

interface HostResult {
  resolved: { main: string; testing: string };
  deepImport: string | null;
  exports: { ZapierModule: string; forRoot: string; testing: string[] };
  answer: { status: number; body: unknown };
  heard: number;
  event?: {
    className: string;
    isRunCompletedEvent: boolean;
    runId: string;
    status: string;
    results: unknown;
    source: string;
    attempt: number;
  };
}

describe('a CommonJS host', () => {
  let dir: string;
  let run: { code: number | null; stdout: string; stderr: string };

  before(async () => {
    assert.ok(
      existsSync(join(root, 'dist', 'index.js')),
      'dist/ is missing: run `npm run build` first',
    );
    dir = mkdtempSync(join(tmpdir(), 'nestjs-zapier-cjs-'));
    // The package as an installed dependency: its folder under node_modules, so that its own
    // name resolves through package.json "exports". Its peers come from the repository.
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'nestjs-zapier'), 'dir');
    writeFileSync(join(dir, 'host.cjs'), PROGRAM);
    run = await new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(dir, 'host.cjs')],
        {
          cwd: dir,
          timeout: 60_000,
          env: {
            ...process.env,
            NODE_PATH: join(root, 'node_modules'),
            RUN_ID,
            RESULTS: JSON.stringify(SAMPLE_RESULTS),
          },
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const result = (): HostResult => {
    const line = run.stdout.split('\n').find((text) => text.startsWith('RESULT '));
    assert.ok(line, `no RESULT line; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    return JSON.parse(line.slice('RESULT '.length)) as HostResult;
  };

  it('runs to the end and exits 0', () => {
    assert.equal(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    // Node may warn that require() of ES modules is experimental; nothing else is expected.
    const unexpected = run.stderr
      .split('\n')
      .filter((text) => text.trim() !== '')
      .filter((text) => !/ExperimentalWarning|--trace-warnings/.test(text));
    assert.deepEqual(unexpected, []);
  });

  it('resolves the package by its name through package.json "exports"', () => {
    const { resolved, deepImport } = result();
    assert.equal(resolved.main, join(root, 'dist', 'index.js'));
    assert.equal(resolved.testing, join(root, 'dist', 'testing', 'index.js'));
    // A path the exports map does not list is refused, so nothing reached dist/ by a file path.
    assert.equal(deepImport, 'ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it("gets ZapierModule from require('nestjs-zapier') and the sandbox from nestjs-zapier/testing", () => {
    const { exports } = result();
    assert.equal(exports.ZapierModule, 'function');
    assert.equal(exports.forRoot, 'function');
    assert.deepEqual(exports.testing, [
      'ZapierSandbox',
      'ZapierTestSigner',
      'forgeHs256Token',
      'forgeUnsignedToken',
      'toCallbackPayload',
    ]);
  });

  it('receives a signed callback and hears one zapier.run.completed event', () => {
    const { answer, heard, event } = result();
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { runId: RUN_ID, duplicate: false });
    assert.equal(heard, 1);
    assert.deepEqual(event, {
      className: 'RunCompletedEvent',
      isRunCompletedEvent: true,
      runId: RUN_ID,
      status: 'success',
      results: SAMPLE_RESULTS,
      source: 'callback',
      attempt: 1,
    });
  });

  it('can require() every module the package ships: none waits at the top level', () => {
    // require() refuses a module graph with a top-level await (ERR_REQUIRE_ASYNC_MODULE), which
    // would lock every CommonJS host out; the lint rule local/no-top-level-await catches it
    // earlier, this is what a host would meet.
    const files = readdirSync(join(root, 'dist'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.js'))
      // The CLI's bin runs a command when loaded: it is executed, never imported by a host.
      .filter((file) => file !== join('cli', 'main.js'))
      .map((file) => join(root, 'dist', file));
    assert.ok(files.length > 50, `only ${files.length} modules in dist/`);
    const load = createRequire(import.meta.url);
    const refused = files.flatMap((file) => {
      try {
        load(file);
        return [];
      } catch (error) {
        return [`${file}: ${(error as Error).message}`];
      }
    });
    assert.deepEqual(refused, []);
  });
});
