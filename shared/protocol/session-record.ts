/**
 * The session record (DESIGN §3.4, docs/protocol.md §10.1 and §11.2-11.3): per peer device, the
 * current session and up to MAX_ARCHIVED_SESSIONS archived ones, most recent first. Owns the
 * record's types, its archive rule (a session made current leaves the archive; the one it replaces
 * goes to the front; the oldest fall off) and its binary serialization with the record, session and
 * stored prekey-header versions (§15: v1 records, frozen in test/vectors/parley/session-record-v1.json,
 * must load forever).
 * Does not own: what a session does (session.ts), the ratchet state inside it (double-ratchet.ts,
 * whose `writeRatchetState`/`readRatchetState` this module calls), persistence (the engine).
 */
import { bytesEqual } from '../crypto/bytes.js';
import { KeyType } from '../crypto/encoding.js';
import { Reader, SizedWriter } from './codec.js';
import { ACCOUNT_ID_LENGTH, MAX_ARCHIVED_SESSIONS } from './constants.js';
import { ratchetStateLength, readRatchetState, writeRatchetState, type RatchetState } from './double-ratchet.js';
import { ProtocolError } from './errors.js';
import { encodePrekeyHeader, parsePrekeyMessage, type PrekeyHeader } from './messages.js';
import type { KeyAgreementMode } from './pqxdh.js';

export const SESSION_ID_LENGTH = 16;
const RECORD_VERSION = 1;
const SESSION_VERSION = 1;
/** The wire version of pending prekey headers inside v1 session records. */
const STORED_PREKEY_HEADER_VERSION = 1;

export type SessionState = {
  readonly sessionId: Uint8Array;
  readonly mode: KeyAgreementMode;
  readonly role: 'initiator' | 'responder';
  readonly localAccountId: Uint8Array;
  readonly localDeviceId: number;
  readonly localIdentityKey: Uint8Array;
  readonly remoteAccountId: Uint8Array;
  readonly remoteDeviceId: number;
  readonly remoteIdentityKey: Uint8Array;
  /** The initiator's ephemeral key EK_A: identifies the session for repeated prekey messages. */
  readonly baseKey: Uint8Array;
  /** Initiator only, until the first reply: the prekey header every message repeats. */
  readonly pendingPrekey: PrekeyHeader | null;
  readonly createdAt: number;
  readonly ratchet: RatchetState;
};

export type SessionRecord = {
  readonly current: SessionState | null;
  /** Most recent first; at most MAX_ARCHIVED_SESSIONS. */
  readonly archived: readonly SessionState[];
};

export const EMPTY_RECORD: SessionRecord = { current: null, archived: [] };

/**
 * `session` becomes current: it leaves the archive if it was there, and `replaced` (the previous
 * current one, unless it is the same session) goes to the front of the archive. Returns the ids
 * of the sessions that fell off the end (their skipped keys are to be deleted).
 */
export function withCurrentSession(
  record: SessionRecord,
  session: SessionState,
  replaced: SessionState | null,
): { record: SessionRecord; droppedSessionIds: Uint8Array[] } {
  // The common case — a message on the current session — changes nothing in the archive: keep it.
  if (
    (replaced === null || bytesEqual(replaced.sessionId, session.sessionId)) &&
    record.archived.length <= MAX_ARCHIVED_SESSIONS &&
    !record.archived.some((s) => bytesEqual(s.sessionId, session.sessionId))
  ) {
    return { record: { current: session, archived: record.archived }, droppedSessionIds: [] };
  }
  const others = record.archived.filter((s) => !bytesEqual(s.sessionId, session.sessionId));
  const archived = replaced && !bytesEqual(replaced.sessionId, session.sessionId) ? [replaced, ...others] : others;
  return {
    record: { current: session, archived: archived.slice(0, MAX_ARCHIVED_SESSIONS) },
    droppedSessionIds: archived.slice(MAX_ARCHIVED_SESSIONS).map((s) => s.sessionId),
  };
}

/** The current session goes to the front of the archive and nothing is current. */
export function archiveCurrentSession(record: SessionRecord): { record: SessionRecord; droppedSessionIds: Uint8Array[] } {
  const archived = record.current ? [record.current, ...record.archived] : [...record.archived];
  return {
    record: { current: null, archived: archived.slice(0, MAX_ARCHIVED_SESSIONS) },
    droppedSessionIds: archived.slice(MAX_ARCHIVED_SESSIONS).map((s) => s.sessionId),
  };
}

/** Whether the current session is classical (shown as "not quantum-resistant"). */
export function isQuantumResistant(record: SessionRecord): boolean {
  return record.current?.mode === 'pqxdh';
}

// ── Serialization (docs/protocol.md §11.2-11.3) ────────────────────────────

const SESSION_FLAG_PQ = 0x01;
const SESSION_FLAG_INITIATOR = 0x02;
const SESSION_FLAG_PENDING = 0x04;

/** §11.2: version, id, flags, two (account id, device id, Enc(IK)), Enc(EK_A), createdAt. */
const SESSION_FIXED_LENGTH = 1 + SESSION_ID_LENGTH + 1 + 2 * (ACCOUNT_ID_LENGTH + 4 + 33) + 33 + 8;

