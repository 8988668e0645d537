/**
 * The Double Ratchet (Signal spec, DESIGN §3.4, docs/protocol.md "Double Ratchet"), sans-I/O.
 *
 *   KDF_RK(rk, dh) = HKDF(salt = rk, ikm = dh, info = "Parley_v1_Ratchet", L = 64) → (rk', ck)
 *   KDF_CK(ck)     = (seed = HMAC(ck, 0x01), ck' = HMAC(ck, 0x02))
 *   message keys   = HKDF(salt = 0³², ikm = seed, info = "Parley_v1_MessageKeys", L = 44) → (key 32, nonce 12)
 *   AEAD           = AES-256-GCM, AD = session AD ‖ encoded header; no header encryption.
 *
 * Owns the ratchet state, its binary serialization and the limits: a jump of more than
 * MAX_FORWARD_JUMP fails before any derivation; skipped keys go to a separate store (this module
 * reads it and returns changes; it never mutates it); an in-memory FailureBudget bounds the work
 * forged headers can cause. Functions are pure: the input state is never modified, and a failed
 * decrypt returns nothing, so the caller's stores stay byte-identical.
 * Does not own: sessions, prekey messages, padding (session.ts), persistence (the engine).
 */
import { aesGcmOpen, aesGcmSealInto, GCM_TAG_LENGTH } from '../crypto/aead.js';
import { bytesEqual } from '../crypto/bytes.js';
import { CryptoError } from '../crypto/errors.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { hmacSha256 } from '../crypto/hmac.js';
import type { Clock, Rng } from '../crypto/random.js';
import { x25519, x25519PrivateHandle, type X25519KeyPair } from '../crypto/x25519.js';
import { Reader, SizedWriter, type ByteWriter } from './codec.js';
import {
  DH_STEP_COST,
  FAILURE_BUDGET_REFILL_MS,
  FAILURE_BUDGET_STEPS,
  MAX_FORWARD_JUMP,
  MAX_SKIPPED_KEYS_PER_SESSION,
  label,
} from './constants.js';
import { ProtocolError } from './errors.js';
import {
  parseRatchetMessage,
  RATCHET_HEADER_LENGTH,
  writeRatchetHeader,
  type ParsedRatchetMessage,
  type RatchetHeader,
} from './messages.js';

export type Chain = { readonly key: Uint8Array; readonly index: number };

/** A receiving chain the ratchet has moved past: `end` is how many messages its sender sent on it. */
export type PreviousChain = { readonly ratchetKey: Uint8Array; readonly end: number };

/** Previous receiving ratchet keys remembered to classify late duplicates. */
export const MAX_PREVIOUS_CHAINS = 5;

export type RatchetState = {
  readonly rootKey: Uint8Array;
  readonly sendingRatchetKey: X25519KeyPair;
  readonly remoteRatchetKey: Uint8Array | null;
  readonly sendingChain: Chain | null;
  readonly receivingChain: Chain | null;
  readonly previousCounter: number;
  readonly previousChains: readonly PreviousChain[];
};

export type SkippedKey = { readonly ratchetKey: Uint8Array; readonly counter: number; readonly seed: Uint8Array };

/** Read-only view of one session's skipped-key store. */
export type SkippedKeyReader = {
  get(ratchetKey: Uint8Array, counter: number): Uint8Array | undefined;
};

export const EMPTY_SKIPPED: SkippedKeyReader = { get: () => undefined };

/** What the caller must apply to the skipped-key store, in the same transaction as the state. */
export type SkippedKeyChanges = {
  /** New keys, oldest first; the store evicts its oldest beyond MAX_SKIPPED_KEYS_PER_SESSION. */
  readonly added: readonly SkippedKey[];
  /** The key that was just used. */
  readonly removed?: { readonly ratchetKey: Uint8Array; readonly counter: number } | undefined;
};

/**
 * In-memory failure budget of one session (never persisted): chain steps that forged messages may
 * cost between successful decrypts. Refills after FAILURE_BUDGET_REFILL_MS without failures.
 */
