/**
 * Sender Keys (DESIGN §3.5, docs/protocol.md §24.2–24.4, §24.7): the symmetric chain one sender
 * device uses for one group, and the group message (type 0x10) it encrypts and signs.
 *
 *   chain          ck₀ random (32); seedᵢ = HMAC(ckᵢ, 0x01); ckᵢ₊₁ = HMAC(ckᵢ, 0x02)
 *   message keys   HKDF(salt = 0³², ikm = seedᵢ, info = "Parley_v1_SenderKeyMessageKeys", L = 44) → key 32 ‖ nonce 12
 *   header (70)    u8 0x01 ‖ u8 0x10 ‖ groupId (16) ‖ distributionId (16) ‖ u32 i ‖ membership head hash (32)
 *   AD             "Parley_v1_SenderKeyMessage" ‖ header
 *   message        header ‖ AES-256-GCM(key, nonce, pad(plaintext), AD) ‖ Ed25519 signature over AD ‖ ciphertext
 *
 * Owns: the state of one chain (`SenderKeyState`: ids, chain key and iteration, the chain's signing
 * key; for the sender also its signing private key and the chain's first point), the record of a
 * sender device's states as a receiver holds it (`SenderKeyRecord`: at most MAX_SENDER_KEY_STATES,
 * newest first, plus the ids it dropped so an old distribution cannot come back), encryption,
 * decryption (signature first, then the iteration rules: a duplicate is DUPLICATED_MESSAGE, a jump
 * past MAX_SENDER_KEY_JUMP is JUMP_TOO_LARGE before any derivation, skipped seeds kept up to
 * MAX_SENDER_KEY_SKIPPED with the oldest evicted), the rotation rule and the binary serialization
 * of both (versioned). Functions are pure: inputs are never modified and a failure returns nothing,
 * so the caller's stored record stays byte-identical. No failure budget is needed: the signature is
 * checked before any chain step, so only the holder of the chain's signing key can make a receiver
 * derive (and never more than MAX_SENDER_KEY_JUMP keys per message).
 *
 * Does not own: distributions (sender-key-distribution.ts), whether a message's head hash is known
 * and the sender a member there (group-membership.ts `checkGroupMessageHead`), the sealed
 * multi-recipient transport, queues of messages waiting for a distribution, which devices get a
 * distribution, storage (the engine, electron/engine/groups/).
 */
import { aesGcmOpen, aesGcmSealInto, GCM_TAG_LENGTH } from '../crypto/aead.js';
import { bytesEqual } from '../crypto/bytes.js';
import { CryptoError } from '../crypto/errors.js';
import { ed25519GenerateKeyPair, ed25519Sign, ed25519Verify, ED25519_SIGNATURE_LENGTH } from '../crypto/ed25519.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import type { Clock, Rng } from '../crypto/random.js';
import { Reader, Writer, SizedWriter } from './codec.js';
import { messageSeed, nextChainKey } from './double-ratchet.js';
import {
  DISTRIBUTION_ID_LENGTH,
  GROUP_ID_LENGTH,
  GROUP_RECORD_HASH_LENGTH,
  GROUP_VERSION,
  label,
  MAX_SENDER_KEY_JUMP,
  MAX_SENDER_KEY_SKIPPED,
  MAX_SENDER_KEY_STATES,
  PADDING_BLOCK,
  SENDER_KEY_ROTATION_MESSAGES,
  SENDER_KEY_ROTATION_MS,
} from './constants.js';
import { ProtocolError } from './errors.js';
import { padInto, paddedLength, unpad } from './padding.js';

