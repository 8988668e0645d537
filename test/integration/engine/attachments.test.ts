/**
 * Attachments between engines through the real relay (issue 13): files handed over through the
 * attachments:* channels (the contract every host uses), re-encoded when they are photos, encrypted
 * once, uploaded with tus, announced in the E2E message, downloaded, verified and read back — the
 * receiver gets identical bytes (0 bytes, exactly one segment, several segments), a photo arrives
 * without its GPS tag and with its orientation applied, "send as file" keeps the original bytes, a
 * hostile name is sanitised, a file above the relay's limit is refused before any byte is uploaded,
 * a quota overflow is a typed error in place, and what the receiver keeps at rest is ciphertext.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { MessageView } from '../../../shared/api/view-models.js';
import { toBase64Url } from '../../../shared/crypto/bytes.js';
import { ATTACHMENT_SEGMENT_SIZE } from '../../../shared/protocol/constants.js';
import { MAX_POINTER_THUMBNAIL_BYTES } from '../../../shared/protocol/attachment-pointer.js';
import { pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { getAttachment, setAttachmentState } from '../../../electron/engine/db/attachments.js';
import { readAll, sendFile } from '../../support/attachments.js';
import { Forwarder } from '../../support/forwarder.js';
import { relayAndEngines, TestEngine, waitFor } from '../../support/engines.js';
import { startTestRelay, TEST_METRICS_TOKEN } from '../relay/helpers/relay.js';

const fixture = relayAndEngines();
const MiB = 1024 * 1024;

/** Waits for the incoming attachment message `nth` (0-based) from `from`. */
async function incoming(to: TestEngine, from: TestEngine, nth = 0): Promise<MessageView> {
  let found: MessageView | undefined;
  await waitFor(() => (found = to.payloads('message:added').map((p) => p.message).filter((m) => m.kind === 'attachment' && m.senderId === from.accountId)[nth]) !== undefined, 'an attachment', 30_000);
  return found!;
}

async function pair(): Promise<{ alice: TestEngine; bob: TestEngine; aToB: string }> {
  const alice = await fixture.engine('alice');
  const bob = await fixture.engine('bob');
  const aToB = await alice.add(bob);
  await bob.add(alice); // contacts: a message request would get no delivery receipt (ADR 0019)
  return { alice, bob, aToB };
}

