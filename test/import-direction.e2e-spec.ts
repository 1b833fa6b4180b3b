import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint, RuleTester, type Linter, type Rule } from 'eslint';
import tseslint from 'typescript-eslint';

// This file runs compiled, from out/test/; the rule is plain JavaScript at the repository root.
const root = new URL('../../', import.meta.url);
const ruleFile = new URL('eslint-rules/import-direction.js', root);
const { default: plugin } = (await import(ruleFile.href)) as { default: ESLint.Plugin };
const rule = plugin.rules?.['import-direction'] as Rule.RuleModule;

/** An absolute file name under the repository's src/, where the rule looks for rooms. */
const src = (path: string): string => fileURLToPath(new URL(`src/${path}`, root));

/** Written out here rather than read from the rule, so a change to the table shows up here. */
const FOUNDATION =
  'interfaces/, errors/, common/, options/, compat/, zapier.constants.ts, zapier.messages.ts, zapier-host.provider.ts';

const forbidden = (from: string, to: string, allowed: string): RuleTester.TestCaseError => ({
  messageId: 'forbidden',
  data: { from, to, allowed },
});
const outsideSrc = (from: string, to: string): RuleTester.TestCaseError => ({
  messageId: 'outsideSrc',
  data: { from, to },
});

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;
const tester = new RuleTester({ languageOptions: { parser: tseslint.parser } });