/** The §9 message-type byte of a group message (numbered in the group range 0x10–0x13 of §16). */
export const SENDER_KEY_MESSAGE_TYPE = 0x10;
/** u8 version ‖ u8 type ‖ groupId ‖ distributionId ‖ u32 iteration ‖ head hash. */
export const SENDER_KEY_HEADER_LENGTH = 2 + GROUP_ID_LENGTH + DISTRIBUTION_ID_LENGTH + 4 + GROUP_RECORD_HASH_LENGTH;
/** The largest iteration a chain can reach; a sender at it must rotate (SENDER_KEY_EXHAUSTED). */
export const MAX_SENDER_KEY_ITERATION = 0xffffffff;
/** Distribution ids a record remembers after dropping their state, so a replay cannot revive them. */
export const MAX_RETIRED_DISTRIBUTIONS = 32;

export type SkippedSeed = { readonly iteration: number; readonly seed: Uint8Array };

export type SenderKeyState = {
  readonly groupId: Uint8Array;
  readonly distributionId: Uint8Array;
  /** The chain's Ed25519 public key: every message of the chain is signed by its private half. */
  readonly signingPublicKey: Uint8Array;
  /** The sender's own state only; null in a state received by distribution. */
  readonly signingPrivateKey: Uint8Array | null;
  /** The chain key at `iteration`: the next message to send (own) or the lowest not yet derived (received). */
  readonly chainKey: Uint8Array;
  readonly iteration: number;
  /**
   * The sender's own state only: the chain's first point. A distribution at an earlier iteration
   * than the current one is derived from it, for a device that already received that point.
   */
  readonly origin: { readonly chainKey: Uint8Array; readonly iteration: number } | null;
  /** When the chain was made (own) or accepted (received). */
  readonly createdAt: number;
  /** Received states only: seeds of iterations skipped over, ascending by iteration. */
  readonly skipped: readonly SkippedSeed[];
};

/** A receiver's states of one (group, sender account, sender device): newest first. */
export type SenderKeyRecord = {
  readonly states: readonly SenderKeyState[];
  /** Distribution ids whose state was evicted (oldest first): refused if distributed again. */
  readonly retired: readonly Uint8Array[];
};

export const EMPTY_SENDER_KEY_RECORD: SenderKeyRecord = { states: [], retired: [] };

const ZERO_SALT = new Uint8Array(32);

/** The message seed HMAC(ck, 0x01): the same chain step as the ratchet's (DESIGN §3.1). */
export const senderKeySeed = messageSeed;
/** The next chain key HMAC(ck, 0x02). */
export const nextSenderChainKey = nextChainKey;

/** AES key = out[0..32), nonce = out[32..44): views of one derived array (wipe after use). */
export function senderKeyMessageKeys(seed: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const out = hkdfSha256(seed, ZERO_SALT, label('SenderKeyMessageKeys'), 44);
  return { key: out.subarray(0, 32), nonce: out.subarray(32, 44) };
}

/** The chain key `steps` HMAC steps after `chainKey`. */
export function advanceSenderChain(chainKey: Uint8Array, steps: number): Uint8Array {
  let key = chainKey;
  for (let i = 0; i < steps; i++) key = nextSenderChainKey(key);
  return key;
}

function checkId(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new ProtocolError('MALFORMED', `${what}: wrong length`);
}

/**
 * A new own chain for `groupId` at iteration 0. Draws, in order: distribution id (16), chain key
 * (32), signing key seed (32).
 */
export function createSenderKeyState(groupId: Uint8Array, deps: { readonly rng: Rng; readonly now: Clock }): SenderKeyState {
  checkId(groupId, GROUP_ID_LENGTH, 'group id');
  const distributionId = deps.rng(DISTRIBUTION_ID_LENGTH);
  const chainKey = deps.rng(32);
  const signing = ed25519GenerateKeyPair(deps.rng);
  return {
    groupId: groupId.slice(),
    distributionId,
    signingPublicKey: signing.publicKey,
    signingPrivateKey: signing.privateKey,
    chainKey,
    iteration: 0,
    origin: { chainKey, iteration: 0 },
    createdAt: deps.now(),
    skipped: [],
  };
}

/**
 * Whether the own chain must be replaced before the next send: SENDER_KEY_ROTATION_MESSAGES sent
 * on it, SENDER_KEY_ROTATION_MS of age, or its iteration counter used up. (Removal or leave of a
 * member or member device also rotates; the engine sees those.)
 */
