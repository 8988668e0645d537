/**
 * Search (issue 6), the way a person uses it: Ctrl+F (or the toolbar's Search) opens the panel, the
 * person types, sees the results grouped by conversation with the match highlighted, and opens one
 * with the keyboard or the mouse — the conversation opens at that message, far back in its history,
 * with the message scrolled into view, focused and highlighted. Search off in Settings: the panel
 * says so; on again, it finds again. And with two hosts and a real relay, a message that has just
 * arrived is found at once (the engine indexes it in its worker shortly after it is stored).
 *
 * History is seeded with the engine's own DB layer before the hosts start (bench/ui/seed.ts); the
 * hosts' engines index it in the background when they open.
 */
import type { Page } from '@playwright/test';
import type { SeedMessage } from '../../bench/ui/seed.js';
import {
  connectedPair,
  conversationButton,
  expect,
  expectAccessible,
  messageLog,
  ready,
  screen,
  send,
  test,
} from './app.js';

const MIN = 60_000;

/** `count` messages one minute apart ending now, with `special` bodies at the given positions (0 = oldest). */
function history(count: number, special: Readonly<Record<number, string>>): SeedMessage[] {
  const end = Date.now() - MIN;
  return Array.from({ length: count }, (_, i) => ({
    direction: i % 3 === 0 ? ('outgoing' as const) : ('incoming' as const),
    body: special[i] ?? `ordinary message number ${i} about lunch and the weather`,
    sentAt: end - (count - 1 - i) * MIN,
  }));
}

function searchBox(page: Page) {
  return page.getByRole('searchbox', { name: 'Search messages' });
}

function results(page: Page) {
  return page.getByRole('region', { name: 'Search messages' });
}

/** Text the panel shows (not its live region, which says the same for screen readers). */
function shown(page: Page, text: string | RegExp) {
  return results(page).getByRole('paragraph').filter({ hasText: text });
}

test('Ctrl+F, type, see results grouped by conversation with the match highlighted, open one far back in history', async ({ parley }) => {
  const alice = parley.name('alice');
  // Bob: 600 messages; the one to find is the 41st oldest, so it is 560 messages back.
  await parley.seed({
    a: { profile: alice, username: 'alice' },
    b: { profile: parley.name('bob'), username: 'bob' },
    messages: history(600, {
      40: 'The spare key to the Harbour office is under the blue stone',
      598: 'see you at the harbour tonight',
    }),
  });
  await parley.seed({
    a: { profile: alice, username: 'alice' },
    b: { profile: parley.name('carol'), username: 'carol' },
    messages: history(5, { 0: 'Carol’s boat is moored in the old HARBOUR' }),
  });
  const { page } = await parley.open(alice, { context: { locale: 'en-US', timezoneId: 'Europe/Zurich' } });
  await ready(page);

  await page.keyboard.press('Control+f');
  await expect(searchBox(page)).toBeFocused();
  await expect(shown(page, /Find messages on this device/)).toBeVisible();
  await page.keyboard.type('harbor');
  await expect(shown(page, 'No messages found for “harbor”.')).toBeVisible();
  await expect(results(page).getByRole('status')).toHaveText('No messages found for “harbor”.');
  await searchBox(page).fill('');
  await page.keyboard.type('harbour');

  // Grouped by conversation, newest group first; each result shows the match in <mark>.
  const bob = results(page).getByRole('region', { name: 'bob' });
  const carol = results(page).getByRole('region', { name: 'carol' });
  await expect(bob.getByRole('button')).toHaveCount(2);
  await expect(carol.getByRole('button')).toHaveCount(1);
  await expect(results(page).getByRole('heading', { level: 3 })).toHaveText(['bob', 'carol']);
  await expect(bob.getByRole('button').nth(0)).toContainText('see you at the harbour tonight');
  await expect(bob.locator('mark')).toHaveText(['harbour', 'Harbour']);
  await expect(carol.locator('mark')).toHaveText(['HARBOUR']);
  await expect(results(page).getByRole('status')).toHaveText('3 messages found in 2 conversations.');
  await expectAccessible(page);
  await screen(page, 'search');

  // Keyboard: Down into the results, Down again to the older one, Enter opens it.
  await page.keyboard.press('ArrowDown');
  await expect(bob.getByRole('button').nth(0)).toBeFocused();
  await page.keyboard.press('ArrowDown');
  const older = bob.getByRole('button', { name: /blue stone/ });
  await expect(older).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'bob', level: 2 })).toBeVisible();
  const found = messageLog(page, 'bob').getByRole('listitem').filter({ hasText: 'under the blue stone' });
  await expect(found).toBeFocused();
  await expect(found).toBeInViewport();
  await expect(found).toHaveAttribute('aria-current', 'true');
  // Landed in the middle of the history: newer messages load on demand, the newest are not shown.
  await expect(messageLog(page, 'bob').getByRole('button', { name: 'Jump to the latest messages' })).toBeVisible();
  await expect(messageLog(page, 'bob').getByText('see you at the harbour tonight')).toHaveCount(0);
  expect(await messageLog(page, 'bob').getByRole('listitem').count()).toBeLessThanOrEqual(200);
  await expect(older).toHaveAttribute('aria-current', 'true'); // the panel stays, marking what is open
  await expectAccessible(page);
  await screen(page, 'search-result');

  // The mouse: the other conversation's result.
  await carol.getByRole('button', { name: /moored/ }).click();
  await expect(page.getByRole('heading', { name: 'carol', level: 2 })).toBeVisible();
  const moored = messageLog(page, 'carol').getByRole('listitem').filter({ hasText: 'moored in the old HARBOUR' });
  await expect(moored).toBeFocused();
  await expect(moored).toHaveAttribute('aria-current', 'true');

  // And the newest bob result: the chat lands at the end, the message highlighted.
  await bob.getByRole('button', { name: /tonight/ }).click();
  await expect(messageLog(page, 'bob').getByRole('listitem').filter({ hasText: 'see you at the harbour tonight' })).toBeFocused();

  // Escape in the box empties it; again closes the panel and the conversation list is back.
  await searchBox(page).focus();
  await page.keyboard.press('Escape');
  await expect(searchBox(page)).toHaveValue('');
  await page.keyboard.press('Escape');
  await expect(conversationButton(page, 'carol')).toBeVisible();
  // The toolbar button opens it again.
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(searchBox(page)).toBeFocused();
});

