/**
 * The chat screen over history the engine already holds: rows written with the engine's own DB
 * layer before the host starts (bench/ui/seed.ts), so these specs run without the messaging half of
 * the engine. The renderer's clock is fixed with Playwright's clock and the zone with the context.
 *
 * Covered: timestamps and day separators (en-US, New York), display order whatever order rows were
 * stored in (and a sender clock ahead of the receiver clamped to the receive time), statuses under
 * outgoing bubbles with Retry on failure, HTML payloads shown as typed, ≤ 200 rows in the DOM while
 * scrolling a long history, read marking only while the window is visible, the key-change banner,
 * verification on both sides.
 */
import type { Page } from '@playwright/test';
import type { SeedMessage } from '../../bench/ui/seed.js';
import { syntheticHistory } from '../../bench/ui/seed.js';
import {
  composer,
  conversationButton,
  expect,
  expectAccessible,
  expectMessageTime,
  messageLog,
  messageStatus,
  openConversation,
  ready,
  screen,
  test,
} from './app.js';
import { scanQr } from './helpers/qr.js';

const NY = { locale: 'en-US', timezoneId: 'America/New_York' } as const;
/** Fri 2025-06-20 14:34 in New York. */
const T = Date.UTC(2025, 5, 20, 18, 34);
const MIN = 60_000;

async function fixClock(page: Page, at: number): Promise<void> {
  await page.clock.setFixedTime(at);
  await page.reload();
  await ready(page);
}

/** The log's rows as a person reads them: separators by label, messages by their text. */
async function rowsOf(page: Page, title: string): Promise<string[]> {
  return messageLog(page, title)
    .getByRole('listitem')
    .evaluateAll((items) =>
      items.map((li) => {
        const sep = li.querySelector('[role="separator"]');
        return sep ? `— ${sep.getAttribute('aria-label')} —` : (li.querySelector('p')?.textContent ?? '');
      }),
    );
}

test('timestamps and day separators follow the clock, in display order whatever the stored order', async ({ parley }) => {
  const alice = parley.name('alice');
  const bob = parley.name('bob');
  const messages: SeedMessage[] = [
    // Stored out of order on purpose: the list shows them by display time.
    { direction: 'incoming', body: 'twelve minutes ago', sentAt: T - 12 * MIN - 5_000 },
    { direction: 'outgoing', body: 'last year', sentAt: Date.UTC(2024, 0, 15, 19, 34) },
    { direction: 'incoming', body: 'just now', sentAt: T - 10_000, receivedAt: T - 9_000 },
    { direction: 'incoming', body: 'earlier this year', sentAt: Date.UTC(2025, 0, 15, 19, 34) },
    // The sender's clock ran an hour ahead: shown at the time it arrived.
    { direction: 'incoming', body: 'from a fast clock', sentAt: T + 60 * MIN, receivedAt: T - 5 * MIN },
    { direction: 'outgoing', body: 'yesterday afternoon', sentAt: Date.UTC(2025, 5, 19, 18, 34) },
    { direction: 'outgoing', body: 'two hours ago', sentAt: T - 120 * MIN },
  ];
  await parley.seed({ a: { profile: alice, username: 'alice' }, b: { profile: bob, username: 'bob' }, messages });
  const { page } = await parley.open(alice, { context: NY });
  await fixClock(page, T);
  await openConversation(page, 'bob');
  const log = messageLog(page, 'bob');
  await expect(log.getByText('just now')).toBeVisible();
  expect(await rowsOf(page, 'bob')).toEqual([
    '— Monday, January 15, 2024 —',
    'last year',
    '— Wednesday, January 15 —',
    'earlier this year',
    '— Yesterday —',
    'yesterday afternoon',
    '— Today —',
    'two hours ago',
    'twelve minutes ago',
    'from a fast clock',
    'just now',
  ]);
  // Clock times (the separators above say which day), the full date on hover and for screen readers.
  const rowOf = (body: string) => log.getByRole('listitem').filter({ hasText: body });
  await expectMessageTime(rowOf('last year'), '2:34 PM', 'Monday, January 15, 2024 at 2:34 PM');
  await expectMessageTime(rowOf('earlier this year'), '2:34 PM', 'Wednesday, January 15, 2025 at 2:34 PM');
  await expectMessageTime(rowOf('yesterday afternoon'), '2:34 PM', 'Thursday, June 19, 2025 at 2:34 PM');
  await expectMessageTime(rowOf('two hours ago'), '12:34 PM', 'Friday, June 20, 2025 at 12:34 PM');
  await expectMessageTime(rowOf('twelve minutes ago'), '2:21 PM', 'Friday, June 20, 2025 at 2:21 PM');
  await expectMessageTime(rowOf('from a fast clock'), '2:29 PM', 'Friday, June 20, 2025 at 2:29 PM');
  await expectMessageTime(rowOf('just now'), '2:33 PM', 'Friday, June 20, 2025 at 2:33 PM');
  await expect(log.getByText(/^now$|min\. ago/)).toHaveCount(0);
  // The list shows the newest message's preview and time.
  await expect(conversationButton(page, 'bob')).toContainText('just now');
  await expect(conversationButton(page, 'bob').locator('time')).toHaveText('2:33 PM');
  await expect(conversationButton(page, 'bob').locator('time')).toHaveAttribute('title', 'Friday, June 20, 2025 at 2:33 PM');
  await expectAccessible(page);
  await screen(page, 'chat');

  // A day later the same messages read differently.
  await fixClock(page, T + 24 * 60 * MIN);
  await openConversation(page, 'bob');
  await expectMessageTime(rowOf('two hours ago'), '12:34 PM', 'Friday, June 20, 2025 at 12:34 PM');
  await expect(log.getByRole('separator', { name: 'Yesterday' })).toBeVisible();
  await expect(conversationButton(page, 'bob').locator('time')).toHaveText('Yesterday');
  await expect(log.getByRole('separator', { name: 'Thursday, June 19' })).toBeAttached();
});

