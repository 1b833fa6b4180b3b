/**
 * No top-level `await` in the shipped code. The package is ESM, and a CommonJS host on Node
 * 20.19+ loads it with `require()`, which refuses (`ERR_REQUIRE_ASYNC_MODULE`) any module graph
 * holding a top-level `await`: one such statement anywhere in `src/` would lock out every
 * CommonJS host. Reported: `await` expressions, `for await` loops and `await using` declarations
 * outside any function.
 *
 * `eslint.config.js` turns it on as `local/no-top-level-await` for the shipped files of `src/`
 * (not the specs, which never ship and may wait at the top level).
 */

const FUNCTION = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/** Whether `node` sits inside a function, where `await` waits for that function alone. */
function insideFunction(node) {
  for (let parent = node.parent; parent; parent = parent.parent) {
    if (FUNCTION.has(parent.type)) return true;
  }
  return false;
}

/** @type {import('eslint').Rule.RuleModule} */
const noTopLevelAwait = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep the package loadable with require(): no top-level await' },
    schema: [],
    messages: {
      topLevelAwait:
        "Top-level {{what}} makes this module, and every module importing it, impossible to require() from a CommonJS host (ERR_REQUIRE_ASYNC_MODULE); move it into a function (an onModuleInit hook, a factory provider's useFactory) instead",
    },
  },
  create(context) {
    const report = (node, what) => {
      if (!insideFunction(node))
        context.report({ node, messageId: 'topLevelAwait', data: { what } });
    };
    return {
      AwaitExpression: (node) => report(node, 'await'),
      'ForOfStatement[await=true]': (node) => report(node, 'for await'),
      'VariableDeclaration[kind="await using"]': (node) => report(node, 'await using'),
    };
  },
};

/** Registered by `eslint.config.js` under the `local` plugin, next to import-direction. */
export default {
  meta: { name: 'local' },
  rules: { 'no-top-level-await': noTopLevelAwait },
};
