/**
 * Contacts and device-list trust (DESIGN §3.2, issue 4 "Contacts by username"): a contact is added
 * by username; the relay's answer — account id, account key, signed device list — is verified
 * before anything is stored, and every later copy of the list passes shared/protocol's
 * acceptDeviceList against the stored one: a rollback (older version), an equivocation (another
 * list under a version already seen), a bad signature or a list of another account is refused with
 * UNTRUSTED_DEVICE_LIST and a `contact:untrustedDeviceList` event, and the stored list stays. A
 * different account key is a key change: stored with its (verified) list, the old key kept as
 * evidence, verified reset, a "safety number changed" notice, `contact:keyChanged`, and sending is
 * blocked until the user accepts it (engine.ts acceptKeyChange / markVerified).
 *
 * Also this account's own list: the relay's copy is compared at every connection (upload ours when
 * it is newer; adopt a newer one signed by our account key, with a notice in the note to self for
 * every device it links or removes; a newer one without this device is the proof that this device
 * was removed), and the relay's contact list is kept equal to the accepted contacts (typing and
 * presence flow only between mutual contacts). A contact's list that gains or loses a device adds
 * a notice to their conversation (own-devices.ts, ADR 0027).
 *
 * Every relay answer's key-transparency proofs are checked (transparency/key-transparency.ts)
 * before the answer is applied: a list the public log does not confirm is refused
 * (KEY_TRANSPARENCY_FAILED) and nothing of it is stored. Does not own sessions with the listed
 * devices (outbox.ts creates them on demand).
 */
import { bytesEqual, compareBytes } from '../../../shared/crypto/bytes.js';
import { acceptDeviceList, parseDeviceList, verifyDeviceList, type DeviceList } from '../../../shared/protocol/device-list.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { deserializeSessionRecord } from '../../../shared/protocol/session-record.js';
import type { AccountResponse } from '../../../shared/wire/rest.js';
import { normalizeUsername } from '../../../shared/wire/username.js';
import { updateOwnDeviceList, type StoredDeviceList } from '../db/account.js';
import {
  acceptContact,
  acceptedContactIds,
  getContact,
  insertContact,
  markContactListChecked,
  recordAccountKeyChange,
  setContactUsername,
  updateContactDeviceList,
  type ContactRecord,
} from '../db/contacts.js';
import { findDirectConversation, findNoteToSelf, getOrCreateDirectConversation } from '../db/conversations.js';
import type { WriteDb } from '../db/database.js';
import { deleteSessionRecord, loadSessionRecordBytes } from '../db/sessions.js';
import { dropSkippedKeys } from '../db/skipped-keys.js';
import { EngineError } from '../errors.js';
import { announceList } from '../db/transparency.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import type { KeyTransparency, KtContext } from '../transparency/key-transparency.js';
import { RelayClientError } from '../relay/errors.js';
import { contactIdOf } from '../views.js';
import type { MessagingCore } from './fan-out.js';
import { insertNotice } from './notices.js';
import { contactListChangeNotice, isRemovalProof, ownListChangeNotices } from './own-devices.js';

export type UntrustedReason = 'rollback' | 'equivocation' | 'bad-signature' | 'wrong-account';

function untrustedReason(e: unknown): UntrustedReason | null {
  if (!isProtocolError(e)) return null;
  switch (e.code) {
    case 'STALE_VERSION':
      return 'rollback';
    case 'CONFLICTING_VERSION':
      return 'equivocation';
    case 'UNTRUSTED_IDENTITY':
      return 'wrong-account';
    case 'BAD_SIGNATURE':
    case 'MALFORMED':
    case 'INVALID_KEY':
      return 'bad-signature';
    default:
      return null;
  }
}

function stored(list: DeviceList, signed: Uint8Array): StoredDeviceList {
  return { signed, version: list.version, issuedAt: list.issuedAt };
}

/** Sessions (and their skipped keys) with devices or identity keys no longer on the list go. */
export function dropRemovedDevices(db: WriteDb, accountId: Uint8Array, before: DeviceList, after: DeviceList): void {
  for (const old of before.devices) {
    const still = after.devices.find((d) => d.deviceId === old.deviceId && bytesEqual(d.identityDhKey, old.identityDhKey));
    if (still) continue;
    const key = { accountId, deviceId: old.deviceId, identityKey: old.identityDhKey };
    const bytes = loadSessionRecordBytes(db, key);
    if (!bytes) continue;
    const record = deserializeSessionRecord(bytes);
    for (const s of [...(record.current ? [record.current] : []), ...record.archived]) dropSkippedKeys(db, s.sessionId);
    deleteSessionRecord(db, key);
  }
}

export type RefreshOutcome = {
  readonly contact: ContactRecord;
  readonly keyChanged: boolean;
  readonly created: boolean;
  /** A message request that this call accepted (adding someone who wrote first). */
  readonly acceptedRequest: boolean;
};

