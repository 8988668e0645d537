/**
 * The `parley` fixture for app-level specs: a real relay and a data root per test,
 * in which `open(profile)` starts one host per profile — a browser host opened in its own Chromium
 * context (project `chromium`), or the Electron app (project `electron`, skipped with a printed
 * reason where no binary exists). `seed` writes history through the engine's own DB layer
 * (bench/ui/seed.ts) before a profile's host starts. Each profile gets a clock file: its engine
 * clock is the system clock plus the offset written there (electron/host/engine-host.ts, PARLEY_TEST_CLOCK_FILE).
 *
 * Also the person-level steps every spec shares (create an account, open a conversation), written
 * with roles and labels only.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, BrowserContextOptions, Locator, Page } from '@playwright/test';
import { seedPair, type SeedMessage, type SeedProfile } from '../../bench/ui/seed.js';
import { expect, test as shellTest } from './fixtures.js';
import { launchBrowserHost, type BrowserHostProcess } from './helpers/browser-host.js';
import { electronBinary, launchElectronApp, type ElectronAppHandle } from './helpers/electron-app.js';
import { SCREENS_DIR } from './helpers/paths.js';
import { launchRelay, type RelayProcess } from './helpers/relay.js';

export type OpenOptions = {
  readonly env?: NodeJS.ProcessEnv;
  readonly context?: BrowserContextOptions;
  /** Engine clock offset (ms) at start. */
  readonly clockOffsetMs?: number;
  /** The relay address onboarding suggests (default: the test's relay); e.g. a hostile proxy in front of it. */
  readonly relayUrl?: string;
  /** A browser of the spec's own (e.g. with a fake camera) instead of the worker's Chromium. */
  readonly browser?: Browser;
};

export type ProfileApp = {
  readonly profile: string;
  readonly page: Page;
  /** Moves this profile's engine clock: system time + offset. */
  setClockOffset(ms: number): void;
  /** Stops the host (the page stays, disconnected). */
  stop(): Promise<void>;
  /** Starts the host again and reloads the page against it. */
  restart(): Promise<void>;
};

export type Parley = {
  readonly relayUrl: string;
  readonly dataRoot: string;
  /** A profile name unique to this test (profiles share the OS keychain of the run). */
  name(label: string): string;
  open(profile: string, options?: OpenOptions): Promise<ProfileApp>;
  seed(options: {
    a: SeedProfile;
    b: SeedProfile;
    messages?: readonly SeedMessage[];
    mirror?: boolean;
    keyChangeForA?: boolean;
  }): Promise<{ conversationA: string; conversationB: string }>;
};

let electronNoticePrinted = false;

/**
 * Opens a freshly started host. Chromium occasionally reports the first navigation to a port it
 * just saw closed as failed (ERR_HTTP_RESPONSE_CODE_FAILURE) although the host answers; one retry.
 */
async function gotoHost(page: Page, url: string): Promise<void> {
  try {
    await page.goto(url);
  } catch (error) {
    console.log(`[e2e] navigation to a restarted host failed once (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); retrying`);
    await page.waitForTimeout(250);
    await page.goto(url);
  }
}

export const test = shellTest.extend<{ parley: Parley; relay: RelayProcess }>({
  // One relay per test: usernames are registered there, so every test can have its alice and bob.
  // eslint-disable-next-line no-empty-pattern -- Playwright fixtures destructure their dependencies
  relay: async ({}, use) => {
    const relay = await launchRelay();
    await use(relay);
    await relay.stop();
  },
  parley: async ({ parleyHost, chromiumOnDemand, relay }, use, testInfo) => {
    let electronPath: string | null = null;
    if (parleyHost === 'electron') {
      const binary = electronBinary();
      if (!binary.found) {
        const reason = `no Electron binary (${binary.reason}); it cannot be downloaded here — the same specs run in Chromium against the browser host`;
        if (!electronNoticePrinted) {
          console.log(`[electron project] skipped: ${reason}`);
          electronNoticePrinted = true;
        }
        testInfo.skip(true, reason);
        return;
      }
      electronPath = binary.path;
    }
    const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'parley-e2e-app-'));
    const stops: (() => Promise<void>)[] = [];
    const prefix = `e2e${testInfo.workerIndex}${testInfo.testId.slice(0, 6).toLowerCase()}`;
    const parley: Parley = {
      relayUrl: relay.url,
      dataRoot,
      name: (label) => `${prefix}-${label}`,
      seed: (options) => seedPair({ dataRoot, relayUrl: relay.url, ...options }),
      async open(profile, options = {}) {
        const clockFile = path.join(dataRoot, `${profile}.clock`);
        writeFileSync(clockFile, String(options.clockOffsetMs ?? 0));
        const env = { ...options.env, PARLEY_RELAY_URL: options.relayUrl ?? relay.url, PARLEY_TEST_CLOCK_FILE: clockFile };
        if (electronPath !== null) {
          let handle: ElectronAppHandle | null = await launchElectronApp({ executablePath: electronPath, profile, dataRoot, env });
          const app: ProfileApp = {
            profile,
            get page() {
              return handle!.window;
            },
            setClockOffset: (ms) => writeFileSync(clockFile, String(ms)),
            stop: async () => {
              await handle?.close();
              handle = null;
            },
            restart: async () => {
              await handle?.close();
              handle = await launchElectronApp({ executablePath: electronPath!, profile, dataRoot, env });
            },
          };
          stops.push(() => app.stop());
          return app;
        }
        let host: BrowserHostProcess | null = await launchBrowserHost({ profile, dataRoot, env });
        const context = await (options.browser ?? (await chromiumOnDemand())).newContext({ locale: 'en-US', ...options.context });
        const page = await context.newPage();
        await page.goto(host.url);
        const app: ProfileApp = {
          profile,
          page,
          setClockOffset: (ms) => writeFileSync(clockFile, String(ms)),
          stop: async () => {
            await host?.stop();
            host = null;
          },
          restart: async () => {
            await host?.stop();
            host = await launchBrowserHost({ profile, dataRoot, env });
            await gotoHost(page, host.url);
          },
        };
        stops.push(async () => {
          await context.close();
          await app.stop();
        });
        return app;
      },
    };
    await use(parley);
    for (const stop of stops.reverse()) await stop();
    rmSync(dataRoot, { recursive: true, force: true });
  },
});

