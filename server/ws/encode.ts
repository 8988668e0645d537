/**
 * Serialisation of every relay→client frame (shapes in shared/wire/frames.ts; encode.test.ts parses
 * each one with ServerFrameSchema). Nothing else in the relay writes a frame's JSON. Envelope frames
 * are built once per envelope and shared by every connection of the device; hot-path frames are
 * built by hand from values that need no JSON escaping, the rest with JSON.stringify.
 */
import { toBase64Url } from '../../shared/crypto/bytes.js';
import type { ErrorObject } from '../../shared/wire/errors.js';
import { WIRE_VERSION } from '../../shared/wire/version.js';
import type { AccountEvent } from '../bus/bus.js';
import { presenceEntryWire, type PresenceEntry } from '../core/presence.js';
import type { StoredEnvelope } from '../store/store.js';

const envelopeFrames = new WeakMap<StoredEnvelope, string>();
/**
 * The base64url text a content array was decoded from, when it came in a frame of this process: a
 * live delivery reuses it instead of encoding the bytes again (the text is canonical, so equal).
 */
const contentTexts = new WeakMap<Uint8Array, string>();

export function rememberContentText(content: Uint8Array, text: string): void {
  contentTexts.set(content, text);
}

export function envelopeFrame(envelope: StoredEnvelope): string {
  let frame = envelopeFrames.get(envelope);
  if (frame === undefined) {
    // Built by hand: every piece is an integer or base64url, none needs JSON escaping.
    const source =
      envelope.sourceAccount === null
        ? 'null'
        : `{"accountId":"${toBase64Url(envelope.sourceAccount)}","deviceId":${envelope.sourceDevice}}`;
    const content = contentTexts.get(envelope.content) ?? toBase64Url(envelope.content);
    frame = `{"type":"envelope","seq":${envelope.seq},"source":${source},"serverTimestamp":${envelope.serverTimestamp},"content":"${content}"}`;
    envelopeFrames.set(envelope, frame);
  }
  return frame;
}

/** An online-only sealed envelope (typing): never stored, so no seq and no ack. */
export function ephemeralFrame(serverTimestamp: number, content: Uint8Array): string {
  return `{"type":"ephemeral","serverTimestamp":${serverTimestamp},"content":"${toBase64Url(content)}"}`;
}

/** `ref` is a validated request id ([A-Za-z0-9_-]{1,64}): safe in JSON as it is. */
export function sentFrame(ref: string, serverTimestamp: number): string {
  return `{"type":"sent","ref":"${ref}","serverTimestamp":${serverTimestamp}}`;
}

export function ackedFrame(ref: string): string {
  return `{"type":"acked","ref":"${ref}"}`;
}

export function errorFrame(error: ErrorObject, ref: string | undefined): string {
  return JSON.stringify(ref === undefined ? { type: 'error', ...error } : { type: 'error', ...error, ref });
}

export function readyFrame(device: { readonly accountId: Uint8Array; readonly deviceId: number }, serverTime: number): string {
  return JSON.stringify({ type: 'ready', wireVersion: WIRE_VERSION, accountId: toBase64Url(device.accountId), deviceId: device.deviceId, serverTime });
}

export const BACKLOG_END_FRAME = '{"type":"backlog-end"}';

export function pongFrame(ref: string, serverTime: number): string {
  return JSON.stringify({ type: 'pong', ref, serverTime });
}

export function presenceSnapshotFrame(ref: string, entries: readonly PresenceEntry[]): string {
  return JSON.stringify({ type: 'presence-snapshot', ref, entries: entries.map(presenceEntryWire) });
}

/** A presence event for the sockets of the accounts it is published to. */
export function accountEventFrame(event: AccountEvent): string {
  return JSON.stringify({ type: 'presence', accountId: toBase64Url(event.accountId), online: event.online, shared: event.shared });
}
