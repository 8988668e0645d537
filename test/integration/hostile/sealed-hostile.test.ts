/**
 * A hostile relay against sealed sender (issue 15, docs/protocol.md §21.6; test/hostile-proxy in
 * front of the real relay, whose certificate key the test — playing the relay — holds): a
 * certificate not signed by the pinned key, the relay's own certificate for a key of its choosing
 * under Alice's device, the relay's certificate for a device not on Alice's signed list, a replayed
 * sealed envelope, and a sealed envelope delivered to another account's device (a swapped
 * recipient). Each is refused: nothing is shown or stored, no contact or conversation appears, no
 * "could not be decrypted" notice or decryption error goes out, and the conversation goes on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair } from '../../../shared/crypto/ed25519.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { x25519GenerateKeyPair, type X25519KeyPair } from '../../../shared/crypto/x25519.js';
import { issueSenderCertificate, sealedEnvelopeFor, sealMessage } from '../../../shared/protocol/sealed-sender.js';
import { getContactProfile } from '../../../electron/engine/db/profiles.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { HostileProxy } from '../../hostile-proxy/hostile-proxy.js';
import { TestEngine, waitFor } from '../../support/engines.js';
import { startTestRelay, type TestRelay } from '../relay/helpers/relay.js';

let relay: TestRelay;
let proxy: HostileProxy;
const engines: TestEngine[] = [];

beforeAll(async () => {
  relay = await startTestRelay({ limits: { bundlesPerPair: { points: 1000, duration: 1 } } });
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

async function engine(name: string): Promise<TestEngine> {
  const e = await TestEngine.create({ relayUrl: proxy.url, name });
  engines.push(e);
  return e;
}

async function settle(...ts: TestEngine[]): Promise<void> {
  for (const t of ts) {
    await waitFor(() => t.engine.messaging!.inbound.pending === 0, `${t.username} inbound idle`);
    await t.drained();
  }
  for (const t of ts) await waitFor(() => t.engine.messaging!.inbound.pending === 0, `${t.username} idle`);
}

async function texts(t: TestEngine, conversationId: string): Promise<string[]> {
  return (await t.messages(conversationId)).filter((m) => m.kind === 'text').map((m) => m.body!);
}

/** Alice and Bob, contacts both ways, holding each other's profile keys: Alice's texts to Bob go sealed. */
async function sealedConversation() {
  const alice = await engine('alice');
  const bob = await engine('bob');
  const aToB = await alice.add(bob);
  const bToA = await bob.add(alice);
  await alice.send(aToB, 'hi bob');
  await bob.receive(alice, 'hi bob');
  await bob.send(bToA, 'hello alice');
  await alice.receive(bob, 'hello alice');
  await waitFor(() => (getContactProfile(alice.engine.current!.db.reader, fromHex(bob.accountId))?.profileKey ?? null) !== null, 'alice holds bob\'s key');
  await settle(alice, bob);
  await alice.send(aToB, 'sealed one');
  await bob.receive(alice, 'sealed one');
  const sealed = proxy.delivered(bob.accountId).filter((e) => e.from === null && e.original);
  expect(sealed.length).toBeGreaterThan(0);
  await settle(alice, bob);
  return { alice, bob, aToB, bToA };
}

/** Identity X25519 key of an engine's device (public only; what the relay knows). */
function identityOf(t: TestEngine): Uint8Array {
  return t.engine.current!.db.reader.get<{ identity_dh_public: Uint8Array }>(sql`SELECT identity_dh_public FROM account`)!.identity_dh_public;
}

/** A sealed envelope "from" `claimed` as the relay can make one: with its own static key `sender` and a certificate it signs with `signer`. */
function forged(o: { claimed: TestEngine; deviceId: number; sender: X25519KeyPair; signer: Uint8Array; to: TestEngine; message?: Uint8Array }): Uint8Array {
  const certificate = issueSenderCertificate(
    { accountId: fromHex(o.claimed.accountId), deviceId: o.deviceId, identityKey: o.sender.publicKey, expiresAt: Date.now() + 3600_000, keyId: 1 },
    o.signer,
  );
  const message = o.message ?? new Uint8Array([1, 1, ...systemRng(200)]);
  const sealed = sealMessage(
    { certificate, senderIdentityPrivate: o.sender.privateKey, recipients: [{ accountId: fromHex(o.to.accountId), deviceId: 1, identityKey: identityOf(o.to) }], messages: [message] },
    { rng: systemRng },
  );
  return sealedEnvelopeFor(sealed, 0);
}

