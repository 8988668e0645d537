// Vitest projects. `main` runs everywhere; `renderer` compiles Svelte rune modules (*.svelte.ts) and
// runs in jsdom with the browser build of Svelte; `keychain` suites need a Secret Service (run under
// scripts/with-keyring.sh); `services` suites need PostgreSQL and Redis (scripts/with-services.sh);
// `formal` runs the ProVerif models of formal/ (minutes of CPU, one model at a time, so it stays out
// of `main`, which every landing runs).
// scripts/test-all.mjs runs each project in its wrapper. Playwright specs (*.e2e.ts) are not collected.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

const common = {
  exclude: ['**/node_modules/**', 'dist/**', '**/*.e2e.ts', 'test/fixtures/**'],
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...common,
          name: 'main',
          include: [
            'shared/**/*.test.ts',
            'server/**/*.test.ts',
            'electron/**/*.test.ts',
            'test/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
          exclude: [...common.exclude, '**/*.keychain.test.ts', '**/*.services.test.ts', 'test/renderer/**', 'test/formal/**'],
        },
      },
      {
        plugins: [svelte({ configFile: false, compilerOptions: { runes: true } })],
        resolve: { conditions: ['browser'] },
        test: { ...common, name: 'renderer', environment: 'jsdom', include: ['renderer/src/**/*.test.ts', 'test/renderer/**/*.test.ts'] },
      },
      { test: { ...common, name: 'keychain', include: ['**/*.keychain.test.ts'] } },
      { test: { ...common, name: 'services', include: ['**/*.services.test.ts'] } },
      { test: { ...common, name: 'formal', include: ['test/formal/**/*.test.ts'] } },
    ],
  },
});