test('statuses under outgoing bubbles, with Retry on a failed one', async ({ parley }) => {
  const alice = parley.name('alice');
  const now = Date.now();
  const messages: SeedMessage[] = [
    { direction: 'outgoing', body: 'was read', sentAt: now - 5 * MIN, status: 'read' },
    { direction: 'outgoing', body: 'was delivered', sentAt: now - 4 * MIN, status: 'delivered' },
    { direction: 'outgoing', body: 'was sent', sentAt: now - 3 * MIN, status: 'sent' },
    { direction: 'outgoing', body: 'is sending', sentAt: now - 2 * MIN, status: 'sending' },
    { direction: 'outgoing', body: 'did fail', sentAt: now - MIN, status: 'failed' },
  ];
  await parley.seed({ a: { profile: alice, username: 'alice' }, b: { profile: parley.name('bob'), username: 'bob' }, messages });
  const { page } = await parley.open(alice);
  await ready(page);
  await openConversation(page, 'bob');
  const row = (body: string) => messageLog(page, 'bob').getByRole('listitem').filter({ hasText: body });
  // Ticks, named for screen readers and in their tooltip: ✓ sent, ✓✓ delivered, ✓✓ read (coloured).
  for (const [body, name] of [
    ['was read', 'Read'],
    ['was delivered', 'Delivered'],
    ['was sent', 'Sent'],
    ['is sending', 'Sending'],
    ['did fail', 'Not sent'],
  ] as const) {
    await expect(messageStatus(row(body))).toHaveAccessibleName(name);
    await expect(messageStatus(row(body))).toHaveAttribute('title', name);
  }
  await expect(row('did fail')).toContainText('Not sent'); // in words, not only an icon
  const tickColour = (body: string) => messageStatus(row(body)).evaluate((el) => getComputedStyle(el).color);
  expect(await tickColour('was read')).not.toBe(await tickColour('was delivered'));
  // The list shows the last message's ticks too.
  await expect(messageStatus(conversationButton(page, 'bob'))).toHaveAccessibleName('Not sent');
  await expect(row('did fail').getByRole('button', { name: /^Retry sending/ })).toBeVisible();
  await expect(row('was sent').getByRole('button', { name: /^Retry/ })).toHaveCount(0);
});

