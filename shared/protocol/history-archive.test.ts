import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { utf8 } from '../crypto/bytes.js';
import { Writer } from './codec.js';
import { HISTORY_RECENT_MS } from './constants.js';
import {
  concatParts,
  encodeConversationStart,
  encodeHistoryArchive,
  encodeHistoryHeader,
  HistoryArchiveParser,
  parseHistoryArchive,
  writeArchivedMessage,
  type ArchivedMessage,
  type HistoryArchive,
} from './history-archive.js';
import { isProtocolError, type ProtocolErrorCode } from './errors.js';

const me = new Uint8Array(16).fill(0xaa);
const bob = new Uint8Array(16).fill(0xbb);
const carol = new Uint8Array(16).fill(0xcc);
const NOW = 1_800_000_000_000;

function text(over: Partial<ArchivedMessage> = {}): ArchivedMessage {
  return { kind: 'text', direction: 'incoming', status: null, readAt: null, senderDeviceId: 1, messageId: new Uint8Array(16).fill(1), sentAt: NOW - 1000, receivedAt: NOW - 900, body: 'hi', pointer: null, ...over };
}

const pointer = {
  attachmentId: new Uint8Array(16).fill(7),
  descriptor: { key: new Uint8Array(32).fill(8), length: 9, paddedLength: 10, ciphertextDigest: new Uint8Array(32).fill(9), plaintextSha256: new Uint8Array(32).fill(10) },
  mediaType: 'image/png',
  fileName: 'a.png',
  dimensions: { width: 3, height: 4 },
  thumbnail: new Uint8Array([1, 2, 3]),
  original: false,
};

const archive: HistoryArchive = {
  scope: 'recent',
  accountId: me,
  createdAt: NOW,
  since: NOW - HISTORY_RECENT_MS,
  conversations: [
    {
      peerAccountId: bob,
      messages: [
        text({ readAt: NOW - 800 }),
        text({ direction: 'outgoing', status: 'delivered', senderDeviceId: 2, messageId: new Uint8Array(16).fill(2), sentAt: NOW - 500, receivedAt: NOW - 500, body: 'grüße 👋' }),
        { ...text({ messageId: new Uint8Array(16).fill(3), sentAt: NOW - 400, receivedAt: NOW - 300 }), kind: 'attachment', body: '', pointer },
      ],
    },
    { peerAccountId: carol, messages: [text({ direction: 'outgoing', status: 'failed', messageId: new Uint8Array(16).fill(4) })] },
  ],
};

function code(f: () => unknown): ProtocolErrorCode | 'none' | 'other' {
  try {
    f();
    return 'none';
  } catch (e) {
    return isProtocolError(e) ? e.code : 'other';
  }
}

/** A header and one conversation holding exactly the given message bytes. */
function withMessageBytes(message: Uint8Array, scope: 'recent' | 'all' = 'all'): Uint8Array {
  return concatParts([encodeHistoryHeader({ scope, accountId: me, createdAt: NOW, since: scope === 'all' ? 0 : NOW - HISTORY_RECENT_MS, conversationCount: 1 }), encodeConversationStart(bob, 1), message]);
}

function messageBytes(m: ArchivedMessage): Uint8Array {
  const w = new Writer();
  writeArchivedMessage(w, m);
  return w.finish();
}

