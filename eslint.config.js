import js from '@eslint/js';
import globals from 'globals';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';
import importDirection from './eslint-rules/import-direction.js';
import noTopLevelAwait from './eslint-rules/no-top-level-await.js';

const local = {
  meta: { name: 'local' },
  rules: { ...importDirection.rules, ...noTopLevelAwait.rules },
};

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'out-*/', 'node_modules/', 'bench/results/', 'compat/*/out/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Methods passed as callbacks here never use `this` (or are arrow properties).
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // The rooms of src/ and the one direction of imports between them.
    files: ['src/**/*.ts'],
    plugins: { local },
    rules: { 'local/import-direction': 'error' },
  },
  {
    // What ships must stay loadable with require() from a CommonJS host.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.spec.ts'],
    plugins: { local },
    rules: { 'local/no-top-level-await': 'error' },
  },
  {
    // node:test's describe/it return promises the runner tracks itself.
    files: ['**/*.spec.ts', '**/*e2e-spec.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  prettier,
);
