/**
 * The device-linking steps the specs share (linking.e2e.ts, devices.e2e.ts), done the way a person
 * does them: Alice and Bob as mutual contacts; the new device's "Link to an existing account" up to
 * its link text and short code; the primary's Settings → Linked devices → "Link a new device"; and
 * the whole link by pasted text, ending with the new device ready under its name.
 */
import type { Page } from '@playwright/test';
import { createAccount, expect, ready, startConversation, type Parley } from './app.js';

/** A passphrase, so the spec runs with or without an OS keychain. */
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

/**
 * Links a new profile to the account open on `primary` by the pasted link text and names it; returns
 * once the new device is ready and the primary lists it.
 */
export async function linkByText(parley: Parley, primary: Page, name: string): Promise<Page> {
  const second = await parley.open(parley.name('alice2'));
  const link = await showLink(second.page);
  await openLinkDialog(primary);
  await primary.getByLabel('Link text from the new device').fill(link.text);
  await primary.getByRole('button', { name: 'Link device' }).click();
  await expect(second.page.getByRole('heading', { name: 'Account safety number' })).toBeVisible({ timeout: 20_000 });
  await second.page.getByLabel('Name of this device').fill(name);
  const passphrase = second.page.getByLabel('Passphrase for this device');
  if (await passphrase.isVisible()) await passphrase.fill(PASSPHRASE);
  await second.page.getByRole('button', { name: 'The numbers match: link this device' }).click();
  await ready(second.page);
  await expect(primary.getByRole('status').filter({ hasText: 'The new device was linked.' })).toBeVisible();
  return second.page;
}
