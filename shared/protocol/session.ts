/**
 * Sessions (DESIGN §3.3-3.4, docs/protocol.md §10): per peer device — keyed by (account id, device
 * id, device identity key) — what a session does. Owns session setup on both sides (PQXDH + ratchet
 * init), the prekey message framing repeated until the first reply, trial decryption with
 * promotion, the base-key replay rule, padding and the session AD and id.
 *
 * Sans-I/O: stores are read through the `PrekeyReader` / `SkippedKeyReader` views and every change
 * comes back as data (`prekeyChanges`, `skippedChanges`, `droppedSessionIds`) for the caller to
 * commit in one transaction with the new record — after the AEAD check, so a forged message consumes
 * nothing. A failed decrypt throws and returns nothing: every store stays byte-identical.
 * Does not own: the record, its archive rule and serialization (session-record.ts), the
 * decryption-error control message (decryption-error.ts), device-list trust decisions (the caller
 * passes the verified entry), persistence, resending (the engine's outbox), rate limiting of
 * decryption errors (the engine).
 */
import { bytesEqual, toHex } from '../crypto/bytes.js';
import { encodeX25519, KeyType } from '../crypto/encoding.js';
import type { Clock, Rng } from '../crypto/random.js';
import { sha256 } from '../crypto/sha256.js';
import type { X25519KeyPair } from '../crypto/x25519.js';
import { SizedWriter } from './codec.js';
import { ACCOUNT_ID_LENGTH, label, PADDING_BLOCK } from './constants.js';
import type { DeviceEntry } from './device-list.js';
import {
  FailureBudget,
  initAsInitiator,
  initAsResponder,
  ratchetDecryptParsed,
  ratchetEncrypt,
  EMPTY_SKIPPED,
  type SkippedKeyChanges,
  type SkippedKeyReader,
} from './double-ratchet.js';
import { isProtocolError, ProtocolError, type ProtocolErrorCode } from './errors.js';
import {
  encodePrekeyHeader,
  messageTypeOf,
  MessageType,
  parsePrekeyMessage,
  parseRatchetMessage,
  type ParsedRatchetMessage,
  type PrekeyHeader,
} from './messages.js';
import { pad, padInto, paddedLength, unpaddedLength } from './padding.js';
import { pqxdhInitiate, pqxdhRespond, type KeyAgreementMode } from './pqxdh.js';
import { verifyBundle, type PrekeyBundle } from './prekeys.js';
import { EMPTY_RECORD, SESSION_ID_LENGTH, withCurrentSession, type SessionRecord, type SessionState } from './session-record.js';

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
    const key = budgetKey(sessionId);
    let b = this.#budgets.get(key);
    if (!b) {
      if (this.#budgets.size >= this.limit) this.#budgets.delete(this.#budgets.keys().next().value!);
      b = new FailureBudget();
      this.#budgets.set(key, b);
    }
    return b;
  }
}

/**
 * A session id as a map key: its 16 bytes as one flat one-byte string (one small string per
 * lookup, where hex would build 16 pieces); any other length (never a real session id) as hex.
 */
function budgetKey(id: Uint8Array): string {
  if (id.length !== SESSION_ID_LENGTH) return toHex(id);
  return String.fromCharCode(id[0]!, id[1]!, id[2]!, id[3]!, id[4]!, id[5]!, id[6]!, id[7]!, id[8]!, id[9]!, id[10]!, id[11]!, id[12]!, id[13]!, id[14]!, id[15]!);
}

// ── Helpers ─────────────────────────────────────────────────────────────────

/** §7.1: 12-byte label, two encoded X25519 keys, two (account id, u32 device id). */
const SESSION_AD_LENGTH = 12 + 2 * 33 + 2 * (ACCOUNT_ID_LENGTH + 4);

function writeSessionAd(w: SizedWriter, s: SessionState): Uint8Array {
  w.bytes(label('SessionAd'));
  if (s.role === 'initiator') {
    w.key(KeyType.X25519, s.localIdentityKey).key(KeyType.X25519, s.remoteIdentityKey);
    w.bytes(s.localAccountId).u32(s.localDeviceId).bytes(s.remoteAccountId).u32(s.remoteDeviceId);
  } else {
    w.key(KeyType.X25519, s.remoteIdentityKey).key(KeyType.X25519, s.localIdentityKey);
    w.bytes(s.remoteAccountId).u32(s.remoteDeviceId).bytes(s.localAccountId).u32(s.localDeviceId);
  }
  return w.finish();
}

/** label ‖ Enc(IK_init) ‖ Enc(IK_resp) ‖ account id_init ‖ u32 device id_init ‖ account id_resp ‖ u32 device id_resp */
export function sessionAd(s: SessionState): Uint8Array {
  return writeSessionAd(new SizedWriter(SESSION_AD_LENGTH), s);
}

// Per message, the session AD is written into this reused array (public data, copied into the
// message AD at once; protocol steps are synchronous, so no two uses overlap).
const adScratch = new Uint8Array(SESSION_AD_LENGTH);
function sessionAdOf(s: SessionState): Uint8Array {
  return writeSessionAd(new SizedWriter(SESSION_AD_LENGTH, adScratch, 0), s);
}

