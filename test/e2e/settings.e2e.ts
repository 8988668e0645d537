/**
 * Settings: each switch and choice is stored by the engine (it survives a reload), a setting can be
 * changed with the keyboard alone, the app lock needs and then uses a passphrase, and logging out
 * returns to onboarding with the profile's data gone.
 */
import { createAccount, expect, expectAccessible, screen, test } from './app.js';

test('settings are saved by the engine and survive a reload', async ({ parley }) => {
  const { page } = await parley.open(parley.name('alice'));
  await createAccount(page, 'alice');
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
  await expectAccessible(page);
  await screen(page, 'settings');

  await page.getByRole('switch', { name: 'Send read receipts' }).uncheck();
  await expect(page.getByRole('status').filter({ hasText: 'Settings saved.' })).toBeAttached();
  await page.getByRole('switch', { name: 'Send typing indicators' }).uncheck();
  await expect(page.getByRole('radio', { name: 'Name only' })).toBeChecked(); // the default
  await page.getByRole('radio', { name: 'No name or message' }).check();

  await page.reload();
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('switch', { name: 'Send read receipts' })).not.toBeChecked();
  await expect(page.getByRole('switch', { name: 'Send typing indicators' })).not.toBeChecked();
  await expect(page.getByRole('switch', { name: 'Show when I am online' })).toBeChecked();
  await expect(page.getByRole('radio', { name: 'No name or message' })).toBeChecked();
});

test('keyboard only: reach Settings and change a setting', async ({ parley }) => {
  const { page } = await parley.open(parley.name('kb'));
  await createAccount(page, 'keyboard.user');
  await page.keyboard.press('Tab'); // New conversation
  await expect(page.getByRole('button', { name: 'New conversation' })).toBeFocused();
  await page.keyboard.press('Tab'); // New group
  await expect(page.getByRole('button', { name: 'New group' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Settings' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Settings' })).toBeVisible();
  // Tab to the first switch and flip it with Space.
  const receipts = page.getByRole('switch', { name: 'Send read receipts' });
  for (let i = 0; i < 10 && !(await receipts.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(receipts).toBeFocused();
  await page.keyboard.press('Space');
  await expect(receipts).not.toBeChecked();
  // Arrow keys move through the notification choices (the default is the sender's name only).
  const nameOnly = page.getByRole('radio', { name: 'Name only' });
  await expect(nameOnly).toBeChecked();
  for (let i = 0; i < 10 && !(await nameOnly.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
  await page.keyboard.press('ArrowUp');
  await expect(page.getByRole('radio', { name: 'Name and message' })).toBeChecked();
  await page.reload();
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(receipts).not.toBeChecked();
  await expect(page.getByRole('radio', { name: 'Name and message' })).toBeChecked();
});

test('app lock: set a passphrase, lock now, unlock', async ({ parley }) => {
  const { page } = await parley.open(parley.name('lock'));
  await createAccount(page, 'locker');
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByText('The app lock needs a passphrase.')).toBeVisible();
  await page.getByLabel('New passphrase', { exact: true }).fill('a long passphrase');
  await page.getByLabel('Repeat new passphrase').fill('a long passphrase');
  await page.getByRole('button', { name: 'Save passphrase' }).click();
  await expect(page.getByText('Passphrase saved.')).toBeVisible({ timeout: 20_000 });
  await page.getByLabel('Lock Parley after inactivity').selectOption({ label: 'After 5 minutes' });
  await expect(page.getByRole('status').filter({ hasText: 'Settings saved.' })).toBeAttached();
  await page.getByRole('button', { name: 'Lock now' }).click();
  await expect(page.getByRole('heading', { name: 'Unlock Parley' })).toBeVisible();
  await page.getByLabel('Passphrase').fill('a long passphrase');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible({ timeout: 20_000 });

  // Changing it re-encrypts the database under a new key (issue 10 item 13): the old one stops working.
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByLabel('Current passphrase').fill('a long passphrase');
  await page.getByLabel('New passphrase', { exact: true }).fill('another long passphrase');
  await page.getByLabel('Repeat new passphrase').fill('another long passphrase');
  await page.getByRole('button', { name: 'Save passphrase' }).click();
  await expect(page.getByText('Passphrase saved.')).toBeVisible({ timeout: 20_000 });
  await expect(page.getByLabel('Lock Parley after inactivity')).toHaveValue('5');
  await page.getByRole('button', { name: 'Lock now' }).click();
  await expect(page.getByRole('heading', { name: 'Unlock Parley' })).toBeVisible();
  await page.getByLabel('Passphrase').fill('a long passphrase');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('alert')).toBeVisible();
  await page.getByLabel('Passphrase').fill('another long passphrase');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('navigation', { name: 'Conversations' })).toBeVisible({ timeout: 20_000 });
});

test('"Log out this device" says the account lives on, asks first, then deletes this device’s data', async ({ parley }) => {
  const { page } = await parley.open(parley.name('bye'));
  await createAccount(page, 'leaver');
  await page.getByRole('button', { name: 'Settings' }).click();
  const logout = page.getByRole('button', { name: 'Log out this device' });
  await expect(logout).toHaveAccessibleDescription(/Your account, your username and your other devices stay/);
  await logout.click();
  await expect(page.getByRole('alert')).toContainText('delete everything of Parley on this device');
  await page.getByRole('button', { name: 'Log out and delete data' }).click();
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
});

test('"Delete account" says what happens to the account, username and messages, then the username is held', async ({ parley }) => {
  const { page } = await parley.open(parley.name('gone'));
  await createAccount(page, 'deleter');
  await page.getByRole('button', { name: 'Settings' }).click();
  const remove = page.getByRole('button', { name: 'Delete account', exact: true });
  await expect(remove).toHaveAccessibleDescription(/Your username stays reserved for 30 days/);
  await expectAccessible(page);
  await remove.click();
  await expect(page.getByRole('alert')).toContainText('Delete the account deleter for good?');
  await page.getByRole('button', { name: 'Delete account for good' }).click();
  await expect(page.getByRole('heading', { name: 'Create your Parley account' })).toBeVisible();
  // The relay holds the name: a new account cannot take it yet.
  await page.getByLabel('Username').fill('deleter');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('alert')).toHaveText('That username is taken. Choose another one.');
});
