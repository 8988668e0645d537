/**
 * The account state a primary sends a newly linked device inside the Provision frame (DESIGN §3.11,
 * docs/protocol.md §20.5 carries it as an opaque blob; its format is ADR 0025): UTF-8 JSON, version 1 —
 * the own profile (name, about, avatar, revision, profile key: every device of a person shows the
 * same profile, and the primary keeps the relay's copy, so the new device does not upload it), the
 * contacts with their account keys, signed device lists, shared profile keys and verification,
 * acceptance and blocking states, the settings that follow the person (SYNCED_SETTINGS), and the conversation list (which
 * direct conversations exist). Never the account private key, never a session, never a message.
 *
 * Owns encoding (export from the primary's database), validation (a zod schema; every contact's list
 * must verify under its account key) and import into the new device's database. Does not own history
 * (issue 14's later history transfer) or ongoing sync between devices.
 */
import { z } from 'zod';
import { bytesEqual, fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes.js';
import { MAX_LINK_ACCOUNT_STATE_BYTES } from '../../../shared/protocol/constants.js';
import { verifyDeviceList } from '../../../shared/protocol/device-list.js';
import { SettingsSchema, type Settings } from '../../../shared/api/view-models.js';
import { getContact, insertContact, listContacts, setContactBlocked, setContactVerified } from '../db/contacts.js';
import { getOrCreateDirectConversation, listConversations } from '../db/conversations.js';
import type { ReadDb, WriteDb } from '../db/database.js';
import { getContactProfile, getOwnProfile, importOwnProfile, receiveContactProfileKey } from '../db/profiles.js';
import { profileKeyId } from '../../../shared/protocol/profile.js';
import { readSettings, writeSettings } from '../db/settings.js';
import { EngineError } from '../errors.js';

export const ACCOUNT_STATE_VERSION = 1;

/** Settings that follow the person to a new device; app lock and search stay per device (ADR 0025). */
export const SYNCED_SETTINGS = ['readReceipts', 'typingIndicators', 'presenceVisible', 'notifications'] as const;

const B64 = z.string().regex(/^[A-Za-z0-9_-]*$/).max(200_000);

export const AccountStateSchema = z.strictObject({
  v: z.literal(ACCOUNT_STATE_VERSION),
  username: z.string().min(1).max(64),
  profile: z
    .strictObject({
      displayName: z.string().max(256),
      about: z.string().max(1024),
      profileKey: B64,
      revision: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
      /** The avatar (a WebP of at most 64 KiB) as base64url, or null. */
      avatar: B64.nullable(),
    })
    .nullable(),
  contacts: z
    .array(
      z.strictObject({
        accountId: B64,
        username: z.string().min(1).max(64),
        accountKey: B64,
        deviceList: B64,
        verified: z.boolean(),
        accepted: z.boolean(),
        blocked: z.boolean(),
        /** The profile key they shared, or null: the new device fetches their profile with it. */
        profileKey: B64.nullable(),
      }),
    )
    .max(10_000),
  settings: z.strictObject({
    readReceipts: SettingsSchema.shape.readReceipts,
    typingIndicators: SettingsSchema.shape.typingIndicators,
    presenceVisible: SettingsSchema.shape.presenceVisible,
    notifications: SettingsSchema.shape.notifications,
  }),
  /** Peers (account ids) of the direct conversations, newest first. */
  conversations: z.array(B64).max(10_000),
});
export type AccountState = z.output<typeof AccountStateSchema>;

function contactProfileKey(db: ReadDb, accountId: Uint8Array): string | null {
  const key = getContactProfile(db, accountId)?.profileKey;
  return key ? toBase64Url(key) : null;
}

/** What the primary sends: read from its database (never the account private key: it is not read). */
export function exportAccountState(db: ReadDb, username: string): Uint8Array {
  const bytes = new TextEncoder().encode(JSON.stringify(accountStateOf(db, username)));
  // About 400 contacts fit (ADR 0025). Beyond that the link is refused with a typed error before
  // anything is signed (primary.ts exports the state first); moving a larger state through the
  // attachment store, as the history archive moves (ADR 0028), is on the Roadmap.
  if (bytes.length > MAX_LINK_ACCOUNT_STATE_BYTES) {
    throw new EngineError('LINK_ACCOUNT_TOO_LARGE', `this account has too many contacts to link a device (the link carries ${MAX_LINK_ACCOUNT_STATE_BYTES / 1024} KiB, about 400 contacts)`);
  }
  return bytes;
}

/** The account state as an object (a link sends it as JSON; a backup carries it inside its own JSON, ADR 0033). */
export function accountStateOf(db: ReadDb, username: string): AccountState {
  const own = getOwnProfile(db);
  const settings = readSettings(db);
  return {
    v: ACCOUNT_STATE_VERSION,
    username,
    profile: own
      ? { displayName: own.displayName, about: own.about, profileKey: toBase64Url(own.profileKey), revision: own.revision, avatar: own.avatar && toBase64Url(own.avatar) }
      : null,
    contacts: listContacts(db).map((c) => ({
      accountId: toBase64Url(c.accountId),
      username: c.username,
      accountKey: toBase64Url(c.accountKey),
      deviceList: toBase64Url(c.deviceList.signed),
      verified: c.verified,
      accepted: c.accepted,
      blocked: c.blocked,
      profileKey: contactProfileKey(db, c.accountId),
    })),
    settings: Object.fromEntries(SYNCED_SETTINGS.map((k) => [k, settings[k]])) as AccountState['settings'],
    conversations: listConversations(db, 0).flatMap((c) => (c.conversation.kind === 'direct' ? [toBase64Url(c.conversation.peerAccountId)] : [])),
  };
}

/** Every contact's signed list verifies under its account key and for its account id (throws otherwise). */
export function verifyContactLists(state: AccountState): void {
  for (const c of state.contacts) verifyDeviceList(fromBase64Url(c.deviceList), fromBase64Url(c.accountKey), fromBase64Url(c.accountId));
}

/** Parses and checks the blob: malformed JSON, a wrong shape or a contact list that does not verify is LINK_TAMPERED. */
export function parseAccountState(bytes: Uint8Array): AccountState {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new EngineError('LINK_TAMPERED', 'the account state from the primary device is not readable');
  }
  const parsed = AccountStateSchema.safeParse(json);
  if (!parsed.success) throw new EngineError('LINK_TAMPERED', 'the account state from the primary device is not valid');
  try {
    verifyContactLists(parsed.data);
  } catch {
    throw new EngineError('LINK_TAMPERED', 'a contact in the account state carries a device list that does not verify');
  }
  return parsed.data;
}

