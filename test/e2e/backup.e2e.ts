/**
 * Backups as a person uses them (issue 18, ADR 0033), two browser hosts on one real relay: Alice
 * reads the plain warning, turns backups on in Settings → Backups, sees her 24 recovery words once,
 * types three of them back, backs up now and sees when and how large; then her "new laptop" (a fresh
 * profile) chooses "Restore from backup" in onboarding, types the words, sees when the backup was
 * made, restores, and has her account and her conversation with Bob. Both screens are axe-checked;
 * after setup, the words are on no screen.
 */
import { expect, expectAccessible, messageLog, openConversation, screen, send, test } from './app.js';
import { pair, PASSPHRASE } from './link-device.js';

test('turn on backups, confirm three words, back up now; a fresh profile restores from the words and has the conversation', async ({ parley }) => {
  test.setTimeout(120_000);
  const { alice, bob, a, b } = await pair(parley);
  await send(alice.page, b, 'Before the laptop was lost');
  await openConversation(bob.page, a);
  await expect(messageLog(bob.page, a).getByText('Before the laptop was lost')).toBeVisible({ timeout: 20_000 });

  const page = alice.page;
  await page.getByRole('button', { name: 'Settings' }).click();
  const backups = page.getByRole('region', { name: 'Backups' });
  await expect(backups.getByText('If you lose every device without a backup, you lose your account')).toBeVisible();
  await backups.getByRole('button', { name: 'Turn on backups' }).click();
  const list = backups.getByRole('list', { name: 'Recovery words' });
  await expect(list.getByRole('listitem')).toHaveCount(24);
  const words = await list.getByRole('listitem').allInnerTexts();
  await expectAccessible(page);
  await screen(page, 'backup-words');
  await backups.getByRole('button', { name: 'I wrote them down' }).click();
  // The words leave the screen; three of them are asked back.
  await expect(backups.getByRole('list', { name: 'Recovery words' })).toHaveCount(0);
  for (const field of await backups.getByLabel(/^Word \d+$/).all()) {
    const position = Number((await field.getAttribute('id'))!.replace('confirm-word-', ''));
    await field.fill(words[position - 1]!);
  }
  await backups.getByRole('button', { name: 'Confirm' }).click();
  await expect(backups.getByText('No backup yet.')).toBeVisible();
  await backups.getByRole('button', { name: 'Back up now' }).click();
  await expect(backups.getByText(/^Last backup: .+, \d+(\.\d)? (KB|MB)\.$/)).toBeVisible({ timeout: 30_000 });
  await expect(page.getByText(words.join(' '))).toHaveCount(0);
  await expectAccessible(page);
  await screen(page, 'backups-on');

  // The new laptop: onboarding → Restore from backup.
  const laptop = await parley.open(parley.name('laptop'));
  const l = laptop.page;
  await expect(l.getByText('If you lose every device without a backup, you lose your account')).toBeVisible();
  await l.getByRole('button', { name: 'Restore from backup' }).click();
  await expect(l.getByRole('heading', { name: 'Restore from backup' })).toBeVisible();
  await l.getByLabel('Recovery words').fill(words.join(' '));
  await l.getByRole('button', { name: 'Find backup' }).click();
  await expect(l.getByText(/^Backup made on /)).toBeVisible({ timeout: 20_000 });
  await expectAccessible(l);
  await screen(l, 'restore-found');
  if (await l.getByLabel('Passphrase for this computer').isVisible()) await l.getByLabel('Passphrase for this computer').fill(PASSPHRASE);
  await l.getByRole('button', { name: 'Restore' }).click();
  await expect(l.getByRole('navigation', { name: 'Conversations' })).toBeVisible({ timeout: 30_000 });
  await openConversation(l, b);
  await expect(messageLog(l, b).getByText('Before the laptop was lost')).toBeVisible();

  // Bob's next message reaches the restored device.
  await send(bob.page, a, 'Welcome back');
  await expect(messageLog(l, b).getByText('Welcome back')).toBeVisible({ timeout: 30_000 });
});
