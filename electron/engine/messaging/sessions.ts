/**
 * Sessions over the SQLite stores (DESIGN §3.3-3.4, §4): runs shared/protocol's sans-I/O session
 * functions against this device's stores and commits everything one step changed — the session
 * record, skipped keys (added, used, dropped with sessions that fell off the archive), consumed
 * prekeys and seen base keys — in ONE transaction together with the caller's rows (the message row,
 * the outbox envelope, the de-duplication record). The protocol function runs inside that
 * transaction, so a throw (any failed decrypt) rolls back and every store stays byte-identical.
 * Nested in a batch transaction, each step is a savepoint.
 *
 * Inside `batch()` (the inbound processor's one-transaction batches) records are read once and
 * written once: each step works on the record the previous step left in memory, and every record
 * that changed is serialized and saved just before the batch transaction commits. A step that fails
 * leaves the in-memory record as it was (records are immutable values; the cache is updated only
 * after the step's savepoint released), and a batch that throws drops the cache with its
 * transaction, so what commits is exactly what per-step writes would have committed.
 *
 * Does not own: bundle fetching and device-list trust (the caller passes a verified PeerDevice),
 * what the plaintext means (messaging), rate limiting of decryption-error replies.
 */
import type { Clock, Rng } from '../../../shared/crypto/random.js';
import { ProtocolError } from '../../../shared/protocol/errors.js';
import type { PrekeyBundle } from '../../../shared/protocol/prekeys.js';
import { handleDecryptionError } from '../../../shared/protocol/decryption-error.js';
import {
  decryptMessage,
  encryptMessage,
  initiateSession,
  type EncryptedMessage,
  type FailureBudgets,
  type LocalDevice,
  type PeerDevice,
  type SessionDecryptResult,
} from '../../../shared/protocol/session.js';
import { crashPoint } from '../crash-points.js';
import type { WriteDb } from '../db/database.js';
import { applyPrekeyChanges, SqlitePrekeyStore } from '../db/prekeys.js';
import { toHex } from '../../../shared/crypto/bytes.js';
import type { SessionRecord, SessionState } from '../../../shared/protocol/session-record.js';
import { loadSessionRecord, peerKeyOf, saveSessionRecord, type PeerKey } from '../db/sessions.js';
import { applySkippedKeyChanges, dropSkippedKeys, skippedKeyReader, skippedKeyTtl } from '../db/skipped-keys.js';

export type SessionDeps = { readonly rng: Rng; readonly now: Clock; readonly budgets: FailureBudgets };

type CachedRecord = { readonly key: PeerKey; record: SessionRecord | undefined; dirty: boolean };

function cacheKey(key: PeerKey): string {
  return `${toHex(key.accountId)}:${key.deviceId}:${toHex(key.identityKey)}`;
}

export class Sessions {
  /** Records of the running batch (see the module comment); null outside `batch()`. */
  #cache: Map<string, CachedRecord> | null = null;
  /** Skipped-key TTL per peer account, for the running batch. */
  #ttls: Map<string, number> | null = null;

  constructor(
    private readonly db: WriteDb,
    private readonly local: LocalDevice,
    private readonly deps: SessionDeps,
  ) {}

