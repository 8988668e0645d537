/**
 * Contacts: username, account id and account key, the newest verified signed device list, the
 * verified flag and the key-change-pending flag (DESIGN §3.2: verified status resets when the
 * account key changes; sending is blocked until the user accepts the change). Does not verify
 * anything itself: callers store only lists that passed shared/protocol's acceptDeviceList.
 */
import type { ReadDb, WriteDb } from './database.js';
import type { StoredDeviceList } from './account.js';
import { blob, blobOrNull, flag } from './rows.js';
import { sql } from './sql.js';

export type ContactRecord = {
  readonly accountId: Uint8Array;
  readonly username: string;
  readonly accountKey: Uint8Array;
  readonly verified: boolean;
  readonly keyChangePending: boolean;
  readonly previousAccountKey: Uint8Array | null;
  readonly deviceList: StoredDeviceList;
  /** The user added this contact or answered it; false for a message request (it wrote first). */
  readonly accepted: boolean;
  /** When the relay's copy of the device list was last fetched and verified; null: never. */
  readonly listCheckedAt: number | null;
  readonly addedAt: number;
  readonly updatedAt: number;
};

type ContactRow = {
  account_id: Uint8Array;
  username: string;
  account_key: Uint8Array;
  verified: number;
  key_change_pending: number;
  previous_account_key: Uint8Array | null;
  device_list: Uint8Array;
  device_list_version: number;
  device_list_issued_at: number;
  accepted: number;
  list_checked_at: number | null;
  added_at: number;
  updated_at: number;
};

function toRecord(r: ContactRow): ContactRecord {
  return {
    accountId: blob(r.account_id),
    username: r.username,
    accountKey: blob(r.account_key),
    verified: flag(r.verified),
    keyChangePending: flag(r.key_change_pending),
    previousAccountKey: blobOrNull(r.previous_account_key),
    deviceList: { signed: blob(r.device_list), version: r.device_list_version, issuedAt: r.device_list_issued_at },
    accepted: flag(r.accepted),
    listCheckedAt: r.list_checked_at,
    addedAt: r.added_at,
    updatedAt: r.updated_at,
  };
}

export function insertContact(
  db: WriteDb,
  c: {
    accountId: Uint8Array;
    username: string;
    accountKey: Uint8Array;
    deviceList: StoredDeviceList;
    now: number;
    /** Default true (added by the user); false for an account that wrote first. */
    accepted?: boolean;
    /** When the list was fetched from the relay; default null. */
    listCheckedAt?: number | null;
  },
): void {
  db.run(sql`
    INSERT INTO contacts (account_id, username, account_key, device_list, device_list_version, device_list_issued_at,
      accepted, list_checked_at, added_at, updated_at)
    VALUES (${c.accountId}, ${c.username}, ${c.accountKey}, ${c.deviceList.signed}, ${c.deviceList.version},
      ${c.deviceList.issuedAt}, ${c.accepted ?? true}, ${c.listCheckedAt ?? null}, ${c.now}, ${c.now})`);
}

export function getContact(db: ReadDb, accountId: Uint8Array): ContactRecord | undefined {
  const r = db.get<ContactRow>(sql`SELECT * FROM contacts WHERE account_id = ${accountId}`);
  return r && toRecord(r);
}

export function listContacts(db: ReadDb): ContactRecord[] {
  return db.all<ContactRow>(sql`SELECT * FROM contacts ORDER BY username, account_id`).map(toRecord);
}

export function setContactVerified(db: WriteDb, accountId: Uint8Array, verified: boolean, now: number): boolean {
  return db.run(sql`UPDATE contacts SET verified = ${verified}, updated_at = ${now} WHERE account_id = ${accountId}`).changes === 1;
}

export function updateContactDeviceList(db: WriteDb, accountId: Uint8Array, list: StoredDeviceList, now: number): void {
  db.run(sql`
    UPDATE contacts SET device_list = ${list.signed}, device_list_version = ${list.version},
      device_list_issued_at = ${list.issuedAt}, list_checked_at = ${now}, updated_at = ${now}
    WHERE account_id = ${accountId}`);
}

/** The relay's list was fetched and verified (unchanged or not). */
export function markContactListChecked(db: WriteDb, accountId: Uint8Array, now: number): void {
  db.run(sql`UPDATE contacts SET list_checked_at = ${now} WHERE account_id = ${accountId}`);
}

/** The user added or answered the contact; returns true when it was not accepted before. */
export function acceptContact(db: WriteDb, accountId: Uint8Array, now: number): boolean {
  return db.run(sql`UPDATE contacts SET accepted = 1, updated_at = ${now} WHERE account_id = ${accountId} AND accepted = 0`).changes === 1;
}

export function setContactUsername(db: WriteDb, accountId: Uint8Array, username: string, now: number): void {
  db.run(sql`UPDATE contacts SET username = ${username}, updated_at = ${now} WHERE account_id = ${accountId} AND username <> ${username}`);
}

/** Account ids of the accepted contacts (the relay's contact list), in a stable order. */
export function acceptedContactIds(db: ReadDb): Uint8Array[] {
  return db.all<{ account_id: Uint8Array }>(sql`SELECT account_id FROM contacts WHERE accepted = 1 ORDER BY account_id`).map((r) => blob(r.account_id));
}

/**
 * A new account key for a contact: stored (with its list), verified reset, sending blocked until
 * accepted. The old key is kept as evidence; a second change before acceptance keeps the first old key.
 */
export function recordAccountKeyChange(
  db: WriteDb,
  accountId: Uint8Array,
  change: { accountKey: Uint8Array; deviceList: StoredDeviceList; now: number },
): void {
  db.run(sql`
    UPDATE contacts SET
      previous_account_key = CASE WHEN key_change_pending = 1 THEN previous_account_key ELSE account_key END,
      account_key = ${change.accountKey}, verified = 0, key_change_pending = 1,
      device_list = ${change.deviceList.signed}, device_list_version = ${change.deviceList.version},
      device_list_issued_at = ${change.deviceList.issuedAt}, list_checked_at = ${change.now}, updated_at = ${change.now}
    WHERE account_id = ${accountId}`);
}

export function acceptAccountKeyChange(db: WriteDb, accountId: Uint8Array, now: number): boolean {
  return (
    db.run(sql`
      UPDATE contacts SET key_change_pending = 0, previous_account_key = NULL, updated_at = ${now}
      WHERE account_id = ${accountId}`).changes === 1
  );
}
