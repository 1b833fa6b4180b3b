import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

// The package as a user gets it: through its own name and package.json "exports" (dist/).
const main = await import('nestjs-zapier');
const testing = await import('nestjs-zapier/testing');

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
    ) as { peerDependencies: Record<string, string>; files: string[] };
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
    assert.deepEqual(pkg.files, ['dist', '!dist/.tsbuildinfo']);
  });
});
