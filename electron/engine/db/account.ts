/**
 * The `account` row: this account and this device's identity (private keys included — they live
 * only in the encrypted database). Does not own key generation (account/bootstrap.ts).
 */
import type { Ed25519KeyPair } from '../../../shared/crypto/ed25519.js';
import type { X25519KeyPair } from '../../../shared/crypto/x25519.js';
import type { LocalDevice } from '../../../shared/protocol/session.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob, blobOrNull, flag } from './rows.js';
import { sql } from './sql.js';

export type StoredDeviceList = {
  /** body ‖ signature, as signed by the account key. */
  readonly signed: Uint8Array;
  readonly version: number;
  readonly issuedAt: number;
};

export type LocalAccount = {
  readonly accountId: Uint8Array;
  readonly username: string;
  readonly relayUrl: string;
  /**
   * The id of the relay this device registered at (its /.well-known/parley, fetched before the
   * registration): challenges and deletion statements naming another relay are refused. Null only
   * before registration, or for an account from before the pin (pinned at its first challenge).
   */
  readonly relayId: Uint8Array | null;
  readonly accountPublicKey: Uint8Array;
  /** Present only on the primary device. */
  readonly accountPrivateKey: Uint8Array | null;
  readonly deviceId: number;
  readonly identityDh: X25519KeyPair;
  readonly identitySigning: Ed25519KeyPair;
  readonly pq: boolean;
  readonly deviceList: StoredDeviceList;
  readonly registeredAt: number | null;
  readonly createdAt: number;
};

type AccountRow = {
  account_id: Uint8Array;
  username: string;
  relay_url: string;
  relay_id: Uint8Array | null;
  account_public_key: Uint8Array;
  account_private_key: Uint8Array | null;
  device_id: number;
  identity_dh_public: Uint8Array;
  identity_dh_private: Uint8Array;
  identity_signing_public: Uint8Array;
  identity_signing_private: Uint8Array;
  pq: number;
  device_list: Uint8Array;
  device_list_version: number;
  device_list_issued_at: number;
  registered_at: number | null;
  created_at: number;
};

export function insertAccount(db: WriteDb, a: LocalAccount): void {
  db.run(sql`
    INSERT INTO account (singleton, account_id, username, relay_url, relay_id, account_public_key, account_private_key,
      device_id, identity_dh_public, identity_dh_private, identity_signing_public, identity_signing_private, pq,
      device_list, device_list_version, device_list_issued_at, registered_at, created_at)
    VALUES (1, ${a.accountId}, ${a.username}, ${a.relayUrl}, ${a.relayId}, ${a.accountPublicKey}, ${a.accountPrivateKey},
      ${a.deviceId}, ${a.identityDh.publicKey}, ${a.identityDh.privateKey}, ${a.identitySigning.publicKey},
      ${a.identitySigning.privateKey}, ${a.pq}, ${a.deviceList.signed}, ${a.deviceList.version},
      ${a.deviceList.issuedAt}, ${a.registeredAt}, ${a.createdAt})`);
}

export function getAccount(db: ReadDb): LocalAccount | undefined {
  const r = db.get<AccountRow>(sql`SELECT * FROM account WHERE singleton = 1`);
  if (!r) return undefined;
  return {
    accountId: blob(r.account_id),
    username: r.username,
    relayUrl: r.relay_url,
    relayId: blobOrNull(r.relay_id),
    accountPublicKey: blob(r.account_public_key),
    accountPrivateKey: blobOrNull(r.account_private_key),
    deviceId: r.device_id,
    identityDh: { publicKey: blob(r.identity_dh_public), privateKey: blob(r.identity_dh_private) },
    identitySigning: { publicKey: blob(r.identity_signing_public), privateKey: blob(r.identity_signing_private) },
    pq: flag(r.pq),
    deviceList: { signed: blob(r.device_list), version: r.device_list_version, issuedAt: r.device_list_issued_at },
    registeredAt: r.registered_at,
    createdAt: r.created_at,
  };
}

export function updateOwnDeviceList(db: WriteDb, list: StoredDeviceList): void {
  db.run(sql`
    UPDATE account SET device_list = ${list.signed}, device_list_version = ${list.version},
      device_list_issued_at = ${list.issuedAt}
    WHERE singleton = 1`);
}

/** Pins the relay id (registration, or the first challenge of an account from before the pin). */
export function setRelayId(db: WriteDb, relayId: Uint8Array): void {
  db.run(sql`UPDATE account SET relay_id = ${relayId} WHERE singleton = 1`);
}

export function markRegistered(db: WriteDb, at: number): void {
  db.run(sql`UPDATE account SET registered_at = ${at} WHERE singleton = 1`);
}

/** This device as protocol code needs it. */
export function localDeviceOf(a: LocalAccount): LocalDevice {
  return { accountId: a.accountId, deviceId: a.deviceId, identityDh: a.identityDh, pq: a.pq };
}