tester.run('import-direction', rule, {
  valid: [
    {
      name: 'storage/ imports events/ (type-only or not) and its own files',
      filename: src('storage/zapier-run.store.ts'),
      code: [
        "import { ZapierEvents } from '../events/zapier.events.js';",
        "import type { ZapierRunEvent } from '../events/zapier-run-event.js';",
        "import { dialectOf } from './sql-dialect.js';",
        "import { up } from './migrations/initial.js';",
      ].join('\n'),
    },
    {
      name: 'packages are outside the table',
      filename: src('options/resolve-zapier-options.ts'),
      code: "import { Injectable } from '@nestjs/common';\nimport { join } from 'node:path';",
    },
    {
      name: 'runs/ imports storage/ and events/',
      filename: src('runs/zapier-run-lifecycle.ts'),
      code: "import { ZapierRunStore } from '../storage/zapier-run.store.js';\nimport '../events/zapier.events.js';",
    },
    {
      name: 'budget/ imports storage/',
      filename: src('budget/zapier-request-budget.ts'),
      code: "import { ZapierRunStore } from '../storage/zapier-run.store.js';",
    },
    {
      name: 'delivery/ imports storage/ and events/',
      filename: src('delivery/zapier-delivery.runner.ts'),
      code: "import { ZapierRunStore } from '../storage/zapier-run.store.js';\nimport '../events/zapier.events.js';",
    },
    {
      name: 'client/ imports runs/ and budget/',
      filename: src('client/zapier.client.ts'),
      code: "import { ZapierRuns } from '../runs/zapier-runs.js';\nimport '../budget/zapier-request-budget.js';",
    },
    {
      name: 'poller/ imports client/ and runs/',
      filename: src('poller/zapier-overdue-run.poller.ts'),
      code: "import { ZapierClient } from '../client/zapier.client.js';\nimport '../runs/zapier-runs.js';",
    },
    {
      name: 'callback/ imports runs/, signature/, events/ and the foundation',
      filename: src('callback/zapier-callback.service.ts'),
      code: [
        "import { ZapierRuns } from '../runs/zapier-runs.js';",
        "import { ZapierSignatureGuard } from '../signature/zapier-signature.guard.js';",
        "import { ZapierEvents } from '../events/zapier.events.js';",
        "import { ZapierMessages } from '../zapier.messages.js';",
        "import type { ZapierClock } from '../interfaces/zapier-clock.interface.js';",
      ].join('\n'),
    },
    {
      name: 'a spec file may import anything, test/ included',
      filename: src('storage/zapier-run.store.spec.ts'),
      code: [
        "import { ZapierDeliveryRunner } from '../delivery/zapier-delivery.runner.js';",
        "import { sqlite } from '../../test/support/sqlite.js';",
      ].join('\n'),
    },
    {
      name: 'the root top files import any room',
      filename: src('zapier.module.ts'),
      code: [
        "import { ZapierOverdueRunPoller } from './poller/zapier-overdue-run.poller.js';",
        "import { ZapierDeliveryRunner } from './delivery/zapier-delivery.runner.js';",
        "export { ZapierModule } from './zapier.module.js';",
      ].join('\n'),
    },
    {
      name: 'the barrel re-exports any room',
      filename: src('index.ts'),
      code: "export { ZapierClient } from './client/zapier.client.js';\nexport * from './events/zapier.events.js';",
    },
    {
      name: 'the sandbox in testing/ imports any room',
      filename: src('testing/zapier-sandbox.ts'),
      code: "import { ZapierSignatureVerifier } from '../signature/zapier-signature.verifier.js';",
    },
    {
      name: 'zapier-host.provider.ts is foundation: any room imports it, it imports the foundation',
      filename: src('zapier-host.provider.ts'),
      code: [
        "import { ZapierConfigurationError } from './errors/zapier-configuration.error.js';",
        "import { ZapierMessages } from './zapier.messages.js';",
      ].join('\n'),
    },
    {
      name: 'delivery/ and poller/ import zapier-host.provider.ts',
      filename: src('poller/zapier-overdue-run.poller.ts'),
      code: "import { ZAPIER_HOST } from '../zapier-host.provider.js';",
    },
    {
      name: 'a dynamic import without a literal specifier is not checked',
      filename: src('storage/zapier-storage.check.ts'),
      code: 'const name = process.env.X;\nawait import(name);',
    },
  ],
  invalid: [
    {
      name: 'terminus/ may not reach past health/ into storage/ (it judges the probe, nothing else)',
      filename: src('terminus/zapier-health.indicator.ts'),
      code: "import { ZapierRunReport } from '../storage/run-report.repository.js';",
      errors: [forbidden('terminus/', 'storage/', `${FOUNDATION}, health/`)],
    },
    {
      name: 'health/ may not import terminus/ (the main entry point never loads @nestjs/terminus)',
      filename: src('health/zapier-health.probe.ts'),
      code: "import { ZapierHealthIndicator } from '../terminus/zapier-health.indicator.js';",
      errors: [forbidden('health/', 'terminus/', `${FOUNDATION}, storage/, signature/`)],
    },
    {
      name: 'cli/ may not import delivery/ (it reads and repairs through runs/ and storage/)',
      filename: src('cli/cli-storage.ts'),
      code: "import { ZapierDeliveryRunner } from '../delivery/zapier-delivery.runner.js';",
      errors: [forbidden('cli/', 'delivery/', `${FOUNDATION}, runs/, storage/, testing/`)],
    },
    {
      name: 'storage/ may not import delivery/ (the message names both rooms and the list)',
      filename: src('storage/zapier-result.recorder.ts'),
      code: "import { ZapierDeliveryRunner } from '../delivery/zapier-delivery.runner.js';",
      errors: [
        {
          message: `storage/ may not import delivery/ (storage/ may import: ${FOUNDATION}, events/)`,
          line: 1,
          column: 38,
        },
      ],
    },
    {
      name: 'delivery/ may not import runs/',
      filename: src('delivery/zapier-delivery.runner.ts'),
      code: "import type { ZapierRuns } from '../runs/zapier-runs.js';",
      errors: [forbidden('delivery/', 'runs/', `${FOUNDATION}, storage/, events/, telemetry/`)],
    },
    {
      name: 'options/ may not import client/ (a foundation room may import only the foundation)',
      filename: src('options/resolve-zapier-options.ts'),
      code: "import { validateCallbackUrl } from '../client/callback-url.js';",
      errors: [
        forbidden(
          'options/',
          'client/',
          'interfaces/, errors/, common/, compat/, zapier.constants.ts, zapier.messages.ts, zapier-host.provider.ts',
        ),
      ],
    },
    {
      name: 'src/ may not import test/, bench/, scripts/ or ormconfig.ts',
      filename: src('storage/zapier-storage.check.ts'),
      code: [
        "import { sqlite } from '../../test/support/sqlite.js';",
        "import { run } from '../../bench/run-bench.js';",
        "import '../../scripts/run-tests.mjs';",
        "import dataSource from '../../ormconfig.js';",
      ].join('\n'),
      errors: [
        outsideSrc('storage/', 'test/'),
        outsideSrc('storage/', 'bench/'),
        outsideSrc('storage/', 'scripts/'),
        outsideSrc('storage/', 'ormconfig.js'),
      ],
    },
    {
      name: 'not even the top may import from outside src/',
      filename: src('testing/zapier-sandbox.ts'),
      code: "import { harness } from '../../test/support/zapier-harness.js';",
      errors: [outsideSrc('testing/', 'test/')],
    },
    {
      name: 'export ... from counts as an import',
      filename: src('storage/zapier-storage.entities.ts'),
      code: [
        "export { ZapierDeliveryRunner } from '../delivery/zapier-delivery.runner.js';",
        "export * from '../callback/zapier-callback.service.js';",
        "export type { ZapierRuns } from '../runs/zapier-runs.js';",
      ].join('\n'),
      errors: [
        forbidden('storage/', 'delivery/', `${FOUNDATION}, events/`),
        forbidden('storage/', 'callback/', `${FOUNDATION}, events/`),
        forbidden('storage/', 'runs/', `${FOUNDATION}, events/`),
      ],
    },
    {
      name: 'a dynamic import() with a literal specifier counts',
      filename: src('client/zapier.client.ts'),
      code: [
        "const { ZapierOverdueRunPoller } = await import('../poller/zapier-overdue-run.poller.js');",
        'const delivery = await import(`../delivery/zapier-delivery.runner.js`);',
      ].join('\n'),
      errors: [
        forbidden('client/', 'poller/', `${FOUNDATION}, runs/, budget/, telemetry/`),
        forbidden('client/', 'delivery/', `${FOUNDATION}, runs/, budget/, telemetry/`),
      ],
    },
    {
      name: 'import x = require() and typeof import() count',
      filename: src('delivery/zapier-delivery.runner.ts'),
      code: [
        "import poller = require('../poller/zapier-overdue-run.poller.js');",
        "type Runs = typeof import('../runs/zapier-runs.js');",
      ].join('\n'),
      errors: [
        forbidden('delivery/', 'poller/', `${FOUNDATION}, storage/, events/, telemetry/`),
        forbidden('delivery/', 'runs/', `${FOUNDATION}, storage/, events/, telemetry/`),
      ],
    },
    {
      name: 'a root foundation file may import only the foundation',
      filename: src('zapier.constants.ts'),
      code: "import { ZapierRunStore } from './storage/zapier-run.store.js';",
      errors: [
        forbidden(
          'zapier.constants.ts',
          'storage/',
          'interfaces/, errors/, common/, options/, compat/, zapier.messages.ts, zapier-host.provider.ts',
        ),
      ],
    },
    {
      name: 'zapier-host.provider.ts may not import a room above the foundation',
      filename: src('zapier-host.provider.ts'),
      code: "import { ZapierDeliveryRunner } from './delivery/zapier-delivery.runner.js';",
      errors: [
        forbidden(
          'zapier-host.provider.ts',
          'delivery/',
          'interfaces/, errors/, common/, options/, compat/, zapier.constants.ts, zapier.messages.ts',
        ),
      ],
    },
    {
      name: 'no room may import the top (the module, the barrel, the sandbox)',
      filename: src('poller/zapier-overdue-run.poller.ts'),
      code: [
        "import { ZapierModule } from '../zapier.module.js';",
        "import { ZapierClient } from '../index.js';",
        "import { ZapierSandbox } from '../testing/index.js';",
      ].join('\n'),
      errors: [
        forbidden('poller/', 'zapier.module.ts', `${FOUNDATION}, client/, runs/, telemetry/`),
        forbidden('poller/', 'index.ts', `${FOUNDATION}, client/, runs/, telemetry/`),
        forbidden('poller/', 'testing/', `${FOUNDATION}, client/, runs/, telemetry/`),
      ],
    },
    {
      name: 'a folder of src/ with no row in the table is reported, as importer and as target',
      filename: src('widgets/zapier-widget.ts'),
      code: "import { ZapierGadget } from '../gadgets/zapier-gadget.js';",
      errors: [
        { messageId: 'unknownRoom', data: { room: 'widgets/' } },
        { messageId: 'unknownRoom', data: { room: 'gadgets/' } },
      ],
    },
  ],
});

describe('eslint.config.js', () => {
  const eslint = new ESLint({ cwd: fileURLToPath(root) });

  it('turns local/import-direction on for src/**/*.ts, spec files included', async () => {
    for (const file of ['storage/zapier-run.store.ts', 'zapier.module.ts', 'x/y.spec.ts']) {
      const config = (await eslint.calculateConfigForFile(src(file))) as Linter.Config;
      assert.deepEqual(config.rules?.['local/import-direction'], [2], file);
    }
  });

  it('leaves it off outside src/', async () => {
    const file = fileURLToPath(new URL('test/public-api.e2e-spec.ts', root));
    const config = (await eslint.calculateConfigForFile(file)) as Linter.Config;
    assert.equal(config.rules?.['local/import-direction'], undefined);
  });
});
