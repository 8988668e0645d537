/**
 * Message requests and blocking as people meet them (issue 12): a stranger's first message lands
 * under "Message requests" with their display name, username and safety number and Accept, Delete
 * and Block; nothing is sent back (the sender's message stays "Sent") until Accept, after which it
 * is "Read" and the conversation joins the list. Block removes a request and lists the person in
 * Settings with Unblock. Driven by roles and labels, with axe checks.
 */
import {
  composer,
  conversationButton,
  createAccount,
  expect,
  expectAccessible,
  messageLog,
  messageStatus,
  screen,
  send,
  startConversation,
  test,
} from './app.js';

test('a stranger’s message is a request: who it is, no receipts until Accept, then a conversation', async ({ parley }) => {
  const alice = await parley.open(parley.name('alice'));
  const bob = await parley.open(parley.name('bob'));
  const a = parley.name('alice').replace(/-/g, '_');
  const b = parley.name('bob').replace(/-/g, '_');
  await createAccount(alice.page, a, { displayName: 'Alice Liddell' });
  await createAccount(bob.page, b);

  await startConversation(alice.page, b);
  await send(alice.page, b, 'Hello Bob, we met at the conference');

  const requests = bob.page.getByRole('navigation', { name: 'Message requests' });
  await expect(requests.getByRole('button', { name: /Alice Liddell/ })).toBeVisible({ timeout: 20_000 });
  await expect(conversationButton(bob.page, 'Alice Liddell')).toHaveCount(0);
  await requests.getByRole('button', { name: /Alice Liddell/ }).click();
  const banner = bob.page.getByRole('region', { name: 'Message request' });
  await expect(banner).toContainText('Alice Liddell');
  await expect(banner).toContainText(a);
  await expect(banner.getByLabel(/^Safety number( \d{5}){12}$/)).toBeVisible();
  await expect(composer(bob.page, 'Alice Liddell')).toBeDisabled();
  await expect(messageLog(bob.page, 'Alice Liddell').getByText('Hello Bob, we met at the conference')).toBeVisible();
  await expectAccessible(bob.page);
  await screen(bob.page, 'message-request');

  // Bob has read it, but Alice is told nothing while it is a request.
  const row = messageLog(alice.page, b).getByRole('listitem').filter({ hasText: 'we met at the conference' });
  await expect(messageStatus(row)).toHaveAccessibleName('Sent');

  await banner.getByRole('button', { name: 'Accept' }).click();
  await expect(conversationButton(bob.page, 'Alice Liddell')).toBeVisible();
  await expect(requests).toHaveCount(0);
  await expect(composer(bob.page, 'Alice Liddell')).toBeEnabled();
  await expect(messageStatus(row)).toHaveAccessibleName('Read', { timeout: 20_000 });
  await send(bob.page, 'Alice Liddell', 'Nice to hear from you');
  await expect(messageLog(alice.page, b).getByText('Nice to hear from you')).toBeVisible({ timeout: 20_000 });
});

test('blocking a request removes it; Settings lists the person with Unblock', async ({ parley }) => {
  const bob = await parley.open(parley.name('bob'));
  const mallory = await parley.open(parley.name('mallory'));
  const b = parley.name('bob').replace(/-/g, '_');
  const m = parley.name('mallory').replace(/-/g, '_');
  await createAccount(bob.page, b);
  await createAccount(mallory.page, m, { displayName: 'Mallory' });
  await startConversation(mallory.page, b);
  await send(mallory.page, b, 'Buy my stuff');

  const requests = bob.page.getByRole('navigation', { name: 'Message requests' });
  await requests.getByRole('button', { name: /Mallory/ }).click();
  await bob.page.getByRole('region', { name: 'Message request' }).getByRole('button', { name: 'Block' }).click();
  await expect(requests).toHaveCount(0);
  await expect(bob.page.getByRole('status').filter({ hasText: 'Mallory is blocked.' })).toBeAttached();

  await bob.page.getByRole('button', { name: 'Settings' }).click();
  const blocked = bob.page.getByRole('list', { name: 'Blocked people' });
  await expect(blocked.getByRole('listitem')).toHaveText([/Mallory/]);
  await expectAccessible(bob.page);
  await blocked.getByRole('button', { name: 'Unblock Mallory' }).click();
  await expect(bob.page.getByText('You have not blocked anyone.')).toBeVisible();
});

test('deleting a request removes it and its messages', async ({ parley }) => {
  const bob = await parley.open(parley.name('bob'));
  const carol = await parley.open(parley.name('carol'));
  const b = parley.name('bob').replace(/-/g, '_');
  const c = parley.name('carol').replace(/-/g, '_');
  await createAccount(bob.page, b);
  await createAccount(carol.page, c, { displayName: 'Carol' });
  await startConversation(carol.page, b);
  await send(carol.page, b, 'Wrong number, sorry');
  const requests = bob.page.getByRole('navigation', { name: 'Message requests' });
  await requests.getByRole('button', { name: /Carol/ }).click();
  await bob.page.getByRole('region', { name: 'Message request' }).getByRole('button', { name: 'Delete' }).click();
  await expect(requests).toHaveCount(0);
  await expect(bob.page.getByText('No conversations yet')).toBeVisible();
});
