/**
 * Profiles in the engine (issue 12, DESIGN §3.6, docs/protocol.md §16 ProfileKey and §18): this
 * account's profile and profile key, and what contacts shared with us.
 *
 *  - Own profile: made with the account (the display name chosen at onboarding, the username by
 *    default), encrypted under the profile key and uploaded to the relay — at account creation,
 *    after every change and at every connection while the relay's copy is behind (uploaded
 *    revision and key id in own_profile).
 *  - Sharing: the profile key travels inside E2E content (§16 ProfileKey) — before the first text
 *    to a person, when the user accepts a message request, and to every accepted contact that holds
 *    an older key or revision once the new one is uploaded. `contacts.shared_profile_*` records what
 *    each contact was sent, so nothing is sent twice and nothing owed is forgotten; a message
 *    request never gets it until accepted.
 *  - Contacts' profiles: a received key (and the username it claims) is stored and a fetch is due;
 *    the fetch opens the relay's copy with the key (§18.4) and keeps it only when its revision is
 *    higher than the one held (a rollback is ignored). The claimed username is shown only once the
 *    relay confirms it names the same account. Failures of the relay leave the fetch due (retried at
 *    the next connection and maintenance round); a profile that does not open is never shown.
 *
 *  - Avatars (ADR 0022): the picture the user chose is made a square WebP in the keyless image
 *    process (files/image-strip.ts makeAvatar; sharp never runs here), stored, and travels inside
 *    the encrypted profile like the name: a new or removed avatar raises the revision and reaches
 *    contacts as a changed profile does. A contact's avatar is stored as opened, never decoded here.
 *
 * Does not own the content bytes (content.ts), the rows (db/profiles.ts) or image decoding.
 */
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import type { Rng } from '../../../shared/crypto/random.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { aboutProblem, decryptProfile, displayNameProblem, encryptProfile, newProfileKey, profileKeyId, type Profile } from '../../../shared/protocol/profile.js';
import { MAX_PROFILE_AVATAR_BYTES } from '../../../shared/protocol/constants.js';
import type { LocalAccount } from '../db/account.js';
import { getContact, setContactUsername } from '../db/contacts.js';
import { findDirectConversation } from '../db/conversations.js';
import type { WriteDb } from '../db/database.js';
import {
  adoptOwnProfile,
  contactsSharedWith,
  dueContactProfiles,
  getContactProfile,
  getOwnProfile,
  insertOwnProfile,
  markOwnProfileUploaded,
  markProfileShared,
  pendingOwnProfileKey,
  rotateOwnProfileKey,
  setOwnAvatar,
  settleContactProfileFetch,
  sharedProfileState,
  storeContactProfile,
  updateOwnProfile,
  type OwnProfileRecord,
} from '../db/profiles.js';
import { EngineError } from '../errors.js';
import { AvatarImageError, makeAvatar } from '../files/image-strip.js';
import type { RelayClient } from '../relay/client.js';
import { RelayClientError } from '../relay/errors.js';
import { ownProfileView } from '../views.js';
import { encodeContent, MESSAGE_ID_LENGTH } from './content.js';
import { MessagingStopped, type MessagingCore } from './fan-out.js';

/** Checks a display name and about line from the user (INVALID_PROFILE names the rule broken). */
export function checkProfileInput(displayName: string, about: string): { displayName: string; about: string } {
  const name = displayName.trim();
  const aboutLine = about.trim();
  const nameProblem = displayNameProblem(name);
  if (nameProblem === 'empty') throw new EngineError('INVALID_PROFILE', 'a display name cannot be empty');
  if (nameProblem === 'too-long') throw new EngineError('INVALID_PROFILE', 'a display name is at most 128 bytes');
  if (nameProblem === 'control-characters') throw new EngineError('INVALID_PROFILE', 'a display name cannot contain line breaks or control characters');
  const aboutIssue = aboutProblem(aboutLine);
  if (aboutIssue === 'too-long') throw new EngineError('INVALID_PROFILE', 'an about line is at most 512 bytes');
  if (aboutIssue === 'control-characters') throw new EngineError('INVALID_PROFILE', 'an about line cannot contain line breaks or control characters');
  return { displayName: name, about: aboutLine };
}

