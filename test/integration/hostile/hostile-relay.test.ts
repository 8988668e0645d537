/**
 * A hostile relay (issue 4 "Faults and hostile relay"; test/hostile-proxy) between real engines and
 * the real relay: it drops, replays, tampers with, reorders and injects envelopes, answers sends
 * with lies, serves rolled-back and badly signed device lists, and strips the ML-KEM prekey from
 * bundles. Each attack is refused with a typed error and an event, nothing is lost (what was never
 * acknowledged comes again), nothing is shown twice, and no session is downgraded. Checked through
 * the contract (pages, statuses, events) and, for what the contract does not show (which sessions
 * exist, which devices a send went to), in the engine's database and the proxy's log.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MessageView } from '../../../shared/api/view-models.js';
import { concatBytes, fromHex, toBase64Url } from '../../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair, ed25519Sign } from '../../../shared/crypto/ed25519.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { x25519GenerateKeyPair } from '../../../shared/crypto/x25519.js';
import { Capability } from '../../../shared/protocol/constants.js';
import { parseDeviceList, signDeviceList } from '../../../shared/protocol/device-list.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { MessageType } from '../../../shared/protocol/messages.js';
import { deserializeSessionRecord } from '../../../shared/protocol/session-record.js';
import { resignedList } from '../../../shared/testing/device-list-fixtures.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { Sessions } from '../../../electron/engine/messaging/sessions.js';
import { currentLastResortKemPrekey, currentSignedPrekey } from '../../../electron/engine/db/prekeys.js';
import { relayClientFor } from '../../../electron/engine/messaging/messaging.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { HostileProxy } from '../../hostile-proxy/hostile-proxy.js';
import { TestEngine, uniqueName, waitFor } from '../../support/engines.js';
import { startTestRelay, type TestRelay } from '../relay/helpers/relay.js';

let relay: TestRelay;
let proxy: HostileProxy;
const engines: TestEngine[] = [];

beforeAll(async () => {
  relay = await startTestRelay({ limits: { bundlesPerPair: { points: 1000, duration: 1 } } });
  proxy = await HostileProxy.start(relay.url);
  // These attacks are on the authenticated path, where an envelope names its sender; sealed
  // uploads are refused as stale, so engines fall back to it (sealed-hostile.test.ts attacks sealed sender).
  proxy.refuseSealed = true;
});
afterEach(async () => {
  proxy.reset();
  vi.restoreAllMocks();
  for (const e of engines.splice(0)) await e.dispose();
});
afterAll(async () => {
  await proxy.close();
  await relay.stop();
});

async function engine(name: string): Promise<TestEngine> {
  const e = await TestEngine.create({ relayUrl: proxy.url, name });
  engines.push(e);
  return e;
}

type Pair = { alice: TestEngine; bob: TestEngine; aToB: string; bToA: string };

/** Alice and Bob through the proxy, contacts both ways, one message each way already delivered. */
async function conversation(): Promise<Pair> {
  const alice = await engine('alice');
  const bob = await engine('bob');
  const aToB = await alice.add(bob);
  const bToA = await bob.add(alice);
  const hi = await alice.send(aToB, 'hi bob');
  await bob.receive(alice, 'hi bob');
  await alice.waitStatus(hi.id, 'delivered');
  const hello = await bob.send(bToA, 'hello alice');
  await alice.receive(bob, 'hello alice');
  await bob.waitStatus(hello.id, 'delivered');
  await settle(alice, bob);
  return { alice, bob, aToB, bToA };
}

/** Both engines idle: nothing queued inbound, everything queued outbound (receipts too) sent. */
async function settle(...ts: TestEngine[]): Promise<void> {
  for (const t of ts) {
    await waitFor(() => t.engine.messaging!.inbound.pending === 0, `${t.username} inbound idle`);
    await t.drained();
  }
  for (const t of ts) await waitFor(() => t.engine.messaging!.inbound.pending === 0, `${t.username} idle`);
}

async function page(t: TestEngine, conversationId: string): Promise<MessageView[]> {
  return t.messages(conversationId, 100);
}

