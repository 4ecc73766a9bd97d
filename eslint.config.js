// Type-aware linting (ESLint 9 flat config + typescript-eslint), run by `pnpm lint` and by
// scripts/test.sh right after the typecheck. Type information comes from tsconfig.json, which
// includes every linted file.
import { defineConfig } from 'eslint/config';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const tsFiles = [
  'packages/*/src/**/*.ts',
  'packages/*/test/**/*.ts',
  'packages/*/bench/**/*.ts',
  'packages/*/ui/**/*.ts',
  'packages/*/scripts/**/*.ts',
  'examples/*/src/**/*.ts',
  'examples/*/test/**/*.ts',
  'tests/**/*.ts',
  'bench/**/*.ts',
  'scripts/*.ts',
  'vitest.config.ts',
];

export default defineConfig(
  { ignores: ['**/dist/**', '**/node_modules/**', '.tmp/**'] },
  // A disable comment that no longer silences anything fails the lint.
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: tsFiles,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Resolves as tsc does here: `./x.js` is the source `./x.ts`, and a workspace package is its
      // `source` export (its src/), so cycles are followed through the sources.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'] },
          conditionNames: ['source', 'types', 'import', 'default'],
        }),
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // The ports (Broker, Store) are promise-returning; the implementations that do their work
      // synchronously (the SQLite store, the memory broker, test doubles) are `async` on purpose,
      // so that a synchronous throw reaches the caller as a rejected promise. Dropping `async` to
      // satisfy this rule would change that.
      '@typescript-eslint/require-await': 'off',
      'import-x/no-cycle': 'error',
    },
  },
  {
    // A package's code reaches another package only through its public entry points
    // (`@taskchart/<name>`, `@taskchart/core/testing`), never into its src/.
    files: ['packages/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@taskchart/*/src', '@taskchart/*/src/*'],
              message: "Import the package's public entry point, not its src/.",
            },
            {
              // ../../<package>/src/..., from any depth below packages/<this>/src.
              regex: '^(\\.\\./){2,}[^./][^/]*/src(/|$)',
              message: "Import the package's public entry point (@taskchart/<name>), not its src/.",
            },
          ],
        },
      ],
    },
  },
);