export class FailureBudget {
  #remaining = FAILURE_BUDGET_STEPS;
  #lastFailure = -Infinity;
  available(now: number): number {
    if (now - this.#lastFailure >= FAILURE_BUDGET_REFILL_MS) this.#remaining = FAILURE_BUDGET_STEPS;
    return this.#remaining;
  }
  charge(cost: number, now: number): void {
    this.available(now);
    this.#remaining = Math.max(0, this.#remaining - cost);
    this.#lastFailure = now;
  }
  reset(): void {
    this.#remaining = FAILURE_BUDGET_STEPS;
    this.#lastFailure = -Infinity;
  }
  /** Saves the budget so trial decryption can refund sessions that were only tried. */
  save(): { readonly remaining: number; readonly lastFailure: number } {
    return { remaining: this.#remaining, lastFailure: this.#lastFailure };
  }
  restore(saved: { readonly remaining: number; readonly lastFailure: number }): void {
    this.#remaining = saved.remaining;
    this.#lastFailure = saved.lastFailure;
  }
}

const ONE = Uint8Array.of(0x01);
const TWO = Uint8Array.of(0x02);
const ZERO_SALT = new Uint8Array(32);

export function kdfRootKey(rootKey: Uint8Array, dhOutput: Uint8Array): { rootKey: Uint8Array; chainKey: Uint8Array } {
  const out = hkdfSha256(dhOutput, rootKey, label('Ratchet'), 64);
  return { rootKey: out.slice(0, 32), chainKey: out.slice(32) };
}

export function messageSeed(chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, ONE);
}

export function nextChainKey(chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, TWO);
}

/** AES key = out[0..32), nonce = out[32..44): views of one derived array (zero `key` and `nonce` after use). */
export function messageKeys(seed: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const out = hkdfSha256(seed, ZERO_SALT, label('MessageKeys'), 44);
  return { key: out.subarray(0, 32), nonce: out.subarray(32, 44) };
}

// The AEAD's AD = session AD ‖ header (docs/protocol.md §8.3), assembled per message in one reused
// array: public data that AES-GCM's setAAD copies at once, so no message allocates its own.
let adBuffer = new Uint8Array(0);
let adView = adBuffer;
function messageAd(sessionAd: Uint8Array, header: Uint8Array): Uint8Array {
  const n = sessionAd.length + header.length;
  if (adBuffer.length < n) adBuffer = new Uint8Array(n);
  if (adView.length !== n) adView = adBuffer.subarray(0, n);
  adBuffer.set(sessionAd, 0);
  adBuffer.set(header, sessionAd.length);
  return adView;
}

/** Alice after PQXDH: her first ratchet key pair against Bob's signed prekey (spec §7.1). */
export function initAsInitiator(sharedSecret: Uint8Array, remoteSignedPrekey: Uint8Array, rng: Rng): RatchetState {
  const privateKey = rng(32);
  const handle = x25519PrivateHandle(privateKey);
  const sendingRatchetKey = { privateKey, publicKey: handle.publicKey };
  const { rootKey, chainKey } = kdfRootKey(sharedSecret, x25519(handle, remoteSignedPrekey));
  return {
    rootKey,
    sendingRatchetKey,
    remoteRatchetKey: remoteSignedPrekey,
    sendingChain: { key: chainKey, index: 0 },
    receivingChain: null,
    previousCounter: 0,
    previousChains: [],
  };
}

/** Bob after PQXDH: his signed prekey is his first ratchet key pair; no chains yet. */
export function initAsResponder(sharedSecret: Uint8Array, signedPrekey: X25519KeyPair): RatchetState {
  return {
    rootKey: sharedSecret.slice(),
    sendingRatchetKey: signedPrekey,
    remoteRatchetKey: null,
    sendingChain: null,
    receivingChain: null,
    previousCounter: 0,
    previousChains: [],
  };
}

export function canSend(state: RatchetState): boolean {
  return state.sendingChain !== null;
}

