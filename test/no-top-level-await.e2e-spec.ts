import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint, RuleTester, type Linter, type Rule } from 'eslint';
import tseslint from 'typescript-eslint';

// This file runs compiled, from out/test/; the rule is plain JavaScript at the repository root.
const root = new URL('../../', import.meta.url);
const ruleFile = new URL('eslint-rules/no-top-level-await.js', root);
const { default: plugin } = (await import(ruleFile.href)) as { default: ESLint.Plugin };
const rule = plugin.rules?.['no-top-level-await'] as Rule.RuleModule;

const topLevel = (what: string): RuleTester.TestCaseError => ({
  messageId: 'topLevelAwait',
  data: { what },
});

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;
const tester = new RuleTester({ languageOptions: { parser: tseslint.parser } });

tester.run('no-top-level-await', rule, {
  valid: [
    {
      name: 'await inside functions, methods and arrows',
      code: [
        'async function load() { await ready(); }',
        'const f = async () => { for await (const x of xs) use(x); };',
        'class Store { async onModuleInit() { await this.open(); } }',
        'const provider = { useFactory: async () => await connect() };',
      ].join('\n'),
    },
    {
      name: 'a promise kept for later, not awaited at the top',
      code: 'export const ready = load();',
    },
  ],
  invalid: [
    {
      name: 'an awaited statement at the top of the module',
      code: 'const keys = await fetchKeys();',
      errors: [topLevel('await')],
    },
    {
      name: 'await inside a top-level block, condition or loop is still top-level',
      code: 'if (process.env.X) { await warmUp(); }\nfor (const x of xs) await x;',
      errors: [topLevel('await'), topLevel('await')],
    },
    {
      name: 'for await and await using at the top',
      code: 'for await (const chunk of stream) use(chunk);\nawait using handle = open();',
      errors: [topLevel('for await'), topLevel('await using')],
    },
  ],
});

describe('eslint.config.js', () => {
  const eslint = new ESLint({ cwd: fileURLToPath(root) });
  const rulesFor = async (path: string) =>
    ((await eslint.calculateConfigForFile(fileURLToPath(new URL(path, root)))) as Linter.Config)
      .rules;

  it('turns local/no-top-level-await on for the shipped files of src/', async () => {
    for (const file of ['src/zapier.module.ts', 'src/storage/x.ts', 'src/testing/index.ts']) {
      assert.deepEqual((await rulesFor(file))?.['local/no-top-level-await'], [2], file);
    }
  });

  it('leaves it off for specs, which never ship', async () => {
    for (const file of ['src/storage/repositories.spec.ts', 'test/callback.e2e-spec.ts']) {
      assert.equal((await rulesFor(file))?.['local/no-top-level-await'], undefined, file);
    }
  });
});