/** Imports a parsed state into the new device's (empty) database, in the caller's transaction. */
export function importAccountState(db: WriteDb, state: AccountState, now: number): void {
  if (state.profile) {
    const profileKey = fromBase64Url(state.profile.profileKey);
    importOwnProfile(db, {
      profileKey,
      revision: state.profile.revision,
      displayName: state.profile.displayName,
      about: state.profile.about,
      avatar: state.profile.avatar === null ? null : fromBase64Url(state.profile.avatar),
      keyId: profileKeyId(profileKey),
      now,
    });
  }
  for (const c of state.contacts) {
    const accountId = fromBase64Url(c.accountId);
    const signed = fromBase64Url(c.deviceList);
    const list = verifyDeviceList(signed, fromBase64Url(c.accountKey), accountId);
    const existing = getContact(db, accountId);
    if (existing && !bytesEqual(existing.accountKey, fromBase64Url(c.accountKey))) continue;
    if (!existing) {
      insertContact(db, {
        accountId,
        username: c.username,
        accountKey: fromBase64Url(c.accountKey),
        deviceList: { signed, version: list.version, issuedAt: list.issuedAt },
        now,
        accepted: c.accepted,
      });
    }
    if (c.profileKey !== null) receiveContactProfileKey(db, { accountId, profileKey: fromBase64Url(c.profileKey), revision: 0, usernameClaim: c.username, now });
    if (c.verified) setContactVerified(db, accountId, true, now);
    if (c.blocked) setContactBlocked(db, accountId, true, now);
  }
  const settings: Partial<Settings> = { ...state.settings };
  writeSettings(db, settings);
  // Oldest first, so the newest gets the highest id (the list orders by activity anyway).
  for (const peer of [...state.conversations].reverse()) {
    const accountId = fromBase64Url(peer);
    if (getContact(db, accountId)) getOrCreateDirectConversation(db, accountId, now);
  }
}