export function senderKeyNeedsRotation(state: SenderKeyState, now: number): boolean {
  const first = state.origin ? state.origin.iteration : 0;
  return (
    state.iteration - first >= SENDER_KEY_ROTATION_MESSAGES ||
    now - state.createdAt >= SENDER_KEY_ROTATION_MS ||
    state.iteration >= MAX_SENDER_KEY_ITERATION
  );
}

// ── The group message (type 0x10, docs/protocol.md §24.3) ────────────────────

export type SenderKeyMessageHeader = {
  readonly groupId: Uint8Array;
  readonly distributionId: Uint8Array;
  readonly iteration: number;
  /** The membership head hash the sender sent under (§24.5). */
  readonly headHash: Uint8Array;
};

/** Fields are copies, except `signedPart` and `ciphertext`: views into the parsed bytes (read once, never kept). */
export type ParsedSenderKeyMessage = SenderKeyMessageHeader & {
  /** header ‖ ciphertext: with the label in front, what the signature covers. */
  readonly signedPart: Uint8Array;
  readonly headerBytes: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly signature: Uint8Array;
};

/**
 * Parses a group message. Strict: version 0x01, type 0x10, a ciphertext of 16 + 160·k bytes
 * (k ≥ 1: padded content and the tag), a 64-byte signature, nothing else, an iteration below
 * 2³² − 1 → else MALFORMED.
 */
export function parseSenderKeyMessage(bytes: Uint8Array): ParsedSenderKeyMessage {
  const r = new Reader(bytes, 'sender-key message');
  const version = r.u8();
  if (version !== GROUP_VERSION) throw new ProtocolError('MALFORMED', `unsupported sender-key message version ${version}`);
  if (r.u8() !== SENDER_KEY_MESSAGE_TYPE) throw new ProtocolError('MALFORMED', 'not a sender-key message');
  const groupId = r.bytes(GROUP_ID_LENGTH);
  const distributionId = r.bytes(DISTRIBUTION_ID_LENGTH);
  const iteration = r.u32();
  // No chain sends at the last iteration (the next one would not fit a u32).
  if (iteration >= MAX_SENDER_KEY_ITERATION) throw new ProtocolError('MALFORMED', 'sender-key message: iteration out of range');
  const headHash = r.bytes(GROUP_RECORD_HASH_LENGTH);
  const ciphertextLength = r.remaining - ED25519_SIGNATURE_LENGTH;
  if (ciphertextLength < PADDING_BLOCK + GCM_TAG_LENGTH || (ciphertextLength - GCM_TAG_LENGTH) % PADDING_BLOCK !== 0) {
    throw new ProtocolError('MALFORMED', 'sender-key message: ciphertext is not padded content and a tag');
  }
  const ciphertext = r.view(ciphertextLength);
  const signature = r.bytes(ED25519_SIGNATURE_LENGTH);
  r.end();
  return {
    groupId,
    distributionId,
    iteration,
    headHash,
    headerBytes: bytes.subarray(0, SENDER_KEY_HEADER_LENGTH),
    ciphertext,
    signedPart: bytes.subarray(0, SENDER_KEY_HEADER_LENGTH + ciphertextLength),
    signature,
  };
}

function writeHeader(out: Uint8Array, h: SenderKeyMessageHeader): void {
  new SizedWriter(SENDER_KEY_HEADER_LENGTH, out, 0)
    .u8(GROUP_VERSION)
    .u8(SENDER_KEY_MESSAGE_TYPE)
    .bytes(h.groupId)
    .bytes(h.distributionId)
    .u32(h.iteration)
    .bytes(h.headHash)
    .finish();
}

