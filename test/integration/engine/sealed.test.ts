/**
 * Sealed sender between engines on the real relay (issue 15, docs/protocol.md §21, ADR 0029):
 * contacts holding each other's profile keys write sealed (the relay stores and delivers the
 * envelopes with no source, posted without authentication); a first message to a stranger goes
 * unsealed and the conversation says so; a stale token (the recipient rotated its profile key)
 * falls back to unsealed, says so, and sealing resumes once the recipient's new key arrives; blocking
 * rotates the profile key, so the blocked person's token stops working at the relay; typing travels
 * sealed and online-only.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import { utf8 } from '../../../shared/crypto/bytes.js';
import { x25519GenerateKeyPair } from '../../../shared/crypto/x25519.js';
import { deliveryToken, encodeSealedMultiRecipient, sealMessage } from '../../../shared/protocol/sealed-sender.js';
import type { Envelope } from '../../../shared/wire/frames.js';
import { getContactProfile, getOwnProfile } from '../../../electron/engine/db/profiles.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { RelayClientError } from '../../../electron/engine/relay/errors.js';
import { Capability } from '../../../shared/protocol/constants.js';
import { relayAndEngines, waitFor, type TestEngine } from '../../support/engines.js';
import { LinkedTestDevice } from './helpers/linked-device.js';

const fixture = relayAndEngines();

/** Records the source of every envelope `engine` receives from the relay from now on. */
function sources(engine: TestEngine): (Envelope['source'])[] {
  const seen: Envelope['source'][] = [];
  engine.engine.messaging!.relay.on('envelope', (e) => seen.push(e.source));
  return seen;
}

/** What the conversation's header says about sealed sender (ConversationView.sealedSender). */
async function sealedState(engine: TestEngine, conversationId: string): Promise<string | null | undefined> {
  return (await engine.call('conversations:list', {})).find((c) => c.id === conversationId)?.sealedSender;
}

/** Alice writes first, Bob replies: from then on each holds the other's profile key. */
async function acquainted() {
  const alice = await fixture.engine('alice');
  const bob = await fixture.engine('bob');
  const aToB = await alice.add(bob);
  await alice.send(aToB, 'hello');
  await bob.receive(alice, 'hello');
  const bToA = (await bob.conversationWith(alice))!;
  await bob.call('contacts:accept', { contactId: alice.accountId });
  await bob.send(bToA, 'hi alice');
  await alice.receive(bob, 'hi alice');
  await waitFor(() => (getContactProfile(alice.engine.current!.db.reader, fromHex(bob.accountId))?.profileKey ?? null) !== null, 'alice holds bob\'s key');
  return { alice, bob, aToB, bToA };
}

