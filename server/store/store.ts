/**
 * RelayStore: the one storage interface of the relay (DESIGN §5). Every durable fact — accounts,
 * signed device lists, devices, prekeys, mailboxes, challenges, session-token hashes, contacts —
 * goes through it, and one test suite (store.test.ts) runs against every backend. The
 * implementation (kysely-store.ts) is a single Kysely query layer, one file per aggregate in
 * aggregates/, each implementing one slice of this type. Owns persistence and atomicity (one-time
 * prekeys claimed exactly once, a batch of sends and acks committed in one transaction, a device list
 * replaced together with its devices).
 * Does not own policy: signatures, limits and rate limits are checked by server/core before a call.
 *
 * Durability: every mutating method resolves only once its effect survives a power loss — except
 * commitBatch, which resolves at commit and hands back a `durable` promise, so that the next batch
 * can commit while this one is being flushed (challenges and session tokens are not flushed: losing
 * one costs a client a new challenge, never a message).
 */

export type DeviceKeys = {
  readonly deviceId: number;
  readonly identitySigningKey: Uint8Array;
  readonly identityDhKey: Uint8Array;
};

export type DeviceRecord = DeviceKeys & {
  /** Surrogate key of this incarnation of the device (a re-added device gets a new one). */
  readonly deviceKey: number;
  readonly accountId: Uint8Array;
};

export type AccountRecord = {
  readonly accountId: Uint8Array;
  readonly accountKey: Uint8Array;
  readonly username: string;
  readonly deviceList: Uint8Array;
  readonly deviceListVersion: number;
  readonly presenceVisible: boolean;
};

export type SignedPrekeyRecord = {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly signature: Uint8Array;
};
export type OneTimePrekeyRecord = { readonly keyId: number; readonly publicKey: Uint8Array };

export type PrekeySet = {
  readonly signedPrekey?: SignedPrekeyRecord | undefined;
  readonly lastResortKemPrekey?: SignedPrekeyRecord | undefined;
  readonly oneTimePrekeys?: readonly OneTimePrekeyRecord[] | undefined;
  readonly kemOneTimePrekeys?: readonly SignedPrekeyRecord[] | undefined;
};

export type PrekeyCountsRecord = {
  readonly oneTimePrekeys: number;
  readonly kemOneTimePrekeys: number;
  readonly signedPrekey: { readonly keyId: number; readonly createdAt: number } | null;
  readonly lastResortKemPrekey: { readonly keyId: number; readonly createdAt: number } | null;
};

export type ClaimedBundle = DeviceKeys & {
  readonly signedPrekey: SignedPrekeyRecord;
  readonly oneTimePrekey?: OneTimePrekeyRecord | undefined;
  readonly kemPrekey?: (SignedPrekeyRecord & { readonly lastResort: boolean }) | undefined;
};

export type StoredEnvelope = {
  readonly seq: number;
  readonly sourceAccount: Uint8Array | null;
  readonly sourceDevice: number | null;
  readonly serverTimestamp: number;
  readonly content: Uint8Array;
};

export type SendItem = {
  /**
   * The sending device; its own account's other devices are addressed by sending to its account.
   * null for a sealed send (docs/protocol.md §21): the relay does not know the sender, stores no
   * source, and the send must name every current device of the recipient.
   */
  readonly from: { readonly accountId: Uint8Array; readonly deviceId: number } | null;
  readonly to: Uint8Array;
  readonly messages: readonly { readonly deviceId: number; readonly content: Uint8Array }[];
};

export type SendOutcome =
  | { readonly status: 'committed'; readonly deliveries: readonly { readonly deviceKey: number; readonly envelope: StoredEnvelope }[] }
  | { readonly status: 'mismatched'; readonly missing: readonly number[]; readonly stale: readonly number[] }
  | { readonly status: 'unknown-recipient' }
  /** A recipient device's mailbox holds `maxMailboxEnvelopes` already: nothing of the send is stored. */
  | { readonly status: 'mailbox-full' };