/** "Parley_v1_SenderKeyMessage" ‖ bytes: the AD (bytes = header) or the signature input (bytes = header ‖ ciphertext). */
function labelled(bytes: Uint8Array): Uint8Array {
  const prefix = label('SenderKeyMessage');
  const out = new Uint8Array(prefix.length + bytes.length);
  out.set(prefix, 0);
  out.set(bytes, prefix.length);
  return out;
}

/**
 * Encrypts one plaintext (content, §16; padded here to 160-byte blocks) under the own chain,
 * signs it, and returns the message and the state advanced by one. `headHash` is the membership
 * head the sender sends under.
 */
export function senderKeyEncrypt(
  state: SenderKeyState,
  plaintext: Uint8Array,
  headHash: Uint8Array,
): { readonly state: SenderKeyState; readonly message: Uint8Array } {
  if (!state.signingPrivateKey) throw new Error('senderKeyEncrypt: a received sender-key state cannot send');
  if (state.iteration >= MAX_SENDER_KEY_ITERATION) throw new ProtocolError('SENDER_KEY_EXHAUSTED', 'sender-key chain used up: rotate');
  checkId(headHash, GROUP_RECORD_HASH_LENGTH, 'head hash');
  const padded = paddedLength(plaintext.length);
  const ciphertextLength = padded + GCM_TAG_LENGTH;
  const message = new Uint8Array(SENDER_KEY_HEADER_LENGTH + ciphertextLength + ED25519_SIGNATURE_LENGTH);
  writeHeader(message, { groupId: state.groupId, distributionId: state.distributionId, iteration: state.iteration, headHash });
  const header = message.subarray(0, SENDER_KEY_HEADER_LENGTH);
  const body = padInto(plaintext, new Uint8Array(padded));
  const seed = senderKeySeed(state.chainKey);
  const { key, nonce } = senderKeyMessageKeys(seed);
  aesGcmSealInto(key, nonce, body, labelled(header), message, SENDER_KEY_HEADER_LENGTH);
  key.fill(0);
  nonce.fill(0);
  seed.fill(0);
  body.fill(0);
  const signature = ed25519Sign(state.signingPrivateKey, labelled(message.subarray(0, SENDER_KEY_HEADER_LENGTH + ciphertextLength)));
  message.set(signature, SENDER_KEY_HEADER_LENGTH + ciphertextLength);
  return {
    state: { ...state, chainKey: nextSenderChainKey(state.chainKey), iteration: state.iteration + 1 },
    message,
  };
}

export type SenderKeyDecryptResult = {
  /** The record to store (in the same transaction as the message). */
  readonly record: SenderKeyRecord;
  /** The content, unpadded. */
  readonly plaintext: Uint8Array;
  readonly header: SenderKeyMessageHeader;
};

function findState(record: SenderKeyRecord, groupId: Uint8Array, distributionId: Uint8Array): number {
  return record.states.findIndex((s) => bytesEqual(s.distributionId, distributionId) && bytesEqual(s.groupId, groupId));
}

