/**
 * Wire formats of 1:1 protocol messages (docs/protocol.md "Messages"). Every message starts with
 * u8 version ‖ u8 type:
 *   0x01 ratchet message:   Enc(ratchet key) ‖ u32 previous counter ‖ u32 counter ‖ AEAD ciphertext
 *   0x02 prekey message:    u8 flags ‖ Enc(IK_A) ‖ Enc(EK_A) ‖ u32 SPK id ‖ [u32 OPK id] ‖
 *                           [u32 KEM prekey id ‖ ML-KEM ciphertext(1088)] ‖ ratchet message
 *   0x03 decryption error:  padded(body ‖ Ed25519 signature), body = u8 flags ‖ [Enc(ratchet key) ‖
 *                           u32 counter] ‖ u64 original timestamp; signed by the reporting device
 * Parsing is strict (unknown versions, types and flag bits, short or trailing bytes → MALFORMED).
 */
import { KeyType } from '../crypto/encoding.js';
import { MLKEM768_CIPHERTEXT_LENGTH } from '../crypto/ml-kem-768.js';
import { GCM_TAG_LENGTH } from '../crypto/aead.js';
import { concatBytes } from '../crypto/bytes.js';
import { Reader, SizedWriter, Writer } from './codec.js';
import { PROTOCOL_VERSION } from './constants.js';
import { ProtocolError } from './errors.js';
import { pad, unpad } from './padding.js';

export const MessageType = { Ratchet: 0x01, Prekey: 0x02, DecryptionError: 0x03 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** version ‖ type ‖ Enc(ratchet key) ‖ u32 pn ‖ u32 n */
export const RATCHET_HEADER_LENGTH = 2 + 33 + 4 + 4;

export type RatchetHeader = {
  readonly ratchetKey: Uint8Array;
  readonly previousCounter: number;
  readonly counter: number;
};

/** `headerBytes` and `ciphertext` are views into the parsed bytes (read once, never kept); `header.ratchetKey` is a copy. */
export type ParsedRatchetMessage = {
  readonly header: RatchetHeader;
  /** The exact header bytes (authenticated as AD together with the session AD). */
  readonly headerBytes: Uint8Array;
  readonly ciphertext: Uint8Array;
};

export function encodeRatchetHeader(h: RatchetHeader): Uint8Array {
  const out = new Uint8Array(RATCHET_HEADER_LENGTH);
  writeRatchetHeader(out, 0, h);
  return out;
}

/** Writes the RATCHET_HEADER_LENGTH header bytes into `out` at `offset` (a message is allocated once, whole). */
export function writeRatchetHeader(out: Uint8Array, offset: number, h: RatchetHeader): void {
  new SizedWriter(RATCHET_HEADER_LENGTH, out, offset)
    .u8(PROTOCOL_VERSION)
    .u8(MessageType.Ratchet)
    .key(KeyType.X25519, h.ratchetKey)
    .u32(h.previousCounter)
    .u32(h.counter)
    .finish();
}

function readPreamble(r: Reader, expected: MessageType, expectedVersion = PROTOCOL_VERSION): void {
  const version = r.u8();
  if (version !== expectedVersion) throw new ProtocolError('MALFORMED', `unsupported message version ${version}`);
  const type = r.u8();
  if (type !== expected) throw new ProtocolError('MALFORMED', 'unexpected message type');
}

export function parseRatchetMessage(bytes: Uint8Array): ParsedRatchetMessage {
  const r = new Reader(bytes, 'ratchet message');
  readPreamble(r, MessageType.Ratchet);
  const ratchetKey = r.key(KeyType.X25519);
  const previousCounter = r.u32();
  const counter = r.u32();
  const ciphertext = r.view(r.remaining);
  if (ciphertext.length < GCM_TAG_LENGTH) throw new ProtocolError('MALFORMED', 'ratchet message: ciphertext too short');
  return {
    header: { ratchetKey, previousCounter, counter },
    headerBytes: bytes.subarray(0, RATCHET_HEADER_LENGTH),
    ciphertext,
  };
}

const PREKEY_FLAG_ONE_TIME = 0x01;
const PREKEY_FLAG_PQ = 0x02;

/** The prekey part that the initiator repeats on every message until the first reply. */
export type PrekeyHeader = {
  readonly identityKey: Uint8Array;
  readonly baseKey: Uint8Array;
  readonly signedPrekeyId: number;
  readonly oneTimePrekeyId?: number | undefined;
  readonly kem?: { readonly prekeyId: number; readonly ciphertext: Uint8Array } | undefined;
};

export type ParsedPrekeyMessage = PrekeyHeader & { readonly message: Uint8Array };

export function encodePrekeyHeader(h: PrekeyHeader, version = PROTOCOL_VERSION): Uint8Array {
  const w = new Writer()
    .u8(version)
    .u8(MessageType.Prekey)
    .u8((h.oneTimePrekeyId !== undefined ? PREKEY_FLAG_ONE_TIME : 0) | (h.kem ? PREKEY_FLAG_PQ : 0))
    .key(KeyType.X25519, h.identityKey)
    .key(KeyType.X25519, h.baseKey)
    .u32(h.signedPrekeyId);
  if (h.oneTimePrekeyId !== undefined) w.u32(h.oneTimePrekeyId);
  if (h.kem) {
    if (h.kem.ciphertext.length !== MLKEM768_CIPHERTEXT_LENGTH) throw new ProtocolError('MALFORMED', 'bad KEM ciphertext length');
    w.u32(h.kem.prekeyId).bytes(h.kem.ciphertext);
  }
  return w.finish();
}

/**
 * `version` defaults to the current wire version; stored session records pass the version their
 * pending header was written with, so a later wire version keeps loading v1 records.
 */
export function parsePrekeyMessage(bytes: Uint8Array, version = PROTOCOL_VERSION): ParsedPrekeyMessage {
  const r = new Reader(bytes, 'prekey message');
  readPreamble(r, MessageType.Prekey, version);
  const flags = r.u8();
  if ((flags & ~(PREKEY_FLAG_ONE_TIME | PREKEY_FLAG_PQ)) !== 0) throw new ProtocolError('MALFORMED', 'prekey message: unknown flags');
  const identityKey = r.key(KeyType.X25519);
  const baseKey = r.key(KeyType.X25519);
  const signedPrekeyId = r.u32();
  const oneTimePrekeyId = flags & PREKEY_FLAG_ONE_TIME ? r.u32() : undefined;
  const kem = flags & PREKEY_FLAG_PQ ? { prekeyId: r.u32(), ciphertext: r.bytes(MLKEM768_CIPHERTEXT_LENGTH) } : undefined;
  const message = r.rest();
  return { identityKey, baseKey, signedPrekeyId, oneTimePrekeyId, kem, message };
}

export type DecryptionErrorMessage = {
  /** Ratchet key and counter of the message that failed, when it parsed far enough to have them. */
  readonly ratchetKey?: Uint8Array | undefined;
  readonly counter?: number | undefined;
  /** The failed envelope's timestamp: the sender resends everything from its outbox after it. */
  readonly timestamp: number;
};

const ERROR_FLAG_RATCHET_KEY = 0x01;
export const DECRYPTION_ERROR_SIGNATURE_LENGTH = 64;

/** The signed body: u8 flags ‖ [Enc(ratchet key) ‖ u32 counter] ‖ u64 timestamp. */
export function encodeDecryptionErrorBody(m: DecryptionErrorMessage): Uint8Array {
  const w = new Writer().u8(m.ratchetKey ? ERROR_FLAG_RATCHET_KEY : 0);
  if (m.ratchetKey) w.key(KeyType.X25519, m.ratchetKey).u32(m.counter ?? 0);
  return w.u64(m.timestamp).finish();
}

/**
 * version ‖ type ‖ pad(body ‖ signature), 162 bytes. The type byte is in clear, so the relay can
 * tell a decryption error from a ratchet message until sealed sender encrypts the envelope.
 */
export function encodeDecryptionError(body: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== DECRYPTION_ERROR_SIGNATURE_LENGTH) throw new ProtocolError('MALFORMED', 'bad signature length');
  return new Writer().u8(PROTOCOL_VERSION).u8(MessageType.DecryptionError).bytes(pad(concatBytes(body, signature))).finish();
}

