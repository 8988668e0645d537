/**
 * Message history on a newly linked device, as a person does it (issue 14, ADR 0028): Alice and Bob
 * have talked; Alice links her second profile in Settings → Linked devices with "Last 30 days"
 * chosen. Both devices show the transfer's progress in a "Message history transfer" region and how
 * it ended; the new device then shows the earlier conversation with Bob — her message as sent by
 * her, his as received. With "None" no transfer appears and the new device starts empty.
 */
import type { Page } from '@playwright/test';
import { conversationButton, expect, expectAccessible, messageLog, openConversation, send, test } from './app.js';
import { acceptOnNewDevice, openLinkDialog, pair, showLink } from './link-device.js';

/** Links `second` to the account open on `primary` by pasted link text, with `history` chosen on the primary. */
async function link(primary: Page, second: Page, history: 'None' | 'Last 30 days' | 'Everything'): Promise<void> {
  const { text } = await showLink(second);
  await openLinkDialog(primary);
  const choice = primary.getByRole('group', { name: 'Message history for the new device' });
  await expect(choice.getByRole('radio', { name: 'None' })).toBeChecked();
  await expectAccessible(primary);
  await choice.getByRole('radio', { name: history }).check();
  await primary.getByLabel('Link text from the new device').fill(text);
  await primary.getByRole('button', { name: 'Link device' }).click();
  await expect(second.getByRole('heading', { name: 'Account safety number' })).toBeVisible({ timeout: 20_000 });
  await acceptOnNewDevice(second, "Alice's laptop");
}

const region = (page: Page) => page.getByRole('region', { name: 'Message history transfer' });

test('link with the last 30 days: progress and the outcome on both devices, then the earlier conversation on the new one', async ({ parley }) => {
  const { alice, bob, a, b } = await pair(parley);
  await openConversation(alice.page, b);
  await send(alice.page, b, 'Lunch on Friday?');
  await openConversation(bob.page, a);
  await expect(messageLog(bob.page, a).getByText('Lunch on Friday?')).toBeVisible({ timeout: 20_000 });
  await send(bob.page, a, 'Yes, at noon');
  await expect(messageLog(alice.page, b).getByText('Yes, at noon')).toBeVisible({ timeout: 20_000 });

  const second = await parley.open(parley.name('alice2'));
  await link(alice.page, second.page, 'Last 30 days');

  // Progress and outcome on the primary…
  await expect(region(alice.page).getByRole('heading', { name: 'Sending message history (last 30 days) to the new device' })).toBeVisible({ timeout: 20_000 });
  await expect(region(alice.page).getByRole('status')).toHaveText('Done: the new device added 2 messages.', { timeout: 30_000 });
  // … and on the new device.
  await expect(region(second.page).getByRole('heading', { name: 'Receiving message history (last 30 days) from your primary device' })).toBeVisible({ timeout: 20_000 });
  await expect(region(second.page).getByRole('status')).toHaveText('Done: 2 messages added.', { timeout: 30_000 });
  await expectAccessible(second.page);
  await expectAccessible(alice.page);
  await region(second.page).getByRole('button', { name: 'Dismiss' }).click();
  await expect(region(second.page)).toHaveCount(0);

  // The earlier conversation, in order, with its directions.
  await expect(conversationButton(second.page, b)).toBeVisible();
  await openConversation(second.page, b);
  const log = messageLog(second.page, b);
  await expect(log.getByText('Lunch on Friday?')).toBeVisible();
  await expect(log.getByText('Yes, at noon')).toBeVisible();
});

test('link with no history: no transfer on either device, and the new device starts without the earlier messages', async ({ parley }) => {
  const { alice, bob, a, b } = await pair(parley);
  await openConversation(alice.page, b);
  await send(alice.page, b, 'Before the link');
  await openConversation(bob.page, a);
  await expect(messageLog(bob.page, a).getByText('Before the link')).toBeVisible({ timeout: 20_000 });

  const second = await parley.open(parley.name('alice2'));
  await link(alice.page, second.page, 'None');
  await send(bob.page, a, 'After the link');
  await openConversation(second.page, b);
  await expect(messageLog(second.page, b).getByText('After the link')).toBeVisible({ timeout: 20_000 });
  await expect(messageLog(second.page, b).getByText('Before the link')).toHaveCount(0);
  await expect(region(second.page)).toHaveCount(0);
  await expect(region(alice.page)).toHaveCount(0);
});
