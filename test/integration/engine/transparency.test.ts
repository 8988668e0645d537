/**
 * Key transparency in the engine (issue 19, ADR 0034), real engines on the real relay, a hostile
 * proxy where the relay lies:
 *  - a contact's keys proven in the log show "match" on the safety-number screen;
 *  - a lookup whose proof does not verify is refused (KEY_TRANSPARENCY_FAILED), nothing of it is
 *    stored, and for a known contact the failure is shown (safety number: failed; a notice);
 *  - a relay that stores Alice's list change but leaves it out of its log is caught by Alice's own
 *    device when it checks its list;
 *  - Alice's devices scan the log: a list of her account that her primary did not make (a stolen
 *    account key) is alerted in the note to self once it is older than the announcement grace; her
 *    own registration and lists her primary made (announced before publishing) are not.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toBase64Url } from '../../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair } from '../../../shared/crypto/ed25519.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { x25519GenerateKeyPair } from '../../../shared/crypto/x25519.js';
import { parseDeviceList, signDeviceList } from '../../../shared/protocol/device-list.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { ANNOUNCE_GRACE_MS } from '../../../electron/engine/transparency/key-transparency.js';
import { listEvidence } from '../../../electron/engine/db/transparency.js';
import { HostileProxy } from '../../hostile-proxy/hostile-proxy.js';
import { TestEngine } from '../../support/engines.js';
import { startTestRelay, type TestRelay } from '../relay/helpers/relay.js';

let relay: TestRelay;
let proxy: HostileProxy;
const engines: TestEngine[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
  proxy = await HostileProxy.start(relay.url);
});
afterEach(async () => {
  proxy.reset();
  for (const e of engines.splice(0)) await e.dispose();
});
afterAll(async () => {
  await proxy.close();
  await relay.stop();
});

async function engine(name: string, url = relay.url): Promise<TestEngine> {
  const e = await TestEngine.create({ relayUrl: url, name });
  engines.push(e);
  await e.online();
  return e;
}

/** Flips one bit of the first inclusion-proof hash of every account answer. */
function tamperInclusion(): void {
  proxy.rewriteAccount = (answer) => {
    const t = answer.transparency;
    if (!t || t.inclusion.length === 0) return answer;
    const first = Buffer.from(t.inclusion[0]!, 'base64url');
    first[0]! ^= 0x01;
    return { ...answer, transparency: { ...t, inclusion: [first.toString('base64url'), ...t.inclusion.slice(1)] } };
  };
}

async function notes(e: TestEngine): Promise<{ kind: string; body: string | null }[]> {
  const conversations = await e.call('conversations:list', {});
  const note = conversations.find((c) => c.kind === 'note-to-self');
  if (!note) return [];
  return (await e.messages(note.id)).map((m) => ({ kind: m.kind, body: m.body }));
}

/** Links a new engine to `primary`'s account (by the offer text); returns it, online. */
async function link(primary: TestEngine, name: string): Promise<TestEngine> {
  const device = await TestEngine.start({ relayUrl: relay.url });
  engines.push(device);
  const offer = await device.call('link:start', { relayUrl: relay.url });
  const linking = primary.call('devices:link', { offerText: offer.offerText });
  await device.waitEvent('link:status', (st) => st.phase === 'awaiting-confirmation');
  await device.call('link:accept', { deviceName: name });
  await linking;
  device.username = primary.username;
  await device.online();
  return device;
}

