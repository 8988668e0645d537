/**
 * Sessions (DESIGN §3.3-3.4, docs/protocol.md "Sessions"): per peer device — keyed by (account id,
 * device id, device identity key) — a record of the current session and up to MAX_ARCHIVED_SESSIONS
 * archived ones. Owns session setup on both sides (PQXDH + ratchet init), the prekey message framing
 * repeated until the first reply, trial decryption with promotion, the base-key replay rule,
 * padding, the decryption-error control message, and binary record serialization.
 *
 * Sans-I/O: stores are read through the `PrekeyReader` / `SkippedKeyReader` views and every change
 * comes back as data (`prekeyChanges`, `skippedChanges`, `droppedSessionIds`) for the caller to
 * commit in one transaction with the new record — after the AEAD check, so a forged message consumes
 * nothing. A failed decrypt throws and returns nothing: every store stays byte-identical.
 * Does not own: device-list trust decisions (the caller passes the verified entry), persistence,
 * resending (the engine's outbox), rate limiting of decryption errors (the engine).
 */
import { bytesEqual, concatBytes, toHex } from '../crypto/bytes.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { encodeX25519, KeyType } from '../crypto/encoding.js';
import type { Clock, Rng } from '../crypto/random.js';
import { sha256 } from '../crypto/sha256.js';
import type { X25519KeyPair } from '../crypto/x25519.js';
import { Reader, Writer } from './codec.js';
import { ACCOUNT_ID_LENGTH, MAX_ARCHIVED_SESSIONS, PROTOCOL_VERSION, label } from './constants.js';
import type { DeviceEntry } from './device-list.js';
import {
  FailureBudget,
  initAsInitiator,
  initAsResponder,
  ratchetDecryptParsed,
  ratchetEncrypt,
  readRatchetState,
  writeRatchetState,
  EMPTY_SKIPPED,
  type RatchetState,
  type SkippedKeyChanges,
  type SkippedKeyReader,
} from './double-ratchet.js';
import { isProtocolError, ProtocolError, type ProtocolErrorCode } from './errors.js';
import {
  encodeDecryptionError,
  encodeDecryptionErrorBody,
  encodePrekeyHeader,
  messageTypeOf,
  MessageType,
  parseDecryptionError,
  parsePrekeyMessage,
  parseRatchetMessage,
  type DecryptionErrorMessage,
  type ParsedRatchetMessage,
  type PrekeyHeader,
} from './messages.js';
import { pad, unpad } from './padding.js';
import { pqxdhInitiate, pqxdhRespond, type KeyAgreementMode } from './pqxdh.js';
import { verifyBundle, type PrekeyBundle } from './prekeys.js';

export const SESSION_ID_LENGTH = 16;
const RECORD_VERSION = 1;
const SESSION_VERSION = 1;
/** The wire version of pending prekey headers inside v1 session records. */
const STORED_PREKEY_HEADER_VERSION = 1;

/** This device, as protocol code needs it. */
export type LocalDevice = {
  readonly accountId: Uint8Array;
  readonly deviceId: number;
  readonly identityDh: X25519KeyPair;
  /** This device has the `pq` capability: it refuses classical prekey messages (no downgrade). */
  readonly pq: boolean;
};

/** A peer device: its account id and its entry from the verified, current device list. */
export type PeerDevice = { readonly accountId: Uint8Array; readonly entry: DeviceEntry };

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

/** Read-only view of this device's prekey stores. */
export type PrekeyReader = {
  signedPrekey(keyId: number): X25519KeyPair | undefined;
  oneTimePrekey(keyId: number): X25519KeyPair | undefined;
  kemPrekey(keyId: number): { readonly seed: Uint8Array; readonly publicKey: Uint8Array; readonly lastResort: boolean } | undefined;
  /** Base keys accepted without a one-time prekey, per signed prekey (dropped with it). */
  isBaseKeySeen(signedPrekeyId: number, baseKeyHash: Uint8Array): boolean;
};

export type PrekeyChanges = {
  readonly consumedOneTimePrekeyId?: number | undefined;
  readonly consumedKemPrekeyId?: number | undefined;
  readonly seenBaseKey?: { readonly signedPrekeyId: number; readonly hash: Uint8Array } | undefined;
};

