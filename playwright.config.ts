/**
 * Playwright e2e (DESIGN §7, issue 5 "Tests"): specs are test/e2e/**\/*.e2e.ts (vitest never collects
 * them), retries 0, in Debian's Chromium against real browser hosts; the `electron` project runs the
 * same app-level specs through Playwright's `_electron` where an Electron binary exists and skips
 * them with a printed reason where not. scripts/test-all.mjs reads the JSON report from
 * $PLAYWRIGHT_JSON_OUTPUT_NAME.
 */
import { defineConfig } from '@playwright/test';
import type { ParleyOptions } from './test/e2e/fixtures.js';
import { CHROMIUM_ARGS, CHROMIUM_EXECUTABLE } from './test/e2e/helpers/chromium.js';

export default defineConfig<ParleyOptions>({
  testDir: 'test/e2e',
  testMatch: '**/*.e2e.ts',
  retries: 0,
  forbidOnly: true,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  globalSetup: './test/e2e/global-setup.ts',
  // test-results/ also holds vitest reports and screens/: Playwright's own output gets a subfolder.
  outputDir: 'test-results/playwright',
  reporter: [['list'], ['json', { outputFile: process.env.PLAYWRIGHT_JSON_OUTPUT_NAME ?? 'test-results/playwright/report.json' }]],
  use: { trace: 'retain-on-failure', screenshot: 'only-on-failure' },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        parleyHost: 'browser',
        launchOptions: { executablePath: CHROMIUM_EXECUTABLE, args: [...CHROMIUM_ARGS] },
      },
    },
    {
      name: 'electron',
      // The loopback server's own defences have no Electron counterpart.
      testIgnore: ['**/browser-host-*.e2e.ts'],
      use: { parleyHost: 'electron' },
    },
  ],
});
