/**
 * The app shell under both hosts (browser host in Chromium; Electron where a binary exists): the built
 * renderer mounts, reaches the engine through the contract transport, is served with the CSP of
 * electron/host/security.ts, and the CSP blocks script a message could smuggle in.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { CONTENT_SECURITY_POLICY } from '../../electron/host/security.js';
import { expect, test } from './fixtures.js';
import { SCREENS_DIR } from './helpers/paths.js';

test('the renderer mounts and connects to its host', async ({ shell }) => {
  const { page } = shell;
  // Connected: the engine answered, and a new profile starts at onboarding.
  await expect(page.getByRole('heading', { name: 'Create your Parley account', level: 1 })).toBeVisible();
  mkdirSync(SCREENS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS_DIR, `shell-${shell.kind}.png`) });
});

test('every response carries the same CSP as Electron', async ({ shell }) => {
  const { page } = shell;
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  const policies = await page.evaluate(async () => {
    const urls = ['/index.html', ...[...document.querySelectorAll<HTMLScriptElement | HTMLLinkElement>('script[src], link[rel=stylesheet]')].map((e) => ('src' in e ? e.src : e.href))];
    return Promise.all(urls.map(async (url) => (await fetch(url)).headers.get('content-security-policy')));
  });
  expect(policies.length).toBeGreaterThanOrEqual(3);
  for (const policy of policies) expect(policy).toBe(CONTENT_SECURITY_POLICY);
});

test('an injected inline script is blocked by the CSP', async ({ shell }) => {
  const { page } = shell;
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  const outcome = await page.evaluate(async () => {
    const violations: string[] = [];
    document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
    const w = window as unknown as Record<string, unknown>;

    // 1. an inline <script> element, as an HTML payload inserted into the DOM would create
    const script = document.createElement('script');
    script.textContent = 'window.__pwnedByInlineScript = true';
    document.body.append(script);

    // 2. an inline event handler attribute
    const holder = document.createElement('div');
    holder.innerHTML = '<img src="/does-not-exist.png" onerror="window.__pwnedByHandler = true">';
    document.body.append(holder);

    // 3. a javascript: URL. (eval is not tried here: code run through Playwright's evaluate is exempt
    // from the CSP's eval rule by the DevTools protocol, so the check would prove nothing.)
    const link = document.createElement('a');
    link.href = 'javascript:window.__pwnedByUrl = true';
    document.body.append(link);
    link.click();

    // Each attempt ends in a violation report instead of running: wait for all three (or 10 s).
    const deadline = Date.now() + 10_000;
    while (violations.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return {
      ran: ['__pwnedByInlineScript', '__pwnedByHandler', '__pwnedByUrl'].filter((k) => w[k] !== undefined),
      violations,
    };
  });
  expect(outcome.ran).toEqual([]);
  expect(outcome.violations).toContain('script-src-elem inline');
  expect(outcome.violations).toContain('script-src-attr inline');
  expect(outcome.violations.filter((v) => v === 'script-src-elem inline').length).toBe(2); // the <script>, the javascript: URL
  // The app itself is untouched.
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
});

test('the shell has no serious or critical accessibility violation', async ({ shell }) => {
  await expect(shell.page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  const { violations } = await new AxeBuilder({ page: shell.page }).analyze();
  expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help}`)).toEqual([]);
});
