/**
 * The history-transfer messages (content type 0x0D, docs/protocol.md §22.5): what two devices of
 * one account say to each other while the primary's history archive moves to a newly linked device
 * — Offer (an archive is being made), Ready (it is uploaded: its relay id, key and digests), Cancel
 * (either side stops) and Done (imported). Only the body after the content header lives here;
 * content.ts frames it like every other kind. Parsing is strict (MALFORMED via ProtocolError).
 * Does not own what a device does with them (history.ts).
 */
import { padmeLength, type AttachmentDescriptor } from '../../../shared/protocol/attachment-cipher.js';
import type { Reader, Writer } from '../../../shared/protocol/codec.js';
import { ProtocolError } from '../../../shared/protocol/errors.js';
import type { HistoryScope } from '../../../shared/protocol/history-archive.js';

export const HISTORY_TRANSFER_ID_LENGTH = 16;
const KIND = { offer: 0x01, ready: 0x02, cancel: 0x03, done: 0x04 } as const;
const SCOPE = { recent: 0x01, all: 0x02 } as const;

export type HistoryTransferMessage = {
  readonly transferId: Uint8Array;
  /** The one device of the account the message is for; the others ignore it. */
  readonly deviceId: number;
} & (
  | { readonly kind: 'offer'; readonly scope: HistoryScope }
  | { readonly kind: 'ready'; readonly scope: HistoryScope; readonly messageCount: number; readonly attachmentId: Uint8Array; readonly descriptor: AttachmentDescriptor }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'done'; readonly imported: number }
);

export function writeHistoryTransfer(w: Writer, m: HistoryTransferMessage): void {
  if (m.transferId.length !== HISTORY_TRANSFER_ID_LENGTH) throw new RangeError('a transfer id is 16 bytes');
  w.u8(KIND[m.kind]).bytes(m.transferId).u32(m.deviceId);
  switch (m.kind) {
    case 'offer':
      w.u8(SCOPE[m.scope]);
      break;
    case 'ready': {
      const d = m.descriptor;
      if (m.attachmentId.length !== 16 || d.key.length !== 32 || d.ciphertextDigest.length !== 32 || d.plaintextSha256.length !== 32) throw new RangeError('descriptor field length');
      if (d.paddedLength !== padmeLength(d.length)) throw new RangeError('padded length is not Padmé(length)');
      w.u8(SCOPE[m.scope]).u32(m.messageCount).bytes(m.attachmentId).bytes(d.key).u64(d.length).u64(d.paddedLength).bytes(d.ciphertextDigest).bytes(d.plaintextSha256);
      break;
    }
    case 'cancel':
      break;
    case 'done':
      w.u32(m.imported);
      break;
  }
}

function readScope(r: Reader): HistoryScope {
  const s = r.u8();
  if (s !== SCOPE.recent && s !== SCOPE.all) throw new ProtocolError('MALFORMED', 'history transfer: unknown scope');
  return s === SCOPE.recent ? 'recent' : 'all';
}

export function readHistoryTransfer(r: Reader): HistoryTransferMessage {
  const kind = r.u8();
  const transferId = r.bytes(HISTORY_TRANSFER_ID_LENGTH);
  const deviceId = r.u32();
  if (deviceId === 0) throw new ProtocolError('MALFORMED', 'history transfer: device id 0');
  switch (kind) {
    case KIND.offer:
      return { kind: 'offer', transferId, deviceId, scope: readScope(r) };
    case KIND.ready: {
      const scope = readScope(r);
      const messageCount = r.u32();
      const attachmentId = r.bytes(16);
      const key = r.bytes(32);
      const length = r.u64();
      const paddedLength = r.u64();
      if (paddedLength !== padmeLength(length)) throw new ProtocolError('MALFORMED', 'history transfer: padded length is not Padmé(length)');
      const ciphertextDigest = r.bytes(32);
      const plaintextSha256 = r.bytes(32);
      return { kind: 'ready', transferId, deviceId, scope, messageCount, attachmentId, descriptor: { key, length, paddedLength, ciphertextDigest, plaintextSha256 } };
    }
    case KIND.cancel:
      return { kind: 'cancel', transferId, deviceId };
    case KIND.done:
      return { kind: 'done', transferId, deviceId, imported: r.u32() };
    default:
      throw new ProtocolError('MALFORMED', 'history transfer: unknown kind');
  }
}
