/**
 * shared/wire: the byte limits equal the schemas' worst cases (so the relay's maxPayload is exactly
 * one full fan-out), byte fields accept exactly the strict base64url of the right length, the
 * username rule is a projection, and the relay-auth signature input has the documented layout.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import { label } from '../protocol/constants.js';
import { accountDeletionSignatureInput, relayAuthSignatureInput } from './auth.js';
import { ErrorBodySchema, ErrorFrameSchema, ERROR_CODES, HTTP_STATUS } from './errors.js';
import { ClientFrameSchema } from './frames.js';
import { MAX_DEVICES_PER_ACCOUNT, MAX_ENCRYPTED_PROFILE_BYTES, MAX_ENVELOPE_CONTENT, MIN_ENCRYPTED_PROFILE_BYTES } from './limits.js';
import { bytesField, RequestIdSchema } from './primitives.js';
import { PrekeyUploadSchema, PutProfileRequestSchema, RegisterRequestSchema, SendRequestSchema } from './rest.js';
import { normalizeUsername } from './username.js';
import {
  jsonByteLength,
  MAX_CLIENT_FRAME_BYTES,
  MAX_PREKEY_BODY_BYTES,
  MAX_PROFILE_BODY_BYTES,
  MAX_REGISTER_BODY_BYTES,
  MAX_SEND_BODY_BYTES,
  worstCaseMessages,
  worstCasePrekeys,
  worstCaseRegisterBody,
  worstCaseSendFrame,
} from './wire-size.js';

describe('wire sizes', () => {
  it('maxPayload is the compact JSON length of a valid full fan-out, and the fan-out is the largest frame', () => {
    const frame = worstCaseSendFrame();
    expect(ClientFrameSchema.safeParse(frame).success).toBe(true);
    expect(jsonByteLength(frame)).toBe(MAX_CLIENT_FRAME_BYTES);
    expect(frame.messages).toHaveLength(MAX_DEVICES_PER_ACCOUNT);
    expect(frame.messages.every((m) => fromBase64Url(m.content).length === MAX_ENVELOPE_CONTENT)).toBe(true);
  });

  it('anything larger than the worst case is refused by the schema', () => {
    const frame = worstCaseSendFrame();
    const sevenDevices = { ...frame, messages: [...frame.messages, { deviceId: 1, content: 'AA' }] };
    expect(ClientFrameSchema.safeParse(sevenDevices).success).toBe(false);
    const bigger = { ...frame, messages: frame.messages.map((m, i) => (i === 0 ? { ...m, content: toBase64Url(new Uint8Array(MAX_ENVELOPE_CONTENT + 1)) } : m)) };
    expect(ClientFrameSchema.safeParse(bigger).success).toBe(false);
    expect(ClientFrameSchema.safeParse({ ...frame, id: `${frame.id}x` }).success).toBe(false);
  });

  it('REST body limits are the worst cases of their schemas', () => {
    const send = { to: worstCaseSendFrame().to, messages: worstCaseMessages() };
    expect(SendRequestSchema.safeParse(send).success).toBe(true);
    expect(jsonByteLength(send)).toBe(MAX_SEND_BODY_BYTES);
    const prekeys = { ...worstCasePrekeys(), oneTimePrekeys: [] };
    expect(PrekeyUploadSchema.safeParse(prekeys).success).toBe(true);
    expect(jsonByteLength(prekeys)).toBe(MAX_PREKEY_BODY_BYTES);
    // The register worst case is at the schema's limits (its device list and username do not verify,
    // which the relay checks after parsing).
    expect(RegisterRequestSchema.safeParse(worstCaseRegisterBody()).success).toBe(true);
    expect(jsonByteLength(worstCaseRegisterBody())).toBe(MAX_REGISTER_BODY_BYTES);
    const profile = { profile: toBase64Url(new Uint8Array(MAX_ENCRYPTED_PROFILE_BYTES)) };
    expect(PutProfileRequestSchema.safeParse(profile).success).toBe(true);
    expect(jsonByteLength(profile)).toBe(MAX_PROFILE_BODY_BYTES);
  });

  it('an encrypted profile one byte outside its lengths is refused by the schema', () => {
    for (const n of [MIN_ENCRYPTED_PROFILE_BYTES - 1, MAX_ENCRYPTED_PROFILE_BYTES + 1]) {
      expect(PutProfileRequestSchema.safeParse({ profile: toBase64Url(new Uint8Array(n)) }).success, String(n)).toBe(false);
    }
    expect(PutProfileRequestSchema.safeParse({ profile: toBase64Url(new Uint8Array(MIN_ENCRYPTED_PROFILE_BYTES)) }).success).toBe(true);
  });

  it('every valid send frame fits in maxPayload (property)', () => {
    const message = fc.record({
      deviceId: fc.integer({ min: 1, max: 0xffffffff }),
      content: fc.integer({ min: 1, max: MAX_ENVELOPE_CONTENT }).map((n) => toBase64Url(new Uint8Array(n))),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(message, { minLength: 1, maxLength: MAX_DEVICES_PER_ACCOUNT, selector: (m) => m.deviceId }),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        (messages, id) => {
          const frame = { type: 'send', id, to: toBase64Url(new Uint8Array(16)), messages };
          expect(ClientFrameSchema.safeParse(frame).success).toBe(true);
          expect(jsonByteLength(frame)).toBeLessThanOrEqual(MAX_CLIENT_FRAME_BYTES);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('byte fields', () => {
  const field = bytesField({ length: 16 });

  it('round-trip any 16 bytes and refuse any other length (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        const parsed = field.safeParse(toBase64Url(bytes));
        expect(parsed.success).toBe(bytes.length === 16);
        if (parsed.success) expect(parsed.data).toEqual(bytes);
      }),
    );
  });

  it('refuse padding, the standard alphabet, whitespace and non-canonical trailing bits', () => {
    const good = toBase64Url(new Uint8Array(16).fill(0xfb));
    expect(field.safeParse(good).success).toBe(true);
    for (const bad of [`${good}==`, good.replace(/-/g, '+').replace(/_/g, '/'), ` ${good}`, `${good.slice(0, -1)}B`, 'AAAAAAAAAAAAAAAAAAAAAP']) {
      expect(field.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('request ids are 1-64 of [A-Za-z0-9_-]', () => {
    expect(RequestIdSchema.safeParse('a'.repeat(64)).success).toBe(true);
    for (const bad of ['', 'a'.repeat(65), 'a b', 'é', 1]) expect(RequestIdSchema.safeParse(bad).success).toBe(false);
  });
});

describe('username rule', () => {
  it('is a projection: a canonical name normalises to itself, and every output matches the rule (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (raw) => {
        const canonical = normalizeUsername(raw);
        if (canonical === null) return;
        expect(canonical).toMatch(/^[a-z0-9_.]{3,32}$/);
        expect(normalizeUsername(canonical)).toBe(canonical);
      }),
    );
  });
});

describe('errors', () => {
  it('every code has an HTTP status and the error schemas refuse unknown keys', () => {
    for (const code of ERROR_CODES) expect(HTTP_STATUS[code]).toBeGreaterThanOrEqual(400);
    expect(ErrorBodySchema.safeParse({ error: { code: 'MALFORMED', message: 'x' } }).success).toBe(true);
    expect(ErrorBodySchema.safeParse({ error: { code: 'MALFORMED', message: 'x', secret: 'y' } }).success).toBe(false);
    expect(ErrorBodySchema.safeParse({ error: { code: 'NOPE', message: 'x' } }).success).toBe(false);
    expect(ErrorFrameSchema.safeParse({ type: 'error', code: 'MISMATCHED_DEVICES', message: 'm', missing: [1], stale: [] }).success).toBe(true);
  });
});

describe('signature inputs', () => {
  it('relay auth is label ‖ relay id ‖ nonce ‖ u64 time ‖ account id ‖ u32 device id', () => {
    const relayId = new Uint8Array(16).fill(1);
    const nonce = new Uint8Array(32).fill(2);
    const accountId = new Uint8Array(16).fill(3);
    const input = relayAuthSignatureInput(relayId, nonce, 0x0102030405, accountId, 0x0a0b0c0d);
    const l = label('RelayAuth');
    expect(input.length).toBe(l.length + 16 + 32 + 8 + 16 + 4);
    expect(input.subarray(0, l.length)).toEqual(l);
    expect([...input.subarray(l.length + 48, l.length + 56)]).toEqual([0, 0, 0, 1, 2, 3, 4, 5]);
    expect([...input.subarray(-4)]).toEqual([0x0a, 0x0b, 0x0c, 0x0d]);
    const deletion = accountDeletionSignatureInput(relayId, accountId, 1);
    expect(new TextDecoder().decode(deletion.subarray(0, 30))).toBe('Parley_v1_RelayAccountDeletion');
  });
});