/** What the user is told when a picture cannot become an avatar. */
function avatarError(e: AvatarImageError): EngineError {
  switch (e.problem) {
    case 'not-an-image':
      return new EngineError('INVALID_IMAGE', 'that file is not a picture Parley can read (JPEG, PNG, WebP, GIF or HEIF)');
    case 'too-many-pixels':
      return new EngineError('INVALID_IMAGE', 'that picture has too many pixels (at most 64 megapixels)');
    case 'too-large':
      return new EngineError('INVALID_IMAGE', 'that picture could not be made small enough for a profile photo');
    case 'failed':
      return new EngineError('INVALID_IMAGE', 'the picture could not be processed');
  }
}

/** The first profile of a new account, or of an account from before profiles (name = username). */
export function createOwnProfile(db: WriteDb, o: { displayName: string; rng: Rng; now: number }): void {
  if (getOwnProfile(db)) return;
  insertOwnProfile(db, { profileKey: newProfileKey({ rng: o.rng }), displayName: o.displayName, about: '', now: o.now });
}

/** Uploads the own profile when the relay's copy is behind; returns whether an upload happened. */
export async function uploadOwnProfileIfOwed(db: WriteDb, account: LocalAccount, relay: RelayClient, rng: Rng): Promise<boolean> {
  const own = getOwnProfile(db);
  if (!own) return false;
  const keyId = profileKeyId(own.profileKey);
  if (own.uploadedRevision === own.revision && own.uploadedKeyId && bytesEqual(own.uploadedKeyId, keyId)) return false;
  const avatar = own.avatar && { format: 'webp' as const, bytes: own.avatar };
  const encrypted = encryptProfile({ revision: own.revision, displayName: own.displayName, about: own.about, avatar }, own.profileKey, account.accountId, { rng });
  await relay.putProfile(encrypted);
  // Only if nothing changed meanwhile (a later change owes its own upload).
  const now = getOwnProfile(db);
  if (now && now.revision === own.revision && bytesEqual(now.profileKey, own.profileKey)) db.transaction(() => markOwnProfileUploaded(db, own.revision, keyId));
  return true;
}

export class Profiles {
  #fetching: Promise<void> | null = null;
  #uploading: Promise<void> | null = null;
  #again = false;

  constructor(
    private readonly core: MessagingCore,
    private readonly hooks: {
      readonly kick: () => void;
      /**
       * Before a key is shared: the relay must hold the new key's delivery-token hash (sealed.ts), or
       * contacts who receive the key would see their sealed sends refused as stale. Throws to share later.
       */
      readonly beforeShare?: () => Promise<void>;
    },
  ) {}

  own(): OwnProfileRecord {
    const own = getOwnProfile(this.core.db.reader);
    if (!own) throw new EngineError('INTERNAL', 'no profile');
    return own;
  }

  /**
   * profile:set — stored at once (the revision goes up), then uploaded and shared with the
   * contacts that hold the key; a relay that does not answer gets it at the next connection.
   */
  async set(displayName: string, about: string): Promise<OwnProfileRecord> {
    const { core } = this;
    core.checkApi();
    const input = checkProfileInput(displayName, about);
    const db = core.db.writer;
    const current = this.own();
    if (current.displayName !== input.displayName || current.about !== input.about) {
      db.transaction(() => updateOwnProfile(db, { ...input, now: core.clock() }));
    }
    await this.uploadAndShare().catch(() => undefined);
    core.checkApi();
    return this.own();
  }

  /**
   * profile:setAvatar — `picture` (the bytes of the file the user chose) becomes this account's
   * avatar, made in the image process; null removes it. Stored at once (the revision goes up), then
   * uploaded and shared as a changed name is. A picture that cannot be used changes nothing
   * (INVALID_IMAGE says why).
   */
  async setAvatar(picture: Uint8Array | null): Promise<OwnProfileRecord> {
    const { core } = this;
    core.checkApi();
    let avatar: Uint8Array | null = null;
    if (picture) {
      try {
        avatar = await makeAvatar(picture, MAX_PROFILE_AVATAR_BYTES);
      } catch (e) {
        if (e instanceof AvatarImageError) throw avatarError(e);
        throw e;
      }
      core.checkApi();
    }
    const db = core.db.writer;
    const current = this.own();
    if (avatar !== null || current.avatar !== null) db.transaction(() => setOwnAvatar(db, avatar, core.clock()));
    await this.uploadAndShare().catch(() => undefined);
    core.checkApi();
    return this.own();
  }

