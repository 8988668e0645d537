/**
 * Profile rows (issue 12, docs/protocol.md §18): this account's own profile with its profile key
 * (`own_profile`), what each contact shared with us (`contact_profiles`: their profile key, the
 * username they claimed, the newest profile opened with the key, its avatar included) and what we shared with each
 * contact (`contacts.shared_profile_*`). Does not encrypt, fetch or decide what is owed
 * (electron/engine/messaging/profiles.ts).
 */
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import type { ReadDb, WriteDb } from './database.js';
import { blob, blobOrNull, flag } from './rows.js';
import { sql } from './sql.js';

export type OwnProfileRecord = {
  readonly profileKey: Uint8Array;
  readonly revision: number;
  readonly displayName: string;
  readonly about: string;
  /** A square WebP made by the image process (docs/protocol.md §18.2); null without one. */
  readonly avatar: Uint8Array | null;
  /** The revision and key id the relay last accepted; null: never uploaded. */
  readonly uploadedRevision: number | null;
  readonly uploadedKeyId: Uint8Array | null;
  readonly updatedAt: number;
};

type OwnRow = {
  profile_key: Uint8Array;
  revision: number;
  display_name: string;
  about: string;
  avatar: Uint8Array | null;
  uploaded_revision: number | null;
  uploaded_key_id: Uint8Array | null;
  updated_at: number;
};

export function getOwnProfile(db: ReadDb): OwnProfileRecord | undefined {
  const r = db.get<OwnRow>(sql`SELECT * FROM own_profile WHERE singleton = 1`);
  return (
    r && {
      profileKey: blob(r.profile_key),
      revision: r.revision,
      displayName: r.display_name,
      about: r.about,
      avatar: blobOrNull(r.avatar),
      uploadedRevision: r.uploaded_revision,
      uploadedKeyId: blobOrNull(r.uploaded_key_id),
      updatedAt: r.updated_at,
    }
  );
}

/** The first profile of an account (revision 1, never uploaded); no-op when one exists. */
export function insertOwnProfile(db: WriteDb, p: { profileKey: Uint8Array; displayName: string; about: string; now: number }): void {
  db.run(sql`
    INSERT INTO own_profile (singleton, profile_key, revision, display_name, about, updated_at)
    VALUES (1, ${p.profileKey}, 1, ${p.displayName}, ${p.about}, ${p.now})
    ON CONFLICT (singleton) DO NOTHING`);
}

/**
 * The person's profile as their primary device holds it, on a newly linked device (ADR 0025): the
 * same key, revision and avatar, counted as uploaded (the primary keeps the relay's copy current).
 */
export function importOwnProfile(
  db: WriteDb,
  p: { profileKey: Uint8Array; revision: number; displayName: string; about: string; avatar: Uint8Array | null; keyId: Uint8Array; now: number },
): void {
  db.run(sql`
    INSERT INTO own_profile (singleton, profile_key, revision, display_name, about, avatar, uploaded_revision, uploaded_key_id, updated_at)
    VALUES (1, ${p.profileKey}, ${p.revision}, ${p.displayName}, ${p.about}, ${p.avatar}, ${p.revision}, ${p.keyId}, ${p.now})
    ON CONFLICT (singleton) DO NOTHING`);
}

/** A new profile key (blocking someone): the revision goes up, and the new key owes an upload. */
export function rotateOwnProfileKey(db: WriteDb, profileKey: Uint8Array, now: number): void {
  db.run(sql`UPDATE own_profile SET profile_key = ${profileKey}, revision = revision + 1, updated_at = ${now} WHERE singleton = 1`);
}

/** A new name or about line: the revision goes up (readers refuse a lower one). */
export function updateOwnProfile(db: WriteDb, p: { displayName: string; about: string; now: number }): void {
  db.run(sql`
    UPDATE own_profile SET display_name = ${p.displayName}, about = ${p.about}, revision = revision + 1, updated_at = ${p.now}
    WHERE singleton = 1`);
}

