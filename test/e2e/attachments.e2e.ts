/**
 * Files through the UI (issue 13), two browser hosts and one real relay: Alice attaches a photo
 * with a GPS tag (attach button, preview with a caption), a 0-byte file and a file of exactly one
 * segment; Bob sees the photo's thumbnail inline, opens it in the lightbox, saves it — without its
 * GPS tag, its orientation applied — and saves the other files with identical bytes. A hostile file
 * name arrives sanitised and asks before it is saved. A 3 GiB file is refused before any upload.
 * A file sent while the relay is away shows as paused — not an error, no Retry — and goes out by
 * itself once the relay is back (Alice reaches the relay through a forwarder the spec unplugs).
 * A stranger's photos arrive as placeholders (name, size, "Show image"), not images, until Bob asks
 * for one or accepts the request. Deleting a conversation (its menu, then a confirmation saying what
 * goes) removes it with its messages and its files on disk; the person stays a contact.
 */
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import sharp from 'sharp';
import { Forwarder } from '../support/forwarder.js';
import { accountPair, composer, connectedPair, conversationButton, expect, expectAccessible, messageLog, openConversation, send, startConversation, test } from './app.js';

const SEGMENT = 1024 * 1024;

function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Picks a file with the attach button, adds a caption and sends it. */
async function attach(page: Page, peer: string, file: { name: string; mimeType: string; buffer: Buffer } | string, caption = ''): Promise<void> {
  await page.getByTestId('attach-input').setInputFiles(file);
  const preview = page.getByRole('form', { name: 'Send a file' });
  await expect(preview).toBeVisible();
  if (caption) await preview.getByLabel('Caption').fill(caption);
  await preview.getByRole('button', { name: 'Send' }).click();
  await expect(preview).toBeHidden({ timeout: 20_000 });
  await expect(composer(page, peer)).toBeVisible();
}

/** "Save as…" on a row and the saved bytes. */
async function saveFrom(page: Page, button: ReturnType<Page['getByRole']>): Promise<{ name: string; bytes: Buffer }> {
  const download = page.waitForEvent('download', { timeout: 30_000 });
  await button.click();
  const d = await download;
  return { name: d.suggestedFilename(), bytes: readFileSync((await d.path())!) };
}

