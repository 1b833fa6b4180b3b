import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The package as a user gets it: through its own name and package.json "exports" (dist/).
const main = await import('nestjs-zapier');
const testing = await import('nestjs-zapier/testing');
const terminus = await import('nestjs-zapier/terminus');

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Every module `entry` imports, following relative imports, and the packages they import. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, specifier] of source.matchAll(/(?:from |import\(?)'([^']+)'/g)) {
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else
        packages.add(
          specifier
            .split('/')
            .slice(0, specifier.startsWith('@') ? 2 : 1)
            .join('/'),
        );
    }
  };
  visit(entry);
  return { files, packages };
}

/** Runs a program from the repository (where the package resolves by its name). */
function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      done({
        code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
        stdout,
        stderr,
      });
    });
  });
}

describe('public API', () => {
  it('exports exactly these names from nestjs-zapier (a change here is a change to review)', () => {
    assert.deepEqual(Object.keys(main).sort(), [
      'OnRunCompleted',
      'OnRunExpired',
      'OnRunFailed',
      'OnZapierEvent',
      'RunCompletedEvent',
      'RunExpiredEvent',
      'RunFailedEvent',
      'ZAPIER_CLOCK',
      'ZAPIER_DELIVERY_JOB',
      'ZAPIER_ENTITIES',
      'ZAPIER_MIGRATIONS',
      'ZAPIER_MODULE_OPTIONS',
      'ZAPIER_OPTIONS',
      'ZAPIER_POLLER_JOB',
      'ZAPIER_RETENTION_JOB',
      'ZAPIER_RUN_COMPLETED',
      'ZAPIER_RUN_EXPIRED',
      'ZAPIER_RUN_FAILED',
      'ZAPIER_SIGNATURE_HEADER',
      'ZapierActionRun',
      'ZapierApiBudget',
      'ZapierApiError',
      'ZapierCallbackQuarantine',
      'ZapierCallbackService',
      'ZapierCallbackUrlError',
      'ZapierClient',
      'ZapierConfigurationError',
      'ZapierEvents',
      'ZapierInitialSchema1764201600000',
      'ZapierInvalidCallbackException',
      'ZapierModule',
      'ZapierRateLimitedError',
      'ZapierRunEvent',
      'ZapierRunNotRecordedError',
      'ZapierRunsService',
      'ZapierSignatureException',
      'ZapierSignatureGuard',
      'ZapierUnavailableException',
      'validateCallbackUrl',
    ]);
  });

  it('exports exactly these names from nestjs-zapier/testing', () => {
    assert.deepEqual(Object.keys(testing).sort(), [
      'ZapierSandbox',
      'ZapierTestSigner',
      'forgeHs256Token',
      'forgeUnsignedToken',
      'toCallbackPayload',
    ]);
  });

  it('exports exactly these names from nestjs-zapier/terminus', () => {
    assert.deepEqual(Object.keys(terminus).sort(), ['ZapierHealthIndicator']);
  });

  it('never loads @nestjs/terminus, the CLI or its libraries from the main entry point', () => {
    const main = importGraph(createRequire(import.meta.url).resolve('nestjs-zapier'));
    assert.ok(main.files.size > 20, `followed ${main.files.size} modules`);
    for (const name of ['@nestjs/terminus', 'commander', 'ms']) {
      assert.ok(!main.packages.has(name), `the main entry point imports ${name}`);
    }
    assert.deepEqual(
      [...main.files].filter((file) => /\/dist\/(terminus|cli)\//.test(file)),
      [],
    );
    const health = importGraph(createRequire(import.meta.url).resolve('nestjs-zapier/terminus'));
    assert.ok(health.packages.has('@nestjs/terminus'));
  });

  it('works without @nestjs/terminus installed; only nestjs-zapier/terminus needs it', async () => {
    // A resolve hook that answers for @nestjs/terminus as a missing package would.
    const hook = `export async function resolve(specifier, context, next) {
  if (specifier === '@nestjs/terminus') throw new Error('Cannot find package @nestjs/terminus');
  return next(specifier, context);
}`;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(
      `data:text/javascript,${encodeURIComponent(hook)}`,
    )});`;
    const program = `const main = await import('nestjs-zapier');
console.log('main', typeof main.ZapierModule);
await import('nestjs-zapier/terminus').catch((error) => console.log('terminus', error.message));`;
    const result = await run(process.execPath, [
      '--import',
      `data:text/javascript,${encodeURIComponent(register)}`,
      '--input-type=module',
      '-e',
      program,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), [
      'main function',
      'terminus Cannot find package @nestjs/terminus',
    ]);
  });

  it('packs the CLI, both entry points, README, LICENSE and CHANGELOG', async () => {
    // --ignore-scripts: no prepack build, the dist/ the specs run on is the one packed.
    const result = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']);
    assert.equal(result.code, 0, result.stderr);
    const [pack] = JSON.parse(result.stdout) as Array<{
      files: Array<{ path: string; mode: number }>;
    }>;
    const files = new Map(pack.files.map((file) => [file.path, file.mode]));
    for (const path of [
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'package.json',
      'dist/index.js',
      'dist/testing/index.js',
      'dist/terminus/index.js',
      'dist/cli/main.js',
    ]) {
      assert.ok(files.has(path), `${path} is packed`);
    }
    assert.ok(![...files.keys()].some((path) => /\.spec\.|^(src|test|out)\//.test(path)));
    const bin = readFileSync(resolve(root, 'dist/cli/main.js'), 'utf8');
    assert.ok(bin.startsWith('#!/usr/bin/env node\n'), 'the bin starts with its shebang');
  });

  it('keeps the testing entry point out of the main one', () => {
    const entry = createRequire(import.meta.url).resolve('nestjs-zapier');
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      for (const [, specifier] of source.matchAll(/from '(\.[^']+)'/g)) {
        visit(resolve(dirname(file), specifier));
      }
    };
    visit(entry);
    const testingFiles = [...seen].filter((file) => file.includes('/dist/testing/'));
    assert.ok(seen.size > 20, `followed ${seen.size} modules`);
    assert.deepEqual(testingFiles, []);
  });

  it('declares what it needs from the host as peer dependencies', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional: boolean }>;
      bin: Record<string, string>;
      files: string[];
    };
    // Both majors of each: the install profile compat/nest11/ runs the lower ones.
    const hostPeers = [
      '@nestjs/common',
      '@nestjs/core',
      '@nestjs/event-emitter',
      '@nestjs/schedule',
      '@nestjs/typeorm',
      'typeorm',
    ].map((name) => [name, pkg.peerDependencies[name]]);
    assert.deepEqual(Object.fromEntries(hostPeers), {
      '@nestjs/common': '^11.1.4 || ^12.0.0',
      '@nestjs/core': '^11.1.4 || ^12.0.0',
      '@nestjs/event-emitter': '^3.0.0 || ^12.0.0',
      '@nestjs/schedule': '^6.0.0 || ^12.0.0',
      '@nestjs/typeorm': '^11.0.0 || ^12.0.0',
      typeorm: '^0.3.20 || ^1.1.1',
    });
    // dist/ as built, without the record of an incremental build the test runner leaves there.
    assert.deepEqual(pkg.files, ['dist', '!dist/.tsbuildinfo', 'CHANGELOG.md']);
    // Optional peers: the entry points that use them load them only when the host has them.
    assert.equal(pkg.peerDependencies['@nestjs/terminus'], '^11.0.0 || ^12.0.0');
    assert.equal(pkg.peerDependencies['@opentelemetry/api'], '^1.3.0');
    assert.deepEqual(pkg.peerDependenciesMeta, {
      '@nestjs/terminus': { optional: true },
      '@opentelemetry/api': { optional: true },
    });
    assert.deepEqual(pkg.bin, { 'nestjs-zapier': './dist/cli/main.js' });
  });
});
