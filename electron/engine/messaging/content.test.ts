/**
 * E2E content (docs/protocol.md §16): every kind round-trips; parsing is strict (MALFORMED for
 * truncation, trailing bytes, unknown flags or kinds, bad UTF-8, empty or oversized text) and a
 * newer version or type is UNSUPPORTED; the bytes are the documented layout.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_EXPIRE_TIMER_SECONDS, MAX_MESSAGE_BODY_BYTES } from '../../../shared/api/primitives.js';
import { readFileSync } from 'node:fs';
import { concatBytes, fromHex, toHex, utf8 } from '../../../shared/crypto/bytes.js';
import { padmeLength } from '../../../shared/protocol/attachment-cipher.js';
import { MAX_POINTER_THUMBNAIL_BYTES, type AttachmentPointer } from '../../../shared/protocol/attachment-pointer.js';
import { Writer } from '../../../shared/protocol/codec.js';
import { ContentError, decodeContent, encodeContent, MAX_CAPTION_BYTES, MAX_READ_SYNC_ENTRIES, MAX_RECEIPT_MESSAGE_IDS, type Content } from './content.js';

const id = fc.uint8Array({ minLength: 16, maxLength: 16 });
/** A valid Ed25519 public key (the base point's encoding), for contact syncs. */
const ACCOUNT_KEY = fromHex('5866666666666666666666666666666666666666666666666666666666666666');
const time = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 });
const timer = fc.option(fc.integer({ min: 1, max: 0xffffffff }), { nil: null });
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const pointer: fc.Arbitrary<AttachmentPointer> = fc.record({
  attachmentId: id,
  descriptor: fc
    .record({ key: bytes32, length: fc.integer({ min: 0, max: 2 ** 40 }), ciphertextDigest: bytes32, plaintextSha256: bytes32 })
    .map((d) => ({ ...d, paddedLength: padmeLength(d.length) })),
  mediaType: fc.constantFrom('', 'image/jpeg', 'application/pdf', 'text/plain'),
  fileName: fc.string({ unit: 'grapheme', maxLength: 60 }),
  dimensions: fc.option(fc.record({ width: fc.integer({ min: 1, max: 65_535 }), height: fc.integer({ min: 1, max: 65_535 }) }), { nil: null }),
  thumbnail: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { nil: null }),
  original: fc.boolean(),
});
const content: fc.Arbitrary<Content> = fc.oneof(
  fc.record({ type: fc.constant('text' as const), messageId: id, sentAt: time, text, expireTimerSeconds: timer }),
  fc.record({
    type: fc.constant('receipt' as const),
    messageId: id,
    sentAt: time,
    receipt: fc.constantFrom('delivered' as const, 'read' as const),
    messageIds: fc.uniqueArray(id, { minLength: 1, maxLength: 40, selector: (b) => toHex(b) }),
  }),
  fc.record({ type: fc.constant('typing' as const), messageId: id, sentAt: time, state: fc.constantFrom('started' as const, 'stopped' as const) }),
  fc.record({ type: fc.constant('sent' as const), messageId: id, sentAt: time, destination: id, text, expireTimerSeconds: timer }),
  fc.record({ type: fc.constant('attachment' as const), messageId: id, sentAt: time, pointer, caption: fc.string({ unit: 'grapheme', maxLength: 100 }), expireTimerSeconds: timer }),
  fc.record({ type: fc.constant('timer-change' as const), messageId: id, sentAt: time, seconds: fc.integer({ min: 0, max: MAX_EXPIRE_TIMER_SECONDS }) }),
  fc.record({ type: fc.constant('delete' as const), messageId: id, sentAt: time, target: id }),
  fc.record({
    type: fc.constant('read-sync' as const),
    messageId: id,
    sentAt: time,
    entries: fc.uniqueArray(fc.record({ senderAccountId: id, senderDeviceId: fc.integer({ min: 1, max: 0xffffffff }), messageId: id }), {
      minLength: 1,
      maxLength: 20,
      selector: (e) => `${toHex(e.senderAccountId)}:${e.senderDeviceId}:${toHex(e.messageId)}`,
    }),
  }),
  fc.record(
    {
      type: fc.constant('contact-sync' as const),
      messageId: id,
      sentAt: time,
      accountId: id,
      accepted: fc.constant(true as const),
      verified: fc.boolean(),
      blocked: fc.boolean(),
      accountKey: fc.constant(ACCOUNT_KEY),
      deviceList: fc.uint8Array({ minLength: 1, maxLength: 609 }),
      username: fc.stringMatching(/^[a-z0-9_.]{3,32}$/),
    },
    { requiredKeys: ['type', 'messageId', 'sentAt', 'accountId', 'accountKey', 'deviceList', 'username'] },
  ).filter((c) => c.accepted !== undefined || c.verified !== undefined || c.blocked !== undefined),
  fc.record({
    type: fc.constant('settings-sync' as const),
    messageId: id,
    sentAt: time,
    settings: fc
      .record(
        { readReceipts: fc.boolean(), typingIndicators: fc.boolean(), presenceVisible: fc.boolean(), notifications: fc.constantFrom('name-and-message' as const, 'name-only' as const, 'nothing' as const) },
        { requiredKeys: [] },
      )
      .filter((x) => Object.keys(x).length > 0),
  }),
  fc.record({ type: fc.constant('conversation-deleted' as const), messageId: id, sentAt: time, peer: id, deletedAt: time, request: fc.boolean() }),
  fc.record({ type: fc.constant('timer-sync' as const), messageId: id, sentAt: time, peer: id, seconds: fc.integer({ min: 0, max: MAX_EXPIRE_TIMER_SECONDS }) }),
  fc
    .record({
      type: fc.constant('messages-deleted' as const),
      messageId: id,
      sentAt: time,
      forEveryone: fc.boolean(),
      entries: fc.uniqueArray(fc.record({ senderAccountId: id, senderDeviceId: fc.integer({ min: 1, max: 0xffffffff }), messageId: id }), {
        minLength: 1,
        maxLength: 20,
        selector: (e) => `${toHex(e.senderAccountId)}:${e.senderDeviceId}:${toHex(e.messageId)}`,
      }),
    })
    .map((c) => (c.forEveryone ? { ...c, entries: c.entries.slice(0, 1) } : c)),
  fc.record({ type: fc.constant('sent-attachment' as const), messageId: id, sentAt: time, destination: id, pointer, caption: fc.string({ unit: 'grapheme', maxLength: 100 }) }),
  fc.record({
    type: fc.constant('profile-key' as const),
    messageId: id,
    sentAt: time,
    profileKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    revision: time,
    username: fc.stringMatching(/^[a-z0-9_.]{3,32}$/),
  }),
  fc.record({
    type: fc.constant('device-names' as const),
    messageId: id,
    sentAt: time,
    names: fc.uniqueArray(
      fc.record({ deviceId: fc.integer({ min: 1, max: 0xffffffff }), name: fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9'’ é-]{0,38}[A-Za-z0-9])?$/), namedAt: time }),
      { maxLength: 6, selector: (n) => n.deviceId },
    ),
  }),
  fc.record({
    type: fc.constant('history' as const),
    messageId: id,
    sentAt: time,
    transfer: fc.oneof(
      fc.record({ kind: fc.constant('offer' as const), transferId: id, deviceId: fc.integer({ min: 1, max: 2 ** 32 - 1 }), scope: fc.constantFrom('recent' as const, 'all' as const) }),
      fc.record({ kind: fc.constant('ready' as const), transferId: id, deviceId: fc.integer({ min: 1, max: 6 }), scope: fc.constantFrom('recent' as const, 'all' as const), messageCount: fc.integer({ min: 0, max: 2 ** 32 - 1 }), attachmentId: id, descriptor: pointer.map((p) => p.descriptor) }),
      fc.record({ kind: fc.constant('cancel' as const), transferId: id, deviceId: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant('done' as const), transferId: id, deviceId: fc.integer({ min: 1, max: 6 }), imported: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
    ),
  }),
);

function code(bytes: Uint8Array): string {
  try {
    decodeContent(bytes);
  } catch (e) {
    if (e instanceof ContentError) return e.code;
    throw e;
  }
  return 'ok';
}

describe('E2E content', () => {
  it('a receipt names 1 … MAX_RECEIPT_MESSAGE_IDS distinct messages; anything else is MALFORMED (and never encoded)', () => {
    const receipt = (count: number, ids: (i: number) => Uint8Array) => {
      const w = new Writer().u8(1).u8(0x05).bytes(new Uint8Array(16)).u64(1).u8(1).u16(count);
      for (let i = 0; i < count; i++) w.bytes(ids(i));
      return w.finish();
    };
    const distinct = (i: number) => new Writer().u64(i).u64(0).finish();
    expect(code(receipt(0, distinct))).toBe('MALFORMED');
    expect(code(receipt(1, distinct))).toBe('ok');
    expect(code(receipt(MAX_RECEIPT_MESSAGE_IDS, distinct))).toBe('ok');
    expect(code(receipt(MAX_RECEIPT_MESSAGE_IDS + 1, distinct))).toBe('MALFORMED');
    expect(code(receipt(2, () => new Uint8Array(16).fill(7)))).toBe('MALFORMED');
    const base = { type: 'receipt', messageId: new Uint8Array(16), sentAt: 1, receipt: 'delivered' } as const;
    expect(() => encodeContent({ ...base, messageIds: [] })).toThrow(RangeError);
    expect(() => encodeContent({ ...base, messageIds: [new Uint8Array(16), new Uint8Array(16)] })).toThrow(RangeError);
    expect(() => encodeContent({ ...base, messageIds: Array.from({ length: MAX_RECEIPT_MESSAGE_IDS + 1 }, (_, i) => distinct(i)) })).toThrow(RangeError);
  });

  it("a first-release receipt (type 0x02, 'up to and including') confirms only the message it names", () => {
    const legacy = `0102${'aa'.repeat(16)}0000000000000001` + '01' + 'bb'.repeat(16);
    expect(decodeContent(fromHex(legacy))).toEqual({
      type: 'receipt',
      messageId: new Uint8Array(16).fill(0xaa),
      sentAt: 1,
      receipt: 'delivered',
      messageIds: [new Uint8Array(16).fill(0xbb)],
    });
    expect(code(fromHex(legacy.slice(0, -2)))).toBe('MALFORMED');
  });

  it('round-trips every kind', () => {
    fc.assert(
      fc.property(content, (c) => {
        expect(decodeContent(encodeContent(c))).toEqual(c);
      }),
      { numRuns: 300 },
    );
  });

  it('every proper prefix and every extension by a byte is MALFORMED', () => {
    fc.assert(
      fc.property(content, fc.integer({ min: 0, max: 255 }), (c, extra) => {
        const bytes = encodeContent(c);
        for (let n = 2; n < bytes.length; n++) expect(code(bytes.slice(0, n))).toBe('MALFORMED');
        expect(code(concatBytes(bytes, Uint8Array.of(extra)))).toBe('MALFORMED');
      }),
      { numRuns: 40 },
    );
  });

  it('is laid out as documented: version, type, message id, sent-at, then the kind', () => {
    const messageId = new Uint8Array(16).fill(0xaa);
    const bytes = encodeContent({ type: 'text', messageId, sentAt: 0x0102030405, text: 'hé', expireTimerSeconds: null });
    expect(toHex(bytes)).toBe(`0101${'aa'.repeat(16)}0000000102030405` + '00' + '00000003' + '68c3a9');
    const receipt = encodeContent({ type: 'receipt', messageId, sentAt: 1, receipt: 'read', messageIds: [new Uint8Array(16).fill(0xbb), new Uint8Array(16).fill(0xcc)] });
    expect(toHex(receipt)).toBe(`0105${'aa'.repeat(16)}0000000000000001` + '02' + '0002' + 'bb'.repeat(16) + 'cc'.repeat(16));
    const typing = encodeContent({ type: 'typing', messageId, sentAt: 1, state: 'stopped' });
    expect(toHex(typing)).toBe(`0103${'aa'.repeat(16)}0000000000000001` + '02');
    // The example of docs/protocol.md §16 (ProfileKey).
    const profileKey = encodeContent({ type: 'profile-key', messageId, sentAt: 1, profileKey: new Uint8Array(32).fill(0xcc), revision: 3, username: 'alice' });
    expect(toHex(profileKey)).toBe(`0107${'aa'.repeat(16)}0000000000000001` + 'cc'.repeat(32) + '0000000000000003' + '05' + '616c696365');
  });

  it('a history transfer (0x0D) is laid out as docs/protocol.md §22.5 says; an unknown kind or scope, device 0, a non-Padmé length or a short body is MALFORMED', () => {
    const messageId = new Uint8Array(16).fill(0xaa);
    const transferId = new Uint8Array(16).fill(0xbb);
    // The example of §22.5: an Offer for device 2, scope recent.
    const offer = encodeContent({ type: 'history', messageId, sentAt: 1, transfer: { kind: 'offer', transferId, deviceId: 2, scope: 'recent' } });
    expect(toHex(offer)).toBe(`010d${'aa'.repeat(16)}0000000000000001` + '01' + 'bb'.repeat(16) + '00000002' + '01');
    const head = (kind: number, deviceId = 2) => new Writer().u8(1).u8(0x0d).bytes(messageId).u64(1).u8(kind).bytes(transferId).u32(deviceId);
    expect(code(head(1).u8(2).finish())).toBe('ok');
    expect(code(head(1).u8(3).finish())).toBe('MALFORMED');
    expect(code(head(1, 0).u8(1).finish())).toBe('MALFORMED');
    expect(code(head(5).finish())).toBe('MALFORMED');
    expect(code(head(3).finish())).toBe('ok');
    expect(code(head(3).u8(0).finish())).toBe('MALFORMED');
    expect(code(head(4).finish())).toBe('MALFORMED');
    const ready = (length: number, padded: number) => head(2).u8(2).u32(7).bytes(new Uint8Array(16)).bytes(new Uint8Array(32)).u64(length).u64(padded).bytes(new Uint8Array(64)).finish();
    expect(code(ready(9, 10))).toBe('ok');
    expect(code(ready(9, 9))).toBe('MALFORMED');
    expect(decodeContent(ready(9, 10))).toMatchObject({ type: 'history', transfer: { kind: 'ready', deviceId: 2, scope: 'all', messageCount: 7, descriptor: { length: 9, paddedLength: 10 } } });
  });

  it('a profile key carries a canonical username: anything else is MALFORMED, and the sender refuses to write one', () => {
    const head = () => new Writer().u8(1).u8(7).bytes(new Uint8Array(16)).u64(1).bytes(new Uint8Array(32)).u64(1);
    expect(code(head().u8(5).bytes(utf8('alice')).finish())).toBe('ok');
    expect(code(head().u8(5).bytes(utf8('Alice')).finish())).toBe('MALFORMED');
    expect(code(head().u8(2).bytes(utf8('al')).finish())).toBe('MALFORMED');
    expect(code(head().u8(0).finish())).toBe('MALFORMED');
    expect(code(head().u8(3).bytes(Uint8Array.of(0x61, 0xff, 0x62)).finish())).toBe('MALFORMED');
    const c = { type: 'profile-key', messageId: new Uint8Array(16), sentAt: 1, revision: 1 } as const;
    expect(() => encodeContent({ ...c, profileKey: new Uint8Array(32), username: 'Alice' })).toThrow(RangeError);
    expect(() => encodeContent({ ...c, profileKey: new Uint8Array(31), username: 'alice' })).toThrow(RangeError);
  });

  it('refuses bad text (UTF-8, empty, oversized, flags, zero timer) and bad kinds; newer content is UNSUPPORTED', () => {
    const head = (type: number) => new Writer().u8(1).u8(type).bytes(new Uint8Array(16)).u64(1);
    expect(code(head(1).u8(0).var32(Uint8Array.of(0xff)).finish())).toBe('MALFORMED');
    expect(code(head(1).u8(0).var32(new Uint8Array(0)).finish())).toBe('MALFORMED');
    expect(code(head(1).u8(0).var32(new Uint8Array(MAX_MESSAGE_BODY_BYTES + 1).fill(0x61)).finish())).toBe('MALFORMED');
    expect(code(head(1).u8(0).var32(new Uint8Array(MAX_MESSAGE_BODY_BYTES).fill(0x61)).finish())).toBe('ok');
    expect(code(head(1).u8(2).var32(Uint8Array.of(0x61)).finish())).toBe('MALFORMED');
    expect(code(head(1).u8(1).u32(0).var32(Uint8Array.of(0x61)).finish())).toBe('MALFORMED');
    expect(code(head(2).u8(3).bytes(new Uint8Array(16)).finish())).toBe('MALFORMED');
    expect(code(head(3).u8(0).finish())).toBe('MALFORMED');
    expect(code(head(0x3c).finish())).toBe('UNSUPPORTED');
    expect(code(new Writer().u8(2).u8(1).finish())).toBe('UNSUPPORTED');
    expect(() => encodeContent({ type: 'text', messageId: new Uint8Array(16), sentAt: 0, text: '', expireTimerSeconds: null })).toThrow(RangeError);
  });

  it('device names (0x0C): 0 … 6 entries of device id, time and a valid name; anything else is MALFORMED and never encoded', () => {
    const names = (entries: readonly [number, number, Uint8Array][], count = entries.length) => {
      const w = new Writer().u8(1).u8(0x0c).bytes(new Uint8Array(16).fill(0xaa)).u64(1).u8(count);
      for (const [deviceId, at, name] of entries) w.u32(deviceId).u64(at).u8(name.length).bytes(name);
      return w.finish();
    };
    const laptop = utf8("Alice's laptop");
    // The documented layout: header, count, then per entry u32 device id ‖ u64 named-at ‖ u8 length ‖ UTF-8 name.
    expect(toHex(encodeContent({ type: 'device-names', messageId: new Uint8Array(16).fill(0xaa), sentAt: 1, names: [{ deviceId: 2, name: "Alice's laptop", namedAt: 3 }] }))).toBe(
      `010c${'aa'.repeat(16)}0000000000000001` + `01` + `00000002` + `0000000000000003` + `0e` + toHex(laptop),
    );
    expect(code(names([]))).toBe('ok');
    expect(code(names([[2, 3, laptop]]))).toBe('ok');
    expect(code(names([[2, 3, laptop]], 7))).toBe('MALFORMED');
    expect(code(names([[0, 3, laptop]]))).toBe('MALFORMED');
    expect(code(names([[2, 3, laptop], [2, 4, laptop]]))).toBe('MALFORMED');
    for (const bad of ['', ' padded ', '<b>x</b>', 'two\nlines', 'rtl \u202e', 'é'.repeat(65)]) {
      expect(code(names([[2, 3, utf8(bad)]]))).toBe('MALFORMED');
      expect(() => encodeContent({ type: 'device-names', messageId: new Uint8Array(16), sentAt: 0, names: [{ deviceId: 2, name: bad, namedAt: 0 }] })).toThrow(RangeError);
    }
    expect(code(names([[2, 3, Uint8Array.of(0xc3, 0x28)]]))).toBe('MALFORMED');
  });

  it('an attachment carries its pointer, then a caption of 0 … 4,096 bytes; the caption is strict UTF-8', () => {
    const p: AttachmentPointer = {
      attachmentId: new Uint8Array(16).fill(1),
      descriptor: { key: new Uint8Array(32).fill(2), length: 9, paddedLength: 10, ciphertextDigest: new Uint8Array(32).fill(3), plaintextSha256: new Uint8Array(32).fill(4) },
      mediaType: 'text/plain',
      fileName: 'a.txt',
      dimensions: null,
      thumbnail: null,
      original: false,
    };
    const messageId = new Uint8Array(16).fill(0xaa);
    const bytes = encodeContent({ type: 'attachment', messageId, sentAt: 1, pointer: p, caption: 'hi' });
    expect(toHex(bytes.subarray(0, 26))).toBe(`0106${'aa'.repeat(16)}0000000000000001`);
    expect(toHex(bytes.subarray(bytes.length - 6))).toBe('000000026869');
    const head = new Writer().u8(1).u8(6).bytes(messageId).u64(1).finish();
    const body = bytes.subarray(26, bytes.length - 6);
    const withCaption = (caption: Uint8Array) => concatBytes(head, body, new Writer().var32(caption).finish());
    expect(code(withCaption(new Uint8Array(0)))).toBe('ok');
    expect(code(withCaption(new Uint8Array(MAX_CAPTION_BYTES).fill(0x61)))).toBe('ok');
    expect(code(withCaption(new Uint8Array(MAX_CAPTION_BYTES + 1).fill(0x61)))).toBe('MALFORMED');
    expect(code(withCaption(Uint8Array.of(0xc3)))).toBe('MALFORMED');
    expect(() => encodeContent({ type: 'attachment', messageId, sentAt: 1, pointer: p, caption: 'x'.repeat(MAX_CAPTION_BYTES + 1) })).toThrow(RangeError);
  });

  it('the copy of a sent file (0x08) is the attachment layout with the destination account between header and pointer', () => {
    const p: AttachmentPointer = {
      attachmentId: new Uint8Array(16).fill(1),
      descriptor: { key: new Uint8Array(32).fill(2), length: 9, paddedLength: 10, ciphertextDigest: new Uint8Array(32).fill(3), plaintextSha256: new Uint8Array(32).fill(4) },
      mediaType: 'text/plain',
      fileName: 'a.txt',
      dimensions: null,
      thumbnail: null,
      original: false,
    };
    const messageId = new Uint8Array(16).fill(0xaa);
    const destination = new Uint8Array(16).fill(0xdd);
    const original = encodeContent({ type: 'attachment', messageId, sentAt: 1, pointer: p, caption: 'hi' });
    const copy = encodeContent({ type: 'sent-attachment', messageId, sentAt: 1, destination, pointer: p, caption: 'hi' });
    expect(toHex(copy)).toBe(`0108${'aa'.repeat(16)}0000000000000001` + 'dd'.repeat(16) + toHex(original.subarray(26)));
    expect(code(copy.subarray(0, 26 + 15))).toBe('MALFORMED');
    expect(() => encodeContent({ type: 'sent-attachment', messageId, sentAt: 1, destination: new Uint8Array(15), pointer: p, caption: '' })).toThrow(RangeError);
  });

  it('a read sync (0x09) names 1 … 1,024 distinct (account, device, message) entries; anything else is MALFORMED and never encoded', () => {
    const messageId = new Uint8Array(16).fill(0xaa);
    const entry = { senderAccountId: new Uint8Array(16).fill(0xbb), senderDeviceId: 2, messageId: new Uint8Array(16).fill(0xcc) };
    const bytes = encodeContent({ type: 'read-sync', messageId, sentAt: 1, entries: [entry] });
    expect(toHex(bytes)).toBe(`0109${'aa'.repeat(16)}0000000000000001` + '0001' + 'bb'.repeat(16) + '00000002' + 'cc'.repeat(16));
    const sync = (count: number, at: (i: number) => { device: number; id: Uint8Array }) => {
      const w = new Writer().u8(1).u8(0x09).bytes(messageId).u64(1).u16(count);
      for (let i = 0; i < count; i++) w.bytes(entry.senderAccountId).u32(at(i).device).bytes(at(i).id);
      return w.finish();
    };
    const distinct = (i: number) => ({ device: 1, id: new Writer().u64(i).u64(0).finish() });
    expect(code(sync(0, distinct))).toBe('MALFORMED');
    expect(code(sync(1, distinct))).toBe('ok');
    expect(code(sync(MAX_READ_SYNC_ENTRIES, distinct))).toBe('ok');
    expect(code(sync(MAX_READ_SYNC_ENTRIES + 1, distinct))).toBe('MALFORMED');
    expect(code(sync(2, () => ({ device: 1, id: entry.messageId })))).toBe('MALFORMED');
    expect(code(sync(2, (i) => ({ device: i + 1, id: entry.messageId })))).toBe('ok'); // the same id from two devices: two messages
    expect(code(sync(1, () => ({ device: 0, id: entry.messageId })))).toBe('MALFORMED');
    expect(() => encodeContent({ type: 'read-sync', messageId, sentAt: 1, entries: [] })).toThrow(RangeError);
    expect(() => encodeContent({ type: 'read-sync', messageId, sentAt: 1, entries: [entry, entry] })).toThrow(RangeError);
    expect(() => encodeContent({ type: 'read-sync', messageId, sentAt: 1, entries: [{ ...entry, senderDeviceId: 0 }] })).toThrow(RangeError);
  });

  it('a contact sync (0x0A) is laid out as documented; bad flags, keys, lengths and usernames are MALFORMED', () => {
    const messageId = new Uint8Array(16).fill(0xaa);
    const base = { type: 'contact-sync', messageId, sentAt: 1, accountId: new Uint8Array(16).fill(0xbb), accountKey: ACCOUNT_KEY, deviceList: Uint8Array.of(1, 2, 3), username: 'bob' } as const;
    const bytes = encodeContent({ ...base, accepted: true, blocked: true });
    expect(toHex(bytes)).toBe(`010a${'aa'.repeat(16)}0000000000000001` + 'bb'.repeat(16) + '05' + '05' + '06' + toHex(ACCOUNT_KEY) + '0003' + '010203' + '03' + '626f62');
    const head = (set: number, values: number) => new Writer().u8(1).u8(0x0a).bytes(messageId).u64(1).bytes(base.accountId).u8(set).u8(values).u8(0x06).bytes(ACCOUNT_KEY);
    const tail = (w: Writer) => w.u16(3).bytes(Uint8Array.of(1, 2, 3)).u8(3).bytes(utf8('bob')).finish();
    expect(code(tail(head(0x02, 0x02)))).toBe('ok');
    expect(code(tail(head(0x00, 0x00)))).toBe('MALFORMED'); // changes nothing
    expect(code(tail(head(0x08, 0x00)))).toBe('MALFORMED'); // unknown flag
    expect(code(tail(head(0x02, 0x04)))).toBe('MALFORMED'); // a value outside the set
    expect(code(tail(head(0x01, 0x00)))).toBe('MALFORMED'); // a request is never un-accepted
    const withList = (n: number) => head(0x04, 0x04).u16(n).bytes(new Uint8Array(n)).u8(3).bytes(utf8('bob')).finish();
    expect(code(withList(0))).toBe('MALFORMED');
    expect(code(withList(609))).toBe('ok');
    expect(code(withList(610))).toBe('MALFORMED');
    expect(code(head(0x04, 0x04).u16(3).bytes(Uint8Array.of(1, 2, 3)).u8(3).bytes(utf8('Bob')).finish())).toBe('MALFORMED');
    const badKey = new Writer().u8(1).u8(0x0a).bytes(messageId).u64(1).bytes(base.accountId).u8(4).u8(4).u8(0x05).bytes(ACCOUNT_KEY);
    expect(code(tail(badKey))).toBe('MALFORMED'); // an X25519 type byte where the account key goes
    expect(() => encodeContent({ ...base })).toThrow(RangeError);
    expect(() => encodeContent({ ...base, blocked: true, username: 'Bob' })).toThrow(RangeError);
  });

  it('an account sync (0x0B) carries settings or a deleted conversation, laid out as documented; anything else is MALFORMED', () => {
    const messageId = new Uint8Array(16).fill(0xaa);
    const settings = encodeContent({ type: 'settings-sync', messageId, sentAt: 1, settings: { readReceipts: false, presenceVisible: true, notifications: 'nothing' } });
    expect(toHex(settings)).toBe(`010b${'aa'.repeat(16)}0000000000000001` + '01' + '0d' + '04' + '03');
    const deleted = encodeContent({ type: 'conversation-deleted', messageId, sentAt: 1, peer: new Uint8Array(16).fill(0xbb), deletedAt: 2, request: true });
    expect(toHex(deleted)).toBe(`010b${'aa'.repeat(16)}0000000000000001` + '02' + 'bb'.repeat(16) + '0000000000000002' + '01');
    const head = () => new Writer().u8(1).u8(0x0b).bytes(messageId).u64(1);
    expect(code(head().u8(1).u8(0x01).u8(0x01).u8(0).finish())).toBe('ok');
    expect(code(head().u8(1).u8(0x00).u8(0x00).u8(0).finish())).toBe('MALFORMED'); // changes nothing
    expect(code(head().u8(1).u8(0x10).u8(0x00).u8(0).finish())).toBe('MALFORMED'); // unknown setting
    expect(code(head().u8(1).u8(0x01).u8(0x02).u8(0).finish())).toBe('MALFORMED'); // a value outside the set
    expect(code(head().u8(1).u8(0x08).u8(0x08).u8(1).finish())).toBe('MALFORMED'); // notifications have no boolean value
    expect(code(head().u8(1).u8(0x08).u8(0x00).u8(4).finish())).toBe('MALFORMED'); // unknown notification content
    expect(code(head().u8(1).u8(0x01).u8(0x00).u8(1).finish())).toBe('MALFORMED'); // notification content without its flag
    expect(code(head().u8(2).bytes(new Uint8Array(16)).u64(1).u8(2).finish())).toBe('MALFORMED'); // unknown deletion flag
    expect(code(head().u8(5).finish())).toBe('MALFORMED'); // unknown kind
    expect(() => encodeContent({ type: 'settings-sync', messageId, sentAt: 1, settings: {} })).toThrow(RangeError);
  });

  it('an account sync (0x0B) carries a conversation timer (kind 0x03) and deleted messages (kind 0x04) as documented; anything else is MALFORMED', () => {
    const messageId = new Uint8Array(16).fill(0xaa);
    const peer = new Uint8Array(16).fill(0xbb);
    const ref = { senderAccountId: new Uint8Array(16).fill(0xcc), senderDeviceId: 2, messageId: new Uint8Array(16).fill(0xdd) };
    // The conversation with bb…bb: 5 minutes.
    expect(toHex(encodeContent({ type: 'timer-sync', messageId, sentAt: 1, peer, seconds: 300 }))).toBe(`010b${'aa'.repeat(16)}0000000000000001` + '03' + 'bb'.repeat(16) + '0000012c');
    // Deleted for everyone: message dd…dd of device 2 of account cc…cc.
    expect(toHex(encodeContent({ type: 'messages-deleted', messageId, sentAt: 1, forEveryone: true, entries: [ref] }))).toBe(
      `010b${'aa'.repeat(16)}0000000000000001` + '04' + '01' + '0001' + 'cc'.repeat(16) + '00000002' + 'dd'.repeat(16),
    );
    const head = () => new Writer().u8(1).u8(0x0b).bytes(messageId).u64(1);
    const timer = (seconds: number) => head().u8(3).bytes(peer).u32(seconds).finish();
    expect(decodeContent(timer(0))).toMatchObject({ type: 'timer-sync', seconds: 0 });
    expect(code(timer(MAX_EXPIRE_TIMER_SECONDS))).toBe('ok');
    expect(code(timer(MAX_EXPIRE_TIMER_SECONDS + 1))).toBe('MALFORMED');
    expect(code(head().u8(3).bytes(peer).finish())).toBe('MALFORMED'); // no timer
    const deleted = (flags: number, count: number, at: (i: number) => number = (i) => i + 1) => {
      const w = head().u8(4).u8(flags).u16(count);
      for (let i = 0; i < count; i++) w.bytes(ref.senderAccountId).u32(at(i)).bytes(ref.messageId);
      return w.finish();
    };
    expect(decodeContent(deleted(0, 3))).toMatchObject({ type: 'messages-deleted', forEveryone: false });
    expect(code(deleted(0, MAX_READ_SYNC_ENTRIES))).toBe('ok');
    expect(code(deleted(0, 0))).toBe('MALFORMED'); // names nothing
    expect(code(deleted(0, MAX_READ_SYNC_ENTRIES + 1))).toBe('MALFORMED');
    expect(code(deleted(0, 2, () => 1))).toBe('MALFORMED'); // a message named twice
    expect(code(deleted(0, 1, () => 0))).toBe('MALFORMED'); // device 0
    expect(code(deleted(2, 1))).toBe('MALFORMED'); // unknown flag
    expect(code(deleted(1, 2))).toBe('MALFORMED'); // for everyone names exactly one message
    expect(() => encodeContent({ type: 'messages-deleted', messageId, sentAt: 1, forEveryone: true, entries: [ref, { ...ref, senderDeviceId: 3 }] })).toThrow(RangeError);
    expect(() => encodeContent({ type: 'timer-sync', messageId, sentAt: 1, peer, seconds: -1 })).toThrow(RangeError);
  });

  it('timers and delete for everyone (§23): the documented bytes; a timer change out of range, a zero or flagless file timer are MALFORMED', () => {
    const messageId = new Uint8Array(16).fill(0xaa);
    // Timer change: 5 minutes.
    expect(toHex(encodeContent({ type: 'timer-change', messageId, sentAt: 1, seconds: 300 }))).toBe(`010e${'aa'.repeat(16)}0000000000000001` + '0000012c');
    // Delete for everyone naming message bb…bb.
    const target = new Uint8Array(16).fill(0xbb);
    expect(toHex(encodeContent({ type: 'delete', messageId, sentAt: 1, target }))).toBe(`010f${'aa'.repeat(16)}0000000000000001${'bb'.repeat(16)}`);
    const change = (seconds: number) => new Writer().u8(1).u8(0x0e).bytes(messageId).u64(1).u32(seconds).finish();
    expect(decodeContent(change(0))).toMatchObject({ type: 'timer-change', seconds: 0 });
    expect(decodeContent(change(MAX_EXPIRE_TIMER_SECONDS))).toMatchObject({ seconds: MAX_EXPIRE_TIMER_SECONDS });
    expect(code(change(MAX_EXPIRE_TIMER_SECONDS + 1))).toBe('MALFORMED');
    expect(code(concatBytes(change(30), Uint8Array.of(0)))).toBe('MALFORMED');
    expect(code(new Writer().u8(1).u8(0x0f).bytes(messageId).u64(1).bytes(new Uint8Array(15)).finish())).toBe('MALFORMED');
    expect(() => encodeContent({ type: 'timer-change', messageId, sentAt: 1, seconds: MAX_EXPIRE_TIMER_SECONDS + 1 })).toThrow(RangeError);
    // A timed text: flags 0x01 then the timer (30 s).
    expect(toHex(encodeContent({ type: 'text', messageId, sentAt: 1, text: 'hi', expireTimerSeconds: 30 }).subarray(26))).toBe('010000001e000000026869');
    // A file's timer rides in its pointer: flag 0x08 and a u32 after the thumbnail (absent: v1 bytes).
    const p: AttachmentPointer = {
      attachmentId: new Uint8Array(16).fill(1),
      descriptor: { key: new Uint8Array(32).fill(2), length: 9, paddedLength: 10, ciphertextDigest: new Uint8Array(32).fill(3), plaintextSha256: new Uint8Array(32).fill(4) },
      mediaType: '',
      fileName: '',
      dimensions: null,
      thumbnail: null,
      original: true,
    };
    const plain = encodeContent({ type: 'attachment', messageId, sentAt: 1, pointer: p, caption: '' });
    const timed = encodeContent({ type: 'attachment', messageId, sentAt: 1, pointer: p, caption: '', expireTimerSeconds: 60 });
    const pointerEnd = plain.length - 4; // the caption's length (0) ends the content
    expect(plain[26]).toBe(0x04);
    expect(timed[26]).toBe(0x0c);
    expect(toHex(timed)).toBe(toHex(concatBytes(Uint8Array.of(...plain.subarray(0, 26), 0x0c), plain.subarray(27, pointerEnd), fromHex('0000003c'), plain.subarray(pointerEnd))));
    expect(decodeContent(plain)).toMatchObject({ expireTimerSeconds: null });
    expect(decodeContent(timed)).toMatchObject({ expireTimerSeconds: 60 });
    const zero = Uint8Array.from(timed);
    zero.set([0, 0, 0, 0], pointerEnd);
    expect(code(zero)).toBe('MALFORMED');
    expect(code(concatBytes(plain, fromHex('0000003c')))).toBe('MALFORMED');
  });

  it('the largest attachment content (thumbnail, caption, name and type at their maximum) leaves room in the 96 KiB envelope', () => {
    const p: AttachmentPointer = {
      attachmentId: new Uint8Array(16),
      descriptor: { key: new Uint8Array(32), length: 2 ** 40, paddedLength: padmeLength(2 ** 40), ciphertextDigest: new Uint8Array(32), plaintextSha256: new Uint8Array(32) },
      mediaType: `${'a'.repeat(63)}/${'b'.repeat(63)}`,
      fileName: 'n'.repeat(255),
      dimensions: { width: 65_535, height: 65_535 },
      thumbnail: new Uint8Array(MAX_POINTER_THUMBNAIL_BYTES),
      original: true,
    };
    const bytes = encodeContent({ type: 'attachment', messageId: new Uint8Array(16), sentAt: 1, pointer: p, caption: 'c'.repeat(MAX_CAPTION_BYTES) });
    expect(decodeContent(bytes)).toMatchObject({ type: 'attachment', caption: 'c'.repeat(MAX_CAPTION_BYTES) });
    // The largest text (65,536 bytes, 65,567 bytes of content) is what the 96 KiB envelope is sized for (protocol.md §16).
    expect(bytes.length).toBe(53_800); // docs/protocol.md §16
    expect(bytes.length).toBeLessThan(26 + 5 + MAX_MESSAGE_BODY_BYTES);
  });

  it('an attachment content is the committed vector byte for byte (test/vectors/parley/attachment-pointer.json)', () => {
    type Case = { name: string; messageId: string; sentAt: number; pointer: string; caption: string; content: string };
    const v = JSON.parse(readFileSync(new URL('../../../test/vectors/parley/attachment-pointer.json', import.meta.url), 'utf8')) as { cases: Case[] };
    for (const c of v.cases) {
      const decoded = decodeContent(fromHex(c.content));
      expect(decoded).toMatchObject({ type: 'attachment', messageId: fromHex(c.messageId), sentAt: c.sentAt, caption: c.caption });
      expect(toHex(encodeContent(decoded)), c.name).toBe(c.content);
    }
    expect(v.cases).toHaveLength(3);
  });
});

describe('group content (§24.6: 0x11 membership update, 0x12 distribution, 0x13 request)', () => {
  const header = { messageId: new Uint8Array(16).fill(7), sentAt: 1_800_000_000_000 };
  const groupId = new Uint8Array(16).fill(0x11);
  const distribution = {
    groupId,
    distributionId: new Uint8Array(16).fill(0x22),
    senderAccountId: new Uint8Array(16).fill(0x33),
    senderDeviceId: 2,
    iteration: 41,
    chainKey: new Uint8Array(32).fill(0x44),
    signingPublicKey: ACCOUNT_KEY,
  };

  it('each round-trips and is laid out as ContentHeader ‖ the §24.6 body', () => {
    const update: Content = { type: 'group-update', ...header, groupId, records: [new Uint8Array([1, 2, 3]), new Uint8Array([4])] };
    const bytes = encodeContent(update);
    expect(toHex(bytes.subarray(0, 2))).toBe('0111');
    expect(toHex(bytes.subarray(26))).toBe(`${toHex(groupId)}0002` + '00000003010203' + '0000000104');
    expect(decodeContent(bytes)).toEqual(update);
    const d = encodeContent({ type: 'sender-key', ...header, distribution });
    expect(d[1]).toBe(0x12);
    expect(d.length).toBe(26 + 121);
    expect(decodeContent(d)).toEqual({ type: 'sender-key', ...header, distribution });
    const q = encodeContent({ type: 'sender-key-request', ...header, request: { groupId, distributionId: distribution.distributionId, iteration: 9 } });
    expect(toHex(q.subarray(0, 2))).toBe('0113');
    expect(q.length).toBe(26 + 36);
    expect(decodeContent(q)).toEqual({ type: 'sender-key-request', ...header, request: { groupId, distributionId: distribution.distributionId, iteration: 9 } });
  });

  it('bad group content is MALFORMED: no records, a truncated or extended distribution, device 0; 0x10 (the group message itself) is not content', () => {
    const malformed = (bytes: Uint8Array) => {
      try {
        decodeContent(bytes);
      } catch (e) {
        return e instanceof ContentError ? e.code : 'other';
      }
      return 'ok';
    };
    const head = concatBytes(new Uint8Array([1, 0x11]), header.messageId, new Uint8Array(8));
    expect(malformed(concatBytes(head, groupId, new Uint8Array([0, 0])))).toBe('MALFORMED');
    const d = encodeContent({ type: 'sender-key', ...header, distribution });
    expect(malformed(d.subarray(0, d.length - 1))).toBe('MALFORMED');
    expect(malformed(concatBytes(d, new Uint8Array([0])))).toBe('MALFORMED');
    const device0 = d.slice();
    device0.set([0, 0, 0, 0], 26 + 48);
    expect(malformed(device0)).toBe('MALFORMED');
    const groupMessageType = concatBytes(new Uint8Array([1, 0x10]), header.messageId, new Uint8Array(8));
    expect(malformed(groupMessageType)).toBe('UNSUPPORTED');
  });
});