export type AckItem = { readonly deviceKey: number; readonly seqs: readonly number[] };

export type RemovedDevice = { readonly deviceKey: number; readonly deviceId: number; readonly envelopesDeleted: number };

export type CreateAccountInput = {
  readonly accountId: Uint8Array;
  readonly accountKey: Uint8Array;
  readonly username: string;
  readonly deviceList: Uint8Array;
  readonly deviceListVersion: number;
  readonly device: DeviceKeys;
  readonly prekeys: PrekeySet;
  readonly now: number;
};

export type SweepResult = {
  readonly envelopes: number;
  readonly challenges: number;
  readonly sessions: number;
  readonly usernames: number;
};

/** Opening and closing; the rest of RelayStore is one slice per aggregate (store/aggregates/). */
export type StoreLifecycle = {
  readonly backend: 'sqlite' | 'postgres';
  /** Runs the numbered migrations that have not run yet. */
  migrate(): Promise<void>;
  close(): Promise<void>;
};

/** Accounts and their devices (aggregates/accounts.ts). */
export type AccountStore = {
  createAccount(input: CreateAccountInput): Promise<
    { readonly status: 'created'; readonly deviceKey: number } | { readonly status: 'username-taken' | 'account-exists' }
  >;
  getAccount(accountId: Uint8Array): Promise<AccountRecord | undefined>;
  getAccountByUsername(username: string): Promise<AccountRecord | undefined>;
  /**
   * Compare-and-swap on the list version: replaces the signed list and reconciles the devices
   * (entries gone or re-keyed lose their mailbox, prekeys and sessions; retired devices stay gone).
   */
  replaceDeviceList(input: {
    readonly accountId: Uint8Array;
    readonly expectedVersion: number;
    readonly deviceList: Uint8Array;
    readonly version: number;
    readonly devices: readonly DeviceKeys[];
    readonly now: number;
  }): Promise<{ readonly status: 'replaced'; readonly removed: readonly RemovedDevice[] } | { readonly status: 'conflict' }>;
  /** Removes the device and everything it owns, and keeps it out until its key leaves the list. */
  unregisterDevice(deviceKey: number): Promise<RemovedDevice | undefined>;
  /** Removes the account, its devices, mailboxes, prekeys, sessions, contacts and profile; holds the username. */
  deleteAccount(input: {
    readonly accountId: Uint8Array;
    readonly now: number;
    readonly usernameAvailableAt: number;
  }): Promise<{ readonly removed: readonly RemovedDevice[] } | undefined>;
  setPresenceVisible(accountId: Uint8Array, visible: boolean): Promise<void>;
  getDevice(accountId: Uint8Array, deviceId: number): Promise<DeviceRecord | undefined>;
  listDevices(accountId: Uint8Array): Promise<DeviceRecord[]>;
  /**
   * A device a replaced list dropped (removed by the primary, ADR 0027), with the signing key it had;
   * undefined for a device that is listed, unregistered itself, or never existed.
   */
  getRemovedDevice(accountId: Uint8Array, deviceId: number): Promise<{ readonly identitySigningKey: Uint8Array; readonly removedAt: number } | undefined>;
  /** Records that the device was active on UTC day `day` (written at most once a day). */
  touchDevice(deviceKey: number, day: number): Promise<void>;
  /** The account's current devices with their last active UTC day (null: not since migration 0005). */
  deviceActivity(accountId: Uint8Array): Promise<{ readonly deviceId: number; readonly lastActiveDay: number | null }[]>;
};

/** Challenges and session tokens (aggregates/auth.ts). */
export type AuthStore = {
  putChallenge(challenge: { readonly nonce: Uint8Array; readonly accountId: Uint8Array; readonly deviceId: number; readonly expiresAt: number }): Promise<void>;
  /** Deletes and returns the challenge: a nonce can be taken once. */
  takeChallenge(nonce: Uint8Array): Promise<{ readonly accountId: Uint8Array; readonly deviceId: number; readonly expiresAt: number } | undefined>;
  putSession(session: { readonly tokenId: Uint8Array; readonly secretHash: Uint8Array; readonly deviceKey: number; readonly expiresAt: number }): Promise<void>;
  getSession(tokenId: Uint8Array): Promise<
    | { readonly secretHash: Uint8Array; readonly expiresAt: number; readonly device: DeviceRecord }
    | undefined
  >;
};

