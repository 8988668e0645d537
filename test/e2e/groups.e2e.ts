/**
 * Groups as people use them (issue 16, ADR 0032): three browser hosts — Alice, Bob, Carol — on one
 * real relay. Alice makes a group of her two contacts from "New group"; everyone sees it with a
 * system line; messages go both ways with the sender's name on each; Alice removes Carol from the
 * group info panel: Carol's window says she was removed, has no composer, and shows nothing sent
 * afterwards, while Bob keeps receiving. Axe on the group views.
 */
import type { Page } from '@playwright/test';
import { createAccount, expect, expectAccessible, startConversation, test } from './app.js';
import { PASSPHRASE } from './link-device.js';

function groupButton(page: Page, name: string) {
  return page.getByRole('navigation', { name: 'Groups' }).getByRole('button', { name: new RegExp(name) });
}

function groupLog(page: Page, name: string) {
  return page.getByRole('log', { name: `Messages in ${name}` });
}

async function sendToGroup(page: Page, name: string, text: string): Promise<void> {
  await page.getByRole('textbox', { name: `Message ${name}` }).fill(text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
}

test('three people make a group, write to each other, and a removed member sees that she was removed and nothing after', async ({ parley }) => {
  test.setTimeout(180_000);
  const alice = await parley.open(parley.name('alice'));
  const bob = await parley.open(parley.name('bob'));
  const carol = await parley.open(parley.name('carol'));
  const [a, b, c] = ['alice', 'bob', 'carol'].map((n) => parley.name(n).replace(/-/g, '_')) as [string, string, string];
  await createAccount(alice.page, a, { passphrase: PASSPHRASE });
  await createAccount(bob.page, b, { passphrase: PASSPHRASE });
  await createAccount(carol.page, c, { passphrase: PASSPHRASE });
  // Everyone knows everyone (the group's members write to each other's devices).
  await startConversation(bob.page, a);
  await startConversation(carol.page, a);
  await startConversation(bob.page, c);
  await startConversation(carol.page, b);
  await startConversation(alice.page, b);
  await startConversation(alice.page, c);

  // Alice: New group → name, members → Create.
  const trip = 'Weekend trip';
  await alice.page.getByRole('button', { name: 'New group' }).click();
  await alice.page.getByLabel('Group name').fill(trip);
  await alice.page.getByLabel('Description (optional)').fill('Tents and trains');
  await alice.page.getByRole('checkbox', { name: b }).check();
  await alice.page.getByRole('checkbox', { name: c }).check();
  await expectAccessible(alice.page);
  await alice.page.getByRole('button', { name: 'Create group' }).click();
  await expect(alice.page.getByRole('heading', { name: trip, level: 2 })).toBeVisible({ timeout: 20_000 });
  await expect(groupLog(alice.page, trip).getByText(`You created the group “${trip}”`)).toBeVisible();

  // Bob and Carol see the group, with the line that made it.
  for (const p of [bob.page, carol.page]) {
    await groupButton(p, trip).click({ timeout: 30_000 });
    await expect(p.getByRole('heading', { name: trip, level: 2 })).toBeVisible();
    await expect(groupLog(p, trip).getByText(new RegExp(`${a} created the group`))).toBeVisible({ timeout: 20_000 });
  }

  // Messages both ways, each with its sender's name.
  await sendToGroup(alice.page, trip, 'Who brings the tent?');
  for (const p of [bob.page, carol.page]) {
    const row = groupLog(p, trip).getByRole('listitem').filter({ hasText: 'Who brings the tent?' });
    await expect(row).toBeVisible({ timeout: 30_000 });
    await expect(row).toContainText(a);
  }
  await sendToGroup(bob.page, trip, 'I do');
  for (const p of [alice.page, carol.page]) {
    const row = groupLog(p, trip).getByRole('listitem').filter({ hasText: 'I do' });
    await expect(row).toBeVisible({ timeout: 30_000 });
    await expect(row).toContainText(b);
  }
  await expectAccessible(carol.page);

  // Alice removes Carol from the group info panel.
  await alice.page.getByRole('button', { name: 'Group info' }).click();
  const members = alice.page.getByRole('list', { name: 'Members' });
  await expect(members.getByRole('listitem')).toHaveCount(3);
  await expectAccessible(alice.page);
  await alice.page.getByRole('button', { name: `Remove ${c}` }).click();
  await expect(members.getByRole('listitem')).toHaveCount(2);
  await expect(groupLog(alice.page, trip).getByText(`You removed ${c}`)).toBeVisible();

  // Carol's window says so, and she can no longer write.
  await expect(carol.page.getByText('You were removed from this group.')).toBeVisible({ timeout: 30_000 });
  await expect(groupLog(carol.page, trip).getByText(new RegExp(`${a} removed you`))).toBeVisible();
  await expect(carol.page.getByRole('textbox', { name: `Message ${trip}` })).toHaveCount(0);

  // What follows reaches Bob, never Carol.
  await sendToGroup(alice.page, trip, 'Just the two of us now');
  await expect(groupLog(bob.page, trip).getByText('Just the two of us now')).toBeVisible({ timeout: 30_000 });
  await expect(groupLog(bob.page, trip).getByText(new RegExp(`${a} removed ${c}`))).toBeVisible();
  await sendToGroup(bob.page, trip, 'Fine by me');
  await expect(groupLog(alice.page, trip).getByText('Fine by me')).toBeVisible({ timeout: 30_000 });
  await expect(groupLog(carol.page, trip).getByText('Just the two of us now')).toHaveCount(0);
  await expect(groupLog(carol.page, trip).getByText('Fine by me')).toHaveCount(0);
  await expectAccessible(carol.page);
});
