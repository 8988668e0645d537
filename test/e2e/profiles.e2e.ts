/**
 * Profiles as people meet them (issue 12): the display name chosen at onboarding is what the
 * person you write to sees — not "Unknown …" — and a name changed in Settings reaches a contact
 * who already holds the profile key. A profile photo chosen in Settings marks the note to self and
 * reaches the person written to: hidden behind "Show profile photo" while it is a message request, then in the list and the
 * conversation header once accepted (initials before, and again once removed); a file that is not
 * a picture is refused with the reason.
 */
import type { Locator } from '@playwright/test';
import sharp from 'sharp';
import { accountPair, conversationButton, createAccount, expect, expectAccessible, messageLog, screen, send, startConversation, test } from './app.js';

/** The image shows decoded pixels (not a broken image). */
async function expectDecoded(img: Locator): Promise<void> {
  await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
}

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

test('a profile photo chosen in Settings reaches the person written to; removing it brings the initials back', async ({ parley }) => {
  const { alice, bob, a, b } = await accountPair(parley);
  await alice.page.getByRole('button', { name: 'Settings' }).click();
  // Not a picture: refused with the reason, nothing changes.
  await alice.page.getByLabel('Profile photo file').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('just some words, not a picture') });
  await expect(alice.page.getByRole('alert')).toHaveText(/cannot be your profile photo: that file is not a picture/);
  await expect(alice.page.getByRole('img', { name: 'Your profile photo' })).toHaveCount(0);

  const photo = await sharp({ create: { width: 900, height: 600, channels: 3, background: { r: 220, g: 120, b: 30 } } })
    .jpeg()
    .withExifMerge({ IFD0: { Make: 'ParleyCam' } })
    .toBuffer();
  await alice.page.getByLabel('Profile photo file').setInputFiles({ name: 'me.jpg', mimeType: 'image/jpeg', buffer: photo });
  const own = alice.page.getByRole('img', { name: 'Your profile photo' });
  await expect(own).toBeVisible({ timeout: 20_000 });
  await expectDecoded(own);
  await expect(alice.page.getByRole('button', { name: 'Remove photo' })).toBeVisible();
  await expectAccessible(alice.page);

  // Her own photo marks her note to self.
  await alice.page.getByRole('button', { name: 'New conversation' }).click();
  await alice.page.getByLabel('Username').fill(a);
  await alice.page.getByRole('button', { name: 'Start conversation' }).click();
  await expectDecoded(alice.page.getByRole('img', { name: 'Profile photo of Note to self' }));

  await startConversation(alice.page, b);
  await send(alice.page, b, 'Hello Bob, this is my face');

  // A request: the photo of a stranger is not shown until asked for.
  const requests = bob.page.getByRole('navigation', { name: 'Message requests' });
  const request = requests.getByRole('button', { name: new RegExp(a) });
  await expect(request).toBeVisible({ timeout: 20_000 });
  await expect(request.locator('img')).toHaveCount(0);
  await request.click();
  const banner = bob.page.getByRole('region', { name: 'Message request' });
  await expect(bob.page.getByRole('img', { name: `Profile photo of ${a}` })).toHaveCount(0);
  await banner.getByRole('button', { name: 'Show profile photo' }).click();
  await expectDecoded(banner.getByRole('img', { name: `Profile photo of ${a}` }));

  // Accepted: the photo in the list and in the conversation header.
  await banner.getByRole('button', { name: 'Accept' }).click();
  await expect(conversationButton(bob.page, a).locator('img')).toHaveCount(1);
  await expectDecoded(conversationButton(bob.page, a).locator('img'));
  const header = bob.page.getByRole('img', { name: `Profile photo of ${a}` });
  await expectDecoded(header);
  await expectAccessible(bob.page);
  await screen(bob.page, 'profile-photo');

  // Removed: Bob sees the initials again.
  await alice.page.getByRole('button', { name: 'Settings' }).click();
  await alice.page.getByRole('button', { name: 'Remove photo' }).click();
  await expect(alice.page.getByRole('img', { name: 'Your profile photo' })).toHaveCount(0);
  await expect(header).toHaveCount(0, { timeout: 20_000 });
  await expect(conversationButton(bob.page, a).locator('img')).toHaveCount(0);
  await expect(conversationButton(bob.page, a)).toContainText(a[0]!.toUpperCase());
});
