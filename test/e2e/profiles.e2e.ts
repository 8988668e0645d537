/**
 * Profiles as people meet them (issue 12): the display name chosen at onboarding is what the
 * person you write to sees — not "Unknown …" — and a name changed in Settings reaches a contact
 * who already holds the profile key.
 */
import { conversationButton, createAccount, expect, expectAccessible, messageLog, send, startConversation, test } from './app.js';

test('the name chosen at onboarding reaches the person written to, and a changed name follows', async ({ parley }) => {
  const alice = await parley.open(parley.name('alice'));
  const bob = await parley.open(parley.name('bob'));
  const a = parley.name('alice').replace(/-/g, '_');
  const b = parley.name('bob').replace(/-/g, '_');
  await createAccount(alice.page, a, { displayName: 'Alice Liddell' });
  await createAccount(bob.page, b);

  await startConversation(alice.page, b);
  await send(alice.page, b, 'Hello Bob, it is Alice');
  // Bob never added Alice: her message request shows the name she chose.
  const requests = bob.page.getByRole('navigation', { name: 'Message requests' });
  await expect(requests.getByRole('button', { name: /Alice Liddell/ })).toBeVisible({ timeout: 20_000 });

  await alice.page.getByRole('button', { name: 'Settings' }).click();
  await expect(alice.page.getByLabel('Display name')).toHaveValue('Alice Liddell');
  await alice.page.getByLabel('Display name').fill('Alice in Wonderland');
  await alice.page.getByLabel('About').fill('Curiouser and curiouser');
  await alice.page.getByRole('button', { name: 'Save profile' }).click();
  await expect(alice.page.getByText('Profile saved.').first()).toBeVisible();
  await expectAccessible(alice.page);

  await expect(requests.getByRole('button', { name: /Alice in Wonderland/ })).toBeVisible({ timeout: 20_000 });
});

test('an empty or control-character display name is refused with a reason', async ({ parley }) => {
  const alice = await parley.open(parley.name('alice'));
  const a = parley.name('alice').replace(/-/g, '_');
  await createAccount(alice.page, a);
  await alice.page.getByRole('button', { name: 'Settings' }).click();
  await alice.page.getByLabel('Display name').fill('   ');
  await alice.page.getByRole('button', { name: 'Save profile' }).click();
  await expect(alice.page.getByRole('alert')).toHaveText('Enter the name people see when you write to them.');
  await alice.page.getByLabel('Display name').fill('bad\u0007name');
  await alice.page.getByRole('button', { name: 'Save profile' }).click();
  await expect(alice.page.getByRole('alert')).toHaveText(/one line of at most 128 bytes/);
});

test('starting a conversation with one’s own username opens "Note to self"', async ({ parley }) => {
  const alice = await parley.open(parley.name('alice'));
  const a = parley.name('alice').replace(/-/g, '_');
  await createAccount(alice.page, a);
  await alice.page.getByRole('button', { name: 'New conversation' }).click();
  await alice.page.getByLabel('Username').fill(a);
  await alice.page.getByRole('button', { name: 'Start conversation' }).click();
  await expect(alice.page.getByRole('heading', { name: 'Note to self', level: 2 })).toBeVisible();
  await expect(alice.page.getByText('Parley did not accept that input.')).toHaveCount(0);
  await send(alice.page, 'Note to self', 'Buy milk');
  await expect(messageLog(alice.page, 'Note to self').getByText('Buy milk')).toBeVisible();
  await expect(conversationButton(alice.page, 'Note to self')).toBeVisible();
  await expect(alice.page.getByRole('button', { name: 'Verify' })).toHaveCount(0);
  await expectAccessible(alice.page);
});