/** Per-session in-memory failure budgets (never persisted). */
export class FailureBudgets {
  readonly #budgets = new Map<string, FailureBudget>();
  constructor(private readonly limit = 10_000) {}
  get(sessionId: Uint8Array): FailureBudget {
    const key = toHex(sessionId);
    let b = this.#budgets.get(key);
    if (!b) {
      if (this.#budgets.size >= this.limit) this.#budgets.delete(this.#budgets.keys().next().value!);
      b = new FailureBudget();
      this.#budgets.set(key, b);
    }
    return b;
  }
}

// ── Helpers ─────────────────────────────────────────────────────────────────

/** label ‖ Enc(IK_init) ‖ Enc(IK_resp) ‖ account id_init ‖ u32 device id_init ‖ account id_resp ‖ u32 device id_resp */
export function sessionAd(s: SessionState): Uint8Array {
  const initiator = s.role === 'initiator';
  const w = new Writer().bytes(label('SessionAd'));
  const [ikI, ikR] = initiator ? [s.localIdentityKey, s.remoteIdentityKey] : [s.remoteIdentityKey, s.localIdentityKey];
  w.key(KeyType.X25519, ikI).key(KeyType.X25519, ikR);
  if (initiator) w.bytes(s.localAccountId).u32(s.localDeviceId).bytes(s.remoteAccountId).u32(s.remoteDeviceId);
  else w.bytes(s.remoteAccountId).u32(s.remoteDeviceId).bytes(s.localAccountId).u32(s.localDeviceId);
  return w.finish();
}

/** The first 16 bytes of SHA-256("Parley_v1_SessionId" ‖ session AD ‖ Enc(EK_A)): equal on both sides. */
function computeSessionId(partial: Omit<SessionState, 'sessionId'>): Uint8Array {
  const ad = sessionAd({ ...partial, sessionId: new Uint8Array(SESSION_ID_LENGTH) });
  return sha256(label('SessionId'), ad, encodeX25519(partial.baseKey)).slice(0, SESSION_ID_LENGTH);
}

/** The seen-set key of a base key: SHA-256(label ‖ Enc(EK_A)). */
export function baseKeyHash(baseKey: Uint8Array): Uint8Array {
  return sha256(label('BaseKeySeen'), encodeX25519(baseKey));
}

function withCurrent(record: SessionRecord, session: SessionState, replaced: SessionState | null): {
  record: SessionRecord;
  droppedSessionIds: Uint8Array[];
} {
  const others = record.archived.filter((s) => !bytesEqual(s.sessionId, session.sessionId));
  const archived = replaced && !bytesEqual(replaced.sessionId, session.sessionId) ? [replaced, ...others] : others;
  const kept = archived.slice(0, MAX_ARCHIVED_SESSIONS);
  return {
    record: { current: session, archived: kept },
    droppedSessionIds: archived.slice(MAX_ARCHIVED_SESSIONS).map((s) => s.sessionId),
  };
}

/** True when the peer device's entry still names the identity key this record belongs to. */
export function recordMatchesPeer(session: SessionState, peer: PeerDevice): boolean {
  return (
    bytesEqual(session.remoteAccountId, peer.accountId) &&
    session.remoteDeviceId === peer.entry.deviceId &&
    bytesEqual(session.remoteIdentityKey, peer.entry.identityDhKey)
  );
}

// ── Initiation ──────────────────────────────────────────────────────────────

/**
 * Starts a session with a peer device from its fetched bundle: verifies the bundle against the
 * signed device entry (before any DH), runs PQXDH (or X3DH for non-`pq` entries) and makes the new
 * session current, archiving the previous one.
 */
export function initiateSession(
  record: SessionRecord | undefined,
  args: { readonly local: LocalDevice; readonly peer: PeerDevice; readonly bundle: PrekeyBundle },
  deps: { readonly rng: Rng; readonly now: Clock },
): { record: SessionRecord; session: SessionState; droppedSessionIds: Uint8Array[] } {
  const now = deps.now();
  const verified = verifyBundle(args.bundle, args.peer.entry, args.peer.accountId, now);
  const agreement = pqxdhInitiate(args.local.identityDh, verified, deps.rng);
  const ratchet = initAsInitiator(agreement.sharedSecret, verified.signedPrekey.publicKey, deps.rng);
  agreement.sharedSecret.fill(0);
  const pendingPrekey: PrekeyHeader = {
    identityKey: args.local.identityDh.publicKey,
    baseKey: agreement.transcript.baseKey,
    signedPrekeyId: agreement.signedPrekeyId,
    oneTimePrekeyId: agreement.oneTimePrekeyId,
    kem:
      agreement.kemPrekeyId !== undefined
        ? { prekeyId: agreement.kemPrekeyId, ciphertext: agreement.transcript.kemCiphertext! }
        : undefined,
  };
  const partial = {
    mode: verified.mode,
    role: 'initiator' as const,
    localAccountId: args.local.accountId,
    localDeviceId: args.local.deviceId,
    localIdentityKey: args.local.identityDh.publicKey,
    remoteAccountId: args.peer.accountId,
    remoteDeviceId: args.peer.entry.deviceId,
    remoteIdentityKey: args.peer.entry.identityDhKey,
    baseKey: agreement.transcript.baseKey,
    pendingPrekey,
    createdAt: now,
    ratchet,
  };
  const session: SessionState = { ...partial, sessionId: computeSessionId(partial) };
  const base = record ?? EMPTY_RECORD;
  const next = withCurrent(base, session, base.current);
  return { ...next, session };
}

// ── Encryption ──────────────────────────────────────────────────────────────

export type EncryptedMessage = {
  readonly type: 'prekey' | 'ratchet';
  readonly bytes: Uint8Array;
  readonly sessionId: Uint8Array;
};

/** Pads and encrypts with the current session; repeats the prekey header until the first reply. */
export function encryptMessage(record: SessionRecord, plaintext: Uint8Array): { record: SessionRecord; message: EncryptedMessage } {
  const session = record.current;
  if (!session) throw new ProtocolError('NO_SESSION', 'no session with this device');
  const padded = pad(plaintext);
  const { state, message } = ratchetEncrypt(session.ratchet, padded, sessionAd(session));
  padded.fill(0);
  const updated: SessionState = { ...session, ratchet: state };
  const bytes = session.pendingPrekey ? concatBytes(encodePrekeyHeader(session.pendingPrekey), message) : message;
  return {
    record: { ...record, current: updated },
    message: { type: session.pendingPrekey ? 'prekey' : 'ratchet', bytes, sessionId: session.sessionId },
  };
}

// ── Decryption ──────────────────────────────────────────────────────────────

export type SessionDecryptContext = {
  readonly local: LocalDevice;
  readonly peer: PeerDevice;
  readonly prekeys: PrekeyReader;
  readonly skipped: (sessionId: Uint8Array) => SkippedKeyReader;
  readonly budgets: FailureBudgets;
  readonly rng: Rng;
  readonly now: Clock;
};

export type SessionDecryptResult = {
  readonly record: SessionRecord;
  readonly plaintext: Uint8Array;
  readonly messageType: 'prekey' | 'ratchet';
  /** The session that decrypted the message (its skipped-key changes follow). */
  readonly sessionId: Uint8Array;
  readonly skippedChanges: SkippedKeyChanges;
  readonly prekeyChanges: PrekeyChanges;
  /** Sessions that fell off the archive: delete their skipped keys. */
  readonly droppedSessionIds: readonly Uint8Array[];
  readonly newSession: boolean;
};

/** Failure codes ranked for reporting after trial decryption (most informative first). */
const TRIAL_RANK: readonly ProtocolErrorCode[] = ['DUPLICATED_MESSAGE', 'BUDGET_EXHAUSTED', 'JUMP_TOO_LARGE', 'INVALID_MESSAGE'];

function decryptWith(
  session: SessionState,
  ratchetMessage: ParsedRatchetMessage,
  ctx: SessionDecryptContext,
  skipped: SkippedKeyReader,
): { session: SessionState; plaintext: Uint8Array; skippedChanges: SkippedKeyChanges } {
  const result = ratchetDecryptParsed(session.ratchet, ratchetMessage, sessionAd(session), {
    skipped,
    budget: ctx.budgets.get(session.sessionId),
    rng: ctx.rng,
    now: ctx.now,
  });
  let plaintext: Uint8Array;
  try {
    plaintext = unpad(result.plaintext);
  } finally {
    result.plaintext.fill(0);
  }
  // A message from the peer on this session proves it has the session: stop repeating the prekey header.
  return { session: { ...session, ratchet: result.state, pendingPrekey: null }, plaintext, skippedChanges: result.skippedChanges };
}

/** Tries the current session, then archived ones (most recent first); promotes the one that works. */
function decryptRatchetMessage(record: SessionRecord, bytes: Uint8Array, ctx: SessionDecryptContext): SessionDecryptResult {
  const parsed = parseRatchetMessage(bytes); // MALFORMED before any trial; parsed once for all
  const candidates = [...(record.current ? [record.current] : []), ...record.archived];
  if (candidates.length === 0) throw new ProtocolError('NO_SESSION', 'no session with this device');
  const failures: ProtocolError[] = [];
  // Budgets of sessions that were only tried are refunded when another session decrypts the message.
  const tried: { budget: FailureBudget; saved: ReturnType<FailureBudget['save']> }[] = [];
  for (const candidate of candidates) {
    if (!recordMatchesPeer(candidate, ctx.peer)) continue;
    const budget = ctx.budgets.get(candidate.sessionId);
    const saved = budget.save();
    try {
      const r = decryptWith(candidate, parsed, ctx, ctx.skipped(candidate.sessionId));
      for (const t of tried) t.budget.restore(t.saved);
      const { record: next, droppedSessionIds } = withCurrent(record, r.session, record.current);
      return {
        record: next,
        plaintext: r.plaintext,
        messageType: 'ratchet',
        sessionId: candidate.sessionId,
        skippedChanges: r.skippedChanges,
        prekeyChanges: {},
        droppedSessionIds,
        newSession: false,
      };
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      failures.push(e);
      tried.push({ budget, saved });
    }
  }
  throw bestFailure(failures);
}

function bestFailure(failures: ProtocolError[]): ProtocolError {
  for (const code of TRIAL_RANK) {
    const f = failures.find((e) => e.code === code);
    if (f) return f;
  }
  return failures[0] ?? new ProtocolError('NO_SESSION', 'no session with this device');
}

function decryptPrekeyMessage(record: SessionRecord, bytes: Uint8Array, ctx: SessionDecryptContext): SessionDecryptResult {
  const msg = parsePrekeyMessage(bytes);
  const inner = parseRatchetMessage(msg.message);
  if (!bytesEqual(msg.identityKey, ctx.peer.entry.identityDhKey)) {
    throw new ProtocolError('UNTRUSTED_IDENTITY', 'prekey message identity key differs from the signed device list');
  }

  // A repeat of a prekey message for a session we already have: decrypt with that session.
  const candidates = [...(record.current ? [record.current] : []), ...record.archived];
  const existing = candidates.find((s) => s.role === 'responder' && bytesEqual(s.baseKey, msg.baseKey) && recordMatchesPeer(s, ctx.peer));
  if (existing) {
    const r = decryptWith(existing, inner, ctx, ctx.skipped(existing.sessionId));
    const { record: next, droppedSessionIds } = withCurrent(record, r.session, record.current);
    return {
      record: next,
      plaintext: r.plaintext,
      messageType: 'prekey',
      sessionId: existing.sessionId,
      skippedChanges: r.skippedChanges,
      prekeyChanges: {},
      droppedSessionIds,
      newSession: false,
    };
  }

  const mode: KeyAgreementMode = msg.kem ? 'pqxdh' : 'x3dh';
  if (mode === 'x3dh' && ctx.local.pq) {
    throw new ProtocolError('MISSING_KEM_PREKEY', 'classical prekey message to a pq device (downgrade refused)');
  }
  const hash = baseKeyHash(msg.baseKey);
  if (msg.oneTimePrekeyId === undefined && ctx.prekeys.isBaseKeySeen(msg.signedPrekeyId, hash)) {
    throw new ProtocolError('REPLAYED_BASE_KEY', 'base key already accepted under this signed prekey');
  }
  const signedPrekey = ctx.prekeys.signedPrekey(msg.signedPrekeyId);
  if (!signedPrekey) throw new ProtocolError('INVALID_PREKEY_ID', 'unknown signed prekey');
  const oneTimePrekey = msg.oneTimePrekeyId !== undefined ? ctx.prekeys.oneTimePrekey(msg.oneTimePrekeyId) : undefined;
  if (msg.oneTimePrekeyId !== undefined && !oneTimePrekey) throw new ProtocolError('INVALID_PREKEY_ID', 'unknown one-time prekey');
  const kemPrekey = msg.kem ? ctx.prekeys.kemPrekey(msg.kem.prekeyId) : undefined;
  if (msg.kem && !kemPrekey) throw new ProtocolError('INVALID_PREKEY_ID', 'unknown KEM prekey');

  const { sharedSecret } = pqxdhRespond(
    { identity: ctx.local.identityDh, signedPrekey, oneTimePrekey, kemPrekey },
    { mode, initiatorIdentity: msg.identityKey, baseKey: msg.baseKey, kemCiphertext: msg.kem?.ciphertext },
  );
  const partial = {
    mode,
    role: 'responder' as const,
    localAccountId: ctx.local.accountId,
    localDeviceId: ctx.local.deviceId,
    localIdentityKey: ctx.local.identityDh.publicKey,
    remoteAccountId: ctx.peer.accountId,
    remoteDeviceId: ctx.peer.entry.deviceId,
    remoteIdentityKey: msg.identityKey,
    baseKey: msg.baseKey,
    pendingPrekey: null,
    createdAt: ctx.now(),
    ratchet: initAsResponder(sharedSecret, signedPrekey),
  };
  sharedSecret.fill(0);
  const fresh: SessionState = { ...partial, sessionId: computeSessionId(partial) };
  // The AEAD decides: only after it passes is anything consumed or committed.
  const r = decryptWith(fresh, inner, ctx, EMPTY_SKIPPED);
  const { record: next, droppedSessionIds } = withCurrent(record, r.session, record.current);
  return {
    record: next,
    plaintext: r.plaintext,
    messageType: 'prekey',
    sessionId: fresh.sessionId,
    skippedChanges: r.skippedChanges,
    prekeyChanges: {
      consumedOneTimePrekeyId: msg.oneTimePrekeyId,
      consumedKemPrekeyId: kemPrekey && !kemPrekey.lastResort ? msg.kem!.prekeyId : undefined,
      seenBaseKey: msg.oneTimePrekeyId === undefined ? { signedPrekeyId: msg.signedPrekeyId, hash } : undefined,
    },
    droppedSessionIds,
    newSession: true,
  };
}

/**
 * Decrypts a ratchet or prekey message from `ctx.peer`. Throws ProtocolError (DUPLICATED_MESSAGE
 * for a redelivery, INVALID_MESSAGE for anything that fails to authenticate, …) and then nothing
 * has changed.
 */
export function decryptMessage(
  record: SessionRecord | undefined,
  bytes: Uint8Array,
  ctx: SessionDecryptContext,
): SessionDecryptResult {
  const type = messageTypeOf(bytes);
  const base = record ?? EMPTY_RECORD;
  if (type === MessageType.Prekey) return decryptPrekeyMessage(base, bytes, ctx);
  if (type === MessageType.Ratchet) return decryptRatchetMessage(base, bytes, ctx);
  throw new ProtocolError('MALFORMED', 'a decryption-error message is not decrypted');
}

// ── Desync recovery ─────────────────────────────────────────────────────────

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
  const archived = [current, ...base.archived];
  return {
    record: { current: null, archived: archived.slice(0, MAX_ARCHIVED_SESSIONS) },
    rebuild: true,
    resendAfter: error.timestamp,
    error,
    droppedSessionIds: archived.slice(MAX_ARCHIVED_SESSIONS).map((s) => s.sessionId),
  };
}