  /**
   * In the caller's transaction: a fresh profile key (blocking someone), so what they hold stops
   * opening the profile. The upload and the sharing with everyone else follow (uploadAndShare).
   */
  rotateKey(db: WriteDb): void {
    rotateOwnProfileKey(db, newProfileKey({ rng: this.core.rng }), this.core.clock());
  }

  /** Uploads if owed, then shares the new key or revision with every contact that held an older one. */
  uploadAndShare(): Promise<void> {
    // A call during a run may follow a change that run did not see (an unblock): one more run then.
    if (this.#uploading) {
      this.#again = true;
      return this.#uploading;
    }
    const run = async (): Promise<void> => {
      do {
        this.#again = false;
        await this.#uploadAndShare();
      } while (this.#again);
    };
    this.#uploading = run().finally(() => {
      this.#uploading = null;
    });
    return this.#uploading;
  }

  async #uploadAndShare(): Promise<void> {
    const { core } = this;
    const uploaded = await uploadOwnProfileIfOwed(core.db.writer, core.account, core.relay, core.rng);
    core.check();
    const own = this.own();
    if (own.uploadedRevision !== own.revision) return;
    await this.hooks.beforeShare?.();
    core.check();
    const db = core.db.writer;
    let queued = false;
    db.transaction(() => {
      for (const accountId of contactsSharedWith(db)) queued = this.shareIfOwed(db, accountId) || queued;
      // This account's other devices adopt what was just uploaded (key, revision, and the profile
      // they fetch with it): one profile under one key on every device (docs/adr/0026).
      if (uploaded) queued = this.#shareWithOwnDevices(db, own) || queued;
    });
    if (queued) this.hooks.kick();
  }

  /** The profile key content (§16, 0x07) announcing this account's current key and revision. */
  #profileKeyContent(own: OwnProfileRecord): Uint8Array {
    const { core } = this;
    return encodeContent({
      type: 'profile-key',
      messageId: core.rng(MESSAGE_ID_LENGTH),
      sentAt: core.clock(),
      profileKey: own.profileKey,
      revision: own.revision,
      username: core.account.username,
    });
  }

  #shareWithOwnDevices(db: WriteDb, own: OwnProfileRecord): boolean {
    const { core } = this;
    const self = core.account.accountId;
    if (core.targetDevices(db, self).length === 0) return false;
    const content = this.#profileKeyContent(own);
    core.queueSend(db, { kind: 'profile-key', recipient: self, content, messageRowId: null });
    return true;
  }

  /**
   * Another own device uploaded a newer own profile (a pending key): fetched from the relay and
   * opened with that key; adopted whole when it is at least the announced revision and newer than
   * what this device holds. One that does not open, or an older one, is dropped (a newer key, if
   * any, comes with its own announcement); a relay that does not answer leaves it pending.
   */
  async #fetchOwn(): Promise<void> {
    const { core } = this;
    const pending = pendingOwnProfileKey(core.db.reader);
    if (!pending) return;
    const self = core.account.accountId;
    let opened: Profile | null = null;
    try {
      const response = await core.relay.getProfile(self);
      core.check();
      const profile = decryptProfile(response.profile, pending.profileKey, self);
      if (profile.revision >= pending.revision) opened = profile;
    } catch (e) {
      if (!(isProtocolError(e) || (e instanceof RelayClientError && e.code === 'NOT_FOUND'))) throw e;
    }
    const db = core.db.writer;
    const now = core.clock();
    const adopted = db.transaction(() =>
      adoptOwnProfile(
        db,
        pending.profileKey,
        opened && {
          profileKey: pending.profileKey,
          revision: opened.revision,
          displayName: opened.displayName,
          about: opened.about,
          avatar: opened.avatar?.bytes ?? null,
          keyId: profileKeyId(pending.profileKey),
          now,
        },
      ),
    );
    if (adopted) core.emit('profile:changed', { profile: ownProfileView(this.own()) });
  }

  /**
   * In the caller's transaction: queues this account's profile key for `recipient` unless they hold
   * the current key and revision already. Returns whether something was queued.
   */
  shareIfOwed(db: WriteDb, recipient: Uint8Array): boolean {
    const { core } = this;
    if (core.isSelf(recipient)) return false;
    const own = getOwnProfile(db);
    const shared = sharedProfileState(db, recipient);
    if (!own || !shared) return false;
    const keyId = profileKeyId(own.profileKey);
    if (shared.keyId && bytesEqual(shared.keyId, keyId) && shared.revision === own.revision) return false;
    const content = this.#profileKeyContent(own);
    core.queueSend(db, { kind: 'profile-key', recipient, content, messageRowId: null });
    markProfileShared(db, recipient, keyId, own.revision);
    return true;
  }

  /** Fetches every due contact profile (one round at a time). */
  fetchDue(): Promise<void> {
    if (this.#fetching) return this.#fetching;
    this.#fetching = this.#fetchDue().finally(() => {
      this.#fetching = null;
    });
    return this.#fetching;
  }

  async #fetchDue(): Promise<void> {
    const { core } = this;
    try {
      await this.#fetchOwn();
    } catch (e) {
      if (e instanceof MessagingStopped) throw e;
      if (e instanceof RelayClientError) return; // the relay: next round
      throw e;
    }
    for (const due of dueContactProfiles(core.db.reader)) {
      core.check();
      try {
        await this.#fetchOne(due.accountId);
      } catch (e) {
        if (e instanceof MessagingStopped) throw e;
        if (e instanceof RelayClientError && e.code !== 'NOT_FOUND') return; // the relay: next round
      }
    }
  }

  async #fetchOne(accountId: Uint8Array): Promise<void> {
    const { core } = this;
    const held = getContactProfile(core.db.reader, accountId);
    if (!held?.profileKey) return;
    const contact = getContact(core.db.reader, accountId);
    // The claimed username, once the relay confirms it names this account.
    let confirmedUsername: string | null = null;
    if (contact && contact.username === '' && held.usernameClaim) {
      try {
        const answer = await core.relay.lookupUsername(held.usernameClaim);
        if (bytesEqual(answer.accountId, accountId)) confirmedUsername = held.usernameClaim;
      } catch (e) {
        if (!(e instanceof RelayClientError && e.code === 'NOT_FOUND')) throw e;
      }
      core.check();
    }
    let opened: Profile | null = null;
    try {
      const response = await core.relay.getProfile(accountId);
      core.check();
      const profile = decryptProfile(response.profile, held.profileKey, accountId);
      if (held.revision === null || profile.revision > held.revision) opened = profile;
    } catch (e) {
      // No profile at the relay, made under another key (rotated), or one that does not open:
      // nothing is shown; a new key from the owner makes the fetch due again.
      if (!(isProtocolError(e) || (e instanceof RelayClientError && e.code === 'NOT_FOUND'))) throw e;
    }
    const db = core.db.writer;
    const now = core.clock();
    db.transaction(() => {
      const current = getContactProfile(db, accountId);
      if (!current?.profileKey || !bytesEqual(current.profileKey, held.profileKey!)) return; // a newer key arrived: its own fetch
      if (opened && (current.revision === null || opened.revision > current.revision)) {
        const avatar = opened.avatar?.bytes ?? null;
        storeContactProfile(db, { accountId, revision: opened.revision, displayName: opened.displayName, about: opened.about, avatar, now });
      } else {
        settleContactProfileFetch(db, accountId, now);
      }
      if (confirmedUsername !== null) setContactUsername(db, accountId, confirmedUsername, now);
    });
    const conversation = findDirectConversation(db, accountId);
    if (conversation) core.emitConversation(conversation.id);
  }
}

