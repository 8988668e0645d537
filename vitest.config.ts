// Vitest projects. `main` runs everywhere; `keychain` suites need a Secret Service (run under
// scripts/with-keyring.sh); `services` suites need PostgreSQL and Redis (scripts/with-services.sh).
// scripts/test-all.mjs runs each project in its wrapper. Playwright specs (*.e2e.ts) are not collected.
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
            'renderer/src/**/*.test.ts',
            'test/**/*.test.ts',
            'scripts/**/*.test.ts',
          ],
          exclude: [...common.exclude, '**/*.keychain.test.ts', '**/*.services.test.ts'],
        },
      },
      { test: { ...common, name: 'keychain', include: ['**/*.keychain.test.ts'] } },
      { test: { ...common, name: 'services', include: ['**/*.services.test.ts'] } },
    ],
  },
});