// ── Serialization (docs/protocol.md "Session record") ───────────────────────

const SESSION_FLAG_PQ = 0x01;
const SESSION_FLAG_INITIATOR = 0x02;
const SESSION_FLAG_PENDING = 0x04;

function writeSession(w: Writer, s: SessionState): void {
  w.u8(SESSION_VERSION)
    .bytes(s.sessionId)
    .u8((s.mode === 'pqxdh' ? SESSION_FLAG_PQ : 0) | (s.role === 'initiator' ? SESSION_FLAG_INITIATOR : 0) | (s.pendingPrekey ? SESSION_FLAG_PENDING : 0))
    .bytes(s.localAccountId)
    .u32(s.localDeviceId)
    .key(KeyType.X25519, s.localIdentityKey)
    .bytes(s.remoteAccountId)
    .u32(s.remoteDeviceId)
    .key(KeyType.X25519, s.remoteIdentityKey)
    .key(KeyType.X25519, s.baseKey)
    .u64(s.createdAt);
  if (s.pendingPrekey) w.var16(encodePrekeyHeader(s.pendingPrekey, STORED_PREKEY_HEADER_VERSION));
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

/** u8 record version ‖ u8 has-current ‖ [session] ‖ u8 archived count ‖ sessions */
export function serializeSessionRecord(record: SessionRecord): Uint8Array {
  const w = new Writer().u8(RECORD_VERSION).u8(record.current ? 1 : 0);
  if (record.current) writeSession(w, record.current);
  w.u8(record.archived.length);
  for (const s of record.archived) writeSession(w, s);
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

/** Whether the current session is classical (shown as "not quantum-resistant"). */
export function isQuantumResistant(record: SessionRecord): boolean {
  return record.current?.mode === 'pqxdh';
}

export { PROTOCOL_VERSION };