describe('attachments between engines', () => {
  it('0 bytes, exactly one segment and several segments arrive byte for byte; the receiver keeps only ciphertext at rest', async () => {
    const { alice, bob, aToB } = await pair();
    const files = [
      { name: 'empty.txt', bytes: new Uint8Array(0) },
      { name: 'one-segment.bin', bytes: pseudoRandomBytes('one segment', ATTACHMENT_SEGMENT_SIZE) },
      { name: 'several.bin', bytes: pseudoRandomBytes('several', 3 * MiB + 12_345) },
    ];
    const sent: MessageView[] = [];
    for (const f of files) sent.push(await sendFile(alice, aToB, f.name, f.bytes, { caption: `caption of ${f.name}` }));
    expect(sent.map((m) => m.attachment?.state)).toEqual(['uploading', 'uploading', 'uploading']);
    for (const [i, f] of files.entries()) {
      const m = await incoming(bob, alice, i);
      expect(m.body).toBe(`caption of ${f.name}`);
      expect(m.attachment).toMatchObject({ fileName: f.name, size: f.bytes.length, state: 'available', thumbnail: null, risky: false });
      const got = await readAll(bob, m.id);
      expect(got.bytes.equals(Buffer.from(f.bytes)), f.name).toBe(true);
      await alice.waitStatus(sent[i]!.id, 'delivered');
    }
    // The sender's view says sent; the receiver's says downloaded.
    const aliceViews = await alice.messages(aToB);
    expect(aliceViews.filter((m) => m.kind === 'attachment').map((m) => m.attachment?.state)).toEqual(['sent', 'sent', 'sent']);
    const bToA = (await bob.conversationWith(alice))!;
    expect((await bob.messages(bToA)).filter((m) => m.kind === 'attachment').map((m) => m.attachment?.state)).toEqual(['downloaded', 'downloaded', 'downloaded']);
    // Marking them read updates the views whole: each update still carries its attachment.
    const views = (await bob.messages(bToA)).filter((m) => m.kind === 'attachment');
    await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: views.at(-1)!.id });
    const updated = bob.payloads('message:updated').filter((p) => p.message.read && p.message.kind === 'attachment');
    expect(updated.map((p) => p.message.attachment?.fileName).sort()).toEqual(files.map((f) => f.name).sort());
    // At rest: the downloaded ciphertext files, and no plaintext (the decrypted copies are gone once read).
    const dir = join(bob.engine.profile.dataDir, 'attachments');
    const kept = readdirSync(dir).filter((n) => n.endsWith('.spool'));
    expect(kept).toHaveLength(3);
    const several = Buffer.from(files[2]!.bytes);
    for (const name of kept) expect(readFileSync(join(dir, name)).includes(several.subarray(1000, 1032))).toBe(false);
    expect(readdirSync(join(dir, 'open'))).toEqual([]);
  });

  it('a photo arrives re-encoded: no GPS or other EXIF, orientation applied, with dimensions and a thumbnail; "send as file" keeps the original bytes', async () => {
    const { alice, bob, aToB } = await pair();
    // 64 × 32 pixels, stored rotated (EXIF orientation 6: shown 32 × 64), with a GPS position.
    const photo = await sharp({ create: { width: 64, height: 32, channels: 3, background: { r: 200, g: 30, b: 30 } } })
      .jpeg()
      .withExifMerge({ IFD0: { Make: 'ParleyCam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 300/100' } })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const before = await sharp(photo).metadata();
    expect(before.exif?.includes(Buffer.from('ParleyCam'))).toBe(true);
    expect(before.orientation).toBe(6);
    // Little-endian TIFF: the GPSInfo tag (0x8825) in IFD0 points at the GPS IFD.
    const GPS_TAG = Buffer.from([0x25, 0x88]);
    expect(before.exif?.subarray(6, 8).toString()).toBe('II');
    expect(before.exif?.includes(GPS_TAG)).toBe(true);
    expect(photo.includes(Buffer.from('Exif\0\0'))).toBe(true);

    await sendFile(alice, aToB, 'IMG_0001.jpg', photo, { caption: 'the view' });
    const m = await incoming(bob, alice);
    expect(m.attachment).toMatchObject({ mediaType: 'image/jpeg', width: 32, height: 64, original: false });
    const thumbnail = Buffer.from(m.attachment!.thumbnail!, 'base64');
    expect(thumbnail.length).toBeGreaterThan(0);
    expect(thumbnail.length).toBeLessThanOrEqual(MAX_POINTER_THUMBNAIL_BYTES);
    expect((await sharp(thumbnail).metadata()).format).toBe('jpeg');
    const got = await readAll(bob, m.id);
    expect(got.mediaType).toBe('image/jpeg');
    const after = await sharp(got.bytes).metadata();
    expect(after.exif).toBeUndefined();
    expect(after.orientation).toBeUndefined();
    expect({ width: after.width, height: after.height }).toEqual({ width: 32, height: 64 });
    expect(got.bytes.includes(Buffer.from('ParleyCam'))).toBe(false);
    expect(got.bytes.includes(Buffer.from('Exif\0\0'))).toBe(false);

    // Sent as a file: the bytes are the original ones, metadata and all.
    await sendFile(alice, aToB, 'IMG_0001.jpg', photo, { asFile: true });
    const original = await incoming(bob, alice, 1);
    expect(original.attachment).toMatchObject({ original: true, thumbnail: null, width: null });
    expect((await readAll(bob, original.id)).bytes.equals(photo)).toBe(true);
  });

  it('a hostile file name is sanitised before it is sent and again when it arrives; an executable is flagged', async () => {
    const { alice, bob, aToB } = await pair();
    const hostile = `../../.config/autostart/\u202Egpj.exe\u0000${'A'.repeat(1000)}.desktop`;
    const sent = await sendFile(alice, aToB, hostile, new TextEncoder().encode('[Desktop Entry]\nExec=evil\n'));
    const name = sent.attachment!.fileName;
    // eslint-disable-next-line no-control-regex -- no NUL may survive
    expect(name).not.toMatch(/[/\\\u0000\u202E]/u);
    expect(name.startsWith('.')).toBe(false);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name.endsWith('.desktop')).toBe(true);
    const m = await incoming(bob, alice);
    expect(m.attachment!.fileName).toBe(name);
    expect(m.attachment!.risky).toBe(true);
    expect((await readAll(bob, m.id)).risky).toBe(true);
  });

  it('a file larger than the relay accepts (3 GiB) is refused before any byte is uploaded', async () => {
    const { alice } = await pair();
    const created = async (): Promise<number> => {
      const text = await (await fetch(`${fixture.relay.url}/metrics`, { headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` } })).text();
      return Number(/^parley_relay_attachment_uploads_created_total (\d+)/m.exec(text)?.[1] ?? 'NaN');
    };
    const before = await created();
    expect(await alice.errorOf('attachments:stage', { name: 'big.iso', size: 3 * 1024 ** 3 })).toBe('ATTACHMENT_TOO_LARGE');
    // Just below the relay's 2 GiB (ciphertext), it is accepted for staging.
    expect(await alice.errorOf('attachments:stage', { name: 'big.iso', size: 2 * 1024 ** 3 })).toBe('ATTACHMENT_TOO_LARGE');
    await alice.call('attachments:stage', { name: 'fits.iso', size: 1024 ** 3 });
    expect(await created()).toBe(before);
    expect(Number.isInteger(before)).toBe(true);
  });

  it('a quota overflow is a typed error in place: the upload stops with "quota" and the message is failed', async () => {
    const relay = await startTestRelay({ limits: { attachmentQuotaBytes: 2 * MiB } });
    try {
      const alice = await TestEngine.create({ relayUrl: relay.url, name: 'alice' });
      const bob = await TestEngine.create({ relayUrl: relay.url, name: 'bob' });
      fixture.track(alice, bob);
      const aToB = await alice.add(bob);
      await bob.add(alice);
      const first = await sendFile(alice, aToB, 'a.bin', pseudoRandomBytes('a', 1536 * 1024));
      await alice.waitStatus(first.id, 'delivered', 20_000);
      const second = await sendFile(alice, aToB, 'b.bin', pseudoRandomBytes('b', 1024 * 1024));
      await alice.waitEvent('message:updated', (p) => p.message.id === second.id && p.message.attachment?.state === 'failed', 20_000);
      const view = (await alice.messages(aToB)).find((m) => m.id === second.id)!;
      expect(view.status).toBe('failed');
      expect(view.attachment).toMatchObject({ state: 'failed', error: 'quota' });
    } finally {
      await relay.stop();
    }
  });

  it('a tampered ciphertext at the relay is refused as ATTACHMENT_DAMAGED and nothing is released', async () => {
    const { alice, bob, aToB } = await pair();
    const sent = await sendFile(alice, aToB, 'doc.bin', pseudoRandomBytes('doc', 2 * MiB));
    const m = await incoming(bob, alice);
    // Flip one byte of the stored ciphertext (the relay's file store, named by the attachment id) after the upload.
    const attachmentId = getAttachment(alice.engine.current!.db.reader, Number(sent.id))!.attachmentId!;
    const file = join(fixture.relay.dataDir, 'attachments', toBase64Url(attachmentId));
    const bytes = readFileSync(file);
    bytes[bytes.length - 100]! ^= 0x01;
    writeFileSync(file, bytes);
    expect(await bob.errorOf('attachments:open', { messageId: m.id })).toBe('ATTACHMENT_DAMAGED');
    expect(await bob.errorOf('attachments:read', { messageId: m.id, offset: 0, length: 1024 })).toBe('ATTACHMENT_NOT_READY');
    const view = (await bob.messages((await bob.conversationWith(alice))!)).find((x) => x.id === m.id)!;
    expect(view.attachment).toMatchObject({ state: 'failed', error: 'damaged' });
    expect(readdirSync(join(bob.engine.profile.dataDir, 'attachments', 'open'))).toEqual([]);
  });

  it('a 50 MiB file arrives byte for byte', async () => {
    const { alice, bob, aToB } = await pair();
    const bytes = pseudoRandomBytes('fifty', 50 * MiB);
    const sent = await sendFile(alice, aToB, 'video.mp4', bytes);
    const m = await incoming(bob, alice);
    expect(m.attachment?.size).toBe(50 * MiB);
    expect((await readAll(bob, m.id)).bytes.equals(Buffer.from(bytes))).toBe(true);
    await alice.waitStatus(sent.id, 'delivered', 20_000);
  });

  it('an app restart mid-download resumes from the bytes on disk: the relay serves only the rest', async () => {
    const { alice, bob: first, aToB } = await pair();
    const bytes = pseudoRandomBytes('resume', 6 * MiB + 99);
    const sent = await sendFile(alice, aToB, 'resume.bin', bytes);
    const m = await incoming(first, alice);
    // The state a crash mid-download leaves: the row says downloading, the partial file holds a prefix.
    const attachmentId = getAttachment(alice.engine.current!.db.reader, Number(sent.id))!.attachmentId!;
    const ciphertext = readFileSync(join(fixture.relay.dataDir, 'attachments', toBase64Url(attachmentId)));
    const kept = 4 * MiB + 7;
    const dir = join(first.engine.profile.dataDir, 'attachments');
    first.engine.current!.db.writer.transaction(() => setAttachmentState(first.engine.current!.db.writer, Number(m.id), 'downloading'));
    await first.close();
    writeFileSync(join(dir, `${m.id}.spool.partial`), ciphertext.subarray(0, kept));
    const served = async (): Promise<number> => {
      const text = await (await fetch(`${fixture.relay.url}/metrics`, { headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` } })).text();
      return Number(/^parley_relay_attachment_bytes_served_total (\d+)/m.exec(text)?.[1] ?? 'NaN');
    };
    const before = await served();
    const bob = await TestEngine.start({ relayUrl: fixture.relay.url, base: first.options.base, keychain: first.options.keychain });
    fixture.track(bob);
    await bob.online();
    // The download is taken up at start (or when opened) from the partial file.
    const got = await readAll(bob, m.id);
    expect(got.bytes.equals(Buffer.from(bytes))).toBe(true);
    expect((await served()) - before).toBe(ciphertext.length - kept);
  });

  it('deleting a conversation stops its transfers and removes its messages, search entries and every attachment file on this device; the person stays a contact', async () => {
    const forwarder = await Forwarder.start(fixture.relay.url);
    try {
      const alice = await fixture.engine('alice');
      const bob = await fixture.engine('bob', forwarder.url);
      const aToB = await alice.add(bob);
      await bob.add(alice);
      await alice.send(aToB, 'holiday plans for june');
      await sendFile(alice, aToB, 'kept.bin', pseudoRandomBytes('kept', 2 * MiB + 1));
      await sendFile(alice, aToB, 'stalled.bin', pseudoRandomBytes('stalled', 3 * MiB + 5));
      const kept = await incoming(bob, alice, 0);
      const stalled = await incoming(bob, alice, 1);
      await bob.receive(alice, 'holiday plans for june');
      const bToA = (await bob.conversationWith(alice))!;
      expect((await bob.call('search:query', { query: 'holiday', limit: 10 })).results).toHaveLength(1);

      // One file downloaded and opened (its decrypted copy not read yet); one download under way
      // when the relay goes away, with the bytes it had (a partial file).
      const dir = join(bob.engine.profile.dataDir, 'attachments');
      await bob.call('attachments:open', { messageId: kept.id });
      expect(readdirSync(join(dir, 'open'))).toEqual([kept.id]);
      forwarder.unplug();
      writeFileSync(join(dir, `${stalled.id}.spool.partial`), Buffer.alloc(1000));
      const stalledOpen = bob.result('attachments:open', { messageId: stalled.id });
      await waitFor(
        () => bob.payloads('message:updated').some((p) => p.message.id === stalled.id && p.message.attachment?.state === 'downloading'),
        'the download under way',
      );
      expect(readdirSync(dir).sort()).toEqual([`${kept.id}.spool`, `${stalled.id}.spool.partial`, 'open'].sort());

      expect(await bob.call('conversations:delete', { conversationId: bToA })).toBeNull();
      expect((await stalledOpen).ok).toBe(false);
      await bob.engine.messaging!.attachments.idle();
      expect(readdirSync(dir).filter((n) => n !== 'open' && n !== 'staging')).toEqual([]);
      expect(readdirSync(join(dir, 'open'))).toEqual([]);
      expect(bob.payloads('conversation:removed')).toContainEqual({ conversationId: bToA });
      expect(await bob.call('conversations:list', {})).toEqual([]);
      expect(await bob.result('messages:openPage', { conversationId: bToA, anchor: { kind: 'latest' }, limit: 10 })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
      expect((await bob.call('search:query', { query: 'holiday', limit: 10 })).results).toEqual([]);
      expect((await bob.call('contacts:list', {})).map((c) => c.id)).toContain(alice.accountId);

      // The sender's side: the spools of what it sent go with its conversation.
      const aliceDir = join(alice.engine.profile.dataDir, 'attachments');
      expect(readdirSync(aliceDir).filter((n) => n.endsWith('.spool'))).toHaveLength(2);
      await alice.call('conversations:delete', { conversationId: aToB });
      expect(readdirSync(aliceDir).filter((n) => n.endsWith('.spool'))).toEqual([]);

      // A new message from the person starts a new conversation holding only itself.
      forwarder.plug();
      const again = await alice.call('conversations:start', { username: bob.username });
      await alice.send(again.id, 'are you there?');
      await bob.receive(alice, 'are you there?');
      const [fresh] = await bob.call('conversations:list', {});
      expect((await bob.messages(fresh!.id)).map((m) => m.body)).toEqual(['are you there?']);
    } finally {
      await forwarder.close();
    }
  });

  it('deleting a message whose upload is unfinished deletes the partial upload at the relay: at once when online, after a restart when the relay was away', async () => {
    const forwarder = await Forwarder.start(fixture.relay.url);
    try {
      const alice = await fixture.engine('alice', forwarder.url);
      const bob = await fixture.engine('bob');
      const aToB = await alice.add(bob);
      await bob.add(alice);
      const atRelay = (uploadId: Uint8Array): boolean => existsSync(join(fixture.relay.dataDir, 'attachments', toBase64Url(uploadId)));
      const uploadIdOf = (engine: TestEngine, id: string): Uint8Array | null => getAttachment(engine.engine.current!.db.reader, Number(id))?.uploadId ?? null;

      // Online: the person deletes the message while its upload runs (2 MiB of 32 sent).
      const box: { sent?: MessageView } = {};
      let uploadId: Uint8Array | null = null;
      let deleted: Promise<unknown> | undefined;
      const start = forwarder.clientBytes;
      forwarder.onClientBytes = (total) => {
        const sent = box.sent;
        if (deleted !== undefined || sent === undefined || total - start < 2 * MiB) return;
        uploadId = uploadIdOf(alice, sent.id);
        if (uploadId !== null) deleted = alice.call('messages:deleteForMe', { messageId: sent.id });
      };
      box.sent = await sendFile(alice, aToB, 'big.bin', pseudoRandomBytes('abandoned', 32 * MiB));
      await waitFor(() => deleted !== undefined, 'the deletion mid-upload');
      expect(atRelay(uploadId!)).toBe(true);
      await deleted;
      await waitFor(() => !atRelay(uploadId!), 'the partial upload deleted at the relay');
      forwarder.onClientBytes = null;

      // Offline: the upload pauses with part of the file at the relay; the deletion cannot reach it,
      // survives an app restart, and reaches the relay once it is back.
      const start2 = forwarder.clientBytes;
      forwarder.onClientBytes = (total) => {
        if (total - start2 >= 2 * MiB) forwarder.unplug();
      };
      const second = await sendFile(alice, aToB, 'second.bin', pseudoRandomBytes('abandoned-2', 32 * MiB));
      await alice.waitEvent('message:updated', (p) => p.message.id === second.id && p.message.attachment?.paused === true, 20_000);
      const secondId = uploadIdOf(alice, second.id)!;
      expect(atRelay(secondId)).toBe(true);
      expect(await alice.call('messages:deleteForMe', { messageId: second.id })).toBeNull();
      expect(atRelay(secondId)).toBe(true);
      await alice.close();
      forwarder.onClientBytes = null;
      forwarder.plug();
      const again = await TestEngine.start({ relayUrl: forwarder.url, base: alice.options.base, keychain: alice.options.keychain });
      fixture.track(again);
      await waitFor(() => !atRelay(secondId), 'the abandoned upload deleted at the relay after the restart');
      // Bob never heard of either file (ordering barrier: a text sent after both).
      await again.online();
      await again.send(aToB, 'never mind the files');
      await bob.receive(again, 'never mind the files');
      expect((await bob.messages((await bob.conversationWith(alice))!)).filter((m) => m.kind === 'attachment')).toEqual([]);
    } finally {
      await forwarder.close();
    }
  });

  it("deleting a message request deletes its files too", async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    const bytes = pseudoRandomBytes('request-file', MiB + 3);
    await sendFile(alice, aToB, 'notes.bin', bytes, { asFile: true });
    const m = await incoming(bob, alice);
    expect((await readAll(bob, m.id)).bytes.equals(Buffer.from(bytes))).toBe(true);
    const dir = join(bob.engine.profile.dataDir, 'attachments');
    expect(readdirSync(dir).filter((n) => n.endsWith('.spool'))).toEqual([`${m.id}.spool`]);
    expect(await bob.call('contacts:deleteRequest', { contactId: alice.accountId })).toBeNull();
    expect(readdirSync(dir).filter((n) => n.includes('.spool'))).toEqual([]);
  });

  it("a message request's photos reach the renderer without their thumbnails until the person asks (one) or accepts (all); opening one first is ATTACHMENT_WITHHELD", async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob); // Bob has not added Alice: her conversation is a request at his end
    const photo = (r: number): Promise<Buffer> => sharp({ create: { width: 40, height: 30, channels: 3, background: { r, g: 90, b: 160 } } }).jpeg().toBuffer();
    await sendFile(alice, aToB, 'one.jpg', await photo(10));
    await sendFile(alice, aToB, 'two.jpg', await photo(250));
    const first = await incoming(bob, alice, 0);
    const second = await incoming(bob, alice, 1);
    const [request] = await bob.call('conversations:list', {});
    // A request, and one that says who it is: the profile key went before the first file, as before a text.
    expect(request).toMatchObject({ request: true, username: alice.username });
    // Not one view that reached Bob's renderer (events or pages) carried a thumbnail.
    const pushed = [...bob.payloads('message:added'), ...bob.payloads('message:updated')].map((p) => p.message).filter((m) => m.kind === 'attachment');
    expect(pushed.length).toBeGreaterThanOrEqual(2);
    for (const m of pushed) expect(m.attachment).toMatchObject({ withheld: true, thumbnail: null });
    const page = async (): Promise<MessageView[]> => (await bob.messages(request!.id)).filter((m) => m.kind === 'attachment');
    expect((await page()).map((m) => [m.attachment?.fileName, m.attachment?.withheld, m.attachment?.thumbnail])).toEqual([
      ['one.jpg', true, null],
      ['two.jpg', true, null],
    ]);
    expect(await bob.result('attachments:open', { messageId: first.id })).toMatchObject({ ok: false, error: { code: 'ATTACHMENT_WITHHELD' } });

    // "Show image" on the first: its thumbnail (a real JPEG) comes, the second stays held back.
    const shown = await bob.call('attachments:reveal', { messageId: first.id });
    expect(shown.attachment?.withheld).toBe(false);
    expect((await sharp(Buffer.from(shown.attachment!.thumbnail!, 'base64')).metadata()).format).toBe('jpeg');
    expect((await page()).map((m) => [m.attachment?.withheld, m.attachment?.thumbnail === null])).toEqual([
      [false, false],
      [true, true],
    ]);
    expect((await readAll(bob, first.id)).mediaType).toBe('image/jpeg');

    // Accepting shows them all, and the renderer is told.
    await bob.call('contacts:accept', { contactId: alice.accountId });
    const updated = bob.payloads('message:updated').map((p) => p.message).filter((m) => m.id === second.id);
    expect(updated.at(-1)?.attachment).toMatchObject({ withheld: false });
    expect(updated.at(-1)?.attachment?.thumbnail).not.toBeNull();
    expect((await page()).map((m) => m.attachment?.withheld)).toEqual([false, false]);
  });

  it('a photo whose metadata cannot be removed is not sent at all (never the original instead); sent as a file it goes unchanged', async () => {
    const { alice, bob, aToB } = await pair();
    // JPEG magic bytes, then nothing a decoder accepts.
    const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(pseudoRandomBytes('broken', 4000))]);
    const { stageId } = await alice.call('attachments:stage', { name: 'broken.jpg', size: broken.length });
    await alice.call('attachments:write', { stageId, offset: 0, data: broken.toString('base64') });
    expect(await alice.errorOf('attachments:send', { conversationId: aToB, stageId, caption: '', asFile: false })).toBe('METADATA_NOT_REMOVED');
    expect((await alice.messages(aToB)).filter((m) => m.kind === 'attachment')).toHaveLength(0);
    await sendFile(alice, aToB, 'broken.jpg', broken, { asFile: true });
    const m = await incoming(bob, alice);
    expect((await readAll(bob, m.id)).bytes.equals(broken)).toBe(true);
  });
});