/** Texts of a conversation in display order; each body appears once. */
async function texts(t: TestEngine, conversationId: string): Promise<string[]> {
  const bodies = (await page(t, conversationId)).filter((m) => m.kind === 'text').map((m) => m.body!);
  expect(new Set(bodies).size, `no text shown twice on ${t.username}'s side`).toBe(bodies.length);
  return bodies;
}

async function notices(t: TestEngine, conversationId: string): Promise<number> {
  return (await page(t, conversationId)).filter((m) => m.kind === 'decryption-failed').length;
}

/** Sends in order, 3 ms apart so the sender timestamps differ. */
async function sendAll(t: TestEngine, conversationId: string, bodies: readonly string[]): Promise<MessageView[]> {
  const out: MessageView[] = [];
  for (const b of bodies) {
    out.push(await t.send(conversationId, b));
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
  return out;
}

function sessionRecordOf(t: TestEngine, peer: TestEngine, deviceId = 1) {
  const row = t.engine.current!.db.reader.get<{ record: Uint8Array }>(
    sql`SELECT record FROM sessions WHERE peer_account_id = ${fromHex(peer.accountId)} AND peer_device_id = ${deviceId}`,
  );
  return row && deserializeSessionRecord(new Uint8Array(row.record));
}

describe('hostile relay: envelopes', () => {
  it('a dropped envelope is never acknowledged: after a reconnect the relay delivers it again and it slots in by sender time', async () => {
    const { alice, bob, aToB, bToA } = await conversation();
    proxy.envelopes({ from: alice.accountId, to: bob.accountId }).drop();
    const sent = await sendAll(alice, aToB, ['one', 'two']);
    await bob.receive(alice, 'two');
    expect(await texts(bob, bToA)).toEqual(['hi bob', 'hello alice', 'two']);

    // The relay's mailbox still holds "one" (never acked): the next connection brings it.
    expect(proxy.disconnect(bob.accountId)).toBeGreaterThan(0);
    await bob.receive(alice, 'one');
    expect(await texts(bob, bToA)).toEqual(['hi bob', 'hello alice', 'one', 'two']);
    for (const m of sent) await alice.waitStatus(m.id, 'delivered');
    expect(bob.payloads('message:decryptFailed')).toEqual([]);

    // The session survived the gap (a skipped key): both directions still decrypt.
    await alice.send(aToB, 'three');
    await bob.receive(alice, 'three');
    await bob.send(bToA, 'back');
    await alice.receive(bob, 'back');
    expect(await texts(bob, bToA)).toEqual(['hi bob', 'hello alice', 'one', 'two', 'three', 'back']);
  });

  it('a replayed envelope is shown once and raises no decrypt failure — also after its hash record is gone (the ratchet refuses the used key)', async () => {
    const { alice, bob, aToB, bToA } = await conversation();
    proxy.envelopes({ from: alice.accountId, to: bob.accountId }).replay(2);
    const m = await alice.send(aToB, 'say it once');
    await bob.receive(alice, 'say it once');
    await alice.waitStatus(m.id, 'delivered');
    await settle(alice, bob);
    const original = proxy.delivered(bob.accountId).filter((e) => e.from === alice.accountId && e.content[1] === MessageType.Ratchet).at(-1)!;
    expect(proxy.delivered(bob.accountId).filter((e) => e.seq === original.seq)).toHaveLength(3);

    // Redelivered much later, after the de-duplication hashes were pruned: the message key is used up.
    const db = bob.engine.current!.db.writer;
    db.transaction(() => db.run(sql`DELETE FROM inbound_envelopes`));
    const added = bob.payloads('message:added').length;
    proxy.redeliver(original);
    proxy.inject(bob.accountId, { from: alice.accountId, content: original.content });
    await settle(bob);
    expect(bob.payloads('message:added').length).toBe(added);
    expect(bob.payloads('message:decryptFailed')).toEqual([]);
    expect(await texts(bob, bToA)).toEqual(['hi bob', 'hello alice', 'say it once']);
    expect(await notices(bob, bToA)).toBe(0);
    // Nothing broke: the conversation goes on both ways.
    await alice.send(aToB, 'after the replays');
    await bob.receive(alice, 'after the replays');
    await bob.send(bToA, 'fine here');
    await alice.receive(bob, 'fine here');
  });

  it('a tampered envelope gives one "could not be decrypted" notice and event; the sender rebuilds the session and resends; the text then shows once', async () => {
    const { alice, bob, aToB, bToA } = await conversation();
    const before = sessionRecordOf(alice, bob)!.current!.sessionId;
    proxy.envelopes({ from: alice.accountId, to: bob.accountId }).tamper();
    const m = await alice.send(aToB, 'tampered in transit');

    const failed = await bob.waitEvent('message:decryptFailed');
    expect(failed).toMatchObject({ conversationId: bToA, contactId: alice.accountId, deviceId: 1 });
    // The signed decryption error makes Alice archive the session, start a new one and resend.
    await bob.receive(alice, 'tampered in transit');
    await alice.waitStatus(m.id, 'delivered');
    const record = sessionRecordOf(alice, bob)!;
    expect(record.current!.sessionId).not.toEqual(before);
    expect(record.current!.mode).toBe('pqxdh');
    expect(record.archived.map((s) => s.sessionId)).toContainEqual(before);

    await alice.send(aToB, 'on the new session');
    await bob.receive(alice, 'on the new session');
    await bob.send(bToA, 'and back');
    await alice.receive(bob, 'and back');
    expect(await texts(bob, bToA)).toEqual(['hi bob', 'hello alice', 'tampered in transit', 'on the new session', 'and back']);
    expect(await notices(bob, bToA)).toBe(1);
    expect(bob.payloads('message:decryptFailed')).toHaveLength(1);
    expect(await texts(alice, aToB)).toEqual(['hi bob', 'hello alice', 'tampered in transit', 'on the new session', 'and back']);
  });

  it('envelopes held back and delivered last-first are shown in the order the sender wrote them', async () => {
    const { alice, bob, aToB, bToA } = await conversation();
    proxy.envelopes({ from: alice.accountId, to: bob.accountId }).reorder(3);
    const sent = await sendAll(alice, aToB, ['first', 'second', 'third']);
    await bob.receive(alice, 'first');
    const arrivals = proxy.delivered(bob.accountId).slice(-3);
    expect(arrivals.map((e) => e.seq)).toEqual([...arrivals.map((e) => e.seq)].sort((a, b) => b - a));
    const shown = (await page(bob, bToA)).filter((m) => m.kind === 'text').slice(-3);
    expect(shown.map((m) => m.body)).toEqual(['first', 'second', 'third']);
    // They arrived last-first: display follows the sender's clock, not the arrival.
    expect(shown[0]!.receivedAt).toBeGreaterThanOrEqual(shown[2]!.receivedAt);
    for (const s of sent) await alice.waitStatus(s.id, 'delivered');
    expect(bob.payloads('message:decryptFailed')).toEqual([]);
    await bob.send(bToA, 'got all three');
    await alice.receive(bob, 'got all three');
  });

  it('made-up envelopes are refused: garbage from a listed device (one notice, one signed error), an unlisted device or an unknown account (dropped, no contact)', async () => {
    const { alice, bob, aToB, bToA } = await conversation();
    const garbage = () => concatBytes(new Uint8Array([1, MessageType.Ratchet]), systemRng(220));
    const contactsBefore = (await bob.call('contacts:list', {})).length;
    const conversationsBefore = (await bob.call('conversations:list', {})).length;

    // An unknown account (the relay does not know it either) and an unlisted device of Alice's.
    expect(proxy.inject(bob.accountId, { from: '00'.repeat(16), deviceId: 1, content: garbage() })).toBe(1);
    proxy.inject(bob.accountId, { from: alice.accountId, deviceId: 7, content: garbage() });
    // Garbage "from" Alice's listed device: a decryption failure.
    const alicesErrors: number[] = [];
    alice.engine.messaging!.relay.on('envelope', (e) => {
      if (e.content[1] === MessageType.DecryptionError) alicesErrors.push(e.seq);
    });
    proxy.inject(bob.accountId, { from: alice.accountId, deviceId: 1, content: garbage() });
    await bob.waitEvent('message:decryptFailed', (p) => p.contactId === alice.accountId);
    await waitFor(() => alicesErrors.length === 1, 'the decryption error reached Alice');
    await settle(alice, bob);

    expect((await bob.call('contacts:list', {})).length).toBe(contactsBefore);
    expect((await bob.call('conversations:list', {})).length).toBe(conversationsBefore);
    expect(bob.payloads('message:decryptFailed')).toHaveLength(1);
    expect(await notices(bob, bToA)).toBe(1);
    // Alice's session named nothing of the garbage: kept; the conversation goes on.
    await alice.send(aToB, 'still here');
    await bob.receive(alice, 'still here');
    await bob.send(bToA, 'me too');
    await alice.receive(bob, 'me too');
    expect(await texts(bob, bToA)).toEqual(['hi bob', 'hello alice', 'still here', 'me too']);
  });
});

describe('hostile relay: device lists and bundles', () => {
  /** Bob publishes version 2 of his list and Alice stores it (so version 1 is a rollback). */
  async function bobAtVersion2(p: Pair): Promise<{ v1: Uint8Array; v2: Uint8Array }> {
    const account = p.bob.engine.current!.account;
    const v1 = account.deviceList.signed;
    const v2 = resignedList(v1, account.accountPrivateKey!, parseDeviceList(v1).list.devices, Date.now() + 1);
    await p.bob.engine.messaging!.relay.putDeviceList(v2.signed);
    await p.alice.call('contacts:add', { username: p.bob.username });
    expect(p.alice.engine.current!.db.reader.get<{ v: number }>(sql`SELECT device_list_version AS v FROM contacts`)!.v).toBe(2);
    return { v1, v2: v2.signed };
  }

  it('a false MISMATCHED_DEVICES followed by a rolled-back list: untrusted-list event, the send fails, the stored list stays; retry delivers', async () => {
    const p = await conversation();
    const { alice, bob, aToB } = p;
    const { v1 } = await bobAtVersion2(p);

    // The relay claims Bob has a device 2 and serves his old list when Alice checks.
    proxy.answerSends({ from: alice.accountId, to: bob.accountId }, { code: 'MISMATCHED_DEVICES', missing: [2] });
    proxy.rewriteAccount = (a) => ({ ...a, deviceList: toBase64Url(v1) });
    const m = await alice.send(aToB, 'not through a rollback');
    await alice.waitEvent('contact:untrustedDeviceList', (e) => e.contactId === bob.accountId && e.reason === 'rollback');
    await alice.waitStatus(m.id, 'failed');
    expect(alice.engine.current!.db.reader.get<{ v: number }>(sql`SELECT device_list_version AS v FROM contacts`)!.v).toBe(2);

    proxy.reset();
    await alice.call('messages:retry', { messageId: m.id });
    await bob.receive(alice, 'not through a rollback');
    await alice.waitStatus(m.id, 'delivered');
    expect(await texts(bob, p.bToA)).toEqual(['hi bob', 'hello alice', 'not through a rollback']);
  });

  it('a list naming an extra device under a bad signature is refused (untrusted-list event, send failed); no session or envelope for that device', async () => {
    const p = await conversation();
    const { alice, bob, aToB } = p;
    const { v2 } = await bobAtVersion2(p);
    const { list } = parseDeviceList(v2);
    const now = Date.now();
    const forged = signDeviceList(
      {
        ...list,
        version: 3,
        issuedAt: now,
        devices: [
          ...list.devices,
          { deviceId: 2, identityDhKey: x25519GenerateKeyPair(systemRng).publicKey, identitySigningKey: ed25519GenerateKeyPair(systemRng).publicKey, capabilities: Capability.pq, addedAt: now },
        ],
      },
      ed25519GenerateKeyPair(systemRng).privateKey, // not Bob's account key
    );
    proxy.answerSends({ from: alice.accountId, to: bob.accountId }, { code: 'MISMATCHED_DEVICES', missing: [2] });
    proxy.rewriteAccount = (a) => ({ ...a, deviceList: toBase64Url(forged) });
    const m = await alice.send(aToB, 'only to signed devices');
    await alice.waitEvent('contact:untrustedDeviceList', (e) => e.contactId === bob.accountId && e.reason === 'bad-signature');
    await alice.waitStatus(m.id, 'failed');
    const [contact] = await alice.call('contacts:list', {});
    expect(contact).toMatchObject({ deviceCount: 1, keyChangePending: false });
    expect(sessionRecordOf(alice, bob, 2)).toBeUndefined();
    const toBob = proxy.sends(alice.accountId).filter((x) => x.to === bob.accountId);
    expect(toBob.length).toBeGreaterThan(0);
    expect(toBob.flatMap((x) => x.deviceIds)).not.toContain(2);

    proxy.reset();
    await alice.call('messages:retry', { messageId: m.id });
    await bob.receive(alice, 'only to signed devices');
    await alice.waitStatus(m.id, 'delivered');
  });

  it('a bundle stripped of its ML-KEM prekey is refused with MISSING_KEM_PREKEY: the send fails, no classical session exists; with the key served again, retry starts a PQXDH session', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    const refused: string[] = [];
    const initiate = Sessions.prototype.initiate;
    vi.spyOn(Sessions.prototype, 'initiate').mockImplementation(function (this: Sessions, ...args: Parameters<Sessions['initiate']>) {
      try {
        return initiate.apply(this, args);
      } catch (e) {
        if (isProtocolError(e)) refused.push(e.code);
        throw e;
      }
    });

    proxy.stripKemPrekeys(bob.accountId);
    const m = await alice.send(aToB, 'post-quantum or nothing');
    await alice.waitStatus(m.id, 'failed');
    // Once per queued send to Bob (the profile key that goes before a first text is one of them).
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused)).toEqual(new Set(['MISSING_KEM_PREKEY']));
    expect(sessionRecordOf(alice, bob)).toBeUndefined();
    const [contact] = await alice.call('contacts:list', {});
    expect(contact!.quantumResistant).toBe(true);
    expect(proxy.delivered(bob.accountId).filter((e) => e.from === alice.accountId)).toEqual([]);

    proxy.reset();
    await alice.call('messages:retry', { messageId: m.id });
    await bob.receive(alice, 'post-quantum or nothing');
    await alice.waitStatus(m.id, 'delivered');
    expect(sessionRecordOf(alice, bob)!.current!.mode).toBe('pqxdh');
    expect(sessionRecordOf(bob, alice)!.current!.mode).toBe('pqxdh');
    const first = proxy.delivered(bob.accountId).find((e) => e.from === alice.accountId)!;
    expect(first.content[1]).toBe(MessageType.Prekey);
  });
});