function open(seed: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | null {
  const { key, nonce } = senderKeyMessageKeys(seed);
  try {
    return aesGcmOpen(key, nonce, ciphertext, ad);
  } catch (e) {
    if (e instanceof CryptoError) return null;
    throw e;
  } finally {
    key.fill(0);
    nonce.fill(0);
  }
}

/**
 * Decrypts a group message from the record of its sender device (the one the sealed layer named).
 * In this order, nothing changed unless every step passes: parse (MALFORMED); a state with the
 * message's group and distribution id (NO_SENDER_KEY); the signature under that state's key
 * (BAD_SIGNATURE); an iteration below the chain that is not a kept skipped seed
 * (DUPLICATED_MESSAGE); a jump past MAX_SENDER_KEY_JUMP (JUMP_TOO_LARGE); the AEAD
 * (INVALID_MESSAGE); the padding (MALFORMED). The head hash is returned, not judged:
 * `checkGroupMessageHead` (group-membership.ts) does that.
 */
export function senderKeyDecrypt(record: SenderKeyRecord, bytes: Uint8Array): SenderKeyDecryptResult {
  const m = parseSenderKeyMessage(bytes);
  const index = findState(record, m.groupId, m.distributionId);
  if (index < 0) throw new ProtocolError('NO_SENDER_KEY', 'no sender key for this distribution');
  const state = record.states[index]!;
  if (!ed25519Verify(state.signingPublicKey, labelled(m.signedPart), m.signature)) {
    throw new ProtocolError('BAD_SIGNATURE', 'sender-key message: signature does not verify');
  }
  const ad = labelled(m.headerBytes);
  const header: SenderKeyMessageHeader = { groupId: m.groupId, distributionId: m.distributionId, iteration: m.iteration, headHash: m.headHash };

  let next: SenderKeyState;
  let padded: Uint8Array | null;
  if (m.iteration < state.iteration) {
    // An earlier iteration: only a kept skipped seed can open it; otherwise it was used (or evicted).
    const at = state.skipped.findIndex((s) => s.iteration === m.iteration);
    if (at < 0) throw new ProtocolError('DUPLICATED_MESSAGE', 'sender-key message key already used');
    padded = open(state.skipped[at]!.seed, m.ciphertext, ad);
    next = { ...state, skipped: state.skipped.filter((_, i) => i !== at) };
  } else {
    const jump = m.iteration - state.iteration;
    if (jump > MAX_SENDER_KEY_JUMP) throw new ProtocolError('JUMP_TOO_LARGE', 'sender-key iteration too far ahead');
    // Only the newest MAX_SENDER_KEY_SKIPPED seeds can survive eviction: older positions are stepped over.
    const added: SkippedSeed[] = [];
    const firstKept = Math.max(state.iteration, m.iteration - MAX_SENDER_KEY_SKIPPED);
    let key = state.chainKey;
    for (let i = state.iteration; i < m.iteration; i++) {
      if (i >= firstKept) added.push({ iteration: i, seed: senderKeySeed(key) });
      key = nextSenderChainKey(key);
    }
    const seed = senderKeySeed(key);
    padded = open(seed, m.ciphertext, ad);
    seed.fill(0);
    const skipped = state.skipped.concat(added);
    next = {
      ...state,
      chainKey: nextSenderChainKey(key),
      iteration: m.iteration + 1,
      skipped: skipped.length > MAX_SENDER_KEY_SKIPPED ? skipped.slice(skipped.length - MAX_SENDER_KEY_SKIPPED) : skipped,
    };
  }
  if (!padded) throw new ProtocolError('INVALID_MESSAGE', 'sender-key message failed to authenticate');
  let plaintext: Uint8Array;
  try {
    plaintext = unpad(padded);
  } finally {
    padded.fill(0);
  }
  const states = record.states.slice();
  states[index] = next;
  return { record: { states, retired: record.retired }, plaintext, header };
}

/**
 * Puts a newly accepted state in front of the record, evicting the oldest beyond
 * MAX_SENDER_KEY_STATES (their ids retired). Used by processSenderKeyDistribution.
 */
export function addSenderKeyState(record: SenderKeyRecord, state: SenderKeyState): SenderKeyRecord {
  const states = [state, ...record.states];
  const evicted = states.splice(MAX_SENDER_KEY_STATES);
  let retired = record.retired;
  if (evicted.length > 0) {
    retired = retired.concat(evicted.map((s) => s.distributionId));
    if (retired.length > MAX_RETIRED_DISTRIBUTIONS) retired = retired.slice(retired.length - MAX_RETIRED_DISTRIBUTIONS);
  }
  return { states, retired };
}

// ── Serialization (docs/protocol.md §24.7) ────────────────────────────────────

const FLAG_PRIVATE = 0x01;
const FLAG_ORIGIN = 0x02;

function writeState(w: Writer, s: SenderKeyState): void {
  w.bytes(s.groupId)
    .bytes(s.distributionId)
    .u8((s.signingPrivateKey ? FLAG_PRIVATE : 0) | (s.origin ? FLAG_ORIGIN : 0))
    .bytes(s.signingPublicKey);
  if (s.signingPrivateKey) w.bytes(s.signingPrivateKey);
  w.u32(s.iteration).bytes(s.chainKey);
  if (s.origin) w.u32(s.origin.iteration).bytes(s.origin.chainKey);
  w.u64(s.createdAt).u16(s.skipped.length);
  for (const k of s.skipped) w.u32(k.iteration).bytes(k.seed);
}

function readState(r: Reader): SenderKeyState {
  const groupId = r.bytes(GROUP_ID_LENGTH);
  const distributionId = r.bytes(DISTRIBUTION_ID_LENGTH);
  const flags = r.u8();
  if ((flags & ~(FLAG_PRIVATE | FLAG_ORIGIN)) !== 0) throw new ProtocolError('MALFORMED', 'sender-key state: unknown flags');
  const signingPublicKey = r.bytes(32);
  const signingPrivateKey = flags & FLAG_PRIVATE ? r.bytes(32) : null;
  const iteration = r.u32();
  const chainKey = r.bytes(32);
  const origin = flags & FLAG_ORIGIN ? { iteration: r.u32(), chainKey: r.bytes(32) } : null;
  if (origin && origin.iteration > iteration) throw new ProtocolError('MALFORMED', 'sender-key state: origin after the chain');
  const createdAt = r.u64();
  const count = r.u16();
  if (count > MAX_SENDER_KEY_SKIPPED) throw new ProtocolError('MALFORMED', 'sender-key state: too many skipped seeds');
  const skipped: SkippedSeed[] = [];
  let previous = -1;
  for (let i = 0; i < count; i++) {
    const k = { iteration: r.u32(), seed: r.bytes(32) };
    if (k.iteration <= previous || k.iteration >= iteration) throw new ProtocolError('MALFORMED', 'sender-key state: skipped seeds out of order');
    previous = k.iteration;
    skipped.push(k);
  }
  return { groupId, distributionId, signingPublicKey, signingPrivateKey, chainKey, iteration, origin, createdAt, skipped };
}

/** One state (the sender's own chain): u8 version 0x01 ‖ state. */
export function serializeSenderKeyState(s: SenderKeyState): Uint8Array {
  const w = new Writer().u8(GROUP_VERSION);
  writeState(w, s);
  return w.finish();
}

export function deserializeSenderKeyState(bytes: Uint8Array): SenderKeyState {
  const r = new Reader(bytes, 'sender-key state');
  const version = r.u8();
  if (version !== GROUP_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `sender-key state version ${version}`);
  const s = readState(r);
  r.end();
  return s;
}

/** u8 version 0x01 ‖ u8 n ‖ n × state ‖ u8 r ‖ r × retired distribution id. */
export function serializeSenderKeyRecord(record: SenderKeyRecord): Uint8Array {
  const w = new Writer().u8(GROUP_VERSION).u8(record.states.length);
  for (const s of record.states) writeState(w, s);
  w.u8(record.retired.length);
  for (const id of record.retired) w.bytes(id);
  return w.finish();
}

export function deserializeSenderKeyRecord(bytes: Uint8Array): SenderKeyRecord {
  const r = new Reader(bytes, 'sender-key record');
  const version = r.u8();
  if (version !== GROUP_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `sender-key record version ${version}`);
  const n = r.u8();
  if (n > MAX_SENDER_KEY_STATES) throw new ProtocolError('MALFORMED', 'sender-key record: too many states');
  const states: SenderKeyState[] = [];
  for (let i = 0; i < n; i++) states.push(readState(r));
  const retiredCount = r.u8();
  if (retiredCount > MAX_RETIRED_DISTRIBUTIONS) throw new ProtocolError('MALFORMED', 'sender-key record: too many retired ids');
  const retired: Uint8Array[] = [];
  for (let i = 0; i < retiredCount; i++) retired.push(r.bytes(DISTRIBUTION_ID_LENGTH));
  r.end();
  return { states, retired };
}