/**
 * Encrypts one (already padded) plaintext; returns the new state and the ratchet message bytes —
 * after `prefix` when one is given (a prekey header), so the whole message is allocated once.
 */
export function ratchetEncrypt(
  state: RatchetState,
  plaintext: Uint8Array,
  sessionAd: Uint8Array,
  prefix?: Uint8Array,
): { state: RatchetState; message: Uint8Array; header: RatchetHeader } {
  const chain = state.sendingChain;
  if (!chain) throw new ProtocolError('NO_SESSION', 'session cannot send before it has received');
  const header: RatchetHeader = {
    ratchetKey: state.sendingRatchetKey.publicKey,
    previousCounter: state.previousCounter,
    counter: chain.index,
  };
  const start = prefix ? prefix.length : 0;
  const message = new Uint8Array(start + RATCHET_HEADER_LENGTH + plaintext.length + GCM_TAG_LENGTH);
  if (prefix) message.set(prefix, 0);
  writeRatchetHeader(message, start, header);
  const seed = messageSeed(chain.key);
  const { key, nonce } = messageKeys(seed);
  const ad = messageAd(sessionAd, message.subarray(start, start + RATCHET_HEADER_LENGTH));
  aesGcmSealInto(key, nonce, plaintext, ad, message, start + RATCHET_HEADER_LENGTH);
  key.fill(0);
  nonce.fill(0);
  seed.fill(0);
  return {
    state: { ...state, sendingChain: { key: nextChainKey(chain.key), index: chain.index + 1 } },
    message,
    header,
  };
}

export type DecryptContext = {
  readonly skipped: SkippedKeyReader;
  readonly budget: FailureBudget;
  readonly rng: Rng;
  readonly now: Clock;
};

export type DecryptResult = {
  readonly state: RatchetState;
  readonly plaintext: Uint8Array;
  readonly skippedChanges: SkippedKeyChanges;
  readonly header: RatchetHeader;
};

/**
 * Advances `chain` to `target`, returning the skipped keys worth storing: only the newest
 * `keep` of them can survive eviction, so older positions are stepped over without a seed.
 */
function skipTo(chain: Chain, target: number, ratchetKey: Uint8Array, keep: number, out: SkippedKey[]): Chain {
  let key = chain.key;
  const firstStored = Math.max(chain.index, target - keep);
  for (let i = chain.index; i < target; i++) {
    if (i >= firstStored) out.push({ ratchetKey, counter: i, seed: messageSeed(key) });
    key = nextChainKey(key);
  }
  return { key, index: target };
}