/** The first 16 bytes of SHA-256("Parley_v1_SessionId" ‖ session AD ‖ Enc(EK_A)): equal on both sides. */
export function computeSessionId(partial: Omit<SessionState, 'sessionId'>): Uint8Array {
  const ad = sessionAd({ ...partial, sessionId: new Uint8Array(SESSION_ID_LENGTH) });
  return sha256(label('SessionId'), ad, encodeX25519(partial.baseKey)).slice(0, SESSION_ID_LENGTH);
}

/** The seen-set key of a base key: SHA-256(label ‖ Enc(EK_A)). */
export function baseKeyHash(baseKey: Uint8Array): Uint8Array {
  return sha256(label('BaseKeySeen'), encodeX25519(baseKey));
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
  const next = withCurrentSession(base, session, base.current);
  return { ...next, session };
}

// ── Encryption ──────────────────────────────────────────────────────────────

export type EncryptedMessage = {
  readonly type: 'prekey' | 'ratchet';
  readonly bytes: Uint8Array;
  readonly sessionId: Uint8Array;
};

// The padded plaintext of one encryption lives in this reused array, zeroed right after the AEAD
// (a fresh array only for plaintexts longer than it): no allocation per message.
const padScratch = new Uint8Array(4 * PADDING_BLOCK);

/** Pads and encrypts with the current session; repeats the prekey header until the first reply. */
export function encryptMessage(record: SessionRecord, plaintext: Uint8Array): { record: SessionRecord; message: EncryptedMessage } {
  const session = record.current;
  if (!session) throw new ProtocolError('NO_SESSION', 'no session with this device');
  const padded = paddedLength(plaintext.length) <= padScratch.length ? padInto(plaintext, padScratch) : pad(plaintext);
  const prefix = session.pendingPrekey ? encodePrekeyHeader(session.pendingPrekey) : undefined;
  let encrypted: ReturnType<typeof ratchetEncrypt>;
  try {
    encrypted = ratchetEncrypt(session.ratchet, padded, sessionAdOf(session), prefix);
  } finally {
    padded.fill(0);
  }
  const updated: SessionState = { ...session, ratchet: encrypted.state };
  return {
    record: { current: updated, archived: record.archived },
    message: { type: prefix ? 'prekey' : 'ratchet', bytes: encrypted.message, sessionId: session.sessionId },
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
  budget: FailureBudget = ctx.budgets.get(session.sessionId),
): { session: SessionState; plaintext: Uint8Array; skippedChanges: SkippedKeyChanges } {
  const result = ratchetDecryptParsed(session.ratchet, ratchetMessage, sessionAdOf(session), {
    skipped,
    budget,
    rng: ctx.rng,
    now: ctx.now,
  });
  let length: number;
  try {
    length = unpaddedLength(result.plaintext);
  } catch (e) {
    result.plaintext.fill(0);
    throw e;
  }
  // The plaintext is returned in place (the rest of the array is the padding: 0x80 and zeros).
  const plaintext = result.plaintext.subarray(0, length);
  // A message from the peer on this session proves it has the session: stop repeating the prekey header.
  return { session: { ...session, ratchet: result.state, pendingPrekey: null }, plaintext, skippedChanges: result.skippedChanges };
}

/** Tries the current session, then archived ones (most recent first); promotes the one that works. */
function decryptRatchetMessage(record: SessionRecord, bytes: Uint8Array, ctx: SessionDecryptContext): SessionDecryptResult {
  const parsed = parseRatchetMessage(bytes); // MALFORMED before any trial; parsed once for all
  const { current, archived } = record;
  if (!current && archived.length === 0) throw new ProtocolError('NO_SESSION', 'no session with this device');
  let failures: ProtocolError[] | undefined;
  // Budgets of sessions that were only tried are refunded when another session decrypts the message.
  let tried: { budget: FailureBudget; saved: ReturnType<FailureBudget['save']> }[] | undefined;
  // Candidates: the current session (i = -1), then the archive in order.
  for (let i = current ? -1 : 0; i < archived.length; i++) {
    const candidate = i < 0 ? current! : archived[i]!;
    if (!recordMatchesPeer(candidate, ctx.peer)) continue;
    const budget = ctx.budgets.get(candidate.sessionId);
    const saved = budget.save();
    try {
      const r = decryptWith(candidate, parsed, ctx, ctx.skipped(candidate.sessionId), budget);
      if (tried) for (const t of tried) t.budget.restore(t.saved);
      const { record: next, droppedSessionIds } = withCurrentSession(record, r.session, current);
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
      (failures ??= []).push(e);
      (tried ??= []).push({ budget, saved });
    }
  }
  throw bestFailure(failures ?? []);
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
    const { record: next, droppedSessionIds } = withCurrentSession(record, r.session, record.current);
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
  const { record: next, droppedSessionIds } = withCurrentSession(record, r.session, record.current);
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