/** Signed, last-resort and one-time prekeys (aggregates/prekeys.ts). */
export type PrekeyStore = {
  /**
   * Stores an upload in one transaction. With `maxOneTimePerKind`, an upload that would leave more
   * one-time keys of either kind stored for the device is not stored at all (`too-many`, with the
   * counts stored before it).
   */
  storePrekeys(
    deviceKey: number,
    prekeys: PrekeySet,
    options?: { readonly maxOneTimePerKind?: number },
  ): Promise<{ readonly status: 'stored' } | { readonly status: 'too-many'; readonly oneTimePrekeys: number; readonly kemOneTimePrekeys: number }>;
  prekeyCounts(deviceKey: number): Promise<PrekeyCountsRecord>;
  /**
   * Bundles of the account's devices (or of one) that have a signed prekey, each consuming one
   * one-time X25519 and one one-time ML-KEM key atomically (falling back to the last-resort key).
   * With `oneTimeFor`, only the devices with those device keys consume one-time keys; the others'
   * bundles carry no one-time X25519 key and the last-resort ML-KEM key (a claim budget, core).
   */
  claimBundles(accountId: Uint8Array, deviceId?: number, options?: { readonly oneTimeFor?: readonly number[] }): Promise<ClaimedBundle[]>;
};

/** Per-device mailboxes (aggregates/mailbox.ts). */
export type MailboxStore = {
  /**
   * One transaction for a batch of sends and acks (group commit). A send commits only if it names
   * exactly the recipient's current devices (minus the sender's own device), and, with
   * `maxMailboxEnvelopes`, only if none of their mailboxes would then hold more envelopes than that
   * (counting this batch's earlier sends; its acks are applied after its sends).
   */
  commitBatch(batch: {
    readonly sends: readonly SendItem[];
    readonly acks: readonly AckItem[];
    readonly now: number;
    readonly maxMailboxEnvelopes?: number;
  }): Promise<{
    readonly sends: readonly SendOutcome[];
    readonly acked: number;
    /** Resolves once the batch is durable; batches become durable in commit order. */
    readonly durable: Promise<void>;
  }>;
  /** Envelopes with seq > afterSeq in order, and the device's next seq read *before* them. */
  readMailbox(deviceKey: number, afterSeq: number, limit: number): Promise<{
    readonly nextSeq: number | undefined;
    readonly envelopes: readonly StoredEnvelope[];
  }>;
  countEnvelopes(): Promise<number>;
};

/** Each account's contact list, for typing and presence (aggregates/contacts.ts). */
export type ContactStore = {
  replaceContacts(owner: Uint8Array, contacts: readonly Uint8Array[]): Promise<void>;
  getContacts(owner: Uint8Array): Promise<Uint8Array[]>;
  /**
   * Accounts X with owner→X and X→owner on the contact lists; with `visibleOnly`, only those whose
   * presence is visible; with `among`, only those in that set.
   */
  mutualContacts(owner: Uint8Array, options: { readonly among?: readonly Uint8Array[]; readonly visibleOnly: boolean }): Promise<Uint8Array[]>;
};

/** Encrypted profiles (aggregates/profiles.ts): opaque bytes, one per account. */
export type ProfileStore = {
  /** Replaces the account's profile; `no-account` when the account does not exist (or was deleted meanwhile). */
  putProfile(input: { readonly accountId: Uint8Array; readonly profile: Uint8Array; readonly now: number }): Promise<'stored' | 'no-account'>;
  getProfile(accountId: Uint8Array): Promise<{ readonly profile: Uint8Array; readonly updatedAt: number } | undefined>;
  /** Sets the account's delivery-token hash (sealed sender, §21.1), replacing the one before; `no-account` as putProfile. */
  putDeliveryTokenHash(input: { readonly accountId: Uint8Array; readonly tokenHash: Uint8Array; readonly now: number }): Promise<'stored' | 'no-account'>;
  /** The account's delivery-token hash, if it set one. */
  deliveryTokenHash(accountId: Uint8Array): Promise<Uint8Array | undefined>;
};