/** The stored pending prekey header of `s` (v1 bytes), or null. */
function storedPrekeyHeader(s: SessionState): Uint8Array | null {
  return s.pendingPrekey ? encodePrekeyHeader(s.pendingPrekey, STORED_PREKEY_HEADER_VERSION) : null;
}

function sessionLength(s: SessionState, header: Uint8Array | null): number {
  return SESSION_FIXED_LENGTH + (header ? 2 + header.length : 0) + ratchetStateLength(s.ratchet);
}

function writeSession(w: SizedWriter, s: SessionState, header: Uint8Array | null): void {
  w.u8(SESSION_VERSION)
    .bytes(s.sessionId)
    .u8((s.mode === 'pqxdh' ? SESSION_FLAG_PQ : 0) | (s.role === 'initiator' ? SESSION_FLAG_INITIATOR : 0) | (header ? SESSION_FLAG_PENDING : 0))
    .bytes(s.localAccountId)
    .u32(s.localDeviceId)
    .key(KeyType.X25519, s.localIdentityKey)
    .bytes(s.remoteAccountId)
    .u32(s.remoteDeviceId)
    .key(KeyType.X25519, s.remoteIdentityKey)
    .key(KeyType.X25519, s.baseKey)
    .u64(s.createdAt);
  if (header) w.var16(header);
  writeRatchetState(w, s.ratchet);
}

function readSession(r: Reader): SessionState {
  const version = r.u8();
  if (version !== SESSION_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `session version ${version}`);
  const sessionId = r.bytes(SESSION_ID_LENGTH);
  const flags = r.u8();
  if ((flags & ~(SESSION_FLAG_PQ | SESSION_FLAG_INITIATOR | SESSION_FLAG_PENDING)) !== 0) {
    throw new ProtocolError('MALFORMED', 'session: unknown flags');
  }
  const localAccountId = r.bytes(ACCOUNT_ID_LENGTH);
  const localDeviceId = r.u32();
  const localIdentityKey = r.key(KeyType.X25519);
  const remoteAccountId = r.bytes(ACCOUNT_ID_LENGTH);
  const remoteDeviceId = r.u32();
  const remoteIdentityKey = r.key(KeyType.X25519);
  const baseKey = r.key(KeyType.X25519);
  const createdAt = r.u64();
  let pendingPrekey: PrekeyHeader | null = null;
  if (flags & SESSION_FLAG_PENDING) {
    // Stored headers are parsed with the version they were written in (v1), whatever the wire version is now.
    const { message: rest, ...header } = parsePrekeyMessage(r.var16(), STORED_PREKEY_HEADER_VERSION);
    if (rest.length !== 0) throw new ProtocolError('MALFORMED', 'session: bad pending prekey header');
    pendingPrekey = header;
  }
  const ratchet = readRatchetState(r);
  return {
    sessionId,
    mode: flags & SESSION_FLAG_PQ ? 'pqxdh' : 'x3dh',
    role: flags & SESSION_FLAG_INITIATOR ? 'initiator' : 'responder',
    localAccountId,
    localDeviceId,
    localIdentityKey,
    remoteAccountId,
    remoteDeviceId,
    remoteIdentityKey,
    baseKey,
    pendingPrekey,
    createdAt,
    ratchet,
  };
}

/**
 * u8 record version ‖ u8 has-current ‖ [session] ‖ u8 archived count ‖ sessions. Written once into
 * an array of the computed length (this runs for every message sent or received).
 */
export function serializeSessionRecord(record: SessionRecord): Uint8Array {
  const { current, archived } = record;
  const currentHeader = current ? storedPrekeyHeader(current) : null;
  let length = 3 + (current ? sessionLength(current, currentHeader) : 0);
  // Archived sessions' pending headers are encoded once, for the length and the write.
  let headers: (Uint8Array | null)[] | null = null;
  for (let i = 0; i < archived.length; i++) {
    const header = storedPrekeyHeader(archived[i]!);
    if (header) (headers ??= new Array<Uint8Array | null>(archived.length).fill(null))[i] = header;
    length += sessionLength(archived[i]!, header);
  }
  const w = new SizedWriter(length).u8(RECORD_VERSION).u8(current ? 1 : 0);
  if (current) writeSession(w, current, currentHeader);
  w.u8(archived.length);
  for (let i = 0; i < archived.length; i++) writeSession(w, archived[i]!, headers?.[i] ?? null);
  return w.finish();
}

export function deserializeSessionRecord(bytes: Uint8Array): SessionRecord {
  const r = new Reader(bytes, 'session record');
  const version = r.u8();
  if (version !== RECORD_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `session record version ${version}`);
  const hasCurrent = r.u8();
  if (hasCurrent > 1) throw new ProtocolError('MALFORMED', 'session record: bad flag');
  const current = hasCurrent ? readSession(r) : null;
  const count = r.u8();
  if (count > MAX_ARCHIVED_SESSIONS) throw new ProtocolError('MALFORMED', 'session record: too many archived sessions');
  const archived: SessionState[] = [];
  for (let i = 0; i < count; i++) archived.push(readSession(r));
  r.end();
  return { current, archived };
}
