/**
 * Resend requests (DESIGN §3.4 desync recovery, docs/protocol.md §10.5): a verified decryption
 * error from a peer device is recorded here in the batch transaction that handled it, and stays
 * until the outbox has rebuilt the session (when the error named the current one) and queued
 * again every message the relay accepted at or after the error's timestamp. One row per peer
 * device; a second error keeps the earlier timestamp and any rebuild flag.
 */
import type { ReadDb, WriteDb } from './database.js';
import { blob, flag } from './rows.js';
import { sql } from './sql.js';

export type ResendRequest = {
  readonly peerAccountId: Uint8Array;
  readonly peerDeviceId: number;
  /** The failed envelope's relay timestamp. */
  readonly after: number;
  /** The session was archived: a new one is needed before anything is sent to the device. */
  readonly rebuild: boolean;
  readonly createdAt: number;
};

export function requestResend(db: WriteDb, r: Omit<ResendRequest, 'createdAt'>, now: number): void {
  db.run(sql`
    INSERT INTO resend_requests (peer_account_id, peer_device_id, after, rebuild, created_at)
    VALUES (${r.peerAccountId}, ${r.peerDeviceId}, ${r.after}, ${r.rebuild}, ${now})
    ON CONFLICT (peer_account_id, peer_device_id) DO UPDATE SET
      after = min(after, excluded.after), rebuild = max(rebuild, excluded.rebuild)`);
}

export function resendRequests(db: ReadDb): ResendRequest[] {
  return db
    .all<{ peer_account_id: Uint8Array; peer_device_id: number; after: number; rebuild: number; created_at: number }>(
      sql`SELECT * FROM resend_requests ORDER BY created_at, peer_account_id, peer_device_id`,
    )
    .map((r) => ({
      peerAccountId: blob(r.peer_account_id),
      peerDeviceId: r.peer_device_id,
      after: r.after,
      rebuild: flag(r.rebuild),
      createdAt: r.created_at,
    }));
}

/** Deletes the request as it was read; one merged with a newer error meanwhile stays. */
export function completeResend(db: WriteDb, r: ResendRequest): void {
  db.run(sql`
    DELETE FROM resend_requests
    WHERE peer_account_id = ${r.peerAccountId} AND peer_device_id = ${r.peerDeviceId} AND after = ${r.after} AND rebuild = ${r.rebuild}`);
}