describe('sealed sender between engines', () => {
  it('a first message (no token) goes unsealed and says so; once keys are shared, texts and receipts go sealed and the relay stores no source', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const atBob = sources(bob);
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hello');
    await bob.receive(alice, 'hello');
    // Alice had no token for Bob: unsealed (the relay named her), and her conversation says so.
    expect(atBob[0]).toEqual({ accountId: fromHex(alice.accountId), deviceId: 1 });
    expect(await sealedState(alice, aToB)).toBe('no-token');

    const atAlice = sources(alice);
    const bToA = (await bob.conversationWith(alice))!;
    await bob.call('contacts:accept', { contactId: alice.accountId });
    await bob.send(bToA, 'hi alice');
    await alice.receive(bob, 'hi alice');
    // Bob held Alice's key from her first message: everything he sent went sealed.
    expect(atAlice.length).toBeGreaterThan(0);
    expect(atAlice.every((s) => s === null)).toBe(true);
    await waitFor(() => (getContactProfile(alice.engine.current!.db.reader, fromHex(bob.accountId))?.profileKey ?? null) !== null, 'alice holds bob\'s key');
    expect(await sealedState(alice, aToB)).toBe('sealed');
    const aliceConversations = alice.payloads('conversation:updated').filter((p) => p.conversation.id === aToB);
    expect(aliceConversations.at(-1)?.conversation.sealedSender).toBe('sealed');

    // Now Alice's texts go sealed too, while Bob is offline: the relay's mailbox rows name no sender.
    await alice.drained();
    // Bob's device also forgets its pin of the relay's certificate key (a fresh device has none): the
    // sealed backlog must wait for the pin, not be dropped.
    const bobDb = bob.engine.current!.db.writer;
    bobDb.transaction(() => bobDb.run(sql`DELETE FROM relay_certificate_keys`));
    await bob.close();
    const sent = await alice.send(aToB, 'sealed while you were away');
    await alice.waitStatus(sent.id, 'sent');
    // What the relay stored for Bob's device (its own store: the SQLite file is locked exclusively).
    const [bobDevice] = await fixture.relay.store.listDevices(fromHex(bob.accountId));
    const stored = (await fixture.relay.store.readMailbox(bobDevice!.deviceKey, 0, 100)).envelopes;
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.map((e) => [e.sourceAccount, e.sourceDevice])).toEqual(stored.map(() => [null, null]));
    // Bob's device forgets its pin of the relay's certificate key (as a fresh device has none): the
    // sealed backlog must wait for the pin, not be dropped.
    const back = await bob.restart();
    fixture.track(back);
    await back.receive(alice, 'sealed while you were away');
    // The delivery receipt came back sealed and moved the status on.
    await alice.waitStatus(sent.id, 'delivered');
    // No notice rows: the state lives in the conversation's header.
    expect((await alice.messages(aToB)).map((m) => m.kind)).toEqual(['text', 'text', 'text']);
  });

  it('a stale token (Bob rotated his key unseen) falls back to unsealed and says so; sealing resumes when his new key arrives', async () => {
    const { alice, bob, aToB } = await acquainted();
    const atBob = sources(bob);
    // The relay now holds the hash of a token Alice does not know (as after a rotation whose new key has not reached her).
    await bob.engine.messaging!.relay.putDeliveryTokenHash(sha256(systemRng(16)));
    await alice.send(aToB, 'after the rotation');
    await bob.receive(alice, 'after the rotation');
    expect(atBob.at(-1)).toEqual({ accountId: fromHex(alice.accountId), deviceId: 1 });
    expect(await sealedState(alice, aToB)).toBe('stale-token');
    expect(alice.payloads('conversation:updated').filter((p) => p.conversation.id === aToB).at(-1)?.conversation.sealedSender).toBe('stale-token');
    // Bob blocks someone else: his key rotates, the new token is registered, and Alice (who held the
    // old key) is sent the new one.
    const carol = await fixture.engine('carol');
    const cToB = await carol.add(bob);
    await carol.send(cToB, 'hi bob');
    await bob.receive(carol, 'hi bob');
    await bob.call('contacts:accept', { contactId: carol.accountId });
    await bob.send((await bob.conversationWith(carol))!, 'hi carol');
    await carol.receive(bob, 'hi carol');
    await waitFor(() => (getContactProfile(carol.engine.current!.db.reader, fromHex(bob.accountId))?.profileKey ?? null) !== null, 'carol holds bob\'s key');
    const oldKey = getOwnProfile(bob.engine.current!.db.reader)!.profileKey;
    await bob.call('contacts:setBlocked', { contactId: carol.accountId, blocked: true });
    await waitFor(() => {
      const held = getContactProfile(alice.engine.current!.db.reader, fromHex(bob.accountId))?.profileKey;
      return held !== null && held !== undefined && Buffer.compare(Buffer.from(held), Buffer.from(oldKey)) !== 0;
    }, 'alice holds bob\'s rotated key');
    expect(await sealedState(alice, aToB)).toBe('sealed');
    const before = atBob.length;
    await alice.send(aToB, 'sealed again');
    await bob.receive(alice, 'sealed again');
    expect(atBob.slice(before).some((s) => s === null)).toBe(true);
    expect(atBob.slice(before).every((s) => s === null)).toBe(true);

    // Blocking rotated Bob's key: the token Carol derives from the key she held is refused.
    const carolHeld = getContactProfile(carol.engine.current!.db.reader, fromHex(bob.accountId))?.profileKey;
    expect(carolHeld).toEqual(oldKey);
    const upload = encodeSealedMultiRecipient(
      sealMessage(
        { certificate: new Uint8Array(130), senderIdentityPrivate: systemRng(32), recipients: [{ accountId: fromHex(bob.accountId), deviceId: 1, identityKey: x25519GenerateKeyPair(systemRng).publicKey }], messages: [utf8('x')] },
        { rng: systemRng },
      ),
    );
    const refused = await RelayClient.sealedSend(fixture.relay.url, { to: fromHex(bob.accountId), token: deliveryToken(oldKey), upload }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RelayClientError);
    expect((refused as RelayClientError).code).toBe('UNAUTHORIZED');
    // …while the current key's token is accepted (the same upload, well formed).
    const current = getOwnProfile(bob.engine.current!.db.reader)!.profileKey;
    await expect(RelayClient.sealedSend(fixture.relay.url, { to: fromHex(bob.accountId), token: deliveryToken(current), upload })).resolves.toMatchObject({ serverTimestamp: expect.any(Number) });
  });

  it('blocked, Alice\'s token is refused and her sends go unsealed (and are dropped); unblocked, Bob re-shares his key and she writes sealed again', async () => {
    const { alice, bob, aToB } = await acquainted();
    const keyHeld = () => getContactProfile(alice.engine.current!.db.reader, fromHex(bob.accountId))?.profileKey ?? null;
    const before = keyHeld()!;
    await bob.call('contacts:setBlocked', { contactId: alice.accountId, blocked: true });
    // Alice still holds the old key: the relay refuses its token, she falls back and is told.
    await alice.send(aToB, 'while blocked');
    await alice.drained();
    expect(await sealedState(alice, aToB)).toBe('stale-token');
    expect(Buffer.compare(Buffer.from(keyHeld()!), Buffer.from(before))).toBe(0);
    // Unblocked (an accepted contact): Bob shares his current key at once (ADR 0022), and Alice seals again.
    const atBob = sources(bob);
    await bob.call('contacts:setBlocked', { contactId: alice.accountId, blocked: false });
    await waitFor(() => keyHeld() !== null && Buffer.compare(Buffer.from(keyHeld()!), Buffer.from(before)) !== 0, 'alice holds bob\'s new key');
    expect(await sealedState(alice, aToB)).toBe('sealed');
    await alice.send(aToB, 'after the unblock');
    await bob.receive(alice, 'after the unblock');
    expect(atBob.at(-1)).toBeNull();
    expect((await bob.messages((await bob.conversationWith(alice))!)).map((m) => m.body)).not.toContain('while blocked');
  });

  it('a contact with a device on an older build (no `sealed` capability) gets unsealed sends, and the header says so', async () => {
    const { alice, bob, aToB } = await acquainted();
    const atBob = sources(bob);
    const old = await LinkedTestDevice.link(bob, fixture.relay.url, Capability.pq);
    try {
      await alice.send(aToB, 'to both, one of them old');
      await bob.receive(alice, 'to both, one of them old');
      await waitFor(() => old.texts().includes('to both, one of them old'), 'the old device got it');
      // Unsealed: the relay named Alice, so the old device (which drops sealed envelopes) could read it.
      expect(atBob.at(-1)).toEqual({ accountId: fromHex(alice.accountId), deviceId: 1 });
      expect(old.sealed).toBe(0);
      expect(await sealedState(alice, aToB)).toBe('unsupported');
    } finally {
      old.close();
    }
  });

  it('typing goes sealed and online-only: shown live, never stored at the relay', async () => {
    const { alice, bob, aToB, bToA } = await acquainted();
    await alice.drained();
    const atBob = sources(bob);
    await alice.call('conversations:setTyping', { conversationId: aToB, typing: true });
    await bob.waitEvent('typing', (p) => p.conversationId === bToA && p.typing);
    // It came as an ephemeral frame, not a mailbox envelope.
    expect(atBob).toEqual([]);
  });
});
