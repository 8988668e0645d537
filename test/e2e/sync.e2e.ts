/**
 * Sync between one's own devices as a person sees it (issue 14, ADR 0026): three browser hosts —
 * Alice on two profiles (the second linked by pasted text), Bob — on one real relay. A message
 * Bob sends shows unread on both of Alice's devices until she reads it on one; a message Alice sends
 * from her second device shows on the first as sent by her, then Delivered, then Read once Bob
 * reads it, with the per-device status in Info. A setting and the display name changed on one
 * device show in the other's Settings without a reload.
 */
import type { Page } from '@playwright/test';
import { conversationButton, expect, messageLog, messageStatus, openConversation, send, test } from './app.js';
import { linkSecondDevice, pair } from './link-device.js';

function bubble(page: Page, peer: string, text: string) {
  return messageLog(page, peer).getByRole('listitem').filter({ hasText: text });
}

test("alice sends from device 2 and sees it on device 1 as sent, delivered, then read; reading on one device clears unread on the other", async ({ parley }) => {
  const { alice, bob, a, b } = await pair(parley);
  // Alice's first device ends in Settings (not reading Bob's conversation); so does Bob.
  const laptop = await linkSecondDevice(parley, alice, 'alice2', "Alice's laptop");
  await bob.page.getByRole('button', { name: 'Settings' }).click();
  await expect(conversationButton(laptop.page, b)).toBeVisible();

  // Bob writes: unread on both of Alice's devices; reading it on the laptop clears it on the first.
  await openConversation(bob.page, a);
  await send(bob.page, a, 'Are you there?');
  await bob.page.getByRole('button', { name: 'Settings' }).click();
  await expect(conversationButton(alice.page, b)).toContainText('1 unread', { timeout: 20_000 });
  await expect(conversationButton(laptop.page, b)).toContainText('1 unread', { timeout: 20_000 });
  await openConversation(laptop.page, b);
  await expect(messageLog(laptop.page, b).getByText('Are you there?')).toBeVisible();
  await expect(conversationButton(laptop.page, b)).not.toContainText(/\d+ unread/);
  await expect(conversationButton(alice.page, b)).not.toContainText(/\d+ unread/, { timeout: 20_000 });

  // Alice answers from the laptop: the first device shows it as hers, delivered (Bob is in Settings)…
  await send(laptop.page, b, 'Sent from the laptop');
  await openConversation(alice.page, b);
  const copy = bubble(alice.page, b, 'Sent from the laptop');
  await expect(copy).toBeVisible({ timeout: 20_000 });
  await expect(messageStatus(copy)).toHaveAccessibleName('Delivered', { timeout: 20_000 });
  // …and read once Bob opens the conversation.
  await openConversation(bob.page, a);
  await expect(messageLog(bob.page, a).getByText('Sent from the laptop')).toBeVisible();
  await expect(messageStatus(copy)).toHaveAccessibleName('Read', { timeout: 20_000 });
  await expect(messageStatus(bubble(laptop.page, b, 'Sent from the laptop'))).toHaveAccessibleName('Read', { timeout: 20_000 });

  // Info on the first device: sent from device 2, Bob's device read it.
  await copy.getByText('Sent from the laptop').click({ button: 'right' });
  await alice.page.getByRole('menu', { name: 'Message' }).getByRole('menuitem', { name: 'Info' }).click();
  const info = alice.page.getByRole('dialog', { name: 'Message info' });
  const device = info.getByRole('table', { name: 'Status per device' }).getByRole('row', { name: new RegExp(`^${b}’s device 1`) });
  await expect(device.getByRole('cell').first()).toHaveText('Read');
});

test("a setting and the display name changed on one device show in the other's Settings without a reload", async ({ parley }) => {
  const { alice } = await pair(parley);
  // The first device stays in Settings after the link.
  const laptop = await linkSecondDevice(parley, alice, 'alice2', "Alice's laptop");
  await expect(alice.page.getByRole('switch', { name: 'Send read receipts' })).toBeChecked();

  await laptop.page.getByRole('button', { name: 'Settings' }).click();
  await laptop.page.getByRole('switch', { name: 'Send read receipts' }).uncheck();
  await laptop.page.getByLabel('Display name').fill('Alice on the laptop');
  await laptop.page.getByRole('button', { name: 'Save profile' }).click();
  await expect(laptop.page.getByText('Profile saved.').first()).toBeVisible();

  await expect(alice.page.getByRole('switch', { name: 'Send read receipts' })).not.toBeChecked({ timeout: 20_000 });
  await expect(alice.page.getByLabel('Display name')).toHaveValue('Alice on the laptop', { timeout: 20_000 });
});
