/**
 * The browser host's defences, driven from Chromium the way an attacker's page would try them
 * (issue 5 "Security": one test each): a wrong Host header (DNS rebinding), a foreign Origin, a
 * missing secret, a wrong secret — and the right secret, which connects and leaves the address bar,
 * whether opened directly or through the launch page the host opens (issue 10, item 8).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures.js';
import { launchBrowserHost, type BrowserHostProcess } from './helpers/browser-host.js';
import { CHROMIUM_ARGS } from './helpers/chromium.js';

let host: BrowserHostProcess;

test.beforeAll(async () => {
  host = await launchBrowserHost({ profile: 'e2e-security' });
});
test.afterAll(async () => {
  await host.stop();
});

/** What a page learns when it opens the host's socket and sends `firstFrame` on open. */
async function trySocket(page: Page, wsUrl: string, firstFrame: string | null) {
  return page.evaluate(
    ({ wsUrl, firstFrame }) =>
      new Promise<{ ready: boolean; code: number }>((resolve) => {
        const ws = new WebSocket(wsUrl);
        let ready = false;
        ws.onopen = () => firstFrame !== null && ws.send(firstFrame);
        ws.onmessage = (e) => {
          if (String(e.data).includes('"type":"ready"')) ready = true;
        };
        ws.onclose = (e) => resolve({ ready, code: e.code });
        setTimeout(() => resolve({ ready, code: -1 }), 8_000);
      }),
    { wsUrl, firstFrame },
  );
}

const hello = (secret: string) => JSON.stringify({ type: 'hello', secret });

test('a wrong Host header is refused (a DNS-rebinding page gets nothing)', async ({ playwright, launchOptions }) => {
  // rebind.parley.test resolves to 127.0.0.1, as an attacker's domain would after rebinding.
  const browser = await playwright.chromium.launch({
    ...launchOptions,
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP rebind.parley.test 127.0.0.1'],
  });
  try {
    const page = await browser.newPage();
    const response = await page.goto(`http://rebind.parley.test:${host.port}/`);
    expect(response?.status()).toBe(421);
    await expect(page.getByRole('heading', { name: 'Parley' })).toHaveCount(0);
    // Its own-origin socket to the same port is refused at the upgrade, even with the secret.
    const socket = await trySocket(page, `ws://rebind.parley.test:${host.port}/ws`, hello(host.secret));
    expect(socket).toEqual({ ready: false, code: 1006 });
    expect(host.log).toContain('[browser-host] refused http: wrong Host header');
    expect(host.log).toContain('[browser-host] refused upgrade: wrong Host header');
  } finally {
    await browser.close();
  }
});

test('a foreign Origin is refused, even with the right secret', async ({ blankPage: page }) => {
  // Another local web app: same host, another port, so another origin. Host is right; Origin is not.
  const other: Server = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>other app</title>'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  try {
    await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
    const socket = await trySocket(page, `ws://127.0.0.1:${host.port}/ws`, hello(host.secret));
    expect(socket).toEqual({ ready: false, code: 1006 });
    expect(host.log).toContain('[browser-host] refused upgrade: foreign or missing Origin');
  } finally {
    other.close();
  }
});

test('a missing secret is refused', async ({ blankPage: page }) => {
  // A person who opens the address without its fragment is told what to do…
  await page.goto(host.origin);
  await expect(page.getByRole('status')).toHaveText(/This address has no access key/);
  // …and a same-origin socket whose first frame has no secret is closed with 4401.
  const wsUrl = `ws://127.0.0.1:${host.port}/ws`;
  expect(await trySocket(page, wsUrl, JSON.stringify({ type: 'request', id: 1, channel: 'app:getState', request: {} }))).toEqual({ ready: false, code: 4401 });
  expect(await trySocket(page, wsUrl, JSON.stringify({ type: 'hello' }))).toEqual({ ready: false, code: 4401 });
});

test('a wrong secret is refused', async ({ blankPage: page }) => {
  const wrong = host.secret.startsWith('A') ? `B${host.secret.slice(1)}` : `A${host.secret.slice(1)}`;
  await page.goto(`${host.origin}/#k=${wrong}`);
  await expect(page.getByRole('status')).toHaveText(/Parley refused this access key/);
  expect(await trySocket(page, `ws://127.0.0.1:${host.port}/ws`, hello(wrong))).toEqual({ ready: false, code: 4401 });
  expect(host.log).toContain('[browser-host] closed socket: wrong or missing secret');
});

test('the right secret connects, leaves the address bar and survives a reload', async ({ blankPage: page }) => {
  await page.goto(host.url);
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  // The fragment (the secret) is gone; what remains is the address without it (and the relay hint).
  expect(page.url()).toBe(host.url.split('#')[0]);
  expect(page.url()).not.toContain(host.secret);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
});

test('the launch page the host opens leads to the app, and the key leaves the address bar', async ({ blankPage: page }) => {
  // What `npm run start:browser` hands the OS opener: a file path; the key is inside the 0600 page.
  await page.goto(pathToFileURL(host.launchFile).href);
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  expect(page.url()).toBe(host.url.split('#')[0]);
  expect(page.url()).not.toContain(host.secret);
});

test('a stopped host shows as not running', async ({ shell }) => {
  test.skip(shell.host === null, 'needs its own browser host');
  await expect(shell.page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  await shell.host!.stop();
  await expect(shell.page.getByRole('status')).toHaveText(/Parley is not running/);
});