/** A new avatar, or none (null): the revision goes up, as for a new name. */
export function setOwnAvatar(db: WriteDb, avatar: Uint8Array | null, now: number): void {
  db.run(sql`UPDATE own_profile SET avatar = ${avatar}, revision = revision + 1, updated_at = ${now} WHERE singleton = 1`);
}

/** The relay accepted this revision under this key id. */
export function markOwnProfileUploaded(db: WriteDb, revision: number, keyId: Uint8Array): void {
  db.run(sql`UPDATE own_profile SET uploaded_revision = ${revision}, uploaded_key_id = ${keyId} WHERE singleton = 1`);
}

// ── The own profile from another own device (docs/adr/0026) ──────────────────

/**
 * Another own device uploaded revision `revision` of the profile under `profileKey`: kept as
 * pending (a fetch is due) when newer than what this device holds and than any pending one.
 * Returns whether it was kept.
 */
export function receiveOwnProfileKey(db: WriteDb, profileKey: Uint8Array, revision: number): boolean {
  return (
    db.run(sql`
      UPDATE own_profile SET pending_key = ${profileKey}, pending_revision = ${revision}
      WHERE singleton = 1 AND revision < ${revision} AND coalesce(pending_revision, 0) < ${revision}`).changes === 1
  );
}

/** The pending own profile key and the revision it was announced with, if any. */
export function pendingOwnProfileKey(db: ReadDb): { profileKey: Uint8Array; revision: number } | undefined {
  const r = db.get<{ pending_key: Uint8Array | null; pending_revision: number | null }>(sql`SELECT pending_key, pending_revision FROM own_profile WHERE singleton = 1`);
  return r?.pending_key && r.pending_revision !== null ? { profileKey: blob(r.pending_key), revision: r.pending_revision } : undefined;
}

/**
 * The profile another own device uploaded, opened with the pending key: adopted whole (key,
 * revision, name, about, avatar), counted as uploaded, when newer than what this device holds.
 * The pending key goes either way (if it is still the one fetched).
 */
export function adoptOwnProfile(
  db: WriteDb,
  pendingKey: Uint8Array,
  p: { profileKey: Uint8Array; revision: number; displayName: string; about: string; avatar: Uint8Array | null; keyId: Uint8Array; now: number } | null,
): boolean {
  let adopted = false;
  if (p) {
    adopted =
      db.run(sql`
        UPDATE own_profile SET profile_key = ${p.profileKey}, revision = ${p.revision}, display_name = ${p.displayName}, about = ${p.about},
          avatar = ${p.avatar}, uploaded_revision = ${p.revision}, uploaded_key_id = ${p.keyId}, updated_at = ${p.now}
        WHERE singleton = 1 AND revision < ${p.revision}`).changes === 1;
  }
  db.run(sql`UPDATE own_profile SET pending_key = NULL, pending_revision = NULL WHERE singleton = 1 AND pending_key = ${pendingKey}`);
  return adopted;
}

// ── What contacts shared with us ─────────────────────────────────────────────

export type ContactProfileRecord = {
  readonly accountId: Uint8Array;
  readonly profileKey: Uint8Array | null;
  readonly usernameClaim: string | null;
  readonly revision: number | null;
  readonly displayName: string | null;
  readonly about: string | null;
  readonly avatar: Uint8Array | null;
  readonly fetchedAt: number | null;
  readonly fetchDue: boolean;
};

type ContactProfileRow = {
  account_id: Uint8Array;
  profile_key: Uint8Array | null;
  username_claim: string | null;
  revision: number | null;
  display_name: string | null;
  about: string | null;
  avatar: Uint8Array | null;
  fetched_at: number | null;
  fetch_due: number;
};

function toContactProfile(r: ContactProfileRow): ContactProfileRecord {
  return {
    accountId: blob(r.account_id),
    profileKey: blobOrNull(r.profile_key),
    usernameClaim: r.username_claim,
    revision: r.revision,
    displayName: r.display_name,
    about: r.about,
    avatar: blobOrNull(r.avatar),
    fetchedAt: r.fetched_at,
    fetchDue: flag(r.fetch_due),
  };
}