  /**
   * Runs `fn` in one transaction in which every session record is loaded at most once and saved at
   * most once (at the end). Not reentrant.
   */
  batch<T>(fn: () => T): T {
    if (this.#cache) throw new Error('Sessions.batch is not reentrant');
    this.#cache = new Map();
    this.#ttls = new Map();
    try {
      return this.db.transaction(() => {
        const value = fn();
        const now = this.deps.now();
        for (const c of this.#cache!.values()) if (c.dirty && c.record) saveSessionRecord(this.db, c.key, c.record, now);
        return value;
      });
    } finally {
      this.#cache = null;
      this.#ttls = null;
    }
  }

  #load(key: PeerKey): SessionRecord | undefined {
    if (!this.#cache) return loadSessionRecord(this.db, key);
    const k = cacheKey(key);
    let c = this.#cache.get(k);
    if (!c) {
      c = { key, record: loadSessionRecord(this.db, key), dirty: false };
      this.#cache.set(k, c);
    }
    return c.record;
  }

  /** Inside a batch: written at its end (call only after the step's savepoint released). */
  #stored(key: PeerKey, record: SessionRecord): void {
    const c = this.#cache?.get(cacheKey(key));
    if (c) {
      c.record = record;
      c.dirty = true;
    } else {
      this.#cache?.set(cacheKey(key), { key, record, dirty: true });
    }
  }

  /** Saves now outside a batch; inside one, leaves it to #stored. */
  #save(key: PeerKey, record: SessionRecord, now: number): void {
    if (!this.#cache) saveSessionRecord(this.db, key, record, now);
  }

  #ttl(peerAccountId: Uint8Array): number {
    if (!this.#ttls) return skippedKeyTtl(this.db, peerAccountId);
    const k = toHex(peerAccountId);
    let ttl = this.#ttls.get(k);
    if (ttl === undefined) {
      ttl = skippedKeyTtl(this.db, peerAccountId);
      this.#ttls.set(k, ttl);
    }
    return ttl;
  }

  /** Starts a session with a peer device from its bundle (verified inside) and commits it. */
  initiate(peer: PeerDevice, bundle: PrekeyBundle): SessionState {
    const key = peerKeyOf(peer);
    const { record, session } = this.db.transaction(() => {
      const started = initiateSession(this.#load(key), { local: this.local, peer, bundle }, { rng: this.deps.rng, now: this.deps.now });
      for (const id of started.droppedSessionIds) dropSkippedKeys(this.db, id);
      this.#save(key, started.record, this.deps.now());
      return started;
    });
    this.#stored(key, record);
    return session;
  }

  hasSession(peer: PeerDevice): boolean {
    return (this.#load(peerKeyOf(peer))?.current ?? null) !== null;
  }

  /**
   * Encrypts one plaintext for each of `peers` and commits the advanced states together with
   * `commit` (which enqueues the envelopes). Nothing is committed unless every device encrypts.
   */
  encryptForDevices<T>(
    peers: readonly PeerDevice[],
    plaintext: Uint8Array,
    commit: (db: WriteDb, messages: readonly { readonly peer: PeerDevice; readonly message: EncryptedMessage }[]) => T,
  ): T {
    const advanced: { key: PeerKey; record: SessionRecord }[] = [];
    const value = this.db.transaction(() => {
      const now = this.deps.now();
      const out = peers.map((peer) => {
        const key = peerKeyOf(peer);
        const record = this.#load(key);
        if (!record) throw new ProtocolError('NO_SESSION', 'no session with this device');
        const encrypted = encryptMessage(record, plaintext);
        this.#save(key, encrypted.record, now);
        advanced.push({ key, record: encrypted.record });
        return { peer, message: encrypted.message };
      });
      const committed = commit(this.db, out);
      // Ciphertexts exist, their chain steps are not committed: nothing may leave before the commit
      // (docs/protocol.md §10.7).
      crashPoint('after-encrypt-before-commit');
      return committed;
    });
    for (const a of advanced) this.#stored(a.key, a.record);
    return value;
  }

  /**
   * Decrypts a message from `peer` and commits the session step with `commit`'s rows. A
   * ProtocolError (DUPLICATED_MESSAGE, INVALID_MESSAGE, …) propagates and nothing is written.
   */
  decrypt<T>(
    peer: PeerDevice,
    bytes: Uint8Array,
    commit: (db: WriteDb, result: SessionDecryptResult) => T,
  ): { readonly result: SessionDecryptResult; readonly value: T } {
    const key = peerKeyOf(peer);
    const out = this.db.transaction(() => {
      // Expired skipped keys are absent (docs/protocol.md §8.6): TTL = min(30 days, the conversation's timer).
      const expiry = { now: this.deps.now(), ttlMs: this.#ttl(peer.accountId) };
      const result = decryptMessage(this.#load(key), bytes, {
        local: this.local,
        peer,
        prekeys: new SqlitePrekeyStore(this.db),
        skipped: (sessionId) => skippedKeyReader(this.db, sessionId, expiry),
        budgets: this.deps.budgets,
        rng: this.deps.rng,
        now: this.deps.now,
      });
      const now = this.deps.now();
      this.#save(key, result.record, now);
      applySkippedKeyChanges(this.db, result.sessionId, peer.accountId, result.skippedChanges, now);
      for (const id of result.droppedSessionIds) dropSkippedKeys(this.db, id);
      applyPrekeyChanges(this.db, result.prekeyChanges);
      return { result, value: commit(this.db, result) };
    });
    this.#stored(key, out.result.record);
    return out;
  }

  /**
   * Acts on a decryption error from `peer` (signature checked inside; BAD_SIGNATURE and MALFORMED
   * propagate with nothing written) and commits the record with `commit`'s rows.
   */
  handleDecryptionError<T>(
    peer: PeerDevice,
    bytes: Uint8Array,
    commit: (db: WriteDb, result: { readonly rebuild: boolean; readonly resendAfter: number }) => T,
  ): T {
    const key = peerKeyOf(peer);
    let rebuilt: SessionRecord | null = null;
    const value = this.db.transaction(() => {
      const result = handleDecryptionError(this.#load(key), bytes, {
        local: { accountId: this.local.accountId, deviceId: this.local.deviceId },
        peer,
      });
      if (result.rebuild) {
        this.#save(key, result.record, this.deps.now());
        for (const id of result.droppedSessionIds) dropSkippedKeys(this.db, id);
        rebuilt = result.record;
      }
      return commit(this.db, result);
    });
    if (rebuilt) this.#stored(key, rebuilt);
    return value;
  }
}
