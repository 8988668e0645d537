/**
 * The `shell` fixture opens the Parley app the way the current Playwright project says: in Chromium
 * against a browser host (project `chromium`), or as the Electron app through `_electron` (project
 * `electron`), which skips with a printed reason where no Electron binary exists. Specs written
 * against `shell.page` run under both.
 */
import { test as base, type Browser, type Page } from '@playwright/test';
import { launchBrowserHost, type BrowserHostProcess } from './helpers/browser-host.js';
import { electronBinary, launchElectronApp } from './helpers/electron-app.js';

export type ParleyHostKind = 'browser' | 'electron';

export type ParleyOptions = { parleyHost: ParleyHostKind };

export type Shell = {
  readonly kind: ParleyHostKind;
  readonly page: Page;
  /** The browser host process (browser project only). */
  readonly host: BrowserHostProcess | null;
};

let skipNoticePrinted = false;

type WorkerFixtures = ParleyOptions & {
  /** Chromium for this worker, launched on first use only (the electron project never needs it). */
  chromiumOnDemand: () => Promise<Browser>;
};

export const test = base.extend<{ shell: Shell; blankPage: Page }, WorkerFixtures>({
  parleyHost: ['browser', { option: true, scope: 'worker' }],
  chromiumOnDemand: [
    async ({ playwright, launchOptions }, use) => {
      let launched: Promise<Browser> | undefined;
      await use(() => (launched ??= playwright.chromium.launch(launchOptions)));
      if (launched !== undefined) await (await launched).close();
    },
    { scope: 'worker' },
  ],
  /** A page in a fresh Chromium context with nothing loaded (no host started). */
  blankPage: async ({ chromiumOnDemand }, use) => {
    const context = await (await chromiumOnDemand()).newContext();
    await use(await context.newPage());
    await context.close();
  },
  shell: async ({ parleyHost, chromiumOnDemand }, use, testInfo) => {
    const profile = `e2e-w${testInfo.workerIndex}-${testInfo.testId.slice(0, 8).toLowerCase()}`;
    if (parleyHost === 'electron') {
      const binary = electronBinary();
      if (!binary.found) {
        const reason = `no Electron binary (${binary.reason}); it cannot be downloaded here — the same specs run in Chromium against the browser host`;
        if (!skipNoticePrinted) {
          console.log(`[electron project] skipped: ${reason}`);
          skipNoticePrinted = true;
        }
        testInfo.skip(true, reason);
        return;
      }
      const app = await launchElectronApp({ executablePath: binary.path, profile });
      await use({ kind: 'electron', page: app.window, host: null });
      await app.close();
      return;
    }
    const host = await launchBrowserHost({ profile });
    const context = await (await chromiumOnDemand()).newContext();
    const page = await context.newPage();
    await page.goto(host.url);
    await use({ kind: 'browser', page, host });
    await context.close();
    await host.stop();
  },
});

export { expect } from '@playwright/test';