export function parseDecryptionError(bytes: Uint8Array): {
  readonly message: DecryptionErrorMessage;
  readonly body: Uint8Array;
  readonly signature: Uint8Array;
} {
  const outer = new Reader(bytes, 'decryption error');
  readPreamble(outer, MessageType.DecryptionError);
  const inner = unpad(outer.rest());
  if (inner.length < DECRYPTION_ERROR_SIGNATURE_LENGTH) throw new ProtocolError('MALFORMED', 'decryption error: too short');
  const body = inner.slice(0, inner.length - DECRYPTION_ERROR_SIGNATURE_LENGTH);
  const signature = inner.slice(inner.length - DECRYPTION_ERROR_SIGNATURE_LENGTH);
  const r = new Reader(body, 'decryption error');
  const flags = r.u8();
  if ((flags & ~ERROR_FLAG_RATCHET_KEY) !== 0) throw new ProtocolError('MALFORMED', 'decryption error: unknown flags');
  let ratchetKey: Uint8Array | undefined;
  let counter: number | undefined;
  if (flags & ERROR_FLAG_RATCHET_KEY) {
    ratchetKey = r.key(KeyType.X25519);
    counter = r.u32();
  }
  const timestamp = r.u64();
  r.end();
  return { message: { ratchetKey, counter, timestamp }, body, signature };
}

/** The message type byte of any Parley 1:1 message, or MALFORMED. */
export function messageTypeOf(bytes: Uint8Array): MessageType {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) throw new ProtocolError('MALFORMED', 'message too short');
  if (bytes[0] !== PROTOCOL_VERSION) throw new ProtocolError('MALFORMED', `unsupported message version ${bytes[0]}`);
  const type = bytes[1];
  if (type !== MessageType.Ratchet && type !== MessageType.Prekey && type !== MessageType.DecryptionError) {
    throw new ProtocolError('MALFORMED', 'unknown message type');
  }
  return type;
}
