/**
 * Session records in SQLite: one serialized record (current + archived sessions) per peer device,
 * keyed by (account id, device id, device identity key) — a new identity key under a known device
 * id is a new device, never a continuation (DESIGN §3.4). Does not own the protocol (shared/protocol)
 * or the commit rule (../sessions.ts applies record, skipped keys and prekeys in one transaction).
 */
import type { PeerDevice } from '../../../shared/protocol/session.js';
import type { SessionRecord } from '../../../shared/protocol/session-record.js';
import { deserializeSessionRecord, serializeSessionRecord } from '../../../shared/protocol/session-record.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob } from './rows.js';
import { sql } from './sql.js';

export type PeerKey = { readonly accountId: Uint8Array; readonly deviceId: number; readonly identityKey: Uint8Array };

export function peerKeyOf(peer: PeerDevice): PeerKey {
  return { accountId: peer.accountId, deviceId: peer.entry.deviceId, identityKey: peer.entry.identityDhKey };
}

export function loadSessionRecordBytes(db: ReadDb, peer: PeerKey): Uint8Array | undefined {
  const r = db.get<{ record: Uint8Array }>(sql`
    SELECT record FROM sessions
    WHERE peer_account_id = ${peer.accountId} AND peer_device_id = ${peer.deviceId} AND peer_identity_key = ${peer.identityKey}`);
  return r && blob(r.record);
}

export function loadSessionRecord(db: ReadDb, peer: PeerKey): SessionRecord | undefined {
  const bytes = loadSessionRecordBytes(db, peer);
  return bytes && deserializeSessionRecord(bytes);
}

export function saveSessionRecord(db: WriteDb, peer: PeerKey, record: SessionRecord, now: number): void {
  const bytes = serializeSessionRecord(record);
  db.run(sql`
    INSERT INTO sessions (peer_account_id, peer_device_id, peer_identity_key, record, updated_at)
    VALUES (${peer.accountId}, ${peer.deviceId}, ${peer.identityKey}, ${bytes}, ${now})
    ON CONFLICT (peer_account_id, peer_device_id, peer_identity_key)
    DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at`);
}

/** Deletes a peer device's record (device removed from its list). Its skipped keys go separately. */
export function deleteSessionRecord(db: WriteDb, peer: PeerKey): void {
  db.run(sql`
    DELETE FROM sessions
    WHERE peer_account_id = ${peer.accountId} AND peer_device_id = ${peer.deviceId} AND peer_identity_key = ${peer.identityKey}`);
}
