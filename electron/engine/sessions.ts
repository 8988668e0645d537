/**
 * Sessions over the SQLite stores (DESIGN §3.3-3.4, §4): runs shared/protocol's sans-I/O session
 * functions against this device's stores and commits everything one step changed — the session
 * record, skipped keys (added, used, dropped with sessions that fell off the archive), consumed
 * prekeys and seen base keys — in ONE transaction together with the caller's rows (the message row,
 * the outbox envelope, the de-duplication record). The protocol function runs inside that
 * transaction, so a throw (any failed decrypt) rolls back and every store stays byte-identical.
 * Nested in a batch transaction, each step is a savepoint.
 *
 * Does not own: bundle fetching and device-list trust (the caller passes a verified PeerDevice),
 * what the plaintext means (messaging), rate limiting of decryption-error replies.
 */
import type { Clock, Rng } from '../../shared/crypto/random.js';
import { ProtocolError } from '../../shared/protocol/errors.js';
import type { PrekeyBundle } from '../../shared/protocol/prekeys.js';
import {
  decryptMessage,
  encryptMessage,
  handleDecryptionError,
  initiateSession,
  type EncryptedMessage,
  type FailureBudgets,
  type LocalDevice,
  type PeerDevice,
  type SessionDecryptResult,
  type SessionState,
} from '../../shared/protocol/session.js';
import type { WriteDb } from './db/database.js';
import { applyPrekeyChanges, SqlitePrekeyStore } from './db/prekeys.js';
import { loadSessionRecord, peerKeyOf, saveSessionRecord } from './db/sessions.js';
import { applySkippedKeyChanges, dropSkippedKeys, skippedKeyReader, skippedKeyTtl } from './db/skipped-keys.js';

export type SessionDeps = { readonly rng: Rng; readonly now: Clock; readonly budgets: FailureBudgets };

export class Sessions {
  constructor(
    private readonly db: WriteDb,
    private readonly local: LocalDevice,
    private readonly deps: SessionDeps,
  ) {}

  /** Starts a session with a peer device from its bundle (verified inside) and commits it. */
  initiate(peer: PeerDevice, bundle: PrekeyBundle): SessionState {
    return this.db.transaction(() => {
      const key = peerKeyOf(peer);
      const { record, session, droppedSessionIds } = initiateSession(
        loadSessionRecord(this.db, key),
        { local: this.local, peer, bundle },
        { rng: this.deps.rng, now: this.deps.now },
      );
      for (const id of droppedSessionIds) dropSkippedKeys(this.db, id);
      saveSessionRecord(this.db, key, record, this.deps.now());
      return session;
    });
  }

  hasSession(peer: PeerDevice): boolean {
    return (loadSessionRecord(this.db, peerKeyOf(peer))?.current ?? null) !== null;
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
    return this.db.transaction(() => {
      const now = this.deps.now();
      const out = peers.map((peer) => {
        const key = peerKeyOf(peer);
        const record = loadSessionRecord(this.db, key);
        if (!record) throw new ProtocolError('NO_SESSION', 'no session with this device');
        const encrypted = encryptMessage(record, plaintext);
        saveSessionRecord(this.db, key, encrypted.record, now);
        return { peer, message: encrypted.message };
      });
      return commit(this.db, out);
    });
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
    return this.db.transaction(() => {
      const key = peerKeyOf(peer);
      // Expired skipped keys are absent (docs/protocol.md §8.6): TTL = min(30 days, the conversation's timer).
      const expiry = { now: this.deps.now(), ttlMs: skippedKeyTtl(this.db, peer.accountId) };
      const result = decryptMessage(loadSessionRecord(this.db, key), bytes, {
        local: this.local,
        peer,
        prekeys: new SqlitePrekeyStore(this.db),
        skipped: (sessionId) => skippedKeyReader(this.db, sessionId, expiry),
        budgets: this.deps.budgets,
        rng: this.deps.rng,
        now: this.deps.now,
      });
      const now = this.deps.now();
      saveSessionRecord(this.db, key, result.record, now);
      applySkippedKeyChanges(this.db, result.sessionId, peer.accountId, result.skippedChanges, now);
      for (const id of result.droppedSessionIds) dropSkippedKeys(this.db, id);
      applyPrekeyChanges(this.db, result.prekeyChanges);
      return { result, value: commit(this.db, result) };
    });
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
    return this.db.transaction(() => {
      const key = peerKeyOf(peer);
      const result = handleDecryptionError(loadSessionRecord(this.db, key), bytes, {
        local: { accountId: this.local.accountId, deviceId: this.local.deviceId },
        peer,
      });
      if (result.rebuild) {
        saveSessionRecord(this.db, key, result.record, this.deps.now());
        for (const id of result.droppedSessionIds) dropSkippedKeys(this.db, id);
      }
      return commit(this.db, result);
    });
  }
}
