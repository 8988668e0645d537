/**
 * Device management as a person does it (issue 14 "Device management", ADR 0027): three browser
 * hosts — Alice on two profiles, Bob — on one real relay. After linking, Alice's primary lists the
 * second device under the name it gave itself, with when it was linked and last active (axe-checked);
 * Alice renames it (both devices show the new name) and removes it in Settings → Linked devices (asked first); the removed device says it was removed
 * and starts over with its data gone; Bob's next message reaches Alice's primary only, and Bob's
 * conversation says Alice's devices changed.
 */
import { expect, expectAccessible, messageLog, openConversation, screen, send, test } from './app.js';
import { linkSecondDevice, pair } from './link-device.js';

test("remove device 2 in Settings → Linked devices: it says it was removed, and Bob's next message never reaches it", async ({ parley }) => {
  // Three profiles, a link and a removal: longer than one screen's default.
  test.setTimeout(120_000);
  const { alice, bob, a, b } = await pair(parley);
  const second = (await linkSecondDevice(parley, alice, 'alice2', "Alice's laptop")).page;

  // The primary shows the name the new device gave itself (it travels between the account's devices).
  const devices = alice.page.getByRole('list', { name: 'Devices of this account' });
  await expect(devices.getByRole('listitem')).toHaveCount(2);
  await alice.page.getByRole('button', { name: 'Done' }).click();
  await expect(devices.getByRole('listitem').filter({ hasText: "Alice's laptop" })).toBeVisible({ timeout: 20_000 });
  await expect(devices.getByRole('listitem').filter({ hasText: "Alice's laptop" })).toContainText(/active (today|yesterday)/);
  await expectAccessible(alice.page);
  await screen(alice.page, 'linked-devices');

  await openConversation(bob.page, a);
  await send(bob.page, a, 'Before the removal');
  await openConversation(second, b);
  await expect(messageLog(second, b).getByText('Before the removal')).toBeVisible({ timeout: 20_000 });

  // Rename it on the primary: the new name shows there and on the device itself.
  await alice.page.getByRole('button', { name: 'Settings' }).click();
  await alice.page.getByRole('button', { name: "Rename Alice's laptop" }).click();
  await alice.page.getByLabel("New name for Alice's laptop").fill('Work laptop');
  await alice.page.getByRole('button', { name: 'Save name' }).click();
  await expect(devices.getByRole('listitem').filter({ hasText: 'Work laptop' })).toBeVisible();
  await second.getByRole('button', { name: 'Settings' }).click();
  await expect(second.getByRole('list', { name: 'Devices of this account' }).getByRole('listitem').filter({ hasText: 'Work laptop' })).toBeVisible({ timeout: 20_000 });

  // Remove, after a question that says what happens.
  await alice.page.getByRole('button', { name: 'Remove Work laptop' }).click();
  const dialog = alice.page.getByRole('alertdialog', { name: 'Remove Work laptop?' });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Remove device' }).click();
  await expect(devices.getByRole('listitem')).toHaveCount(1);

  // The removed device is told, wipes itself and says so.
  await expect(second.getByRole('heading', { name: 'This device was removed from your account' })).toBeVisible({ timeout: 20_000 });
  await expect(second.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  await expectAccessible(second);
  await screen(second, 'device-removed');

  // Bob's next message reaches Alice's primary; the removed device has nothing to show it in.
  await send(bob.page, a, 'After the removal');
  await openConversation(alice.page, b);
  await expect(messageLog(alice.page, b).getByText('After the removal')).toBeVisible({ timeout: 20_000 });
  await expect(second.getByText('After the removal')).toHaveCount(0);
  await expect(second.getByRole('heading', { name: 'This device was removed from your account' })).toBeVisible();
  // Bob's conversation says that Alice's devices changed.
  await expect(messageLog(bob.page, a).getByText(/devices changed/).first()).toBeVisible({ timeout: 20_000 });
});
