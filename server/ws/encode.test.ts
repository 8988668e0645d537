/**
 * Every relay→client frame the relay writes comes from encode.ts; each builder's output is parsed
 * here with the clients' own schema (ServerFrameSchema, shared/wire), decodes to the values it was
 * built from, and carries no field beyond them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64Url } from '../../shared/crypto/bytes.js';
import { ERROR_CODES, type ErrorObject } from '../../shared/wire/errors.js';
import { ServerFrameSchema, type ServerFrame } from '../../shared/wire/frames.js';
import { MAX_SEALED_ENVELOPE_BYTES } from '../../shared/wire/sealed.js';
import { MAX_ENVELOPE_CONTENT } from '../../shared/wire/limits.js';
import { WIRE_VERSION } from '../../shared/wire/version.js';
import {
  ephemeralFrame,
  accountEventFrame,
  ackedFrame,
  BACKLOG_END_FRAME,
  envelopeFrame,
  errorFrame,
  pongFrame,
  presenceSnapshotFrame,
  readyFrame,
  rememberContentText,
  sentFrame,
} from './encode.js';

const accountId = fc.uint8Array({ minLength: 16, maxLength: 16 });
const deviceId = fc.integer({ min: 1, max: 0xffffffff });
const time = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const ref = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);

/** Parses a built frame as a client does; returns the JSON (to compare field by field) and the parse. */
function parse(frame: string): { json: unknown; parsed: ServerFrame } {
  const json: unknown = JSON.parse(frame);
  const result = ServerFrameSchema.safeParse(json);
  if (!result.success) throw new Error(`ServerFrameSchema rejects ${frame}: ${result.error.message}`);
  return { json, parsed: result.data };
}