function open(seed: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | null {
  const { key, nonce } = messageKeys(seed);
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

/** Decrypts a ratchet message. Throws ProtocolError; never changes `state` or the skipped store. */
export function ratchetDecrypt(
  state: RatchetState,
  messageBytes: Uint8Array,
  sessionAd: Uint8Array,
  ctx: DecryptContext,
): DecryptResult {
  return ratchetDecryptParsed(state, parseRatchetMessage(messageBytes), sessionAd, ctx);
}

/** ratchetDecrypt over an already parsed message (trial decryption parses once for all candidates). */
export function ratchetDecryptParsed(
  state: RatchetState,
  parsed: ParsedRatchetMessage,
  sessionAd: Uint8Array,
  ctx: DecryptContext,
): DecryptResult {
  const { header, headerBytes, ciphertext } = parsed;
  const ad = messageAd(sessionAd, headerBytes);
  const now = ctx.now();

  // 1. A key skipped earlier: one AEAD, no derivation.
  const stored = ctx.skipped.get(header.ratchetKey, header.counter);
  if (stored) {
    const plaintext = open(stored, ciphertext, ad);
    if (!plaintext) throw new ProtocolError('INVALID_MESSAGE', 'message failed to authenticate');
    ctx.budget.reset();
    return {
      state,
      plaintext,
      header,
      skippedChanges: { added: [], removed: { ratchetKey: header.ratchetKey, counter: header.counter } },
    };
  }

  const added: SkippedKey[] = [];
  let next: RatchetState;
  let chain: Chain;
  let cost: number;

  if (state.remoteRatchetKey && state.receivingChain && bytesEqual(header.ratchetKey, state.remoteRatchetKey)) {
    // 2. The current receiving chain.
    const current = state.receivingChain;
    if (header.counter < current.index) throw new ProtocolError('DUPLICATED_MESSAGE', 'message key already used');
    const jump = header.counter - current.index;
    if (jump > MAX_FORWARD_JUMP) throw new ProtocolError('JUMP_TOO_LARGE', 'message counter too far ahead');
    cost = jump + 1;
    if (cost > ctx.budget.available(now)) throw new ProtocolError('BUDGET_EXHAUSTED', 'failure budget exhausted');
    chain = skipTo(current, header.counter, header.ratchetKey, MAX_SKIPPED_KEYS_PER_SESSION, added);
    next = state;
  } else {
    const previous = state.previousChains.find((c) => bytesEqual(c.ratchetKey, header.ratchetKey));
    if (previous) {
      // 3. A chain the ratchet already left: its unused keys were moved to the skipped store.
      if (header.counter < previous.end) throw new ProtocolError('DUPLICATED_MESSAGE', 'message key already used');
      throw new ProtocolError('INVALID_MESSAGE', 'counter beyond the end of a finished chain');
    }
    // 4. A new ratchet key from the peer: DH ratchet step.
    const current = state.receivingChain;
    const skipOld = current ? header.previousCounter - current.index : 0;
    if (skipOld < 0) throw new ProtocolError('INVALID_MESSAGE', 'previous counter below messages already received');
    if (skipOld > MAX_FORWARD_JUMP || header.counter > MAX_FORWARD_JUMP) {
      throw new ProtocolError('JUMP_TOO_LARGE', 'message counter too far ahead');
    }
    cost = skipOld + header.counter + 1 + 2 * DH_STEP_COST;
    if (cost > ctx.budget.available(now)) throw new ProtocolError('BUDGET_EXHAUSTED', 'failure budget exhausted');
    if (current && state.remoteRatchetKey) {
      // Only the newest MAX_SKIPPED_KEYS_PER_SESSION keys of old ∪ new chain can survive eviction.
      const keepOld = Math.max(0, MAX_SKIPPED_KEYS_PER_SESSION - header.counter);
      skipTo(current, header.previousCounter, state.remoteRatchetKey, keepOld, added);
    }
    let receiving: { rootKey: Uint8Array; chainKey: Uint8Array };
    let sending: { rootKey: Uint8Array; chainKey: Uint8Array };
    let sendingRatchetKey: X25519KeyPair;
    try {
      receiving = kdfRootKey(state.rootKey, x25519(state.sendingRatchetKey.privateKey, header.ratchetKey));
      const freshPrivate = ctx.rng(32);
      const fresh = x25519PrivateHandle(freshPrivate);
      sendingRatchetKey = { privateKey: freshPrivate, publicKey: fresh.publicKey };
      sending = kdfRootKey(receiving.rootKey, x25519(fresh, header.ratchetKey));
    } catch (e) {
      if (!(e instanceof CryptoError)) throw e;
      ctx.budget.charge(cost, now);
      throw new ProtocolError('INVALID_MESSAGE', 'peer ratchet key is invalid');
    }
    const previousChains =
      state.remoteRatchetKey && current
        ? [{ ratchetKey: state.remoteRatchetKey, end: header.previousCounter }, ...state.previousChains].slice(0, MAX_PREVIOUS_CHAINS)
        : state.previousChains;
    chain = skipTo({ key: receiving.chainKey, index: 0 }, header.counter, header.ratchetKey, MAX_SKIPPED_KEYS_PER_SESSION, added);
    next = {
      rootKey: sending.rootKey,
      sendingRatchetKey,
      remoteRatchetKey: header.ratchetKey,
      sendingChain: { key: sending.chainKey, index: 0 },
      receivingChain: null,
      previousCounter: state.sendingChain ? state.sendingChain.index : 0,
      previousChains,
    };
  }

  const seed = messageSeed(chain.key);
  const plaintext = open(seed, ciphertext, ad);
  seed.fill(0);
  if (!plaintext) {
    ctx.budget.charge(cost, now);
    throw new ProtocolError('INVALID_MESSAGE', 'message failed to authenticate');
  }
  ctx.budget.reset();
  // Keep only the newest MAX_SKIPPED_KEYS_PER_SESSION of this message's skipped keys.
  const keptAdds = added.length > MAX_SKIPPED_KEYS_PER_SESSION ? added.slice(-MAX_SKIPPED_KEYS_PER_SESSION) : added;
  return {
    state: { ...next, receivingChain: { key: nextChainKey(chain.key), index: chain.index + 1 } },
    plaintext,
    header,
    skippedChanges: { added: keptAdds },
  };
}

// ── Serialization (docs/protocol.md "Ratchet state") ─────────────────────────

const FLAG_REMOTE = 0x01;
const FLAG_SENDING = 0x02;
const FLAG_RECEIVING = 0x04;

/** The length writeRatchetState writes (docs/protocol.md §11.1). */
export function ratchetStateLength(s: RatchetState): number {
  return (
    3 * 32 +
    1 +
    (s.remoteRatchetKey ? 32 : 0) +
    (s.sendingChain ? 36 : 0) +
    (s.receivingChain ? 36 : 0) +
    4 +
    1 +
    36 * s.previousChains.length
  );
}

export function writeRatchetState(w: ByteWriter, s: RatchetState): void {
  w.bytes(s.rootKey)
    .bytes(s.sendingRatchetKey.privateKey)
    .bytes(s.sendingRatchetKey.publicKey)
    .u8((s.remoteRatchetKey ? FLAG_REMOTE : 0) | (s.sendingChain ? FLAG_SENDING : 0) | (s.receivingChain ? FLAG_RECEIVING : 0));
  if (s.remoteRatchetKey) w.bytes(s.remoteRatchetKey);
  if (s.sendingChain) w.bytes(s.sendingChain.key).u32(s.sendingChain.index);
  if (s.receivingChain) w.bytes(s.receivingChain.key).u32(s.receivingChain.index);
  w.u32(s.previousCounter).u8(s.previousChains.length);
  for (const p of s.previousChains) w.bytes(p.ratchetKey).u32(p.end);
}

export function readRatchetState(r: Reader): RatchetState {
  const rootKey = r.bytes(32);
  const sendingRatchetKey = { privateKey: r.bytes(32), publicKey: r.bytes(32) };
  const flags = r.u8();
  if ((flags & ~(FLAG_REMOTE | FLAG_SENDING | FLAG_RECEIVING)) !== 0) throw new ProtocolError('MALFORMED', 'ratchet state: unknown flags');
  const remoteRatchetKey = flags & FLAG_REMOTE ? r.bytes(32) : null;
  const sendingChain = flags & FLAG_SENDING ? { key: r.bytes(32), index: r.u32() } : null;
  const receivingChain = flags & FLAG_RECEIVING ? { key: r.bytes(32), index: r.u32() } : null;
  const previousCounter = r.u32();
  const count = r.u8();
  if (count > MAX_PREVIOUS_CHAINS) throw new ProtocolError('MALFORMED', 'ratchet state: too many previous chains');
  const previousChains: PreviousChain[] = [];
  for (let i = 0; i < count; i++) previousChains.push({ ratchetKey: r.bytes(32), end: r.u32() });
  return { rootKey, sendingRatchetKey, remoteRatchetKey, sendingChain, receivingChain, previousCounter, previousChains };
}

export function serializeRatchetState(s: RatchetState): Uint8Array {
  const w = new SizedWriter(ratchetStateLength(s));
  writeRatchetState(w, s);
  return w.finish();
}

export function deserializeRatchetState(bytes: Uint8Array): RatchetState {
  const r = new Reader(bytes, 'ratchet state');
  const s = readRatchetState(r);
  r.end();
  return s;
}
