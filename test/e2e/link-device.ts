/**
 * Device linking as a person does it, for the specs that need Alice on two devices (linking.e2e.ts,
 * sync.e2e.ts): two mutual contacts with passphrases, the new device's "Link to an existing
 * account" up to its link text and short code, the primary's Settings → Linked devices → "Link a
 * new device", and the whole link by pasted text.
 */
import type { Page } from '@playwright/test';
import { createAccount, expect, ready, startConversation, type Parley, type ProfileApp } from './app.js';

/** A passphrase, so the specs run with or without an OS keychain. */
export const PASSPHRASE = 'a passphrase for the test';

/** Alice and Bob as mutual contacts (with passphrases); a and b are their usernames. */
export async function pair(parley: Parley) {
  const alice = await parley.open(parley.name('alice'));
  const bob = await parley.open(parley.name('bob'));
  const a = parley.name('alice').replace(/-/g, '_');
  const b = parley.name('bob').replace(/-/g, '_');
  await createAccount(alice.page, a, { passphrase: PASSPHRASE });
  await createAccount(bob.page, b, { passphrase: PASSPHRASE });
  await startConversation(bob.page, a);
  await startConversation(alice.page, b);
  return { alice, bob, a, b };
}

/** The new device's side up to its link: returns the link text and the short code it shows. */
export async function showLink(page: Page): Promise<{ text: string; code: string }> {
  await page.getByRole('button', { name: 'Link to an existing account' }).click();
  await page.getByRole('button', { name: 'Show link' }).click();
  await expect(page.getByRole('img', { name: 'Link QR code' })).toBeVisible({ timeout: 20_000 });
  const text = await page.getByLabel('Link text').inputValue();
  const code = (await page.getByText(/^[0-9]{6}-[0-9]{4}-[0-9]{4}$/).textContent())!.trim();
  return { text, code };
}

export async function openLinkDialog(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('heading', { name: 'Linked devices' })).toBeVisible();
  await page.getByRole('button', { name: 'Link a new device' }).click();
}

/** The new device accepts: names itself, sets its passphrase when asked, links, and is ready. */
export async function acceptOnNewDevice(page: Page, name: string): Promise<void> {
  await page.getByLabel('Name of this device').fill(name);
  const passphrase = page.getByLabel('Passphrase for this device');
  if (await passphrase.isVisible()) await passphrase.fill(PASSPHRASE);
  await page.getByRole('button', { name: 'The numbers match: link this device' }).click();
  await ready(page);
}

/**
 * Links a new profile to `primary`'s account by pasted link text, as a person does; returns the new
 * device once it is ready and the primary says so (the primary stays in Settings → Linked devices).
 */
export async function linkSecondDevice(parley: Parley, primary: ProfileApp, profile: string, name: string): Promise<ProfileApp> {
  const second = await parley.open(parley.name(profile));
  const link = await showLink(second.page);
  await openLinkDialog(primary.page);
  await primary.page.getByLabel('Link text from the new device').fill(link.text);
  await primary.page.getByRole('button', { name: 'Link device' }).click();
  await expect(second.page.getByRole('heading', { name: 'Account safety number' })).toBeVisible({ timeout: 20_000 });
  await acceptOnNewDevice(second.page, name);
  await expect(primary.page.getByRole('status').filter({ hasText: 'The new device was linked.' })).toBeVisible();
  return second;
}