test('HTML and script payloads display as typed and never run', async ({ parley }) => {
  const alice = parley.name('alice');
  const payloads = [
    '<img src=x onerror="window.__pwned = 1">',
    '<script>window.__pwned2 = 1</script>',
    '<b>not bold</b> & <a href="javascript:alert(1)">link</a>',
  ];
  const now = Date.now();
  await parley.seed({
    a: { profile: alice, username: 'alice' },
    b: { profile: parley.name('bob'), username: 'bob' },
    messages: payloads.map((body, i) => ({ direction: 'incoming' as const, body, sentAt: now - (3 - i) * 1000 })),
  });
  const { page } = await parley.open(alice);
  await ready(page);
  await expect(conversationButton(page, 'bob')).toContainText('<b>not bold</b>');
  await openConversation(page, 'bob');
  const log = messageLog(page, 'bob');
  for (const text of payloads) await expect(log.getByText(text, { exact: true })).toBeVisible();
  await expect(log.getByRole('img')).toHaveCount(0);
  await expect(log.getByRole('link')).toHaveCount(0);
  await expect(log.locator('b, script, img')).toHaveCount(0);
  expect(await page.evaluate(() => [(window as unknown as Record<string, unknown>).__pwned, (window as unknown as Record<string, unknown>).__pwned2])).toEqual([
    undefined,
    undefined,
  ]);
});

test('a long history keeps at most 200 message rows in the DOM while scrolling to its start', async ({ parley }) => {
  const alice = parley.name('alice');
  let seed = 7;
  const rng = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const history = syntheticHistory(1_500, Date.now() - MIN, rng);
  await parley.seed({ a: { profile: alice, username: 'alice' }, b: { profile: parley.name('bob'), username: 'bob' }, messages: history });
  const { page } = await parley.open(alice);
  await ready(page);
  await openConversation(page, 'bob');
  const log = messageLog(page, 'bob');
  const rows = log.getByRole('listitem');
  await expect(rows.last()).toContainText(history.at(-1)!.body);
  let max = 0;
  const beginning = page.getByText('This is the beginning of your conversation with bob.');
  for (let i = 0; i < 400 && !(await beginning.isVisible()); i++) {
    await log.hover();
    await page.mouse.wheel(0, -4_000);
    await page.waitForTimeout(30);
    max = Math.max(max, await rows.count());
  }
  await expect(beginning).toBeVisible();
  await expect(rows.nth(1)).toContainText(history[0]!.body);
  expect(max).toBeGreaterThan(50);
  expect(max).toBeLessThanOrEqual(200);
  await page.getByRole('button', { name: 'Jump to the latest messages' }).click();
  await expect(rows.last()).toContainText(history.at(-1)!.body);
  expect(await rows.count()).toBeLessThanOrEqual(200);
});

test('messages are read only while the window is visible, and the unread count follows', async ({ parley }) => {
  const alice = parley.name('alice');
  const now = Date.now();
  await parley.seed({
    a: { profile: alice, username: 'alice' },
    b: { profile: parley.name('bob'), username: 'bob' },
    messages: [1, 2, 3].map((i) => ({ direction: 'incoming' as const, body: `unread ${i}`, sentAt: now - (4 - i) * MIN, read: false })),
  });
  const { page } = await parley.open(alice);
  await ready(page);
  await expect(conversationButton(page, 'bob')).toContainText('3 unread');
  const setVisibility = (state: 'visible' | 'hidden') =>
    page.evaluate((s) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
  await setVisibility('hidden');
  await openConversation(page, 'bob');
  await expect(messageLog(page, 'bob').getByText('unread 3')).toBeVisible();
  // Ordering barrier: the renderer asks to mark read as soon as the messages are shown, or not at
  // all; a search sent after that is answered after it, and its results come after the unread
  // count's update on the same channel.
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('searchbox', { name: 'Search messages' }).fill('unread');
  await expect(page.getByRole('region', { name: 'Search messages' }).getByText(/unread 2/)).toBeVisible();
  await expect(conversationButton(page, 'bob')).toContainText('3 unread');
  await setVisibility('visible');
  await expect(conversationButton(page, 'bob')).not.toContainText(/\d+ unread/);
});

test('a changed safety number pauses the composer until Accept', async ({ parley }) => {
  const alice = parley.name('alice');
  await parley.seed({
    a: { profile: alice, username: 'alice' },
    b: { profile: parley.name('bob'), username: 'bob' },
    messages: [{ direction: 'incoming', body: 'hello before the change', sentAt: Date.now() - MIN }],
    keyChangeForA: true,
  });
  const { page } = await parley.open(alice);
  await ready(page);
  await expect(conversationButton(page, 'bob')).toContainText('Safety number changed');
  await openConversation(page, 'bob');
  const banner = page.getByRole('region', { name: 'Safety number changed' });
  await expect(banner).toBeVisible();
  await expect(composer(page, 'bob')).toBeDisabled();
  await expectAccessible(page);
  await screen(page, 'key-change-banner');
  await banner.getByRole('button', { name: 'Accept' }).click();
  await expect(banner).toHaveCount(0);
  await expect(composer(page, 'bob')).toBeEnabled();
});

test('a changed safety number can be settled by verifying it', async ({ parley }) => {
  const alice = parley.name('alice');
  await parley.seed({ a: { profile: alice, username: 'alice' }, b: { profile: parley.name('bob'), username: 'bob' }, keyChangeForA: true });
  const { page } = await parley.open(alice);
  await ready(page);
  await openConversation(page, 'bob');
  await page.getByRole('region', { name: 'Safety number changed' }).getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('button', { name: 'Mark as verified' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'You have verified bob.' })).toBeVisible();
  await page.getByRole('button', { name: 'Back' }).click();
  await expect(page.getByRole('region', { name: 'Safety number changed' })).toHaveCount(0);
  await expect(composer(page, 'bob')).toBeEnabled();
  await expect(page.getByText('✓ Verified')).toBeVisible();
});

