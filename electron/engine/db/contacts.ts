/**
 * Contacts: username, account id and account key, the newest verified signed device list, the
 * verified flag and the key-change-pending flag (DESIGN §3.2: verified status resets when the
 * account key changes; sending is blocked until the user accepts the change). Does not verify
 * anything itself: callers store only lists that passed shared/protocol's acceptDeviceList.
 */
import type { ReadDb, WriteDb } from './database.js';
import type { StoredDeviceList } from './account.js';
import { dropReceiptsFor } from './receipts.js';
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
  /** Nothing from them is kept, nothing is sent to them (ADR 0019). */
  readonly blocked: boolean;
  /** When the relay's copy of the device list was last fetched and verified; null: never. */
  readonly listCheckedAt: number | null;
  /** From the newest profile opened with the key they shared (contact_profiles); null before. */
  readonly displayName: string | null;
  readonly about: string | null;
  /** The revision of the profile that carried their avatar; null without one. */
  readonly avatarRevision: number | null;
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
  blocked: number;
  list_checked_at: number | null;
  added_at: number;
  updated_at: number;
  profile_display_name: string | null;
  profile_about: string | null;
  profile_avatar_revision: number | null;
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
    blocked: flag(r.blocked),
    listCheckedAt: r.list_checked_at,
    displayName: r.profile_display_name,
    about: r.profile_about,
    avatarRevision: r.profile_avatar_revision,
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

/** A contact's row with what its profile says (the columns of toRecord). */
const CONTACT_COLUMNS = sql`ct.*, cp.display_name AS profile_display_name, cp.about AS profile_about,
    CASE WHEN cp.avatar IS NULL THEN NULL ELSE cp.revision END AS profile_avatar_revision
  FROM contacts ct LEFT JOIN contact_profiles cp ON cp.account_id = ct.account_id`;

export function getContact(db: ReadDb, accountId: Uint8Array): ContactRecord | undefined {
  const r = db.get<ContactRow>(sql`SELECT ${CONTACT_COLUMNS} WHERE ct.account_id = ${accountId}`);
  return r && toRecord(r);
}

export function listContacts(db: ReadDb): ContactRecord[] {
  return db.all<ContactRow>(sql`SELECT ${CONTACT_COLUMNS} ORDER BY ct.username, ct.account_id`).map(toRecord);
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

/** Account ids of the accepted contacts not blocked (the relay's contact list), in a stable order. */
export function acceptedContactIds(db: ReadDb): Uint8Array[] {
  return db
    .all<{ account_id: Uint8Array }>(sql`SELECT account_id FROM contacts WHERE accepted = 1 AND blocked = 0 ORDER BY account_id`)
    .map((r) => blob(r.account_id));
}

/** Blocks or unblocks; returns whether anything changed. */
export function setContactBlocked(db: WriteDb, accountId: Uint8Array, blocked: boolean, now: number): boolean {
  return (
    db.run(sql`
      UPDATE contacts SET blocked = ${blocked}, blocked_at = ${blocked ? now : null}, updated_at = ${now}
      WHERE account_id = ${accountId} AND blocked <> ${blocked}`).changes === 1
  );
}

export function listBlockedContacts(db: ReadDb): ContactRecord[] {
  return db.all<ContactRow>(sql`SELECT ${CONTACT_COLUMNS} WHERE ct.blocked = 1 ORDER BY ct.username, ct.account_id`).map(toRecord);
}

/**
 * Deletes a contact with its conversation, messages, profile and what was queued for them (a
 * deleted message request). Sessions stay: if they write again, their message still decrypts and
 * becomes a new request.
 */
export function deleteContact(db: WriteDb, accountId: Uint8Array): boolean {
  db.run(sql`DELETE FROM outbox WHERE recipient_account_id = ${accountId} AND kind <> 'decryption-error'`);
  dropReceiptsFor(db, accountId);
  return db.run(sql`DELETE FROM contacts WHERE account_id = ${accountId}`).changes === 1;
}

/** Everything queued for a person who is now blocked goes (decryption errors included). */
export function dropQueuedFor(db: WriteDb, accountId: Uint8Array): void {
  db.run(sql`DELETE FROM outbox WHERE recipient_account_id = ${accountId}`);
  dropReceiptsFor(db, accountId);
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
