/**
 * Disappearing messages and delete for everyone (issue 17), through two browser hosts and a real
 * relay, driven by roles and labels. The engines' clocks are moved with the browser host's test
 * clock file (PARLEY_TEST_CLOCK_FILE, electron/host/engine-host.ts — ignored when packaged): Alice
 * sets a 30-second timer (both sides show the system line), sends, Bob reads it (the timer starts
 * there), both clocks move 35 s on, and the message leaves both windows and both searches. Then
 * Alice deletes a message for everyone and Bob's window shows "This message was deleted".
 */
import type { Page } from '@playwright/test';
import { connectedPair, expect, expectAccessible, messageLog, openConversation, screen, send, test } from './app.js';

const CONTEXT = { locale: 'en-US', timezoneId: 'America/New_York' };

function bubble(page: Page, peer: string, text: string) {
  return messageLog(page, peer).getByRole('listitem').filter({ hasText: text });
}

async function searchFor(page: Page, query: string): Promise<void> {
  await page.keyboard.press('Control+f');
  const box = page.getByRole('searchbox', { name: 'Search messages' });
  await box.fill(query);
}

function searchResults(page: Page) {
  return page.getByRole('region', { name: 'Search messages' });
}

test('a 30-second timer: both sides see it, the message leaves both windows and both searches after it was read; delete for everyone', async ({ parley }) => {
  const { alice, bob, a, b } = await connectedPair(parley, { alice: { context: CONTEXT }, bob: { context: CONTEXT } });
  await openConversation(bob.page, a);

  // Alice picks 30 seconds in the conversation's header.
  await alice.page.getByRole('combobox', { name: 'Disappearing messages' }).selectOption({ label: '30 seconds' });
  await expect(messageLog(alice.page, b).getByText('You set disappearing messages to 30 seconds.')).toBeVisible();
  await expect(messageLog(bob.page, a).getByText(`${a} set disappearing messages to 30 seconds.`)).toBeVisible({ timeout: 20_000 });
  await expect(bob.page.getByRole('combobox', { name: 'Disappearing messages' })).toHaveValue('30');

  await send(alice.page, b, 'the pelican rendezvous');
  const mine = bubble(alice.page, b, 'the pelican rendezvous');
  await expect(mine.getByRole('img', { name: /^Disappears in \d+ seconds$/ })).toBeVisible();
  // Bob's window is open and focused: he reads it, and his timer starts.
  const theirs = bubble(bob.page, a, 'the pelican rendezvous');
  await expect(theirs).toBeVisible({ timeout: 20_000 });
  await expect(theirs.getByRole('img', { name: /^Disappears in \d+ seconds$/ })).toBeVisible({ timeout: 10_000 });
  await expectAccessible(bob.page);
  await screen(bob.page, 'disappearing-timer');

  // Both find it before the time is up.
  await searchFor(bob.page, 'pelican');
  await expect(searchResults(bob.page).getByText('the pelican rendezvous')).toBeVisible();
  await bob.page.keyboard.press('Escape');

  // 35 seconds later on both devices.
  alice.setClockOffset(35_000);
  bob.setClockOffset(35_000);
  await expect(mine).toHaveCount(0, { timeout: 20_000 });
  await expect(theirs).toHaveCount(0, { timeout: 20_000 });
  for (const page of [alice.page, bob.page]) {
    await searchFor(page, 'pelican');
    await expect(searchResults(page).getByText('No messages found for “pelican”.').first()).toBeVisible();
    await page.keyboard.press('Escape');
  }

  // Off again; then Alice deletes a message for everyone.
  await alice.page.getByRole('combobox', { name: 'Disappearing messages' }).selectOption({ label: 'Off' });
  await expect(messageLog(bob.page, a).getByText(`${a} turned off disappearing messages.`)).toBeVisible({ timeout: 20_000 });
  await send(alice.page, b, 'a message to take back');
  await expect(bubble(bob.page, a, 'a message to take back')).toBeVisible({ timeout: 20_000 });
  await bubble(alice.page, b, 'a message to take back').getByText('a message to take back').click({ button: 'right' });
  await alice.page.getByRole('menu', { name: 'Message' }).getByRole('menuitem', { name: 'Delete for everyone' }).click();
  const confirm = alice.page.getByRole('alertdialog', { name: 'Delete this message for everyone?' });
  await confirm.getByRole('button', { name: 'Delete for everyone' }).click();
  await expect(messageLog(alice.page, b).getByText('This message was deleted.')).toBeVisible();
  await expect(messageLog(bob.page, a).getByText('This message was deleted.')).toBeVisible({ timeout: 20_000 });
  await expect(bubble(bob.page, a, 'a message to take back')).toHaveCount(0);
  await expectAccessible(bob.page);
});