describe('hostile relay: sealed sender', () => {
  it('forged certificates are refused: another signing key, the relay\'s own key certified as Alice\'s device, a device not on Alice\'s list', async () => {
    const { alice, bob, aToB, bToA } = await sealedConversation();
    const contacts = (await bob.call('contacts:list', {})).length;
    const conversations = (await bob.call('conversations:list', {})).length;
    const before = await texts(bob, bToA);
    const added = bob.payloads('message:added').length;
    const relaysKey = x25519GenerateKeyPair(systemRng);
    const certificateKey = relay.identity.certificateKey.privateKey;
    // 1. Signed by a key that is not the pinned one (under the pinned key id).
    proxy.inject(bob.accountId, { from: null, content: forged({ claimed: alice, deviceId: 1, sender: relaysKey, signer: ed25519GenerateKeyPair(systemRng).privateKey, to: bob }) });
    // 2. The relay's genuine certificate, for its own key, naming Alice's device 1.
    proxy.inject(bob.accountId, { from: null, content: forged({ claimed: alice, deviceId: 1, sender: relaysKey, signer: certificateKey, to: bob }) });
    // 3. The relay's genuine certificate for a device Alice's signed list does not name.
    proxy.inject(bob.accountId, { from: null, content: forged({ claimed: alice, deviceId: 7, sender: relaysKey, signer: certificateKey, to: bob }) });
    // 4. Alice's device 1 with Alice's real key is what the relay cannot make: it lacks her private key.
    await alice.send(aToB, 'after the forgeries');
    await bob.receive(alice, 'after the forgeries');
    await settle(alice, bob);
    expect(await texts(bob, bToA)).toEqual([...before, 'after the forgeries']);
    expect(bob.payloads('message:added').length).toBe(added + 1);
    expect(bob.payloads('message:decryptFailed')).toEqual([]);
    expect((await bob.messages(bToA)).filter((m) => m.kind === 'decryption-failed')).toEqual([]);
    expect((await bob.call('contacts:list', {})).length).toBe(contacts);
    expect((await bob.call('conversations:list', {})).length).toBe(conversations);
    // No decryption error went to Alice: the forgeries named no session of hers.
    expect(proxy.delivered(alice.accountId).filter((e) => e.content[1] === 0x03)).toEqual([]);
  });

  it('a replayed sealed envelope is shown once and raises no failure, also after its hash record is gone', async () => {
    const { alice, bob, aToB, bToA } = await sealedConversation();
    await alice.send(aToB, 'say it once');
    await bob.receive(alice, 'say it once');
    await settle(alice, bob);
    const original = proxy.delivered(bob.accountId).filter((e) => e.from === null && e.original).at(-1)!;
    const added = bob.payloads('message:added').length;
    proxy.redeliver(original);
    const db = bob.engine.current!.db.writer;
    db.transaction(() => db.run(sql`DELETE FROM inbound_envelopes`));
    proxy.inject(bob.accountId, { from: null, content: original.content, serverTimestamp: original.serverTimestamp });
    await alice.send(aToB, 'after the replays');
    await bob.receive(alice, 'after the replays');
    await settle(bob);
    expect(bob.payloads('message:added').length).toBe(added + 1);
    expect(bob.payloads('message:decryptFailed')).toEqual([]);
    const shown = await texts(bob, bToA);
    expect(shown.filter((t) => t === 'say it once')).toHaveLength(1);
  });

  it('a sealed envelope delivered to another account\'s device (a swapped recipient) is refused: nothing appears there', async () => {
    const { alice, bob, aToB } = await sealedConversation();
    const carol = await engine('carol');
    await alice.send(aToB, 'for bob only');
    await bob.receive(alice, 'for bob only');
    const forBob = proxy.delivered(bob.accountId).filter((e) => e.from === null && e.original).at(-1)!;
    expect(proxy.inject(carol.accountId, { from: null, content: forBob.content, serverTimestamp: forBob.serverTimestamp })).toBe(1);
    // A barrier at Carol: Alice writes to her (unsealed: no token) and Carol shows it.
    const aToC = await alice.add(carol);
    await alice.send(aToC, 'hello carol');
    await carol.receive(alice, 'hello carol');
    await settle(carol);
    const [conversation] = await carol.call('conversations:list', {});
    expect((await carol.messages(conversation!.id)).map((m) => m.body)).toEqual(['hello carol']);
    expect(carol.payloads('message:decryptFailed')).toEqual([]);
    expect((await carol.call('contacts:list', {})).map((c) => c.id)).toEqual([alice.accountId]);
  });
});