/** Expiry of everything with a lifetime (aggregates/sweep.ts). */
export type SweepStore = {
  sweep(input: { readonly now: number; readonly mailboxCutoff: number; readonly batchSize: number }): Promise<SweepResult>;
};

export type AttachmentState = 'uploading' | 'complete' | 'expired';

export type AttachmentRecord = {
  readonly attachmentId: Uint8Array;
  readonly accountId: Uint8Array;
  readonly length: number;
  readonly state: AttachmentState;
  readonly createdAt: number;
  readonly expiresAt: number;
};

/** Attachment ownership, quota and expiry (aggregates/attachments.ts); the bytes are files (server/blobs). */
export type AttachmentStore = {
  /**
   * Records a new upload, unless the account already has `maxUploading` unfinished uploads or the
   * new length would take its stored plus unfinished bytes past `quotaBytes` (checked and inserted
   * atomically).
   */
  createAttachment(input: {
    readonly attachmentId: Uint8Array;
    readonly accountId: Uint8Array;
    readonly length: number;
    readonly now: number;
    readonly expiresAt: number;
    readonly maxUploading: number;
    readonly quotaBytes: number;
  }): Promise<{ readonly status: 'created' | 'too-many-uploads' | 'quota-exceeded' }>;
  getAttachment(attachmentId: Uint8Array): Promise<AttachmentRecord | undefined>;
  /** uploading → complete, expiring at `expiresAt`; false if it was not uploading. */
  completeAttachment(attachmentId: Uint8Array, expiresAt: number): Promise<boolean>;
  /** Forgets an upload (termination); false if there was none. */
  deleteAttachment(attachmentId: Uint8Array): Promise<boolean>;
  /**
   * Deletes unfinished uploads past their expiry, turns finished ones past retention into tombstones
   * (state expired), drops tombstones that expired before `tombstoneCutoff`, and returns the ids
   * whose files are now obsolete.
   */
  expireAttachments(input: { readonly now: number; readonly tombstoneCutoff: number; readonly batchSize: number }): Promise<{
    readonly files: readonly Uint8Array[];
    readonly partial: number;
    readonly expired: number;
    readonly tombstones: number;
  }>;
  /** Those of `attachmentIds` that are uploading or complete (the rest are files to delete). */
  liveAttachments(attachmentIds: readonly Uint8Array[]): Promise<Uint8Array[]>;
  attachmentTotals(): Promise<{ readonly storedBytes: number; readonly uploadsInProgress: number }>;
};

/** Which side of a provisioning channel: the new device (its token) or the device that joined. */
export type ProvisioningSide = 'new' | 'joined';

export type ProvisioningChannelRecord = {
  readonly channelId: Uint8Array;
  readonly rendezvous: string;
  readonly tokenHash: Uint8Array;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly joined: { readonly accountId: Uint8Array; readonly deviceId: number } | null;
};

