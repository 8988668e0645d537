/**
 * The decryption-error control message and desync recovery (DESIGN §3.4, docs/protocol.md §9.3 and
 * §10.5): the report a receiver signs and sends back when a message from a peer failed, and the
 * sender's handling of it — archive the current session when the report names its sending chain,
 * so the caller starts a fresh one and resends.
 * Does not own: the wire encoding of the message (messages.ts), decrypting (session.ts), rate
 * limiting the reports and the resend itself (the engine).
 */
import { bytesEqual } from '../crypto/bytes.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { Writer } from './codec.js';
import { label } from './constants.js';
import { ProtocolError } from './errors.js';
import {
  encodeDecryptionError,
  encodeDecryptionErrorBody,
  messageTypeOf,
  MessageType,
  parseDecryptionError,
  parsePrekeyMessage,
  parseRatchetMessage,
  type DecryptionErrorMessage,
} from './messages.js';
import type { PeerDevice } from './session.js';
import { archiveCurrentSession, EMPTY_RECORD, type SessionRecord } from './session-record.js';

/** Who reports a decryption error to whom; both sides of the signature input. */
export type DecryptionErrorParties = {
  readonly reporter: { readonly accountId: Uint8Array; readonly deviceId: number };
  readonly recipient: { readonly accountId: Uint8Array; readonly deviceId: number };
};

function decryptionErrorSignatureInput(parties: DecryptionErrorParties, body: Uint8Array): Uint8Array {
  return new Writer()
    .bytes(label('DecryptionError'))
    .bytes(parties.reporter.accountId)
    .u32(parties.reporter.deviceId)
    .bytes(parties.recipient.accountId)
    .u32(parties.recipient.deviceId)
    .bytes(body)
    .finish();
}

/**
 * The control message a receiver sends back after a message from this peer failed (not for
 * DUPLICATED_MESSAGE). It cannot travel on the session — that session is what broke — so it is
 * plaintext, padded to the 160-byte bucket, and signed with the reporter's Ed25519 identity key so
 * the relay cannot forge one to force session rebuilds (threat-model.md lists it as not deniable).
 * It names the failed message's ratchet key when it has one.
 */
export function createDecryptionError(
  failedMessage: Uint8Array,
  timestamp: number,
  parties: DecryptionErrorParties,
  reporterSigningKey: Uint8Array,
): Uint8Array {
  let ratchetKey: Uint8Array | undefined;
  let counter: number | undefined;
  try {
    const type = messageTypeOf(failedMessage);
    const inner = type === MessageType.Prekey ? parsePrekeyMessage(failedMessage).message : failedMessage;
    if (type !== MessageType.DecryptionError) {
      const { header } = parseRatchetMessage(inner);
      ratchetKey = header.ratchetKey;
      counter = header.counter;
    }
  } catch {
    // garbage: the error carries only the timestamp
  }
  const body = encodeDecryptionErrorBody({ ratchetKey, counter, timestamp });
  return encodeDecryptionError(body, ed25519Sign(reporterSigningKey, decryptionErrorSignatureInput(parties, body)));
}

/**
 * Acts on a decryption error from `peer` (whose signature must verify under its listed Ed25519
 * identity key, else BAD_SIGNATURE). If it names the current session's sending ratchet key, that
 * session is broken on the other side: it is archived (`rebuild: true`) and the caller starts a
 * fresh session from a new bundle and resends its outbox after `resendAfter`. Idempotent: a replay
 * (or an error about an older chain) finds the key no longer current and changes nothing.
 */
export function handleDecryptionError(
  record: SessionRecord | undefined,
  bytes: Uint8Array,
  ctx: { readonly local: { readonly accountId: Uint8Array; readonly deviceId: number }; readonly peer: PeerDevice },
): {
  record: SessionRecord;
  rebuild: boolean;
  resendAfter: number;
  error: DecryptionErrorMessage;
  droppedSessionIds: readonly Uint8Array[];
} {
  const { message: error, body, signature } = parseDecryptionError(bytes);
  const parties: DecryptionErrorParties = {
    reporter: { accountId: ctx.peer.accountId, deviceId: ctx.peer.entry.deviceId },
    recipient: ctx.local,
  };
  if (!ed25519Verify(ctx.peer.entry.identitySigningKey, decryptionErrorSignatureInput(parties, body), signature)) {
    throw new ProtocolError('BAD_SIGNATURE', 'decryption error not signed by the listed device');
  }
  const base = record ?? EMPTY_RECORD;
  const current = base.current;
  if (!current || !error.ratchetKey || !bytesEqual(error.ratchetKey, current.ratchet.sendingRatchetKey.publicKey)) {
    return { record: base, rebuild: false, resendAfter: error.timestamp, error, droppedSessionIds: [] };
  }
  return { ...archiveCurrentSession(base), rebuild: true, resendAfter: error.timestamp, error };
}