export function getContactProfile(db: ReadDb, accountId: Uint8Array): ContactProfileRecord | undefined {
  const r = db.get<ContactProfileRow>(sql`SELECT * FROM contact_profiles WHERE account_id = ${accountId}`);
  return r && toContactProfile(r);
}

/** Contacts whose profile should be fetched (a key or a newer revision arrived, or a fetch failed). */
export function dueContactProfiles(db: ReadDb): ContactProfileRecord[] {
  return db.all<ContactProfileRow>(sql`SELECT * FROM contact_profiles WHERE fetch_due = 1 ORDER BY account_id`).map(toContactProfile);
}

/**
 * A contact's profile key (and claimed username) arrived: stored, and a fetch is due when the key
 * is new or the announced revision is newer than the profile held. A different key forgets the
 * profile opened with the old one only once the new one opens (the rollback rule compares revisions
 * of the same owner, whatever the key).
 */
export function receiveContactProfileKey(
  db: WriteDb,
  k: { accountId: Uint8Array; profileKey: Uint8Array; revision: number; usernameClaim: string; now: number },
): boolean {
  const current = getContactProfile(db, k.accountId);
  const sameKey = current?.profileKey ? bytesEqual(current.profileKey, k.profileKey) : false;
  const due = !sameKey || current?.revision === null || current === undefined || (current.revision ?? 0) < k.revision;
  db.run(sql`
    INSERT INTO contact_profiles (account_id, profile_key, key_received_at, username_claim, fetch_due)
    VALUES (${k.accountId}, ${k.profileKey}, ${k.now}, ${k.usernameClaim}, ${due})
    ON CONFLICT (account_id) DO UPDATE SET profile_key = excluded.profile_key, key_received_at = excluded.key_received_at,
      username_claim = excluded.username_claim, fetch_due = max(fetch_due, excluded.fetch_due)`);
  return due;
}

/** A profile opened with the held key (the caller checked it is newer than the one held). */
export function storeContactProfile(
  db: WriteDb,
  p: { accountId: Uint8Array; revision: number; displayName: string; about: string; avatar: Uint8Array | null; now: number },
): void {
  db.run(sql`
    UPDATE contact_profiles SET revision = ${p.revision}, display_name = ${p.displayName}, about = ${p.about},
      avatar = ${p.avatar}, fetched_at = ${p.now}, fetch_due = 0
    WHERE account_id = ${p.accountId}`);
}

/** A fetch that settled without a newer profile (the same revision, a rollback, nothing to open). */
export function settleContactProfileFetch(db: WriteDb, accountId: Uint8Array, now: number): void {
  db.run(sql`UPDATE contact_profiles SET fetched_at = ${now}, fetch_due = 0 WHERE account_id = ${accountId}`);
}

// ── What we shared with each contact ─────────────────────────────────────────

/** What a contact was sent (undefined for a blocked person or an unknown account: nothing is owed). */
export function sharedProfileState(db: ReadDb, accountId: Uint8Array): { keyId: Uint8Array | null; revision: number | null } | undefined {
  const r = db.get<{ shared_profile_key_id: Uint8Array | null; shared_profile_revision: number | null }>(
    sql`SELECT shared_profile_key_id, shared_profile_revision FROM contacts WHERE account_id = ${accountId} AND blocked = 0`,
  );
  return r && { keyId: blobOrNull(r.shared_profile_key_id), revision: r.shared_profile_revision };
}

export function markProfileShared(db: WriteDb, accountId: Uint8Array, keyId: Uint8Array, revision: number): void {
  db.run(sql`UPDATE contacts SET shared_profile_key_id = ${keyId}, shared_profile_revision = ${revision} WHERE account_id = ${accountId}`);
}

/**
 * Accepted contacts that were sent a profile key before (a change or a new key is owed to them),
 * blocked ones left out: what a blocked person was sent is kept, so unblocking owes them the key.
 */
export function contactsSharedWith(db: ReadDb): Uint8Array[] {
  return db
    .all<{ account_id: Uint8Array }>(sql`SELECT account_id FROM contacts WHERE accepted = 1 AND blocked = 0 AND shared_profile_key_id IS NOT NULL ORDER BY account_id`)
    .map((r) => blob(r.account_id));
}
