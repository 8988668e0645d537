/**
 * Table types of the relay database, as Kysely sees them. One schema for SQLite and PostgreSQL:
 * byte columns are BLOB / BYTEA (read back as Buffer), integers are 64-bit, booleans are small
 * integers (0/1) so that both dialects compare them the same way. Owns the column names only; the
 * DDL is in migrations/, the queries in kysely-store.ts.
 */
import type { Generated } from 'kysely';

type Bytes = Uint8Array;

export type AccountsTable = {
  account_id: Bytes;
  account_key: Bytes;
  /** Canonical username (normalizeUsername). */
  username: string;
  /** Signed device-list bytes, stored verbatim. */
  device_list: Bytes;
  device_list_version: number;
  presence_visible: number;
  created_at: number;
};

/** Usernames of deleted accounts, unavailable until `available_at`. */
export type HeldUsernamesTable = { username: string; available_at: number };

/** Account ids of deleted accounts: never registered again (a cached key would suddenly change). */
export type AccountTombstonesTable = { account_id: Bytes; deleted_at: number };

export type DevicesTable = {
  /** Surrogate key; a device removed and re-added gets a new one (and a fresh mailbox). */
  device_key: Generated<number>;
  account_id: Bytes;
  device_id: number;
  identity_signing_key: Bytes;
  identity_dh_key: Bytes;
  /** The seq the next envelope for this device gets; seqs are per device and never reused. */
  next_seq: number;
  created_at: number;
  /** UTC day (days since the epoch) of the device's last session token; NULL before migration 0005. */
  last_active_day: number | null;
};

/** A device that unregistered itself stays gone while the signed list still names the same key. */
export type RetiredDevicesTable = { account_id: Bytes; device_id: number; identity_signing_key: Bytes };

/** A device a signed list dropped (the primary removed it), kept so that it can learn so (ADR 0027). */
export type RemovedDevicesTable = { account_id: Bytes; device_id: number; identity_signing_key: Bytes; removed_at: number };

export type SignedPrekeysTable = { device_key: number; key_id: number; public_key: Bytes; created_at: number; signature: Bytes };
export type LastResortKemPrekeysTable = SignedPrekeysTable;
export type OneTimePrekeysTable = { device_key: number; key_id: number; public_key: Bytes };
export type KemOneTimePrekeysTable = SignedPrekeysTable;

export type MailboxTable = {
  device_key: number;
  seq: number;
  /** NULL for sealed-sender envelopes (docs/protocol.md §21): the relay does not know the sender. */
  source_account: Bytes | null;
  source_device: number | null;
  server_ts: number;
  content: Bytes;
};

export type ChallengesTable = { nonce: Bytes; account_id: Bytes; device_id: number; expires_at: number };

export type SessionsTable = {
  token_id: Bytes;
  /** SHA-256 of the token secret; the secret itself is never stored. */
  secret_hash: Bytes;
  device_key: number;
  expires_at: number;
};

export type ContactsTable = { owner: Bytes; contact: Bytes };

/** An account's encrypted profile, stored verbatim (docs/protocol.md §18); the relay cannot open it. */
export type ProfilesTable = { account_id: Bytes; profile: Bytes; updated_at: number };
/** SHA-256 of an account's sealed-sender delivery token (docs/protocol.md §21.1); never the token. */
export type DeliveryTokensTable = { account_id: Bytes; token_hash: Bytes; updated_at: number };
/** One row per attachment upload (issue 13); state 0 uploading, 1 complete, 2 expired (a tombstone). */
export type AttachmentsTable = {
  attachment_id: Bytes;
  /** The uploading account (its session token named it). */
  account_id: Bytes;
  /** Declared ciphertext length (tus Upload-Length). */
  length: number;
  state: number;
  created_at: number;
  /** Uploading: when the partial upload is discarded; complete: end of retention; expired: tombstone start. */
  expires_at: number;
};

/** A device link in progress (issue 14, ADR 0024): what the relay keeps of a provisioning channel. */
export type ProvisioningChannelsTable = {
  channel_id: Bytes;
  /** Six digits, unique among live channels (checked at creation), the short code's lookup key. */
  rendezvous: string;
  /** SHA-256 of the new device's channel token; the token itself is never stored. */
  token_hash: Bytes;
  created_at: number;
  expires_at: number;
  /** The one device that joined (NULL until then). */
  joined_account: Bytes | null;
  joined_device: number | null;
  /** The seq the next message gets (1-based, per channel, both directions). */
  next_seq: number;
};
/** A message on a provisioning channel: opaque bytes; sender 0 = the new device, 1 = the joined device. */
export type ProvisioningMessagesTable = { channel_id: Bytes; seq: number; sender: number; body: Bytes };

/** The current backup of one backup id (issue 18, migration 0007); no account column by design. */
export type BackupsTable = {
  backup_id: Bytes;
  /** The backup auth public key (Ed25519) bound at the first upload. */
  auth_key: Bytes;
  /** Random name part of the current blob's file (a replaced blob's file is removed after the switch). */
  generation: Bytes;
  length: number;
  stored_at: number;
};
/** A single-use challenge for one backup request. */
export type BackupChallengesTable = { nonce: Bytes; backup_id: Bytes; expires_at: number };

export type Database = {
  accounts: AccountsTable;
  held_usernames: HeldUsernamesTable;
  account_tombstones: AccountTombstonesTable;
  devices: DevicesTable;
  retired_devices: RetiredDevicesTable;
  removed_devices: RemovedDevicesTable;
  signed_prekeys: SignedPrekeysTable;
  last_resort_kem_prekeys: LastResortKemPrekeysTable;
  one_time_prekeys: OneTimePrekeysTable;
  kem_one_time_prekeys: KemOneTimePrekeysTable;
  mailbox: MailboxTable;
  challenges: ChallengesTable;
  sessions: SessionsTable;
  contacts: ContactsTable;
  profiles: ProfilesTable;
  delivery_tokens: DeliveryTokensTable;
  attachments: AttachmentsTable;
  provisioning_channels: ProvisioningChannelsTable;
  provisioning_messages: ProvisioningMessagesTable;
  backups: BackupsTable;
  backup_challenges: BackupChallengesTable;
};