describe('hostile relay: receipts name exactly what they confirm', () => {
  /**
   * Every outgoing message Alice shows as delivered or read is in Bob's database. Alice's statuses
   * are read first: Bob only ever gains messages, so a status that ran ahead of his database
   * cannot hide behind a later delivery.
   */
  async function noStatusAheadOfRecipient(alice: TestEngine, bob: TestEngine, aToB: string, bToA: string): Promise<void> {
    const confirmed = (await page(alice, aToB)).filter((m) => m.direction === 'outgoing' && (m.status === 'delivered' || m.status === 'read'));
    const held = new Set(await texts(bob, bToA));
    for (const m of confirmed) expect(held.has(m.body!), `"${m.body}" is ${m.status} on Alice's side but not on Bob's`).toBe(true);
  }

  it('a send the relay rejected and a delivery it dropped stay unconfirmed while newer messages are delivered; each is confirmed once Bob holds it', async () => {
    const { alice, bob, aToB, bToA } = await conversation();
    // "one": the relay refuses the send (retried a minute later); "two": accepted, but its delivery
    // to Bob is dropped (it comes again at his next connection); "three": delivered at once.
    proxy.answerSends({ from: alice.accountId, to: bob.accountId }, { code: 'RATE_LIMITED', retryAfterMs: 60_000 });
    const [one] = await sendAll(alice, aToB, ['one']);
    await waitFor(() => proxy.armed === 0, 'the refused send');
    proxy.envelopes({ from: alice.accountId, to: bob.accountId }).drop();
    const [two, three] = await sendAll(alice, aToB, ['two', 'three']);
    await bob.receive(alice, 'three');
    await alice.waitStatus(three!.id, 'delivered');
    await bob.drained();
    await bob.barrier(alice, bToA); // Bob's receipt for "three" is processed on Alice's side by now
    await noStatusAheadOfRecipient(alice, bob, aToB, bToA);
    expect(await alice.statusOf(one!.id)).toBe('sending');
    expect(await alice.statusOf(two!.id)).toBe('sent');

    // Bob reconnects: the relay delivers "two" again, and only then is it confirmed.
    proxy.disconnect(bob.accountId);
    await bob.receive(alice, 'two');
    await alice.waitStatus(two!.id, 'delivered');
    await bob.drained();
    await bob.barrier(alice, bToA);
    await noStatusAheadOfRecipient(alice, bob, aToB, bToA);
    expect(await alice.statusOf(one!.id)).toBe('sending');

    // Alice reconnects: her deferred send goes out, Bob holds "one", and it is confirmed last.
    proxy.disconnect(alice.accountId);
    await bob.receive(alice, 'one');
    await alice.waitStatus(one!.id, 'delivered');
    await noStatusAheadOfRecipient(alice, bob, aToB, bToA);

    // Read receipts name the messages read as well: Bob reads up to "two", "three" stays delivered.
    const bobTwo = (await page(bob, bToA)).find((m) => m.body === 'two')!;
    await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: bobTwo.id });
    await alice.waitStatus(two!.id, 'read');
    await bob.drained();
    await bob.barrier(alice, bToA);
    expect(await alice.statusOf(three!.id)).toBe('delivered');
  });
});