export { expect };

// ── Person-level steps ───────────────────────────────────────────────────────

/** Creates an account through onboarding (OS keychain, or `passphrase` when given or required). */
export async function createAccount(page: Page, username: string, options: { passphrase?: string; displayName?: string } = {}): Promise<void> {
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  await page.getByLabel('Username').fill(username);
  // The display name follows the username unless the person types another.
  await expect(page.getByLabel('Display name')).toHaveValue(username);
  if (options.displayName !== undefined) await page.getByLabel('Display name').fill(options.displayName);
  if (options.passphrase !== undefined) {
    // With a keychain, the passphrase is the technical choice under "Advanced".
    if (!(await page.getByLabel('Passphrase', { exact: true }).isVisible())) {
      await page.getByText('Advanced', { exact: true }).click();
      await page.getByLabel('Use a passphrase instead of the system keychain').check();
    }
    await page.getByLabel('Passphrase', { exact: true }).fill(options.passphrase);
    await page.getByLabel('Repeat passphrase').fill(options.passphrase);
  }
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible({ timeout: 20_000 });
}

/** Waits until a seeded profile's app shows its conversation list. */
export async function ready(page: Page): Promise<void> {
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible({ timeout: 20_000 });
}

export function conversationButton(page: Page, title: string) {
  return page.getByRole('navigation', { name: 'Conversations' }).getByRole('button', { name: new RegExp(`\\b${title}\\b`) });
}

export async function openConversation(page: Page, title: string): Promise<void> {
  await conversationButton(page, title).click();
  await expect(page.getByRole('heading', { name: title, level: 2 })).toBeVisible();
}

export function messageLog(page: Page, title: string) {
  return page.getByRole('log', { name: `Messages with ${title}` });
}

export function composer(page: Page, title: string) {
  return page.getByRole('textbox', { name: `Message to ${title}` });
}

/** The status ticks of an outgoing message's row: an image named by the status. */
export function messageStatus(row: Locator) {
  return row.getByRole('img', { name: /^(Sending|Sent|Delivered|Read|Not sent)$/ });
}

/**
 * A message row's time as a person meets it: the clock time on screen, the full date and time in
 * its tooltip and in what a screen reader reads for the row.
 */
export async function expectMessageTime(row: Locator, clock: string | RegExp, full: string | RegExp): Promise<void> {
  const time = row.locator('time');
  await expect(time.getByText(clock, { exact: true })).toBeVisible();
  await expect(time).toHaveAttribute('title', full);
  // A screen reader reads the same full date in the row (where the eye reads the clock time).
  expect(await row.ariaSnapshot()).toContain(await time.getAttribute('title'));
}

/** Starts a conversation by username (contacts:add). */
export async function startConversation(page: Page, username: string): Promise<void> {
  await page.getByRole('button', { name: 'New conversation' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Start conversation' }).click();
  await expect(page.getByRole('heading', { name: username, level: 2 })).toBeVisible({ timeout: 20_000 });
}

/**
 * Alice and Bob with accounts on the test's relay (not contacts yet). `a` and `b` are their
 * usernames (the test's profile names with "_" for "-").
 */
export async function accountPair(
  parley: Parley,
  options: { alice?: OpenOptions; bob?: OpenOptions } = {},
): Promise<{ alice: ProfileApp; bob: ProfileApp; a: string; b: string }> {
  const alice = await parley.open(parley.name('alice'), options.alice);
  const bob = await parley.open(parley.name('bob'), options.bob);
  const a = parley.name('alice').replace(/-/g, '_');
  const b = parley.name('bob').replace(/-/g, '_');
  await createAccount(alice.page, a);
  await createAccount(bob.page, b);
  return { alice, bob, a, b };
}

/**
 * accountPair, then both add each other by username (mutual contacts: presence and typing flow);
 * Alice ends up in her conversation with Bob.
 */
export async function connectedPair(
  parley: Parley,
  options: { alice?: OpenOptions; bob?: OpenOptions } = {},
): Promise<{ alice: ProfileApp; bob: ProfileApp; a: string; b: string }> {
  const pair = await accountPair(parley, options);
  await startConversation(pair.bob.page, pair.a);
  await startConversation(pair.alice.page, pair.b);
  return pair;
}

export async function send(page: Page, title: string, text: string): Promise<void> {
  await composer(page, title).fill(text);
  await composer(page, title).press('Enter');
}

/** A screenshot of a main screen, kept under test-results/screens/. */
export async function screen(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS_DIR, `${name}.png`) });
}

/** No serious or critical axe violation on what the page shows now. */
export async function expectAccessible(page: Page): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`)).toEqual([]);
}
