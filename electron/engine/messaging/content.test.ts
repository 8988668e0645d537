/**
 * E2E content (docs/protocol.md §16): every kind round-trips; parsing is strict (MALFORMED for
 * truncation, trailing bytes, unknown flags or kinds, bad UTF-8, empty or oversized text) and a
 * newer version or type is UNSUPPORTED; the bytes are the documented layout.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BODY_BYTES } from '../../../shared/api/primitives.js';
import { concatBytes, fromHex, toHex } from '../../../shared/crypto/bytes.js';
import { Writer } from '../../../shared/protocol/codec.js';
import { ContentError, decodeContent, encodeContent, MAX_RECEIPT_MESSAGE_IDS, type Content } from './content.js';

const id = fc.uint8Array({ minLength: 16, maxLength: 16 });
const time = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 });
const timer = fc.option(fc.integer({ min: 1, max: 0xffffffff }), { nil: null });
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
    expect(code(head(6).finish())).toBe('UNSUPPORTED');
    expect(code(new Writer().u8(2).u8(1).finish())).toBe('UNSUPPORTED');
    expect(() => encodeContent({ type: 'text', messageId: new Uint8Array(16), sentAt: 0, text: '', expireTimerSeconds: null })).toThrow(RangeError);
  });
});