export class Contacts {
  #ownSync: Promise<void> | null = null;

  constructor(
    private readonly core: MessagingCore,
    private readonly transparency: KeyTransparency,
  ) {}

  /** contacts:add — look the username up, verify, store (or refresh) and accept the contact. */
  async add(usernameInput: string): Promise<RefreshOutcome> {
    const { core } = this;
    const username = normalizeUsername(usernameInput);
    if (username === null) throw new EngineError('INVALID_USERNAME', 'a username is 3-32 of a-z, 0-9, "_" and "."');
    if (username === core.account.username) throw new EngineError('INVALID_REQUEST', 'that is this account');
    const response = await core.relay.lookupUsername(username, this.transparency.treeSize());
    core.checkApi();
    if (core.isSelf(response.accountId)) throw new EngineError('INVALID_REQUEST', 'that is this account');
    const kt = await this.transparency.prepare();
    core.checkApi();
    const outcome = this.apply(response, { username, accept: true, kt });
    // The relay's contact list follows at once (a failure is repaired at the next connection).
    await this.syncRelayContacts().catch(() => undefined);
    return outcome;
  }

  /**
   * Fetches an account's current key and list from the relay and applies them (see apply). With
   * `create`, an unknown account becomes a (not accepted) contact — it wrote first.
   */
  async refresh(accountId: Uint8Array, options: { readonly create?: boolean } = {}): Promise<RefreshOutcome | null> {
    const { core } = this;
    if (!options.create && !getContact(core.db.writer, accountId)) return null;
    const response = await core.relay.lookupAccount(accountId, this.transparency.treeSize());
    core.check();
    if (!bytesEqual(response.accountId, accountId)) {
      this.#untrusted(accountId, 'wrong-account');
    }
    const kt = await this.transparency.prepare();
    core.check();
    return this.apply(response, { username: null, accept: false, kt });
  }

  /**
   * Applies a relay answer (sync, one transaction). New account: verify and insert. Same key: the
   * version rule. Different key: a key change. Throws UNTRUSTED_DEVICE_LIST (with its event).
   */
  apply(response: AccountResponse, o: { readonly username: string | null; readonly accept: boolean; readonly kt?: KtContext | null }): RefreshOutcome {
    const { core } = this;
    const now = core.clock();
    const { accountId, accountKey, deviceList: signed } = response;
    const existing = getContact(core.db.writer, accountId);
    let list: DeviceList;
    let keyChanged = false;
    try {
      if (!existing || !bytesEqual(existing.accountKey, accountKey)) {
        list = verifyDeviceList(signed, accountKey, accountId);
      } else {
        const current = { list: parseDeviceList(existing.deviceList.signed).list, signed: existing.deviceList.signed };
        list = acceptDeviceList(current, signed, accountKey).list;
      }
    } catch (e) {
      const reason = untrustedReason(e);
      if (reason === null) throw e;
      this.#untrusted(accountId, reason);
    }
    // The list verifies: now the public log must confirm it (KEY_TRANSPARENCY_FAILED otherwise).
    if (o.kt) this.transparency.verify(response, o.kt, list.version);
    let noticeRowId: number | null = null;
    let conversationId: number | null = null;
    let acceptedRequest = false;
    core.db.writer.transaction(() => {
      const db = core.db.writer;
      if (!existing) {
        // A contact that wrote first has no username from us; the relay does not tell one by id.
        insertContact(db, { accountId, username: o.username ?? '', accountKey, deviceList: stored(list, signed), now, accepted: o.accept, listCheckedAt: now });
        conversationId = getOrCreateDirectConversation(db, accountId, now).id;
        return;
      }
      if (o.username !== null) setContactUsername(db, accountId, o.username, now);
      if (o.accept && acceptContact(db, accountId, now)) {
        acceptedRequest = true;
        conversationId = getOrCreateDirectConversation(db, accountId, now).id;
      }
      if (!bytesEqual(existing.accountKey, accountKey)) {
        keyChanged = true;
        recordAccountKeyChange(db, accountId, { accountKey, deviceList: stored(list, signed), now });
        const notice = insertNotice(db, core.account.accountId, accountId, 'key-changed', now);
        noticeRowId = notice.rowId;
        conversationId = notice.conversationId;
        dropRemovedDevices(db, accountId, parseDeviceList(existing.deviceList.signed).list, list);
      } else if (list.version !== existing.deviceList.version) {
        const before = parseDeviceList(existing.deviceList.signed).list;
        updateContactDeviceList(db, accountId, stored(list, signed), now);
        dropRemovedDevices(db, accountId, before, list);
        // Their devices changed (linked or removed one): said in their conversation, as Signal does.
        const notice = contactListChangeNotice(core, db, accountId, before, list);
        if (notice) noticeRowId = notice.rowId;
        conversationId ??= findDirectConversation(db, accountId)?.id ?? null;
      } else {
        markContactListChecked(db, accountId, now);
      }
    });
    const contact = getContact(core.db.reader, accountId)!;
    if (noticeRowId !== null) core.emitMessageAdded(noticeRowId);
    if (keyChanged) core.emit('contact:keyChanged', { contactId: contactIdOf(accountId), conversationId: conversationId === null ? null : String(conversationId) });
    if (conversationId !== null) core.emitConversation(conversationId);
    return { contact, keyChanged, created: !existing, acceptedRequest };
  }

