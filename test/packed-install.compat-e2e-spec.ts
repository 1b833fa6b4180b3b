import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPOSITORY_ROOT } from './support/install-profile.js';

// What a user does: `npm install` the packed package into an app of their own, paste the README's
// quick start, and run it. Each app starts as a copy of an install that CI already made (the
// Nest 11 profile's node_modules, the repository's for Nest 12), as an existing app has its
// packages already; npm then adds the package and its dependencies (from its cache when it has
// them) and checks the peers for real. No flags: a peer range that shuts a host out is ERESOLVE.

/** What the apps install besides the package: the README's Install line, Express, the tests. */
const HOST_PACKAGES = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/event-emitter',
  '@nestjs/schedule',
  '@nestjs/typeorm',
  '@nestjs/testing',
  'typeorm',
  'better-sqlite3',
  'reflect-metadata',
  'rxjs',
  'typescript',
  '@types/node',
];

/** The README's quick start and its test, copied verbatim (readme-examples checks the README). */
const README_FILES = ['app.module.ts', 'orders.listener.ts', 'orders.e2e-spec.ts'];

interface HostApp {
  title: string;
  /** The folder whose node_modules the app starts from. */
  seed: string;
  type: 'commonjs' | 'module';
  /** The app's tsconfig; the README says which settings work. */
  compilerOptions: Record<string, unknown>;
  /** Other settings the README recommends, type-checked too. */
  alsoChecked: Record<string, unknown>[];
  /** The major (0.x: minor) of each package the app must end up with. */
  lines: Record<string, string>;
}

const COMMON_OPTIONS = {
  target: 'es2023',
  strict: true,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  skipLibCheck: true,
  rootDir: 'src',
  outDir: 'dist',
  types: ['node'],
};

const APPS: HostApp[] = [
  {
    title: 'a Nest 11 CommonJS app',
    seed: join(REPOSITORY_ROOT, 'compat', 'nest11'),
    type: 'commonjs',
    // TypeScript 5 resolves "module": "commonjs" the node10 way, which ignores "exports";
    // esModuleInterop is for the README test's `import assert from 'node:assert/strict'`.
    compilerOptions: { ...COMMON_OPTIONS, module: 'commonjs', esModuleInterop: true },
    // The Nest 11 CLI's own tsconfig.
    alsoChecked: [{ module: 'nodenext', moduleResolution: 'nodenext' }],
    lines: { '@nestjs/core': '11', '@nestjs/event-emitter': '3', typeorm: '0.3', typescript: '5' },
  },
  {
    title: 'a Nest 12 ESM app',
    seed: REPOSITORY_ROOT,
    type: 'module',
    compilerOptions: { ...COMMON_OPTIONS, module: 'nodenext' },
    alsoChecked: [],
    lines: { '@nestjs/core': '12', '@nestjs/event-emitter': '12', typeorm: '1', typescript: '6' },
  },
];

/** One signed callback from the sandbox for a run the app started, and one event for it. */
const ACCEPTANCE_SPEC = `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { ZAPIER_MODULE_OPTIONS } from 'nestjs-zapier';
import { ZapierSandbox } from 'nestjs-zapier/testing';
import { AppModule } from './app.module.js';
import { Orders } from './orders.listener.js';

test('one signed callback, one event', async (t) => {
  let appUrl = '';
  const sandbox = await ZapierSandbox.start({
    callbackTarget: () => \`\${appUrl}/zapier/callbacks\`,
    outcome: () => ({ status: 'success', results: [{ messageId: 'msg-7' }] }),
  });
  t.after(() => sandbox.stop());
  process.env.ZAPIER_DB = 'acceptance.db';
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(ZAPIER_MODULE_OPTIONS)
    .useValue({ ...sandbox.moduleOptions(), callbackUrl: 'https://orders.example.com/zapier/callbacks' })
    .compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  const events: string[] = [];
  app.get(EventEmitter2).onAny((name) => {
    events.push(String(name));
  });
  await app.listen(0, '127.0.0.1');
  appUrl = await app.getUrl();

  const orders = app.get(Orders);
  const runId = await orders.sendConfirmation(7, 'grace@example.com');
  await sandbox.whenIdle();
  for (let i = 0; i < 250 && !orders.handled.has(runId); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await app.close();

  assert.deepEqual(sandbox.run(runId)?.deliveries.map((delivery) => delivery.status), [200]);
  assert.deepEqual(events, ['zapier.run.completed']);
  assert.ok(orders.handled.has(runId));
});
`;

