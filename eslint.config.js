// ESLint flat config. The `parley/boundaries` rule enforces DESIGN.md §2's dependency direction;
// test/lint/boundaries.test.ts proves it fires on each forbidden edge.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import parley from './scripts/eslint/boundaries.js';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'release/**',
      '.cache/**',
      'test-results/**',
      'playwright-report/**',
      'renderer/dist/**',
      'test/fixtures/**',
      'coverage/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    plugins: { parley },
    rules: {
      'parley/boundaries': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      eqeqeq: ['error', 'always'],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: 'Use the injected Rng.' },
      ],
    },
  },
  {
    files: ['shared/**/*.ts'],
    ignores: ['shared/testing/**', '**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['**/*.test.ts', 'test/**', 'bench/**', 'scripts/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
