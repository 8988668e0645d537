/**
 * Verification by scanning (issue 12): Alice points her camera at the QR code on Bob's screen and
 * Parley says whether it matches; the wrong person's code, her own code and a code that is not a
 * safety number each get their own answer; without camera permission she is told so. The camera is
 * Chromium's fake capture device playing a Y4M file made at test time from a screenshot of the code
 * on the other screen (helpers/fake-camera.ts); the file is rewritten between scans, as each scan
 * starts the camera anew and the fake device reads its file at every start. History and keys are
 * seeded (bench/ui/seed.ts): the three people never need the relay to show their codes.
 */
import type { Page } from '@playwright/test';
import { expect, expectAccessible, openConversation, ready, screen, test } from './app.js';
import { cameraFileFromScreen, cameraFileFromText, launchWithCamera } from './helpers/fake-camera.js';

test.skip(({ parleyHost }) => parleyHost === 'electron', 'the fake camera is a switch of a Chromium launched by the spec');

async function openVerification(page: Page, peer: string): Promise<void> {
  await ready(page);
  await openConversation(page, peer);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('heading', { name: `Verify safety number with ${peer}` })).toBeVisible();
}

function code(page: Page, peer: string) {
  return page.getByRole('img', { name: `QR code of the safety number with ${peer}` });
}

function verdict(page: Page) {
  return page.getByRole('status').filter({ hasText: /codes match|do not match|your own code|not a Parley/ });
}

test('scanning the other person’s code with the camera: match, the wrong person, one’s own code, another QR code', async ({ parley, playwright }, testInfo) => {
  const alice = parley.name('alice');
  await parley.seed({ a: { profile: alice, username: 'alice' }, b: { profile: parley.name('bob'), username: 'bob' } });
  await parley.seed({ a: { profile: alice, username: 'alice' }, b: { profile: parley.name('carol'), username: 'carol' } });
  const bob = await parley.open(parley.name('bob'));
  const carol = await parley.open(parley.name('carol'));
  await openVerification(bob.page, 'alice');
  await openVerification(carol.page, 'alice');
  const camera = testInfo.outputPath('camera.y4m');
  await cameraFileFromScreen(code(bob.page, 'alice'), camera);

  const browser = await launchWithCamera(playwright, camera);
  try {
    const { page } = await parley.open(alice, { browser, context: { permissions: ['camera'] } });
    await openVerification(page, 'bob');
    // Nothing uses the camera until Alice asks.
    await expect(page.locator('video')).toHaveCount(0);
    await page.getByRole('button', { name: 'Scan bob’s code' }).click();
    await expect(verdict(page)).toHaveText('✓ The codes match: this is bob’s safety number. You can mark bob as verified.', { timeout: 15_000 });
    // The camera is released at once.
    await expect(page.getByRole('group', { name: 'Camera for scanning bob’s code' })).toHaveCount(0);
    await expect(page.locator('video')).toHaveCount(0);
    await expectAccessible(page);
    await screen(page, 'verification-scan-match');
    // Marking stays her decision.
    await expect(page.getByRole('status').filter({ hasText: 'bob is not verified.' })).toBeVisible();
    await page.getByRole('button', { name: 'Mark as verified' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'You have verified bob.' })).toBeVisible();

    // Carol's code (her conversation with Alice): the wrong person.
    await cameraFileFromScreen(code(carol.page, 'alice'), camera);
    await page.getByRole('button', { name: 'Scan again' }).click();
    await expect(verdict(page)).toHaveText(/^✗ The codes do not match\. This is not bob’s code for this conversation/, { timeout: 15_000 });
    await screen(page, 'verification-scan-mismatch');

    // Her own code, filmed off her own screen.
    await cameraFileFromScreen(code(page, 'bob'), camera);
    await page.getByRole('button', { name: 'Scan again' }).click();
    await expect(verdict(page)).toHaveText('✗ That is your own code. Scan the code on bob’s screen.', { timeout: 15_000 });

    // Any other QR code.
    cameraFileFromText('https://example.com/parley', camera);
    await page.getByRole('button', { name: 'Scan again' }).click();
    await expect(verdict(page)).toHaveText('✗ That is not a Parley safety-number code.', { timeout: 15_000 });

    // Cancel closes the camera without a verdict change.
    await page.getByRole('button', { name: 'Scan again' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.locator('video')).toHaveCount(0);
  } finally {
    await browser.close();
  }
});

test('without camera permission, scanning says so and nothing else changes', async ({ parley, playwright }, testInfo) => {
  const alice = parley.name('alice');
  await parley.seed({ a: { profile: alice, username: 'alice' }, b: { profile: parley.name('bob'), username: 'bob' } });
  const camera = testInfo.outputPath('camera.y4m');
  cameraFileFromText('unused', camera);
  const browser = await launchWithCamera(playwright, camera);
  try {
    const { page } = await parley.open(alice, { browser }); // no camera permission granted
    await openVerification(page, 'bob');
    await page.getByRole('button', { name: 'Scan bob’s code' }).click();
    await expect(page.getByRole('group', { name: 'Camera for scanning bob’s code' }).getByRole('status')).toHaveText(
      'Parley may not use the camera. Allow camera access for Parley, then try again.',
    );
    await page.getByRole('button', { name: 'Close' }).click();
    await expect(page.getByRole('button', { name: 'Scan bob’s code' })).toBeVisible();
    await expect(verdict(page)).toHaveCount(0);
  } finally {
    await browser.close();
  }
});