/** Provisioning channels of device linking (aggregates/provisioning.ts, ADR 0024): opaque messages, short-lived. */
export type ProvisioningStore = {
  /** Creates a channel unless a live one (expires_at > now) already has that rendezvous. */
  createProvisioningChannel(input: {
    readonly channelId: Uint8Array;
    readonly rendezvous: string;
    readonly tokenHash: Uint8Array;
    readonly now: number;
    readonly expiresAt: number;
  }): Promise<'created' | 'rendezvous-taken'>;
  getProvisioningChannel(channelId: Uint8Array): Promise<ProvisioningChannelRecord | undefined>;
  /** Ids of the live channels with this rendezvous (normally one; none when it expired or never was). */
  findProvisioningChannels(rendezvous: string, now: number): Promise<Uint8Array[]>;
  /** Joins once: `full` when a device (any, this one included) joined before. */
  joinProvisioningChannel(input: {
    readonly channelId: Uint8Array;
    readonly accountId: Uint8Array;
    readonly deviceId: number;
    readonly now: number;
  }): Promise<'joined' | 'not-found' | 'expired' | 'full'>;
  /** Appends a message (seq 1, 2, … per channel); `full` once the channel holds `maxMessages`. */
  appendProvisioningMessage(input: {
    readonly channelId: Uint8Array;
    readonly sender: ProvisioningSide;
    readonly body: Uint8Array;
    readonly now: number;
    readonly maxMessages: number;
  }): Promise<{ readonly status: 'stored'; readonly seq: number } | { readonly status: 'not-found' | 'expired' | 'full' }>;
  /** The messages `from` one side with seq > after, in order. */
  provisioningMessages(channelId: Uint8Array, from: ProvisioningSide, after: number): Promise<{ readonly seq: number; readonly body: Uint8Array }[]>;
  /**
   * Expiry: deletes the messages of every channel past its expiry, and the channel rows that expired
   * before `forgetBefore` (kept until then so that late requests get CHANNEL_EXPIRED, not NOT_FOUND).
   */
  sweepProvisioning(input: { readonly now: number; readonly forgetBefore: number }): Promise<{ readonly messages: number; readonly channels: number }>;
};

export type BackupRecord = {
  readonly backupId: Uint8Array;
  readonly authKey: Uint8Array;
  readonly generation: Uint8Array;
  readonly length: number;
  readonly storedAt: number;
};

/** Backups (aggregates/backups.ts, issue 18): one current blob per backup id, no account; the bytes are files (server/blobs). */
export type BackupStore = {
  putBackupChallenge(input: { readonly nonce: Uint8Array; readonly backupId: Uint8Array; readonly expiresAt: number }): Promise<void>;
  /** Deletes and returns the challenge (a nonce gets one attempt). */
  takeBackupChallenge(nonce: Uint8Array): Promise<{ readonly backupId: Uint8Array; readonly expiresAt: number } | undefined>;
  getBackup(backupId: Uint8Array): Promise<BackupRecord | undefined>;
  /**
   * Makes `generation` the current blob of `backupId`, atomically: the first store binds `authKey`;
   * a later one must name the same key (`key-mismatch`, nothing changes). Returns the generation it
   * replaced (its file is now obsolete), null for the first.
   */
  commitBackup(input: {
    readonly backupId: Uint8Array;
    readonly authKey: Uint8Array;
    readonly generation: Uint8Array;
    readonly length: number;
    readonly now: number;
  }): Promise<{ readonly status: 'stored'; readonly replaced: Uint8Array | null } | { readonly status: 'key-mismatch' }>;
  /** Deletes the backup if `authKey` is its key; returns its generation, or null if there was none (or another key). */
  deleteBackup(backupId: Uint8Array, authKey: Uint8Array): Promise<Uint8Array | null>;
  /** Deletes backups stored before `storedBefore` (and challenges expired by `now`); returns the removed blobs' ids and generations. */
  expireBackups(input: { readonly storedBefore: number; readonly now: number; readonly batchSize: number }): Promise<{
    readonly removed: readonly { readonly backupId: Uint8Array; readonly generation: Uint8Array }[];
    readonly challenges: number;
  }>;
  /** Those (backup id, generation) pairs that are some backup's current blob (the rest are files to delete). */
  liveBackupGenerations(pairs: readonly { readonly backupId: Uint8Array; readonly generation: Uint8Array }[]): Promise<boolean[]>;
};

export type RelayStore = StoreLifecycle &
  AccountStore &
  AuthStore &
  PrekeyStore &
  MailboxStore &
  ContactStore &
  ProfileStore &
  SweepStore &
  AttachmentStore &
  ProvisioningStore &
  BackupStore;