describe('hostile relay: the relay id is pinned', () => {
  it("a relay handing out another relay's challenge gets no signature (no session there, no deletion statement); with honest challenges again the device reconnects", async () => {
    const other = await startTestRelay();
    try {
      const alice = await engine('alice');
      const ownId = (await RelayClient.wellKnown(relay.url)).relayId;
      expect(alice.engine.current!.account.relayId).toEqual(ownId);
      expect((await RelayClient.wellKnown(other.url)).relayId).not.toEqual(ownId);

      // The same account and device keys registered at the other relay too: it would honour a
      // session request signed by Alice's device (the attack needs nothing else).
      const db = alice.engine.current!.db.reader;
      const account = alice.engine.current!.account;
      const signed = currentSignedPrekey(db)!;
      const kem = currentLastResortKemPrekey(db)!;
      await RelayClient.register(other.url, {
        username: uniqueName('alice'),
        accountId: toBase64Url(account.accountId),
        accountKey: toBase64Url(account.accountPublicKey),
        deviceList: toBase64Url(account.deviceList.signed),
        prekeys: {
          signedPrekey: { keyId: signed.keyId, publicKey: toBase64Url(signed.publicKey), createdAt: signed.createdAt, signature: toBase64Url(signed.signature) },
          lastResortKemPrekey: { keyId: kem.keyId, publicKey: toBase64Url(kem.publicKey), createdAt: kem.createdAt, lastResort: true, signature: toBase64Url(kem.signature) },
          oneTimePrekeys: [],
          kemOneTimePrekeys: [],
        },
      });

      // The proxy now answers challenges with the other relay's and carries session requests there.
      proxy.authRelay = other.url;
      const signedBefore = proxy.signedRequests.length;
      await alice.close();
      const again = await TestEngine.start({ relayUrl: proxy.url, base: alice.options.base, keychain: alice.options.keychain, clock: alice.clock, timers: alice.timers });
      engines.push(again);
      const before = proxy.challenges;
      await waitFor(() => proxy.challenges >= before + 2, 'two challenges (one refused, one retry)');
      expect(again.engine.messaging!.relay.state).not.toBe('open');

      // An account deletion goes nowhere either: it needs a session, and its statement would name
      // the pinned relay, never the other one.
      const client = relayClientFor(again.engine.current!.account, systemRng);
      await expect(client.deleteAccount((input) => ed25519Sign(account.accountPrivateKey!, input))).rejects.toMatchObject({ code: 'RELAY_ID_MISMATCH' });
      client.close();
      expect(proxy.signedRequests.slice(signedBefore)).toEqual([]);
      expect(proxy.stolenTokens).toEqual([]);

      proxy.authRelay = null;
      again.username = alice.username;
      await again.online();
      expect(again.engine.current!.account.relayId).toEqual(ownId);
    } finally {
      await other.stop();
    }
  });
});
