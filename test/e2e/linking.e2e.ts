/**
 * Device linking as a person does it (issue 14, ADR 0025): three browser hosts — Alice on two
 * profiles, Bob — on one real relay. Alice's second profile chooses "Link to an existing account"
 * and shows a QR code, the link text and a short code; Alice's first profile links it in Settings →
 * Linked devices by the pasted text or the typed short code; the new device shows the same account
 * safety number, is named, and is ready without a restart; Bob's next message reaches both of
 * Alice's devices. A wrong short code says so on both devices and links nothing.
 */
import { conversationButton, createAccount, expect, messageLog, openConversation, send, test } from './app.js';
import { acceptOnNewDevice, openLinkDialog, pair, PASSPHRASE, showLink } from './link-device.js';

for (const way of ['text', 'code'] as const) {
  test(`link a second device by ${way === 'text' ? 'pasted link text' : 'short code'}; Bob's message reaches both of Alice's devices`, async ({ parley }) => {
    const { alice, bob, a, b } = await pair(parley);
    const second = await parley.open(parley.name('alice2'));
    const link = await showLink(second.page);

    await openLinkDialog(alice.page);
    if (way === 'text') {
      await alice.page.getByLabel('Link text from the new device').fill(link.text);
    } else {
      await alice.page.getByLabel('Type short code').check();
      await alice.page.getByLabel('Short code from the new device').fill(link.code);
    }
    await alice.page.getByRole('button', { name: 'Link device' }).click();

    // The new device shows the account's safety number: the same digits as the primary's.
    await expect(second.page.getByRole('heading', { name: 'Account safety number' })).toBeVisible({ timeout: 20_000 });
    const onNew = (await second.page.getByLabel('Account safety number').textContent())!.replace(/\s/g, '');
    const onPrimary = (await alice.page.getByLabel('Account safety number').textContent())!.replace(/\s/g, '');
    expect(onNew).toMatch(/^[0-9]{30}$/);
    expect(onNew).toBe(onPrimary);
    await acceptOnNewDevice(second.page, "Alice's laptop");
    await expect(alice.page.getByRole('status').filter({ hasText: 'The new device was linked.' })).toBeVisible();
    await expect(alice.page.getByRole('list', { name: 'Devices of this account' }).getByRole('listitem')).toHaveCount(2);

    // The new device knows Bob already (the account state), and gets his next message, as does the first.
    await expect(conversationButton(second.page, b)).toBeVisible();
    await openConversation(bob.page, a);
    await send(bob.page, a, 'Hello to both of your devices');
    await openConversation(alice.page, b);
    await expect(messageLog(alice.page, b).getByText('Hello to both of your devices')).toBeVisible({ timeout: 20_000 });
    await openConversation(second.page, b);
    await expect(messageLog(second.page, b).getByText('Hello to both of your devices')).toBeVisible({ timeout: 20_000 });
  });
}

test('a wrong short code links nothing and says so on both devices', async ({ parley }) => {
  const alice = await parley.open(parley.name('alice'));
  await createAccount(alice.page, parley.name('alice').replace(/-/g, '_'), { passphrase: PASSPHRASE });
  const second = await parley.open(parley.name('alice2'));
  const link = await showLink(second.page);
  const digits = link.code.replace(/-/g, '');
  const wrong = `${digits.slice(0, 6)}-${String((Number(digits.slice(6)) + 1) % 1e8).padStart(8, '0')}`;

  await openLinkDialog(alice.page);
  await alice.page.getByLabel('Type short code').check();
  await alice.page.getByLabel('Short code from the new device').fill(wrong);
  await alice.page.getByRole('button', { name: 'Link device' }).click();
  await expect(alice.page.getByRole('alert')).toHaveText(/The code did not match/, { timeout: 20_000 });
  await expect(second.page.getByRole('alert')).toHaveText(/The code did not match/, { timeout: 20_000 });
  await expect(alice.page.getByRole('list', { name: 'Devices of this account' }).getByRole('listitem')).toHaveCount(1);
  await expect(second.page.getByRole('button', { name: 'Start again' })).toBeVisible();
});
