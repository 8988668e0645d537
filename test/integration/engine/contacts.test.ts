/**
 * Contacts and device-list trust against a relay that lies about accounts (a rewriting proxy in
 * front of the real relay): a different account key is a key change — event, notice, verified
 * reset, sending blocked until accepted; a rolled-back, equivocating, badly signed or foreign list
 * is refused with UNTRUSTED_DEVICE_LIST and an event, and the stored list stays.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair } from '../../../shared/crypto/ed25519.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { parseDeviceList, signDeviceList } from '../../../shared/protocol/device-list.js';
import { resignedList } from '../../../shared/testing/device-list-fixtures.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { relayAndEngines } from '../../support/engines.js';
import { RewritingProxy } from './helpers/rewriting-proxy.js';

const fixture = relayAndEngines();
let proxy: RewritingProxy;

beforeAll(async () => {
  proxy = await RewritingProxy.start(fixture.relay.url);
});
afterEach(() => {
  proxy.rewrite = null;
  proxy.hideTransparency = false;
});
afterAll(async () => {
  await proxy.close();
});

const engine = (name: string, relayUrl?: string) => fixture.engine(name, relayUrl);

describe('contacts', () => {
  it('adds by username (normalised), refuses unknown and invalid names, and shows matching safety numbers', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    expect(await alice.errorOf('contacts:add', { username: 'no such user here' })).toBe('INVALID_USERNAME');
    expect(await alice.errorOf('contacts:add', { username: 'nobody_registered_this' })).toBe('NOT_FOUND');
    expect(await alice.errorOf('contacts:add', { username: alice.username })).toBe('INVALID_REQUEST');
    const contact = await alice.call('contacts:add', { username: bob.username.toUpperCase() });
    expect(contact).toMatchObject({ id: bob.accountId, username: bob.username, verified: false, keyChangePending: false, quantumResistant: true, deviceCount: 1 });
    await bob.add(alice);
    const mine = await alice.call('contacts:getSafetyNumber', { contactId: bob.accountId });
    const theirs = await bob.call('contacts:getSafetyNumber', { contactId: alice.accountId });
    expect(mine.digits).toBe(theirs.digits);
    expect(await alice.call('contacts:list', {})).toHaveLength(1);
  });

  it('a changed account key raises contact:keyChanged, resets verified, blocks sending until accepted', async () => {
    // On a relay that keeps no key-transparency log: with one, a key the log does not hold is refused
    // outright (test/integration/engine/transparency.test.ts).
    proxy.hideTransparency = true;
    const alice = await engine('alice', proxy.url);
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    await alice.call('contacts:markVerified', { contactId: bob.accountId, verified: true });
    const first = await alice.send(aToB, 'before the change');
    await bob.receive(alice, 'before the change');
    await alice.waitStatus(first.id, 'delivered');

    // The relay now serves another account key for Bob, with a list (naming Bob's real device) signed by it.
    const newKey = ed25519GenerateKeyPair(systemRng);
    const bobList = bob.engine.current!.account.deviceList.signed;
    const forged = resignedList(bobList, newKey.privateKey, parseDeviceList(bobList).list.devices, Date.now());
    proxy.rewrite = (a) => ({ ...a, accountKey: toBase64Url(newKey.publicKey), deviceList: toBase64Url(forged.signed) });

    // A send once the stored list is a day old fetches it again: the change is found, the message fails.
    alice.clock.advance(25 * 3600_000);
    const during = await alice.send(aToB, 'during the change');
    await alice.waitEvent('contact:keyChanged', (p) => p.contactId === bob.accountId);
    await alice.waitStatus(during.id, 'failed');
    const [contact] = await alice.call('contacts:list', {});
    expect(contact).toMatchObject({ verified: false, keyChangePending: true });
    const notices = (await alice.messages(aToB)).filter((m) => m.kind === 'key-changed');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ senderId: null, body: null, read: true });
    expect(await alice.errorOf('messages:send', { conversationId: aToB, body: 'blocked' })).toBe('KEY_CHANGE_PENDING');
    expect(await alice.errorOf('messages:retry', { messageId: during.id })).toBe('KEY_CHANGE_PENDING');
    const [conversation] = await alice.call('conversations:list', {});
    expect(conversation).toMatchObject({ keyChangePending: true, verified: false });

    // Accepting unblocks; the failed message can be retried and arrives (the device is Bob's real one).
    await alice.call('contacts:acceptKeyChange', { contactId: bob.accountId });
    await alice.call('messages:retry', { messageId: during.id });
    await bob.receive(alice, 'during the change');
    await alice.waitStatus(during.id, 'delivered');
    const after = await alice.send(aToB, 'after accepting');
    await bob.receive(alice, 'after accepting');
    await alice.waitStatus(after.id, 'delivered');
    // The safety number now covers the new key: it differs from Bob's own view (he never changed it).
    const mine = await alice.call('contacts:getSafetyNumber', { contactId: bob.accountId });
    const theirs = await bob.call('contacts:getSafetyNumber', { contactId: alice.accountId });
    expect(mine.digits).not.toBe(theirs.digits);
  });

  it('refuses rolled-back, equivocating, badly signed and foreign lists with a typed error and an event', async () => {
    const alice = await engine('alice', proxy.url);
    const bob = await engine('bob');
    const carol = await engine('carol');
    await alice.add(bob);
    const bobAccount = bob.engine.current!.account;
    const v1 = bobAccount.deviceList.signed;
    // Bob publishes version 2 (a re-signature); Alice fetches it.
    const v2 = resignedList(v1, bobAccount.accountPrivateKey!, parseDeviceList(v1).list.devices, Date.now() + 1);
    await bob.engine.messaging!.relay.putDeviceList(v2.signed);
    await alice.call('contacts:add', { username: bob.username });
    const stored = () => alice.engine.current!.db.reader.get<{ v: number }>(sql`SELECT device_list_version AS v FROM contacts`)!.v;
    expect(stored()).toBe(2);

    const cases: { reason: string; rewrite: (a: { accountId: string; accountKey: string; deviceList: string }) => { accountId: string; accountKey: string; deviceList: string } }[] = [
      { reason: 'rollback', rewrite: (a) => ({ ...a, deviceList: toBase64Url(v1) }) },
      {
        reason: 'equivocation',
        rewrite: (a) => {
          const { list } = parseDeviceList(v2.signed);
          return { ...a, deviceList: toBase64Url(signDeviceList({ ...list, issuedAt: list.issuedAt + 5 }, bobAccount.accountPrivateKey!)) };
        },
      },
      {
        reason: 'bad-signature',
        rewrite: (a) => {
          const bytes = fromBase64Url(a.deviceList);
          bytes[bytes.length - 1]! ^= 1;
          return { ...a, deviceList: toBase64Url(bytes) };
        },
      },
      {
        reason: 'wrong-account',
        rewrite: (a) => {
          const c = carol.engine.current!.account;
          return { ...a, accountKey: toBase64Url(c.accountPublicKey), deviceList: toBase64Url(c.deviceList.signed) };
        },
      },
    ];
    for (const c of cases) {
      proxy.rewrite = c.rewrite;
      expect(await alice.errorOf('contacts:add', { username: bob.username }), c.reason).toBe('UNTRUSTED_DEVICE_LIST');
      await alice.waitEvent('contact:untrustedDeviceList', (p) => p.contactId === bob.accountId && p.reason === c.reason);
      expect(stored()).toBe(2);
      expect((await alice.call('contacts:list', {}))[0]).toMatchObject({ keyChangePending: false });
    }
  });
});
