/**
 * The account state a primary sends a new device (ADR 0025): what the primary exports comes back
 * whole on the new device (profile, contacts with verification/acceptance/blocking, synced settings
 * — and only those — the conversations), it never carries the account private key, and a blob that
 * is not JSON, has another shape or carries a contact list that does not verify is refused with
 * LINK_TAMPERED before anything is stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { toBase64Url, toHex, utf8 } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { makeAccount, makeDevice, signedListFor } from '../../../shared/testing/protocol-fixtures.js';
import { temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';
import { createAccountMaterial } from '../account/bootstrap.js';
import { insertAccount } from '../db/account.js';
import { getContact, insertContact, listContacts, setContactBlocked, setContactVerified } from '../db/contacts.js';
import { getOrCreateDirectConversation, listConversations } from '../db/conversations.js';
import { dueContactProfiles, getContactProfile, getOwnProfile, insertOwnProfile, receiveContactProfileKey, setOwnAvatar } from '../db/profiles.js';
import { readSettings, writeSettings } from '../db/settings.js';
import { EngineError } from '../errors.js';
import { exportAccountState, importAccountState, parseAccountState } from './account-state.js';

/** Stands in for a WebP (the table checks only its length). */
const AVATAR = new Uint8Array(40).fill(7);
const BOB_PROFILE_KEY = new Uint8Array(32).fill(9);
const open: TemporaryDatabase[] = [];
afterEach(() => {
  for (const d of open.splice(0)) d.dispose();
});
function database(): TemporaryDatabase {
  const d = temporaryDatabase('parley-link-state-');
  open.push(d);
  return d;
}

function contact(now: number) {
  const account = makeAccount(systemRng);
  const device = makeDevice(systemRng, now, { account });
  const { list, signed } = signedListFor(account, [device], 1, now);
  return { account, list, signed };
}

/** A primary's database: own account and profile, two contacts (one verified, one blocked), settings, conversations. */
function primary() {
  const now = Date.now();
  const { db } = database();
  const account = createAccountMaterial({ username: 'alice', relayUrl: 'http://127.0.0.1:1' }, { rng: systemRng, now });
  const bob = contact(now);
  const carol = contact(now);
  db.writer.transaction(() => {
    insertAccount(db.writer, account);
    insertOwnProfile(db.writer, { profileKey: systemRng(32), displayName: 'Alice A.', about: 'hi', now });
    setOwnAvatar(db.writer, AVATAR, now);
    for (const [c, name] of [[bob, 'bob'], [carol, 'carol']] as const) {
      insertContact(db.writer, { accountId: c.account.accountId, username: name, accountKey: c.account.accountKey.publicKey, deviceList: { signed: c.signed, version: 1, issuedAt: now }, now });
    }
    setContactVerified(db.writer, bob.account.accountId, true, now);
    receiveContactProfileKey(db.writer, { accountId: bob.account.accountId, profileKey: BOB_PROFILE_KEY, revision: 3, usernameClaim: 'bob', now });
    setContactBlocked(db.writer, carol.account.accountId, true, now);
    getOrCreateDirectConversation(db.writer, bob.account.accountId, now);
    writeSettings(db.writer, { readReceipts: false, notifications: 'nothing', searchEnabled: false, appLockIdleMinutes: 5 });
  });
  return { db, account, bob, carol, now };
}

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof EngineError ? e.code : 'other';
  }
  return undefined;
};

describe('account state for a new device', () => {
  it('round trip: profile, contacts with verified and blocked, synced settings only, conversations; never the account private key', () => {
    const p = primary();
    const blob = exportAccountState(p.db.reader, 'alice');
    const text = new TextDecoder().decode(blob);
    expect(text).not.toContain(toBase64Url(p.account.accountPrivateKey!));
    expect(text).not.toContain(toHex(p.account.accountPrivateKey!));
    expect(text).not.toContain(toBase64Url(p.account.identityDh.privateKey));

    const { db } = database();
    const state = parseAccountState(blob);
    db.writer.transaction(() => importAccountState(db.writer, state, p.now));
    // The same profile under the same key and revision, counted as uploaded: the new device does not
    // upload an older copy over the primary's (which would drop the avatar for new readers).
    const own = getOwnProfile(p.db.reader)!;
    expect(getOwnProfile(db.reader)).toMatchObject({ displayName: 'Alice A.', about: 'hi', profileKey: own.profileKey, revision: own.revision, avatar: AVATAR, uploadedRevision: own.revision });
    const contacts = listContacts(db.reader).map((c) => [c.username, c.verified, c.blocked, c.accepted]);
    expect(contacts.sort()).toEqual([['bob', true, false, true], ['carol', false, true, true]]);
    expect(getContact(db.reader, p.bob.account.accountId)!.deviceList.signed).toEqual(p.bob.signed);
    // Bob's shared profile key came along; his profile is due to be fetched with it.
    expect(getContactProfile(db.reader, p.bob.account.accountId)?.profileKey).toEqual(BOB_PROFILE_KEY);
    expect(dueContactProfiles(db.reader).map((c) => c.accountId)).toEqual([p.bob.account.accountId]);
    const settings = readSettings(db.reader);
    expect(settings).toMatchObject({ readReceipts: false, notifications: 'nothing' });
    // App lock and search are about this machine: they stay at their defaults on the new device.
    expect(settings).toMatchObject({ searchEnabled: true, appLockIdleMinutes: null });
    expect(listConversations(db.reader, 10).map((c) => c.conversation.peerAccountId)).toEqual([p.bob.account.accountId]);
  });

  it('a blob that is not JSON, has another shape or version, or a contact list that does not verify is LINK_TAMPERED', () => {
    const p = primary();
    const good = JSON.parse(new TextDecoder().decode(exportAccountState(p.db.reader, 'alice'))) as { v: number; contacts: { deviceList: string; accountKey: string }[] };
    expect(code(() => parseAccountState(utf8('not json')))).toBe('LINK_TAMPERED');
    expect(code(() => parseAccountState(Uint8Array.of(0xff, 0xfe)))).toBe('LINK_TAMPERED');
    expect(code(() => parseAccountState(utf8(JSON.stringify({ ...good, v: 2 }))))).toBe('LINK_TAMPERED');
    expect(code(() => parseAccountState(utf8(JSON.stringify({ ...good, accountPrivateKey: 'AAAA' }))))).toBe('LINK_TAMPERED');
    // Bob's list under Carol's key: the signature does not verify.
    const swapped = { ...good, contacts: [{ ...good.contacts[0]!, accountKey: good.contacts[1]!.accountKey }, good.contacts[1]] };
    expect(code(() => parseAccountState(utf8(JSON.stringify(swapped))))).toBe('LINK_TAMPERED');
    expect(code(() => parseAccountState(utf8(JSON.stringify(good))))).toBeUndefined();
  });
});
