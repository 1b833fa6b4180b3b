/**
 * The layering of `src/`: which room of the module may import which. Rooms are the folders
 * directly under `src/` plus a few root files; a file belongs to the room of its first path
 * segment below `src/` (`src/storage/migrations/x.ts` is in `storage/`).
 *
 * The table is the two constants right below, `FOUNDATION` and `ROOMS`. It is the only copy:
 * the rule reads it, its messages print it, and any description of the layering should quote
 * it rather than restate it. To add a room or a direction, change the table here.
 *
 * - The foundation rooms may import only each other; every room may import them.
 * - Each other room may import itself, the foundation, and the rooms listed against it.
 *   `'*'` means any room (the top: the module, its definition, the barrel and the sandbox).
 * - Nothing in `src/` may import a file outside `src/` (`test/`, `bench/`, `scripts/`,
 *   `ormconfig.ts`): `tsconfig.build.json` compiles `src/` alone, so such a file never ships.
 * - Spec files (`*.spec.ts`) may import anything: they are not part of the shipped code.
 * - Every import counts, type-only or not: `import`, `import type`, `export ... from`,
 *   `import()` with a literal specifier, `import x = require(...)` and `typeof import(...)`.
 *   Only relative specifiers are checked; packages are outside the table.
 * - A folder or root file of `src/` that has no row is reported, so a new room gets a place
 *   in the table before it gets imports.
 *
 * `eslint.config.js` turns it on as `local/import-direction` for the TypeScript files of `src/`,
 * which the rule finds from its own place in the repository (`../src/` from this file).
 */
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The foundation: rooms that may import only each other, and that every room may import. */
export const FOUNDATION = [
  'interfaces/',
  'errors/',
  'common/',
  'options/',
  'compat/',
  'zapier.constants.ts',
  'zapier.messages.ts',
  'zapier-host.provider.ts',
];

/** Every other room: what it may import besides itself and the foundation. */
export const ROOMS = {
  'events/': [],
  'telemetry/': [],
  'storage/': ['events/'],
  'signature/': ['telemetry/'],
  'budget/': ['storage/'],
  'runs/': ['storage/', 'events/', 'budget/', 'telemetry/'],
  'delivery/': ['storage/', 'events/', 'telemetry/'],
  'callback/': ['runs/', 'signature/', 'events/', 'telemetry/'],
  'client/': ['runs/', 'budget/', 'telemetry/'],
  'poller/': ['client/', 'runs/', 'telemetry/'],
  'health/': ['storage/', 'signature/'],
  'terminus/': ['health/'],
  'cli/': ['runs/', 'storage/', 'testing/'],
  'zapier.module.ts': '*',
  'zapier.module-definition.ts': '*',
  'index.ts': '*',
  'testing/': '*',
};

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Root files are rows under their `.ts` name; a specifier names them `.js` or bare. */
const stem = (file) => file.replace(/\.d\.ts$|\.[cm]?[jt]s$/, '');
const ROOT_FILES = new Map(
  [...FOUNDATION, ...Object.keys(ROOMS)]
    .filter((room) => !room.endsWith('/'))
    .map((room) => [stem(room), room]),
);

/**
 * The room a path inside `src/` belongs to (`known: false` if it has no row), or `undefined`
 * if the path is outside `src/`; `name` is how messages show it.
 */
function roomOf(path) {
  const rel = relative(SRC, path);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  // `src/` itself, as in `import '..'`, can only mean its barrel.
  const parts = rel === '' ? ['index.ts'] : rel.split(sep);
  if (parts.length > 1) {
    const name = `${parts[0]}/`;
    return { name, known: FOUNDATION.includes(name) || Object.hasOwn(ROOMS, name) };
  }
  const known = ROOT_FILES.get(stem(parts[0]));
  return { name: known ?? parts[0], known: known !== undefined };
}

/** What `room` may import besides itself, in the order messages list it; `'*'` for the top. */
function allowedFor(room) {
  if (FOUNDATION.includes(room)) return FOUNDATION.filter((other) => other !== room);
  const own = ROOMS[room];
  return own === '*' ? '*' : [...FOUNDATION, ...own];
}

/** How a path outside `src/` is named in messages: its first segment below the repository. */
function outsideName(path) {
  const first = relative(dirname(SRC), path).split(sep)[0];
  return first === '..' || first === '' ? path : basename(path) === first ? first : `${first}/`;
}

/** @type {import('eslint').Rule.RuleModule} */
const importDirection = {
  meta: {
    type: 'problem',
    docs: {
      description: "Keep imports between the rooms of src/ in the table's one direction",
    },
    schema: [],
    messages: {
      forbidden: '{{from}} may not import {{to}} ({{from}} may import: {{allowed}})',
      outsideSrc: '{{from}} may not import {{to}} (nothing in src/ may import from outside src/)',
      unknownRoom:
        'src/{{room}} has no row in the room table of eslint-rules/import-direction.js; add it with the rooms it may import',
    },
  },
  create(context) {
    const file = context.filename;
    const from = roomOf(file);
    if (from === undefined || /\.spec\.ts$/.test(file)) return {};
    const allowed = from.known ? allowedFor(from.name) : undefined;

    const check = (node, specifier) => {
      if (typeof specifier !== 'string' || !/^\.{1,2}(\/|$)|^\//.test(specifier)) return;
      const target = resolve(dirname(file), specifier);
      const to = roomOf(target);
      if (to === undefined) {
        const data = { from: from.name, to: outsideName(target) };
        context.report({ node, messageId: 'outsideSrc', data });
      } else if (!to.known) {
        context.report({ node, messageId: 'unknownRoom', data: { room: to.name } });
      } else if (
        allowed !== undefined &&
        allowed !== '*' &&
        to.name !== from.name &&
        !allowed.includes(to.name)
      ) {
        const data = { from: from.name, to: to.name, allowed: allowed.join(', ') };
        context.report({ node, messageId: 'forbidden', data });
      }
    };
    const literal = (node) => {
      if (node?.type === 'Literal') return node.value;
      if (node?.type === 'TemplateLiteral' && node.expressions.length === 0) {
        return node.quasis[0].value.cooked;
      }
      return undefined;
    };

    return {
      Program(node) {
        if (!from.known) {
          context.report({ node, messageId: 'unknownRoom', data: { room: from.name } });
        }
      },
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => {
        if (node.source) check(node.source, node.source.value);
      },
      ImportExpression: (node) => check(node.source, literal(node.source)),
      TSExternalModuleReference: (node) => check(node.expression, literal(node.expression)),
      TSImportType: (node) => {
        const source = node.source ?? node.argument?.literal;
        check(source, literal(source));
      },
    };
  },
};

/** The flat-config plugin `eslint.config.js` registers as `local`. */
export default {
  meta: { name: 'local' },
  rules: { 'import-direction': importDirection },
};