test('verification: both people see the same safety number and a QR code, and can mark it verified', async ({ parley }) => {
  const alice = parley.name('alice');
  const bob = parley.name('bob');
  await parley.seed({ a: { profile: alice, username: 'alice' }, b: { profile: bob, username: 'bob' } });
  const a = await parley.open(alice);
  const b = await parley.open(bob);
  await ready(a.page);
  await ready(b.page);
  const verificationOf = async (page: Page, peer: string) => {
    await openConversation(page, peer);
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page.getByRole('heading', { name: `Verify safety number with ${peer}` })).toBeVisible();
    const qr = page.getByRole('img', { name: `QR code of the safety number with ${peer}` });
    await expect(qr).toBeVisible();
    const digits = (await page.getByRole('group', { name: 'Safety number' }).innerText()).replace(/\s+/g, ' ').trim();
    return { digits, scanned: Buffer.from(await scanQr(qr), 'base64url') };
  };
  const seenByAlice = await verificationOf(a.page, 'bob');
  const seenByBob = await verificationOf(b.page, 'alice');
  expect(seenByAlice.digits).toMatch(/^(\d{5} ){11}\d{5}$/);
  expect(seenByBob.digits).toBe(seenByAlice.digits);
  // Each code scans as version ‖ own fingerprint ‖ peer's fingerprint: Bob's camera on Alice's
  // screen finds his own fingerprint where hers names the peer, and the other way round.
  const half = (seenByAlice.scanned.length - 2) / 2;
  expect(seenByAlice.scanned.length).toBe(seenByBob.scanned.length);
  expect(seenByAlice.scanned.subarray(0, 2)).toEqual(seenByBob.scanned.subarray(0, 2));
  expect(seenByAlice.scanned.subarray(2, 2 + half)).toEqual(seenByBob.scanned.subarray(2 + half));
  expect(seenByAlice.scanned.subarray(2 + half)).toEqual(seenByBob.scanned.subarray(2, 2 + half));
  expect(seenByAlice.scanned.subarray(2, 2 + half)).not.toEqual(seenByAlice.scanned.subarray(2 + half));
  await expectAccessible(a.page);
  await screen(a.page, 'verification');

  await a.page.getByRole('button', { name: 'Mark as verified' }).click();
  await expect(a.page.getByRole('button', { name: 'Clear verification' })).toBeVisible();
  await expect(conversationButton(a.page, 'bob')).toContainText('verified');
  await a.page.getByRole('button', { name: 'Back' }).click();
  await expect(a.page.getByText('✓ Verified')).toBeVisible();
});

test('dark theme: the chat and the list keep their contrast', async ({ parley }) => {
  const alice = parley.name('alice');
  const now = Date.now();
  await parley.seed({
    a: { profile: alice, username: 'alice' },
    b: { profile: parley.name('bob'), username: 'bob' },
    messages: [
      { direction: 'incoming', body: 'Good evening', sentAt: now - 3 * MIN, read: false },
      { direction: 'outgoing', body: 'Hi! Dark mode here.', sentAt: now - 2 * MIN, status: 'delivered' },
      { direction: 'incoming', body: 'unread one', sentAt: now - MIN, read: false },
    ],
  });
  const { page } = await parley.open(alice, { context: { colorScheme: 'dark' } });
  await ready(page);
  await expectAccessible(page);
  await openConversation(page, 'bob');
  await expect(messageLog(page, 'bob').getByText('Hi! Dark mode here.')).toBeVisible();
  await expectAccessible(page);
  await screen(page, 'chat-dark');
});