test('a photo arrives inline without its GPS tag, 0-byte and one-segment files arrive identical', async ({ parley }) => {
  test.setTimeout(120_000);
  const { alice, bob, a, b } = await connectedPair(parley);
  const photo = await sharp({ create: { width: 96, height: 48, channels: 3, background: { r: 20, g: 120, b: 200 } } })
    .jpeg()
    .withExifMerge({ IFD0: { Make: 'ParleyCam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 300/100' } })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  expect(photo.includes(Buffer.from([0x25, 0x88]))).toBe(true); // the GPSInfo tag is in the original
  const oneSegment = pseudoRandom(SEGMENT, 7);

  await attach(alice.page, b, { name: 'IMG_0001.jpg', mimeType: 'image/jpeg', buffer: photo }, 'the lake');
  await attach(alice.page, b, { name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
  await attach(alice.page, b, { name: 'segment.bin', mimeType: 'application/octet-stream', buffer: oneSegment });

  await openConversation(bob.page, a);
  const log = messageLog(bob.page, a);
  // The thumbnail is shown at once, then the full image in the lightbox.
  const open = log.getByRole('button', { name: 'Open image IMG_0001.jpg' });
  await expect(open).toBeVisible({ timeout: 30_000 });
  await expect(log.getByText('the lake')).toBeVisible();
  await open.click();
  const lightbox = bob.page.getByRole('dialog', { name: 'IMG_0001.jpg' });
  await expect(lightbox.getByRole('img')).toBeVisible({ timeout: 30_000 });
  const savedPhoto = await saveFrom(bob.page, lightbox.getByRole('button', { name: 'Save as…' }));
  await bob.page.keyboard.press('Escape');
  await expect(lightbox).toBeHidden();
  await expect(open).toBeFocused();
  expect(savedPhoto.name).toBe('IMG_0001.jpg');
  const meta = await sharp(savedPhoto.bytes).metadata();
  expect(meta.exif).toBeUndefined();
  expect({ width: meta.width, height: meta.height }).toEqual({ width: 48, height: 96 });
  expect(savedPhoto.bytes.includes(Buffer.from('ParleyCam'))).toBe(false);

  const emptyRow = log.getByRole('listitem').filter({ hasText: 'empty.txt' });
  const empty = await saveFrom(bob.page, emptyRow.getByRole('button', { name: 'Save as…' }));
  expect(empty).toEqual({ name: 'empty.txt', bytes: Buffer.alloc(0) });
  const segmentRow = log.getByRole('listitem').filter({ hasText: 'segment.bin' });
  await expect(segmentRow.getByText(/1\.0 MB/)).toBeVisible();
  const segment = await saveFrom(bob.page, segmentRow.getByRole('button', { name: 'Save as…' }));
  expect(segment.name).toBe('segment.bin');
  expect(segment.bytes.equals(oneSegment)).toBe(true);
});

test('a hostile file name arrives sanitised and asks before saving; 3 GiB is refused before any upload', async ({ parley }) => {
  test.setTimeout(90_000);
  const { alice, bob, a, b } = await connectedPair(parley);
  const hostile = `..\\..\\Startup\\invoice\u202Etxt.exe`;
  await attach(alice.page, b, { name: hostile, mimeType: 'application/octet-stream', buffer: Buffer.from('MZ\x90\x00not really a program', 'latin1') });
  await openConversation(bob.page, a);
  const row = messageLog(bob.page, a).getByRole('listitem').filter({ hasText: 'invoicetxt.exe' });
  await expect(row).toBeVisible({ timeout: 30_000 });
  await expect(row).not.toContainText('\u202E');
  await expect(row).not.toContainText('Startup');
  await row.getByRole('button', { name: 'Save as…' }).click();
  const warning = row.getByRole('alertdialog', { name: 'This file can run code' });
  await expect(warning).toBeVisible();
  const saved = await saveFrom(bob.page, warning.getByRole('button', { name: 'Save anyway' }));
  expect(saved.name).toBe('invoicetxt.exe');
  expect(saved.bytes.toString('latin1')).toBe('MZ\x90\x00not really a program');

  // A sparse 3 GiB file: its size is all the engine needs to refuse it.
  const big = path.join(parley.dataRoot, 'huge.iso');
  writeFileSync(big, '');
  truncateSync(big, 3 * 1024 ** 3);
  await alice.page.getByTestId('attach-input').setInputFiles(big);
  const preview = alice.page.getByRole('form', { name: 'Send a file' });
  await preview.getByRole('button', { name: 'Send' }).click();
  await expect(alice.page.getByRole('alert').filter({ hasText: 'That file is larger than the relay accepts.' })).toBeVisible();
  await expect(messageLog(alice.page, b).getByText('huge.iso')).toHaveCount(0);
});

test('a file sent while the relay is away waits as paused, not failed, and goes out by itself once the relay is back', async ({ parley }) => {
  test.setTimeout(150_000);
  const proxy = await Forwarder.start(parley.relayUrl);
  try {
    const { alice, bob, a, b } = await connectedPair(parley, { alice: { relayUrl: proxy.url } });
    await attach(alice.page, b, { name: 'first.txt', mimeType: 'text/plain', buffer: Buffer.from('before the outage') });
    const log = messageLog(alice.page, b);
    await expect(log.getByRole('listitem').filter({ hasText: 'first.txt' }).getByRole('img', { name: /^(Sent|Delivered|Read)$/ })).toBeVisible({ timeout: 30_000 });

    proxy.unplug();
    await expect(alice.page.getByText(/^Offline/)).toBeVisible({ timeout: 30_000 });
    const bytes = pseudoRandom(3 * SEGMENT + 5, 11);
    await attach(alice.page, b, { name: 'report.bin', mimeType: 'application/octet-stream', buffer: bytes });
    const row = log.getByRole('listitem').filter({ hasText: 'report.bin' });
    await expect(row.getByRole('status').filter({ hasText: 'resumes by itself when the connection is back' })).toBeVisible({ timeout: 20_000 });
    await expect(row.getByText(/^Paused ·/)).toBeVisible();
    await expect(row.getByRole('alert')).toHaveCount(0);
    await expect(row.getByRole('button', { name: 'Retry' })).toHaveCount(0);
    await expect(row.getByRole('img', { name: 'Sending' })).toBeVisible();

    proxy.plug();
    // Nobody clicks anything: the upload resumes, the message goes out, Bob saves identical bytes.
    await expect(row.getByRole('img', { name: /^(Sent|Delivered|Read)$/ })).toBeVisible({ timeout: 90_000 });
    await expect(row.getByText(/^Paused ·/)).toHaveCount(0);
    await openConversation(bob.page, a);
    const received = messageLog(bob.page, a).getByRole('listitem').filter({ hasText: 'report.bin' });
    await expect(received).toBeVisible({ timeout: 30_000 });
    const saved = await saveFrom(bob.page, received.getByRole('button', { name: 'Save as…' }));
    expect(saved.bytes.equals(bytes)).toBe(true);
  } finally {
    await proxy.close();
  }
});

test('a stranger’s photos show as placeholders until Bob asks to see one or accepts the request', async ({ parley }) => {
  test.setTimeout(120_000);
  const { alice, bob, a, b } = await accountPair(parley);
  await startConversation(alice.page, b);
  const photo = (r: number): Promise<Buffer> => sharp({ create: { width: 60, height: 40, channels: 3, background: { r, g: 100, b: 50 } } }).jpeg().toBuffer();
  await attach(alice.page, b, { name: 'beach.jpg', mimeType: 'image/jpeg', buffer: await photo(30) });
  await attach(alice.page, b, { name: 'sunset.jpg', mimeType: 'image/jpeg', buffer: await photo(220) });

  const requests = bob.page.getByRole('navigation', { name: 'Message requests' });
  await requests.getByRole('button', { name: new RegExp(a) }).click({ timeout: 30_000 });
  const log = messageLog(bob.page, a);
  const beach = log.getByRole('listitem').filter({ hasText: 'beach.jpg' });
  const sunset = log.getByRole('listitem').filter({ hasText: 'sunset.jpg' });
  await expect(sunset.getByRole('button', { name: 'Show image sunset.jpg' })).toBeVisible({ timeout: 30_000 });
  await expect(beach.getByText('Image from someone you have not accepted')).toBeVisible();
  await expect(log.getByRole('img')).toHaveCount(0);
  await expect(log.getByRole('button', { name: /^Open image/ })).toHaveCount(0);
  await expectAccessible(bob.page);

  await beach.getByRole('button', { name: 'Show image beach.jpg' }).click();
  await expect(log.getByRole('button', { name: 'Open image beach.jpg' }).getByRole('img')).toBeVisible();
  await expect(sunset.getByRole('button', { name: 'Show image sunset.jpg' })).toBeVisible();

  await bob.page.getByRole('region', { name: 'Message request' }).getByRole('button', { name: 'Accept' }).click();
  await expect(log.getByRole('button', { name: 'Open image sunset.jpg' }).getByRole('img')).toBeVisible({ timeout: 20_000 });
  await expect(log.getByRole('button', { name: /^Show image/ })).toHaveCount(0);
});

/** The attachment files (ciphertext spools, partial downloads) under a profile's data. */
function attachmentFiles(dataRoot: string, profile: string): string[] {
  return (readdirSync(dataRoot, { recursive: true }) as string[]).filter((p) => p.includes(profile) && /\.spool(\.partial)?$/.test(p));
}

test('deleting a conversation asks first, then removes it with its messages and its files; the person stays a contact', async ({ parley }) => {
  test.setTimeout(120_000);
  const { alice, bob, a, b } = await connectedPair(parley);
  await send(alice.page, b, 'the keys are under the mat');
  await attach(alice.page, b, { name: 'plan.pdf', mimeType: 'application/pdf', buffer: pseudoRandom(SEGMENT + 9, 5) });
  await openConversation(bob.page, a);
  const row = messageLog(bob.page, a).getByRole('listitem').filter({ hasText: 'plan.pdf' });
  await saveFrom(bob.page, row.getByRole('button', { name: 'Save as…' }));
  expect(attachmentFiles(parley.dataRoot, bob.profile)).toHaveLength(1);

  const openMenu = async (): Promise<void> => {
    await conversationButton(bob.page, a).click({ button: 'right' });
    await bob.page.getByRole('menu', { name: `Conversation with ${a}` }).getByRole('menuitem', { name: 'Delete conversation…' }).click();
  };
  await openMenu();
  const dialog = bob.page.getByRole('alertdialog', { name: `Delete the conversation with ${a}?` });
  await expect(dialog).toContainText('Its messages and files');
  await expect(dialog).toContainText('stays in your contacts');
  await expectAccessible(bob.page);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(conversationButton(bob.page, a)).toBeFocused();

  await openMenu();
  await dialog.getByRole('button', { name: 'Delete conversation' }).click();
  await expect(conversationButton(bob.page, a)).toHaveCount(0);
  await expect(bob.page.getByText(`The conversation with ${a} was deleted.`)).toBeVisible();
  expect(attachmentFiles(parley.dataRoot, bob.profile)).toEqual([]);

  // Still a contact: a new message starts a new conversation with only itself.
  await send(alice.page, b, 'did you find them?');
  await conversationButton(bob.page, a).click({ timeout: 20_000 });
  await expect(messageLog(bob.page, a).getByText('did you find them?')).toBeVisible();
  await expect(messageLog(bob.page, a).getByText('the keys are under the mat')).toHaveCount(0);
  await expect(messageLog(bob.page, a).getByText('plan.pdf')).toHaveCount(0);
});
