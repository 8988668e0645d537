/**
 * Onboarding as a person meets it: create an account (the relay address is suggested, the key goes
 * to the OS keychain), and — where no keychain exists — the passphrase step, then unlocking after
 * a restart. Screenshots and axe checks of the onboarding, unlock and conversation-list screens.
 */
import { createAccount, expect, expectAccessible, screen, test } from './app.js';

/** A D-Bus address nothing listens on: the Secret Service is unreachable, as on a headless box. */
const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/parley-no-bus' };

test('create an account: username and the suggested relay, then the empty conversation list', async ({ parley }) => {
  const alice = await parley.open(parley.name('alice'));
  const { page } = alice;
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  // One line each says where messages go and how this device's data is kept; the technical
  // choices wait under "Advanced".
  const host = new URL(parley.relayUrl).host;
  await expect(page.getByText(`Your messages travel end-to-end encrypted through a relay (${host}): it passes them on but cannot read them.`)).toBeVisible();
  await expect(page.getByText(/the key is kept in your system keychain, so Parley opens without a password/)).toBeVisible();
  await expect(page.getByLabel('Relay address')).toBeHidden();
  await expect(page.getByLabel('Use a passphrase instead of the system keychain')).toBeHidden();
  // With a keychain, no passphrase is asked for.
  await expect(page.getByLabel('Passphrase', { exact: true })).toHaveCount(0);
  await expectAccessible(page);
  await screen(page, 'onboarding');
  await page.getByText('Advanced', { exact: true }).click();
  await expect(page.getByLabel('Relay address')).toHaveValue(parley.relayUrl);
  await expect(page.getByLabel('Relay address')).toHaveAccessibleDescription(/The server that carries your encrypted messages/);
  const choice = page.getByLabel('Use a passphrase instead of the system keychain');
  await expect(choice).toHaveAccessibleDescription(/you type it at every start/);
  await choice.check();
  await expect(page.getByText(/locked by a passphrase you type each time Parley opens/)).toBeVisible();
  await expect(page.getByLabel('Passphrase', { exact: true })).toHaveAccessibleDescription(/cannot be recovered/);
  await expectAccessible(page);
  await screen(page, 'onboarding-advanced');
  await choice.uncheck();

  await page.getByLabel('Username').fill('no');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText(/3 to 32 characters/);

  await createAccount(page, 'alice');
  await expect(page.getByText('No conversations yet')).toBeVisible();
  await expect(page.getByRole('banner').or(page.getByRole('complementary'))).toContainText('alice');
  await expectAccessible(page);
  await screen(page, 'conversation-list-empty');

  // The keychain opens the database on the next start without asking.
  await alice.restart();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible({ timeout: 20_000 });
});

test('with no relay to suggest, "Advanced" is open and asks for the address', async ({ parley }) => {
  const { page } = await parley.open(parley.name('dave'));
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  // The same app without the start script's suggestion (the `relay` query parameter).
  const url = new URL(page.url());
  url.searchParams.delete('relay');
  await page.goto(url.toString());
  await expect(page.getByLabel('Relay address')).toBeVisible();
  await expect(page.getByLabel('Relay address')).toHaveValue('');
  await expect(page.getByText('Your messages travel end-to-end encrypted through a relay: it passes them on but cannot read them.')).toBeVisible();
  await page.getByLabel('Username').fill('dave');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText('Enter the address of a relay under “Advanced”.');
  await page.getByLabel('Relay address').fill(parley.relayUrl);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible({ timeout: 20_000 });
});

test('without a keychain: the passphrase step, then unlock after a restart', async ({ parley }) => {
  const app = await parley.open(parley.name('carol'), { env: NO_KEYCHAIN });
  const { page } = app;
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  await expect(page.getByText('No system keychain is available here')).toBeVisible();
  await page.getByLabel('Username').fill('carol');
  await page.getByLabel('Passphrase', { exact: true }).fill('short');
  await page.getByLabel('Repeat passphrase').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText('Choose a passphrase of at least 8 characters.');

  await page.getByLabel('Passphrase', { exact: true }).fill('correct horse battery');
  await page.getByLabel('Repeat passphrase').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible({ timeout: 30_000 });

  await app.restart();
  await expect(page.getByRole('heading', { name: 'Unlock Parley' })).toBeVisible({ timeout: 20_000 });
  await expectAccessible(page);
  await screen(page, 'unlock');
  await page.getByLabel('Passphrase').fill('wrong passphrase');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('alert')).toHaveText('That passphrase is not correct.', { timeout: 20_000 });
  await page.getByLabel('Passphrase').fill('correct horse battery');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible({ timeout: 20_000 });
});