  #untrusted(accountId: Uint8Array, reason: UntrustedReason): never {
    this.core.emit('contact:untrustedDeviceList', { contactId: contactIdOf(accountId), reason });
    throw new EngineError('UNTRUSTED_DEVICE_LIST', 'the relay served a device list that does not verify for this contact');
  }

  /**
   * This account's list against the relay's copy (at every connection, and when an unlisted own
   * device writes): ours is uploaded when newer; a newer (or same-version, different) one that
   * verifies under our account key is adopted — it came from a device this account linked.
   */
  syncOwnList(): Promise<void> {
    // One comparison at a time: two at once would both adopt the same change (and alert on it twice).
    const run = (this.#ownSync ?? Promise.resolve()).catch(() => undefined).then(() => this.#syncOwnList());
    this.#ownSync = run;
    return run;
  }

  async #syncOwnList(): Promise<void> {
    const { core } = this;
    const response = await core.relay.lookupAccount(core.account.accountId, this.transparency.treeSize());
    core.check();
    const account = core.account;
    if (!bytesEqual(response.accountKey, account.accountPublicKey)) return; // never adopt another key for ourselves
    // This account's own list too: a relay that cannot prove it in its log is alerted (note to self).
    let ownVersion: number;
    try {
      ownVersion = verifyDeviceList(response.deviceList, account.accountPublicKey, account.accountId).version;
    } catch {
      return; // the relay stores only lists that verify; a bad copy is the relay's fault, ours stays
    }
    await this.transparency.check(response, ownVersion);
    core.check();
    if (bytesEqual(response.deviceList, account.deviceList.signed)) return;
    let relayList: DeviceList;
    try {
      relayList = verifyDeviceList(response.deviceList, account.accountPublicKey, account.accountId);
    } catch {
      return; // the relay stores only lists that verify; a bad copy is the relay's fault, ours stays
    }
    if (relayList.version < account.deviceList.version) {
      this.transparency.announce(account.deviceList.signed);
      await core.relay.putDeviceList(account.deviceList.signed);
      return;
    }
    if (isRemovalProof(account, response.deviceList)) {
      core.removed(); // the primary removed this device: the engine wipes it (ADR 0027)
      return;
    }
    if (!relayList.devices.some((d) => d.deviceId === account.deviceId && bytesEqual(d.identityDhKey, account.identityDh.publicKey))) return;
    const next = stored(relayList, response.deviceList);
    const before = parseDeviceList(account.deviceList.signed).list;
    // A list this device did not make: every device alerts on it (DESIGN §3.2), in the note to self.
    const notices = core.db.writer.transaction(() => {
      updateOwnDeviceList(core.db.writer, next);
      // A linked device takes the lists its primary publishes from the relay (verified under the
      // account key): those count as announced for its log monitor. The primary, which makes every
      // list itself, never does — a list it adopts was made elsewhere and its monitor alerts (ADR 0034).
      if (account.accountPrivateKey === null) announceList(core.db.writer, sha256(response.deviceList), relayList.version, core.clock());
      dropRemovedDevices(core.db.writer, account.accountId, before, relayList);
      return ownListChangeNotices(core, core.db.writer, before, relayList);
    });
    core.account = { ...account, deviceList: next };
    for (const rowId of notices) core.emitMessageAdded(rowId);
    const note = findNoteToSelf(core.db.reader);
    if (notices.length > 0 && note) core.emitConversation(note.id);
    core.emit('devices:changed', {});
  }

  /** Makes the relay's contact list equal to the accepted contacts. */
  async syncRelayContacts(): Promise<void> {
    const { core } = this;
    const wanted = acceptedContactIds(core.db.reader);
    const current = (await core.relay.getContacts()).contacts.sort((a, b) => compareBytes(a, b));
    core.check();
    const same = current.length === wanted.length && current.every((c, i) => bytesEqual(c, wanted[i]!));
    if (!same) await core.relay.setContacts(wanted);
  }

  /** Contacts whose list is older than `maxAge`, for the refresh before a send. */
  isStale(contact: ContactRecord, maxAgeMs: number): boolean {
    return contact.listCheckedAt === null || this.core.clock() - contact.listCheckedAt >= maxAgeMs;
  }

  /** Whether a refresh failure is the relay's unavailability (retry later) rather than a verdict. */
  static isTransient(e: unknown): boolean {
    return e instanceof RelayClientError && !['NOT_FOUND', 'FORBIDDEN', 'MALFORMED', 'INVALID_USERNAME'].includes(e.code);
  }
}
