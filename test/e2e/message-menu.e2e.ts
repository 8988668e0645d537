/**
 * The message context menu's Info and Delete for me (issue 12 "Rough edges"), through two browser
 * hosts and a real relay, driven by roles and labels: Info shows an outgoing message's exact times
 * and its status on the recipient's device (Read, after the other side opened the conversation),
 * and an incoming message's sending device and receive time; Delete for me asks first, removes the
 * message from this device only, and it stays gone after a reload.
 */
import type { Page } from '@playwright/test';
import { connectedPair, expect, expectAccessible, messageLog, messageStatus, openConversation, screen, send, test } from './app.js';

const CONTEXT = { locale: 'en-US', timezoneId: 'America/New_York' };

function bubble(page: Page, peer: string, text: string) {
  return messageLog(page, peer).getByRole('listitem').filter({ hasText: text });
}

/** "Monday, December 7, 2026 at 3:04:05 PM": the exact time, to the second. */
const EXACT = /^[A-Z][a-z]+day, [A-Z][a-z]+ \d{1,2}, \d{4} at \d{1,2}:\d{2}:\d{2}\s[AP]M$/;

test('Info shows exact times and the status per device; Delete for me removes a message from this device only, also after a reload', async ({ parley }) => {
  const { alice, bob, a, b } = await connectedPair(parley, { alice: { context: CONTEXT }, bob: { context: CONTEXT } });
  await send(alice.page, b, 'When did you read this?');
  await send(alice.page, b, 'This one goes away');
  await openConversation(bob.page, a);
  await expect(messageLog(bob.page, a).getByText('This one goes away')).toBeVisible({ timeout: 20_000 });
  const first = bubble(alice.page, b, 'When did you read this?');
  await expect(messageStatus(first)).toHaveAccessibleName('Read', { timeout: 30_000 });

  // Right click → Info on Alice's message.
  await first.getByText('When did you read this?').click({ button: 'right' });
  const menu = alice.page.getByRole('menu', { name: 'Message' });
  // Her own message, sent a moment ago: Delete for everyone too (issue 17).
  await expect(menu.getByRole('menuitem')).toHaveText(['Copy text', 'Info', 'Delete for me', 'Delete for everyone']);
  await menu.getByRole('menuitem', { name: 'Info' }).click();
  const info = alice.page.getByRole('dialog', { name: 'Message info' });
  await expect(info).toBeVisible();
  await expect(info.getByRole('definition').first()).toHaveText(EXACT);
  await expect(info.getByText('Accepted by the relay')).toBeVisible();
  const table = info.getByRole('table', { name: 'Status per device' });
  const device = table.getByRole('row', { name: new RegExp(`^${b}’s device 1`) });
  await expect(device.getByRole('cell')).toHaveText(['Read', EXACT, EXACT, EXACT]);
  await expectAccessible(alice.page);
  await screen(alice.page, 'message-info');
  await info.getByRole('button', { name: 'Close' }).click();
  await expect(info).toHaveCount(0);
  await expect(first).toBeFocused();

  // Bob's side: the sending device and when it arrived.
  await bubble(bob.page, a, 'When did you read this?').getByText('When did you read this?').click({ button: 'right' });
  await bob.page.getByRole('menu', { name: 'Message' }).getByRole('menuitem', { name: 'Info' }).click();
  const theirs = bob.page.getByRole('dialog', { name: 'Message info' });
  await expect(theirs.getByRole('term')).toHaveText(['Sent', 'Received', 'From']);
  await expect(theirs.getByRole('definition')).toHaveText([EXACT, EXACT, `${a}’s device 1`]);
  await bob.page.keyboard.press('Escape');
  await expect(theirs).toHaveCount(0);

  // Keyboard: Shift+F10 on the second message → Delete for me → the confirmation; Cancel keeps it.
  const second = bubble(alice.page, b, 'This one goes away');
  await second.focus();
  await alice.page.keyboard.press('Shift+F10');
  await menu.getByRole('menuitem', { name: 'Delete for me' }).press('Enter');
  const confirm = alice.page.getByRole('alertdialog', { name: 'Delete this message for you?' });
  await expect(confirm).toContainText(`${b} keeps their copy`);
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toHaveCount(0);
  await expect(second).toBeVisible();
  await second.getByText('This one goes away').click({ button: 'right' });
  await menu.getByRole('menuitem', { name: 'Delete for me' }).click();
  await confirm.getByRole('button', { name: 'Delete for me' }).click();
  await expect(second).toHaveCount(0);
  await expect(first).toBeVisible();

  // Still gone after a reload (it left the database, not just the screen); Bob keeps his copy.
  await alice.restart();
  await openConversation(alice.page, b);
  await expect(bubble(alice.page, b, 'When did you read this?')).toBeVisible({ timeout: 20_000 });
  await expect(bubble(alice.page, b, 'This one goes away')).toHaveCount(0);
  await expect(bubble(bob.page, a, 'This one goes away')).toBeVisible();
});
