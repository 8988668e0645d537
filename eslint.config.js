// ESLint flat config. `parley/boundaries` enforces DESIGN.md §2's dependency direction and
// `parley/no-cycle` forbids import loops (type-only imports included); test/lint/boundaries.test.ts
// proves that each fires on fixtures, and that type-aware `no-floating-promises` is on.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import parley from './scripts/eslint/plugin.js';
import svelteConfig from './renderer/svelte.config.js';

const nodeOnlyGlobalsOff = Object.fromEntries(
  Object.keys(globals.node)
    .filter((name) => !(name in globals.browser))
    .map((name) => [name, 'off']),
);

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
  // .svelte components and *.svelte.ts rune modules: parsed by svelte-eslint-parser with the
  // TypeScript parser inside <script lang="ts">, so every rule below (parley/boundaries included)
  // sees their imports. `svelte/no-at-html-tags` (recommended) forbids {@html} (DESIGN §6).
  ...svelte.configs.recommended,
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'], svelteConfig } },
  },
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    plugins: { parley },
    rules: {
      'parley/boundaries': 'error',
      'parley/no-cycle': 'error',
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
    // A promise nobody awaits loses its rejection: every floating promise is awaited, returned or
    // marked `void` on purpose. Type-aware (each TypeScript program's own tsconfig).
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './tsconfig.e2e.json', './renderer/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  {
    // The renderer runs in the page: browser globals, and Node-only ones (process, Buffer, require…) off.
    files: ['renderer/src/**'],
    languageOptions: { globals: { ...nodeOnlyGlobalsOff, ...globals.browser } },
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