describe('key transparency in the engine', () => {
  it('a contact whose keys are proven in the log shows "match" next to the safety number', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    await alice.add(bob);
    const contactId = bob.accountId;
    const view = await alice.call('contacts:getSafetyNumber', { contactId });
    expect(view.transparency).toBe('match');
    expect(view.transparencyProblem).toBeNull();
    // Alice's own monitor has scanned to the head without an alert (her registration was hers).
    expect((await notes(alice)).filter((n) => n.kind === 'transparency-alert')).toEqual([]);
  });

  it('a proof that does not verify is refused: contacts:add fails KEY_TRANSPARENCY_FAILED and stores nothing; for a known contact the failure is shown', async () => {
    const bob = await engine('bob');
    const alice = await engine('alice', proxy.url);
    tamperInclusion();
    expect(await alice.errorOf('contacts:add', { username: bob.username })).toBe('KEY_TRANSPARENCY_FAILED');
    expect(await alice.call('contacts:list', {})).toEqual([]);
    expect(await alice.call('conversations:list', {})).toHaveLength(0);

    // Known contact: the next refresh fails, and the safety-number screen and their conversation say so.
    proxy.reset();
    await alice.add(bob);
    const contactId = bob.accountId;
    expect((await alice.call('contacts:getSafetyNumber', { contactId })).transparency).toBe('match');
    tamperInclusion();
    await expect(alice.engine.messaging!.contacts.refresh(fromHex(contactId))).rejects.toMatchObject({ code: 'KEY_TRANSPARENCY_FAILED' });
    const view = await alice.call('contacts:getSafetyNumber', { contactId });
    expect(view.transparency).toBe('failed');
    expect(view.transparencyProblem).toBe('KT_PROOF_INVALID');
    const conversation = await alice.conversationWith(bob);
    expect((await alice.messages(conversation!)).map((m) => [m.kind, m.body])).toContainEqual(['transparency-alert', 'proof-failed']);
    expect(listEvidence(alice.engine.current!.db.reader).map((e) => e.kind)).toContain('KT_PROOF_INVALID');
    // A later check that passes clears it.
    proxy.reset();
    await alice.engine.messaging!.contacts.refresh(fromHex(contactId));
    expect((await alice.call('contacts:getSafetyNumber', { contactId })).transparency).toBe('match');
  });

  it('a relay that substitutes a contact\'s account key (and a list signed by it) is refused: the log does not hold that key', async () => {
    const bob = await engine('bob');
    const alice = await engine('alice', proxy.url);
    await alice.add(bob);
    const newKey = ed25519GenerateKeyPair(systemRng);
    const bobList = bob.engine.current!.account.deviceList.signed;
    const list = parseDeviceList(bobList).list;
    const forged = signDeviceList({ ...list, version: list.version + 1 }, newKey.privateKey);
    proxy.rewriteAccount = (a) => ({ ...a, accountKey: toBase64Url(newKey.publicKey), deviceList: toBase64Url(forged) });
    await expect(alice.engine.messaging!.contacts.refresh(fromHex(bob.accountId))).rejects.toMatchObject({ code: 'KEY_TRANSPARENCY_FAILED' });
    const [contact] = await alice.call('contacts:list', {});
    expect(contact).toMatchObject({ keyChangePending: false });
    expect((await alice.call('contacts:getSafetyNumber', { contactId: bob.accountId })).transparencyProblem).toBe('KT_LEAF_MISMATCH');
  });

  it('a list the relay stores but leaves out of its log is caught by the owner\'s own device', async () => {
    const alice = await engine('alice', proxy.url);
    // The relay answers Alice's own lookups with the leaf of her first list, whatever list it serves.
    const own = alice.engine.current!.account;
    const original = own.deviceList.signed;
    proxy.rewriteAccount = (answer) => {
      if (answer.accountId !== toBase64Url(own.accountId)) return answer;
      // A re-signed list (version + 1) served with the proof of the logged one: the change is not in the log.
      const list = parseDeviceList(original).list;
      const next = signDeviceList({ ...list, version: list.version + 1, issuedAt: list.issuedAt + 1 }, own.accountPrivateKey!);
      return { ...answer, deviceList: toBase64Url(next) };
    };
    await alice.engine.messaging!.contacts.syncOwnList().catch(() => undefined);
    expect((await notes(alice)).filter((n) => n.kind === 'transparency-alert')).toEqual([{ kind: 'transparency-alert', body: 'proof-failed' }]);
    expect(listEvidence(alice.engine.current!.db.reader).map((e) => e.kind)).toContain('KT_LEAF_MISMATCH');
  });

  it('the owner\'s devices alert on a logged list of their account that they did not make (a stolen account key), not on their own', async () => {
    const alice = await engine('alice');
    const account = alice.engine.current!.account;
    // Someone with Alice's account key (and a session of hers) publishes a list adding their own device.
    const list = parseDeviceList(account.deviceList.signed).list;
    const evil = {
      deviceId: 6,
      identityDhKey: x25519GenerateKeyPair(systemRng).publicKey,
      identitySigningKey: ed25519GenerateKeyPair(systemRng).publicKey,
      capabilities: 1,
      addedAt: Date.now(),
    };
    const stolen = signDeviceList({ ...list, version: list.version + 1, issuedAt: Date.now(), devices: [...list.devices, evil] }, account.accountPrivateKey!);
    const client = new RelayClient({ url: relay.url, accountId: account.accountId, deviceId: account.deviceId, identitySigningKey: account.identitySigning.privateKey });
    try {
      await client.putDeviceList(stolen);
    } finally {
      client.close();
    }
    // Within the grace an announcement may still be on its way: no alert yet.
    await alice.engine.messaging!.transparency.monitor();
    expect((await notes(alice)).filter((n) => n.kind === 'transparency-alert')).toEqual([]);
    // Later, still not announced by any of Alice's devices: alerted, with evidence.
    alice.clock.advance(ANNOUNCE_GRACE_MS + 1);
    await alice.engine.messaging!.transparency.monitor();
    expect((await notes(alice)).filter((n) => n.kind === 'transparency-alert')).toEqual([{ kind: 'transparency-alert', body: 'unannounced' }]);
    expect(listEvidence(alice.engine.current!.db.reader).map((e) => e.kind)).toEqual(['KT_UNANNOUNCED']);
    // Scanned once: the next round does not alert again.
    await alice.engine.messaging!.transparency.monitor();
    expect((await notes(alice)).filter((n) => n.kind === 'transparency-alert')).toHaveLength(1);
  });

  it('a linked device does not alert on the lists its primary made (the one it was provisioned with, a later link); the primary does not either', async () => {
    const alice = await engine('alice');
    const laptop = await link(alice, 'laptop');
    const tablet = await link(alice, 'tablet');
    await laptop.engine.messaging!.contacts.syncOwnList();
    for (const device of [alice, laptop, tablet]) {
      device.clock.advance(ANNOUNCE_GRACE_MS + 1);
      await device.engine.messaging!.transparency.monitor();
      expect((await notes(device)).filter((n) => n.kind === 'transparency-alert'), device === alice ? 'primary' : 'linked').toEqual([]);
      expect(listEvidence(device.engine.current!.db.reader)).toEqual([]);
    }
  });
});