describe('relay→client frames (encode.ts)', () => {
  it('ready names the wire version, the device and the relay time', () => {
    fc.assert(
      fc.property(accountId, deviceId, time, (id, device, now) => {
        const { json, parsed } = parse(readyFrame({ accountId: id, deviceId: device }, now));
        expect(json).toEqual({ type: 'ready', wireVersion: WIRE_VERSION, accountId: toBase64Url(id), deviceId: device, serverTime: now });
        expect(parsed).toMatchObject({ accountId: id });
      }),
    );
  });

  it('envelope carries seq, source (or null when sealed), time and content, whether the content text is reused or encoded', () => {
    const source = fc.option(fc.record({ accountId, deviceId }), { nil: null });
    const content = fc.uint8Array({ minLength: 1, maxLength: 300 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), source, time, content, fc.boolean(), (seq, from, now, bytes, reuse) => {
        if (reuse) rememberContentText(bytes, toBase64Url(bytes));
        const envelope = { seq, sourceAccount: from?.accountId ?? null, sourceDevice: from?.deviceId ?? null, serverTimestamp: now, content: bytes };
        const { json, parsed } = parse(envelopeFrame(envelope));
        expect(json).toEqual({
          type: 'envelope',
          seq,
          source: from && { accountId: toBase64Url(from.accountId), deviceId: from.deviceId },
          serverTimestamp: now,
          content: toBase64Url(bytes),
        });
        expect(parsed).toMatchObject({ content: bytes });
      }),
    );
  });

  it('an envelope of the largest content the wire allows parses', () => {
    const content = new Uint8Array(MAX_ENVELOPE_CONTENT).fill(0xab);
    const { parsed } = parse(envelopeFrame({ seq: 1, sourceAccount: null, sourceDevice: null, serverTimestamp: 0, content }));
    expect(parsed).toMatchObject({ type: 'envelope', content });
  });

  it('an ephemeral (online-only sealed) frame carries time and content and no seq or source; the largest sealed envelope parses', () => {
    fc.assert(
      fc.property(time, fc.uint8Array({ minLength: 1, maxLength: 300 }), (now, bytes) => {
        const { json, parsed } = parse(ephemeralFrame(now, bytes));
        expect(json).toEqual({ type: 'ephemeral', serverTimestamp: now, content: toBase64Url(bytes) });
        expect(parsed).toMatchObject({ content: bytes });
      }),
    );
    const largest = new Uint8Array(MAX_SEALED_ENVELOPE_BYTES).fill(0xcd);
    expect(parse(ephemeralFrame(1, largest)).parsed).toMatchObject({ type: 'ephemeral', content: largest });
    expect(parse(envelopeFrame({ seq: 1, sourceAccount: null, sourceDevice: null, serverTimestamp: 0, content: largest })).parsed).toMatchObject({ content: largest });
  });

  it('backlog-end is the bare marker', () => {
    expect(parse(BACKLOG_END_FRAME).json).toEqual({ type: 'backlog-end' });
  });

  it('sent, acked and pong echo the request id', () => {
    fc.assert(
      fc.property(ref, time, (id, now) => {
        expect(parse(sentFrame(id, now)).json).toEqual({ type: 'sent', ref: id, serverTimestamp: now });
        expect(parse(ackedFrame(id)).json).toEqual({ type: 'acked', ref: id });
        expect(parse(pongFrame(id, now)).json).toEqual({ type: 'pong', ref: id, serverTime: now });
      }),
    );
  });

  it('presence events name the contact and nothing else', () => {
    fc.assert(
      fc.property(accountId, fc.boolean(), fc.boolean(), (id, online, shared) => {
        expect(parse(accountEventFrame({ type: 'presence', accountId: id, online, shared })).json).toEqual({
          type: 'presence',
          accountId: toBase64Url(id),
          online,
          shared,
        });
      }),
    );
  });

  it('a presence snapshot lists each asked account with online and shared', () => {
    fc.assert(
      fc.property(ref, fc.array(fc.record({ accountId, online: fc.boolean(), shared: fc.boolean() }), { maxLength: 50 }), (id, entries) => {
        expect(parse(presenceSnapshotFrame(id, entries)).json).toEqual({
          type: 'presence-snapshot',
          ref: id,
          entries: entries.map((e) => ({ accountId: toBase64Url(e.accountId), online: e.online, shared: e.shared })),
        });
      }),
    );
  });

  it('error frames carry the error object, with ref only when the request had a readable id', () => {
    const error = fc.record(
      {
        code: fc.constantFrom(...ERROR_CODES),
        message: fc.string({ maxLength: 200 }),
        retryAfterMs: fc.integer({ min: 0, max: 3_600_000 }),
        missing: fc.array(deviceId, { maxLength: 6 }),
        stale: fc.array(deviceId, { maxLength: 6 }),
      },
      { requiredKeys: ['code', 'message'] },
    );
    fc.assert(
      fc.property(error, fc.option(ref, { nil: undefined }), (e: ErrorObject, id) => {
        const { json } = parse(errorFrame(e, id));
        expect(json).toEqual(id === undefined ? { type: 'error', ...e } : { type: 'error', ...e, ref: id });
      }),
    );
  });

  it('every frame type of ServerFrameSchema has a builder', () => {
    const id = new Uint8Array(16).fill(7);
    const built = [
      readyFrame({ accountId: id, deviceId: 1 }, 0),
      envelopeFrame({ seq: 1, sourceAccount: id, sourceDevice: 1, serverTimestamp: 0, content: new Uint8Array([1]) }),
      BACKLOG_END_FRAME,
      ephemeralFrame(0, new Uint8Array([1])),
      sentFrame('r', 0),
      ackedFrame('r'),
      accountEventFrame({ type: 'presence', accountId: id, online: true, shared: true }),
      presenceSnapshotFrame('r', []),
      pongFrame('r', 0),
      errorFrame({ code: 'MALFORMED', message: 'm' }, undefined),
    ].map((frame) => parse(frame).parsed.type);
    const types = ServerFrameSchema.options.map((o) => o.shape.type.value);
    expect(built.sort()).toEqual([...types].sort());
  });
});