interface Outcome {
  code: number | null;
  stdout: string;
  /** The command, its stdout and its stderr, for assertion messages. */
  output: string;
}

// Without the runner's own marker, a `node --test` in the app runs its files rather than
// deferring to this run.
const env = { ...process.env };
delete env.NODE_TEST_CONTEXT;

/** Runs a command to its end; never throws, the outcome says how it went. */
function runIn(cwd: string, command: string, args: string[], timeout = 180_000): Promise<Outcome> {
  return new Promise((resolve) => {
    const options = { cwd, env, timeout, maxBuffer: 16 * 1024 * 1024 };
    execFile(command, args, options, (error, out, err) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout: out, output: `$ ${command} ${args.join(' ')}\n${out}${err}` });
    });
  });
}

const versionIn = (dir: string, name: string): string =>
  (
    JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;

/** `11.2.10` → `11`, `0.3.31` → `0.3`. */
const lineOf = (version: string): string => {
  const [major, minor] = version.split('.');
  return major === '0' ? `0.${minor}` : (major ?? '');
};

describe('the packed package in a fresh host app', () => {
  let scratch: string;
  let tarball: string;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'nestjs-zapier-install-'));
    // dist/ as the test runner just built it; "files" leaves its build record out.
    const pack = await runIn(REPOSITORY_ROOT, 'npm', [
      'pack',
      '--ignore-scripts',
      '--json',
      '--pack-destination',
      scratch,
    ]);
    assert.equal(pack.code, 0, pack.output);
    const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
    tarball = join(scratch, filename);
  });
  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const host of APPS) {
    describe(host.title, () => {
      let dir: string;
      let install: Outcome;

      before(async () => {
        dir = join(scratch, host.type);
        mkdirSync(join(dir, 'src'), { recursive: true });
        const dependencies = Object.fromEntries(
          HOST_PACKAGES.map((name) => [name, versionIn(host.seed, name)]),
        );
        const manifest = { name: 'zapier-host', private: true, type: host.type, dependencies };
        writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
        cpSync(join(host.seed, 'node_modules'), join(dir, 'node_modules'), {
          recursive: true,
          verbatimSymlinks: true,
        });
        install = await runIn(dir, 'npm', [
          'install',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          tarball,
        ]);
        for (const file of README_FILES) {
          copyFileSync(join(REPOSITORY_ROOT, 'test', 'readme', file), join(dir, 'src', file));
        }
        writeFileSync(join(dir, 'src', 'acceptance.e2e-spec.ts'), ACCEPTANCE_SPEC);
      });

      it('installs the packed package without flags: no ERESOLVE, no peer warning, npm ls clean', async () => {
        assert.equal(install.code, 0, install.output);
        assert.doesNotMatch(install.output, /ERESOLVE|peer dep|legacy-peer-deps/i, install.output);
        const tree = await runIn(dir, 'npm', ['ls', '--all']);
        assert.equal(tree.code, 0, tree.output);
      });

      it('has the majors it is meant to test', () => {
        const lines = Object.fromEntries(
          Object.keys(host.lines).map((name) => [name, lineOf(versionIn(dir, name))]),
        );
        assert.deepEqual(lines, host.lines);
      });

      it('compiles the README quick start and its test', async () => {
        const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
        const compile = (config: string, options: Record<string, unknown>) => {
          const tsconfig = { compilerOptions: options, include: ['src'] };
          writeFileSync(join(dir, config), JSON.stringify(tsconfig, null, 2));
          return runIn(dir, process.execPath, [tsc, '-p', config]);
        };
        for (const [i, options] of host.alsoChecked.entries()) {
          const checked = await compile(`tsconfig.check-${i}.json`, {
            ...host.compilerOptions,
            ...options,
            noEmit: true,
          });
          assert.equal(checked.code, 0, checked.output);
        }
        const built = await compile('tsconfig.json', host.compilerOptions);
        assert.equal(built.code, 0, built.output);
      });

      it("receives one signed callback from the sandbox and fires one event, and the README's test passes", async () => {
        const specs = ['acceptance.e2e-spec.js', 'orders.e2e-spec.js'].map((file) =>
          join('dist', file),
        );
        const run = await runIn(dir, process.execPath, ['--test', ...specs], 60_000);
        assert.equal(run.code, 0, run.output);
        assert.match(run.output, /# pass 2\n/);
      });
    });
  }
});