test('search off in Settings: the panel says so and offers Settings; on again, it finds again', async ({ parley }) => {
  const alice = parley.name('alice');
  await parley.seed({
    a: { profile: alice, username: 'alice' },
    b: { profile: parley.name('bob'), username: 'bob' },
    messages: history(20, { 7: 'the lighthouse keeper waved' }),
  });
  const { page } = await parley.open(alice);
  await ready(page);
  await page.getByRole('button', { name: 'Settings' }).click();
  const toggle = page.getByRole('switch', { name: 'Search messages on this device' });
  await expect(toggle).toBeChecked();
  await toggle.uncheck();
  await expect(page.getByRole('status').filter({ hasText: 'Settings saved.' })).toBeAttached();

  await page.keyboard.press('Control+f');
  await page.keyboard.type('lighthouse');
  await expect(shown(page, 'Search is turned off.')).toBeVisible();
  await expect(results(page).getByRole('button', { name: /lighthouse/ })).toHaveCount(0);
  await expectAccessible(page);
  await results(page).getByRole('button', { name: 'Open Settings' }).click();
  await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
  await toggle.check();
  // The index is rebuilt in the background; the panel searches again once search is back on.
  await expect(results(page).getByRole('button', { name: /lighthouse keeper/ })).toBeVisible({ timeout: 20_000 });
  await expect(results(page).locator('mark')).toHaveText(['lighthouse']);
  // After a reload the setting is still on and the index complete.
  await page.reload();
  await ready(page);
  await page.keyboard.press('Control+f');
  await page.keyboard.type('keeper');
  await expect(results(page).getByRole('button', { name: /lighthouse keeper/ })).toBeVisible();
});

test('a message that has just arrived through the relay is found at once', async ({ parley }) => {
  const { alice, bob, a, b } = await connectedPair(parley);
  await send(alice.page, b, 'Meet me at Zürich Hauptbahnhof at nine');
  await expect(conversationButton(bob.page, a)).toContainText('Hauptbahnhof', { timeout: 20_000 });
  await bob.page.keyboard.press('Control+f');
  await bob.page.keyboard.type('zurich bahnhof');
  const hit = results(bob.page).getByRole('region', { name: a }).getByRole('button', { name: /Hauptbahnhof/ });
  await expect(hit).toBeVisible();
  await expect(hit.locator('mark')).toHaveText(['Zürich', 'bahnhof']);
  await hit.click();
  await expect(messageLog(bob.page, a).getByRole('listitem').filter({ hasText: 'Hauptbahnhof' })).toBeFocused();
});
