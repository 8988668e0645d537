/**
 * Avatars between engines on the real relay (issue 12, docs/adr/0022-avatars-and-unblock.md): a
 * picture becomes a square WebP of at most 512 px without metadata (made in the keyless image
 * process), travels inside the encrypted profile (the relay holds only ciphertext), and reaches the
 * contacts that hold the profile key — changed or removed as a changed name does. Someone who never
 * received the key sees none; a blocked person's avatar is not shown and their change does not
 * arrive. Bad pictures (not an image, SVG, damaged, decompression bombs, too large) get a typed
 * error and change nothing. "Nothing arrived" is checked with an ordering barrier.
 */
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MAX_AVATAR_PICTURE_BYTES } from '../../../shared/api/primitives.js';
import { fromHex } from '../../../shared/crypto/bytes.js';
import { MAX_PROFILE_AVATAR_BYTES } from '../../../shared/protocol/constants.js';
import { getContactProfile, getOwnProfile } from '../../../electron/engine/db/profiles.js';
import { relayAndEngines, settledBetween, type TestEngine } from '../../support/engines.js';

const fixture = relayAndEngines();

/** A 1200 × 800 JPEG with a camera name and a GPS position in its EXIF. */
async function photo(background: { r: number; g: number; b: number }): Promise<Buffer> {
  return sharp({ create: { width: 1200, height: 800, channels: 3, background } })
    .composite([{ input: { create: { width: 300, height: 300, channels: 3, background: { r: 255, g: 255, b: 255 } } }, left: 100, top: 100 }])
    .jpeg({ quality: 90 })
    .withExifMerge({ IFD0: { Make: 'ParleyCam' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2400/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 300/100' } })
    .toBuffer();
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

async function setAvatar(engine: TestEngine, picture: Uint8Array | null) {
  return engine.call('profile:setAvatar', { picture: picture === null ? null : b64(picture) });
}

async function avatarIdAt(engine: TestEngine, other: TestEngine): Promise<string | null | undefined> {
  return (await engine.call('conversations:list', {})).find((c) => c.contactId === other.accountId)?.avatarId;
}

/** Waits until `engine` shows `other` with the avatar `bytes` (null: none). */
async function waitAvatar(engine: TestEngine, other: TestEngine, bytes: Uint8Array | null): Promise<void> {
  const want = bytes === null ? null : b64(bytes);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const got = await engine.call('contacts:getAvatar', { contactId: other.accountId });
    const listed = await avatarIdAt(engine, other);
    if (got.avatar === want && listed === got.avatarId) return;
    if (Date.now() > deadline) throw new Error(`${engine.username} never showed the expected avatar of ${other.username}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function ownAvatar(engine: TestEngine): Uint8Array | null {
  return getOwnProfile(engine.engine.current!.db.reader)!.avatar;
}

// ── Hostile pictures ────────────────────────────────────────────────────────

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A decompression bomb: a valid PNG whose header says `side` × `side` grey pixels and whose few
 * kilobytes of data inflate to the first rows of zeros. 10,000² (100 megapixels) is under sharp's
 * own default limit (268 megapixels) and over the avatar's (64 megapixels).
 */
function pngBomb(side: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale, deflate, no filter, no interlace
  const rows = deflateSync(Buffer.alloc(64 * (side + 1)), { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', rows), pngChunk('IEND', new Uint8Array(0))]);
}

describe('avatars', () => {
  it('a picture becomes a square WebP of at most 512 px without metadata; a contact sees exactly it, the relay only ciphertext', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const picture = await photo({ r: 200, g: 40, b: 40 });
    expect((await sharp(picture).metadata()).exif?.includes(Buffer.from('ParleyCam'))).toBe(true);

    const view = await setAvatar(alice, picture);
    const avatar = ownAvatar(alice)!;
    expect(view.avatar).toBe(b64(avatar));
    expect(avatar.length).toBeLessThanOrEqual(MAX_PROFILE_AVATAR_BYTES);
    const meta = await sharp(avatar).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'webp', width: 512, height: 512 });
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(meta.icc).toBeUndefined();
    expect(Buffer.from(avatar).includes(Buffer.from('ParleyCam'))).toBe(false);

    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hello with a face');
    await bob.receive(alice, 'hello with a face');
    await waitAvatar(bob, alice, avatar);
    const [contact] = await bob.call('contacts:list', {});
    expect(contact!.avatarId).toBe(await avatarIdAt(bob, alice));

    // The relay serves ciphertext: no run of the avatar's bytes appears in it.
    const stored = await bob.engine.messaging!.relay.getProfile(fromHex(alice.accountId));
    expect(Buffer.from(stored.profile).includes(Buffer.from(avatar.subarray(100, 132)))).toBe(false);
    expect(Buffer.from(stored.profile).includes(Buffer.from('RIFF'))).toBe(false);
  });

  it('a changed avatar reaches the contact, and so does its removal', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hi');
    await bob.receive(alice, 'hi');
    await waitAvatar(bob, alice, null);
    expect(await avatarIdAt(bob, alice)).toBeNull();

    await setAvatar(alice, await photo({ r: 10, g: 160, b: 10 }));
    const first = ownAvatar(alice)!;
    await waitAvatar(bob, alice, first);
    const firstId = await avatarIdAt(bob, alice);

    await setAvatar(alice, await photo({ r: 10, g: 10, b: 160 }));
    const second = ownAvatar(alice)!;
    expect(b64(second)).not.toBe(b64(first));
    await waitAvatar(bob, alice, second);
    expect(await avatarIdAt(bob, alice)).not.toBe(firstId);

    const removed = await setAvatar(alice, null);
    expect(removed.avatar).toBeNull();
    await waitAvatar(bob, alice, null);
    expect(await avatarIdAt(bob, alice)).toBeNull();
    // The name is untouched by all of it.
    expect((await bob.call('contacts:list', {}))[0]!.displayName).toBe(alice.username);
  });

  it('someone who never received the profile key sees no avatar (a stranger whose request was not accepted)', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const carol = await fixture.engine('carol');
    await setAvatar(alice, await photo({ r: 90, g: 90, b: 10 }));
    // Bob writes to Alice; Alice never accepts: she sends him nothing, her key included.
    const bToA = await bob.add(alice);
    await bob.send(bToA, 'may I?');
    await alice.receive(bob, 'may I?');
    await setAvatar(alice, await photo({ r: 90, g: 10, b: 90 }));
    await settledBetween(alice, bob, carol);
    expect(await avatarIdAt(bob, alice)).toBeNull();
    expect(await bob.call('contacts:getAvatar', { contactId: alice.accountId })).toEqual({ avatarId: null, avatar: null });
    expect(getContactProfile(bob.engine.current!.db.reader, fromHex(alice.accountId))).toBeUndefined();
    // Alice sees Bob's request without an avatar too: he has none.
    expect(await avatarIdAt(alice, bob)).toBeNull();
  });

  it('a blocked person’s avatar is not shown, and their new one does not arrive', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const carol = await fixture.engine('carol');
    await setAvatar(alice, await photo({ r: 200, g: 200, b: 10 }));
    const before = ownAvatar(alice)!;
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hi bob');
    await bob.receive(alice, 'hi bob');
    await waitAvatar(bob, alice, before);
    await bob.call('contacts:accept', { contactId: alice.accountId });

    const blocked = await bob.call('contacts:setBlocked', { contactId: alice.accountId, blocked: true });
    expect(blocked.avatarId).toBeNull();
    expect(await bob.call('contacts:getAvatar', { contactId: alice.accountId })).toEqual({ avatarId: null, avatar: null });
    await setAvatar(alice, await photo({ r: 10, g: 200, b: 200 }));
    await settledBetween(alice, bob, carol);
    // What Bob holds is still the avatar from before the block: Alice's change was dropped on arrival.
    expect(b64(getContactProfile(bob.engine.current!.db.reader, fromHex(alice.accountId))!.avatar!)).toBe(b64(before));
  });

  it('bad pictures get INVALID_IMAGE (or INVALID_REQUEST when too large) and change nothing', async () => {
    const alice = await fixture.engine('alice');
    await setAvatar(alice, await photo({ r: 1, g: 2, b: 3 }));
    const kept = getOwnProfile(alice.engine.current!.db.reader)!;
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="file:///etc/passwd"/></svg>');
    const truncated = (await photo({ r: 9, g: 9, b: 9 })).subarray(0, 4000);
    const cases: [string, Uint8Array][] = [
      ['text', Buffer.from('this is not a picture at all, just words')],
      ['empty', new Uint8Array(0)],
      ['svg', svg],
      ['truncated jpeg', truncated],
      ['decompression bomb', pngBomb(10_000)],
      ['decompression bomb over sharp’s own limit', pngBomb(60_000)],
    ];
    for (const [name, bytes] of cases) {
      const r = await alice.result('profile:setAvatar', { picture: b64(bytes) });
      expect(r.ok ? 'ok' : r.error.code, name).toBe('INVALID_IMAGE');
    }
    for (const side of [10_000, 60_000]) {
      const bomb = await alice.result('profile:setAvatar', { picture: b64(pngBomb(side)) });
      expect(!bomb.ok && bomb.error.message).toMatch(/too many pixels/);
    }
    // One byte over the limit is refused by the engine; clearly more by the contract's schema.
    const justOver = await alice.result('profile:setAvatar', { picture: b64(new Uint8Array(MAX_AVATAR_PICTURE_BYTES + 1)) });
    expect(justOver.ok ? 'ok' : [justOver.error.code, justOver.error.message]).toEqual(['INVALID_IMAGE', 'that picture is larger than 10 MiB']);
    const oversized = await alice.result('profile:setAvatar', { picture: b64(new Uint8Array(MAX_AVATAR_PICTURE_BYTES + 3000)) });
    expect(oversized.ok ? 'ok' : oversized.error.code).toBe('INVALID_REQUEST');
    const now = getOwnProfile(alice.engine.current!.db.reader)!;
    expect(now.revision).toBe(kept.revision);
    expect(b64(now.avatar!)).toBe(b64(kept.avatar!));
  });

  it('a small or tall picture is cropped to a square without being enlarged; an animation keeps its first frame', async () => {
    const alice = await fixture.engine('alice');
    const tall = await sharp({ create: { width: 90, height: 300, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 1 } } }).png().toBuffer();
    await setAvatar(alice, tall);
    const meta = await sharp(ownAvatar(alice)!).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: 'webp', width: 90, height: 90 });
    const frame = (r: number, g: number) => sharp({ create: { width: 40, height: 80, channels: 4, background: { r, g, b: 0, alpha: 1 } } }).png().toBuffer();
    const animated = await sharp([await frame(255, 0), await frame(0, 255)], { join: { animated: true } }).gif().toBuffer();
    expect((await sharp(animated).metadata()).pages).toBe(2);
    await setAvatar(alice, animated);
    const gif = await sharp(ownAvatar(alice)!).metadata();
    expect({ format: gif.format, width: gif.width, height: gif.height, pages: gif.pages ?? 1 }).toEqual({ format: 'webp', width: 40, height: 40, pages: 1 });
  });
});
