// Lint rules of the house style (architecture §7): floating promises are bugs everywhere, and workflow
// code must stay deterministic, so it may import only @temporalio/workflow and types.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['.*/**', 'dist/**', '**/dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', 'packages/temporal-lite/bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...nodeBuiltins, 'pg', 'express', 'zod', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'].map((name) => ({
          name,
          message: 'Workflow code must be deterministic: import only @temporalio/workflow and types.',
        })),
        patterns: [
          // db/text holds pure rules (what Postgres text can store), shared with the workflows' validators.
          { group: ['**/config', '**/config/**', '**/ledger/**', '**/api/**', '**/db/**', '!**/db/text'], message: 'Workflows import only types from the domain.', allowTypeImports: true },
        ],
      }],
    },
  },
);