describe('history archive (docs/protocol.md §22)', () => {
  it('round-trips every field: directions, statuses, read times, captions and pointers', () => {
    const bytes = encodeHistoryArchive(archive);
    expect(parseHistoryArchive(bytes, me)).toEqual(archive);
  });

  it('parses in slices to the same result as at once', () => {
    const bytes = encodeHistoryArchive(archive);
    const p = new HistoryArchiveParser(bytes, me);
    let steps = 0;
    while (!p.step(1)) steps++;
    expect(steps).toBe(3); // the fourth step ends the archive
    expect(p.messages).toBe(4);
    expect(p.result()).toEqual(archive);
  });

  it('round-trips arbitrary texts and statuses (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ body: fc.string({ minLength: 1, maxLength: 40 }), status: fc.constantFrom('sending', 'sent', 'delivered', 'read', 'failed', null), read: fc.boolean() }), { minLength: 1, maxLength: 20 }),
        (ms) => {
          const messages = ms.map((m, i) =>
            text({ body: m.body, direction: m.status ? 'outgoing' : 'incoming', status: m.status as ArchivedMessage['status'], readAt: !m.status && m.read ? NOW : null, messageId: new Uint8Array(16).fill(i), sentAt: NOW - 100 + i, receivedAt: NOW }),
          );
          const a: HistoryArchive = { scope: 'all', accountId: me, createdAt: NOW, since: 0, conversations: [{ peerAccountId: bob, messages }] };
          expect(parseHistoryArchive(encodeHistoryArchive(a), me)).toEqual(a);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("another account's archive is UNTRUSTED_IDENTITY", () => {
    expect(code(() => parseHistoryArchive(encodeHistoryArchive(archive), bob))).toBe('UNTRUSTED_IDENTITY');
  });

  it('another version is UNSUPPORTED_VERSION', () => {
    const bytes = encodeHistoryArchive(archive);
    bytes[0] = 2;
    expect(code(() => parseHistoryArchive(bytes, me))).toBe('UNSUPPORTED_VERSION');
  });

  it('every cut short and every appended byte is MALFORMED', () => {
    const bytes = encodeHistoryArchive(archive);
    for (let n = 0; n < bytes.length; n++) expect(code(() => parseHistoryArchive(bytes.subarray(0, n), me)), `cut at ${n}`).toBe('MALFORMED');
    expect(code(() => parseHistoryArchive(concatParts([bytes, new Uint8Array(1)]), me))).toBe('MALFORMED');
  });

  const cases: [string, () => Uint8Array][] = [
    ['an unknown scope', () => { const b = encodeHistoryArchive(archive); b[1] = 3; return b; }],
    ['a since that does not match the scope', () => { const b = withMessageBytes(messageBytes(text())); b[2 + 16 + 8 + 7] = 1; return b; }],
    ['an unknown kind', () => { const m = messageBytes(text()); m[0] = 3; return withMessageBytes(m); }],
    ['an unknown state', () => { const m = messageBytes(text()); m[1] = 0x16; return withMessageBytes(m); }],
    ['device id 0', () => { const m = messageBytes(text()); m.fill(0, 2, 6); return withMessageBytes(m); }],
    ['an empty text', () => { const m = messageBytes(text({ body: 'x' })); return withMessageBytes(concatParts([m.subarray(0, m.length - 5), new Uint8Array(4)])); }],
    ['invalid UTF-8', () => { const m = messageBytes(text({ body: 'x' })); m[m.length - 1] = 0xff; return withMessageBytes(m); }],
    ['a text over 65,536 bytes', () => { const m = messageBytes(text({ body: 'x' })); return withMessageBytes(concatParts([m.subarray(0, m.length - 5), new Uint8Array([0, 1, 0, 1]), new Uint8Array(65_537).fill(0x61)])); }],
    ['a caption over 4,096 bytes', () => { const m = messageBytes({ ...text(), kind: 'attachment', body: 'c'.repeat(4096), pointer }); m[40] = 0x10; m[41] = 0x01; /* the caption's u32 length sits at offset 38: now 4,097 */ return withMessageBytes(m); }],
    ['an attachment without its pointer', () => { const m = messageBytes(text()); m[0] = 2; return withMessageBytes(m); }],
    ['a message older than the archive covers', () => withMessageBytes(messageBytes(text({ sentAt: NOW - HISTORY_RECENT_MS - 1 })), 'recent')],
    ['a message received after the archive was made', () => withMessageBytes(messageBytes(text({ receivedAt: NOW + 1 })))],
    ['an empty conversation', () => concatParts([encodeHistoryHeader({ scope: 'all', accountId: me, createdAt: NOW, since: 0, conversationCount: 1 }), bob, new Uint8Array(4)])],
    ['a conversation twice', () => {
      const m = messageBytes(text());
      return concatParts([encodeHistoryHeader({ scope: 'all', accountId: me, createdAt: NOW, since: 0, conversationCount: 2 }), encodeConversationStart(bob, 1), m, encodeConversationStart(bob, 1), m]);
    }],
    ['more conversations than the limit', () => { const b = encodeHistoryArchive(archive); b.set([0, 1, 0x86, 0xa1], 34); return b; }],
    ['a pointer whose padded length is not Padmé', () => { const m = messageBytes({ ...text(), kind: 'attachment', body: '', pointer: { ...pointer, dimensions: null, thumbnail: null } }); m[m.length - 1 - 2 - 5 - 1 - 9 - 64 - 1]! ^= 1; return withMessageBytes(m); }],
  ];
  it.each(cases)('%s is MALFORMED', (_name, make) => {
    expect(code(() => parseHistoryArchive(make(), me))).toBe('MALFORMED');
  });

  it('the encoder refuses what the parser would refuse (RangeError)', () => {
    expect(() => encodeHistoryArchive({ ...archive, since: 5 })).toThrow(RangeError);
    expect(() => messageBytes(text({ body: '' }))).toThrow(RangeError);
    expect(() => messageBytes(text({ status: 'sent' }))).toThrow(RangeError);
    expect(() => messageBytes(text({ direction: 'outgoing', status: null }))).toThrow(RangeError);
    expect(() => messageBytes({ ...text(), kind: 'attachment' })).toThrow(RangeError);
    expect(() => messageBytes(text({ body: 'x'.repeat(65_537) }))).toThrow(RangeError);
    expect(utf8('x').length).toBe(1);
  });
});
