/**
 * Message requests and blocking between engines on the real relay (issue 12, ADR 0019): a
 * stranger's message is a request that answers nothing — no delivery or read receipt, no typing —
 * until accepted; deleting it removes it (a new message is a new request); blocking drops a
 * person's messages on arrival, sends them nothing, takes their conversation off the list and
 * rotates the profile key, which the other contacts receive; unblocking an accepted contact sends
 * them the rotated key at once. A request also gets no decryption-error reply and no presence.
 * "Nothing arrived" is checked with an ordering barrier: a third account writes after everything
 * the first one sent was committed.
 */
import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromHex } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { MessageType } from '../../../shared/protocol/messages.js';
import { decryptProfile } from '../../../shared/protocol/profile.js';
import { getContactProfile, getOwnProfile } from '../../../electron/engine/db/profiles.js';
import { relayAndEngines, settledBetween, waitFor, type TestEngine } from '../../support/engines.js';

const fixture = relayAndEngines();

async function titleAt(engine: TestEngine, other: TestEngine): Promise<string | undefined> {
  return (await engine.call('conversations:list', {})).find((c) => c.contactId === other.accountId)?.title;
}

async function waitTitle(engine: TestEngine, other: TestEngine, title: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await titleAt(engine, other)) !== title) {
    if (Date.now() > deadline) throw new Error(`${engine.username} never showed "${title}" (shows "${await titleAt(engine, other)}")`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('message requests', () => {
  it('a request gets no receipt or typing until accepted; accepting sends the receipts and the profile key', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const carol = await fixture.engine('carol');
    await bob.call('profile:set', { displayName: 'Bob Builder', about: '' });
    const aToB = await alice.add(bob);
    const sent = await alice.send(aToB, 'hello stranger');
    await bob.receive(alice, 'hello stranger');
    const [request] = await bob.call('conversations:list', {});
    expect(request).toMatchObject({ contactId: alice.accountId, request: true });

    // Bob reads it and starts typing: nothing of that reaches Alice.
    const [incoming] = (await bob.messages(request!.id)).filter((m) => m.direction === 'incoming');
    await bob.call('messages:markRead', { conversationId: request!.id, upToMessageId: incoming!.id });
    await bob.call('conversations:setTyping', { conversationId: request!.id, typing: true });
    await settledBetween(bob, alice, carol);
    expect(await alice.statusOf(sent.id)).toBe('sent');
    expect(alice.payloads('typing')).toHaveLength(0);
    expect(await titleAt(alice, bob)).toBe(bob.username);

    // Accepting: the receipts Bob held back go, and his profile key with them.
    const accepted = await bob.call('contacts:accept', { contactId: alice.accountId });
    expect(accepted).toMatchObject({ id: request!.id, request: false });
    await alice.waitStatus(sent.id, 'read');
    await waitTitle(alice, bob, 'Bob Builder');
  });

  it('a file from a stranger is a request too: no delivery receipt until accepted', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const carol = await fixture.engine('carol');
    const aToB = await alice.add(bob);
    const bytes = new TextEncoder().encode('a small file from a stranger');
    const { stageId } = await alice.call('attachments:stage', { name: 'note.txt', size: bytes.length });
    await alice.call('attachments:write', { stageId, offset: 0, data: Buffer.from(bytes).toString('base64') });
    const sent = await alice.call('attachments:send', { conversationId: aToB, stageId, caption: '', asFile: true });
    await waitFor(() => bob.payloads('message:added').some((p) => p.message.kind === 'attachment' && p.message.senderId === alice.accountId), 'the file at Bob', 30_000);
    await settledBetween(bob, alice, carol);
    expect(await alice.statusOf(sent.id)).toBe('sent');

    await bob.call('contacts:accept', { contactId: alice.accountId });
    await alice.waitStatus(sent.id, 'delivered');
  });

  it('deleting a request removes it and its messages; a new message from them is a new request', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'first try');
    await bob.receive(alice, 'first try');
    const [request] = await bob.call('conversations:list', {});
    expect(await bob.call('contacts:deleteRequest', { contactId: alice.accountId })).toBeNull();
    expect(await bob.call('conversations:list', {})).toEqual([]);
    expect(await bob.call('contacts:list', {})).toEqual([]);
    expect(bob.payloads('conversation:removed')).toContainEqual({ conversationId: request!.id });

    await alice.send(aToB, 'second try');
    await bob.receive(alice, 'second try');
    const [again] = await bob.call('conversations:list', {});
    expect(again).toMatchObject({ request: true });
    expect((await bob.messages(again!.id)).map((m) => m.body)).toEqual(['second try']);
  });

  it('a request whose message does not decrypt gets no decryption-error reply (the notice is still shown)', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const carol = await fixture.engine('carol');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hello stranger');
    await bob.receive(alice, 'hello stranger');
    const errorsAtAlice: unknown[] = [];
    alice.engine.messaging!.relay.on('envelope', (e) => {
      if (e.content[1] === MessageType.DecryptionError) errorsAtAlice.push(e);
    });
    // An envelope from Alice's device that no session decrypts: answering it would tell her Bob is online.
    const garbage = concatBytes(new Uint8Array([1, MessageType.Ratchet]), systemRng(300));
    await alice.engine.messaging!.relay.send(fromHex(bob.accountId), [{ deviceId: 1, content: garbage }]);
    const failed = await bob.waitEvent('message:decryptFailed');
    expect(failed).toMatchObject({ contactId: alice.accountId });
    // Whatever Bob queued has reached the relay before Carol's sentinel, which Alice shows after it.
    await settledBetween(bob, alice, carol);
    expect(errorsAtAlice).toEqual([]);
    expect((await bob.call('conversations:list', {})).find((c) => c.contactId === alice.accountId)).toMatchObject({ request: true });
  });

  it('a request sees no presence: the stranger reads "not shared" while both are online, until accepted', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'are you there?');
    await bob.receive(alice, 'are you there?');
    // Bob's engine makes the relay's contact list equal to his accepted contacts (as at every
    // connection): Alice, a request, is not on it, so the relay shares nothing with her.
    await bob.engine.messaging!.contacts.syncRelayContacts();
    expect((await bob.engine.messaging!.relay.getContacts()).contacts).toEqual([]);
    expect(await alice.engine.messaging!.relay.presence([fromHex(bob.accountId)])).toEqual([{ accountId: fromHex(bob.accountId), online: false, shared: false }]);
    await alice.engine.messaging!.presence.snapshot();
    expect((await alice.call('conversations:list', {}))[0]!.presence).toEqual({ state: 'not-shared', lastSeenAt: null });
    expect(alice.payloads('presence').some((p) => p.contactId === bob.accountId && p.presence.state === 'online')).toBe(false);
    expect(bob.payloads('presence').some((p) => p.contactId === alice.accountId)).toBe(false);

    // Accepting makes them mutual: each hears the other is online at once.
    await bob.call('contacts:accept', { contactId: alice.accountId });
    await alice.waitEvent('presence', (p) => p.contactId === bob.accountId && p.presence.state === 'online');
    await bob.waitEvent('presence', (p) => p.contactId === alice.accountId && p.presence.state === 'online');
  });

  it('an accepted contact cannot be deleted as a request', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await alice.add(bob);
    expect(await alice.errorOf('contacts:deleteRequest', { contactId: bob.accountId })).toBe('INVALID_REQUEST');
    expect(await alice.errorOf('contacts:accept', { contactId: '00'.repeat(16) })).toBe('NOT_FOUND');
  });
});

describe('blocking', () => {
  it('drops their messages on arrival, sends them nothing, lists them under blocked and rotates the profile key', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const carol = await fixture.engine('carol');
    await bob.call('profile:set', { displayName: 'Bob', about: '' });
    // Bob writes to both: both hold his profile key.
    const bToA = await bob.add(alice);
    const bToC = await bob.add(carol);
    await bob.send(bToA, 'hi alice');
    await bob.send(bToC, 'hi carol');
    await waitTitle(alice, bob, 'Bob');
    await waitTitle(carol, bob, 'Bob');
    const aToB = (await alice.conversationWith(bob))!;
    await alice.send(aToB, 'before the block');
    await bob.receive(alice, 'before the block');

    const blocked = await bob.call('contacts:setBlocked', { contactId: alice.accountId, blocked: true });
    expect(blocked).toMatchObject({ id: alice.accountId, blocked: true });
    expect((await bob.call('contacts:listBlocked', {})).map((c) => c.id)).toEqual([alice.accountId]);
    expect((await bob.call('conversations:list', {})).map((c) => c.contactId)).toEqual([carol.accountId]);
    expect(await bob.errorOf('messages:send', { conversationId: bToA, body: 'no' })).toBe('CONTACT_BLOCKED');

    // Alice's messages are dropped on arrival and answered with nothing.
    const after = await alice.send(aToB, 'after the block');
    await settledBetween(alice, bob, carol);
    await settledBetween(bob, alice, carol);
    expect(await alice.statusOf(after.id)).toBe('sent');

    // The profile key was rotated: Alice's old key no longer opens Bob's profile.
    const held = getContactProfile(alice.engine.current!.db.reader, fromHex(bob.accountId))!;
    const served = await alice.engine.messaging!.relay.getProfile(fromHex(bob.accountId));
    let code = 'opened';
    try {
      decryptProfile(served.profile, held.profileKey!, fromHex(bob.accountId));
    } catch (e) {
      if (isProtocolError(e)) code = e.code;
    }
    expect(code).toBe('PROFILE_KEY_MISMATCH');

    await bob.call('contacts:setBlocked', { contactId: alice.accountId, blocked: false });
    expect((await bob.messages(bToA)).map((m) => m.body)).not.toContain('after the block');
    expect(await bob.call('contacts:listBlocked', {})).toEqual([]);
    expect((await bob.call('conversations:list', {})).map((c) => c.contactId).sort()).toEqual([alice.accountId, carol.accountId].sort());

    // Carol got the new key (a later change reaches her); so did Alice, once unblocked.
    await bob.call('profile:set', { displayName: 'Bob, renamed', about: '' });
    await waitTitle(carol, bob, 'Bob, renamed');
    await waitTitle(alice, bob, 'Bob, renamed');
  });

  it('unblocking an accepted contact sends them the rotated profile key at once', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await bob.call('profile:set', { displayName: 'Bob', about: '' });
    const bToA = await bob.add(alice);
    await bob.send(bToA, 'hi alice');
    await waitTitle(alice, bob, 'Bob');
    await bob.call('contacts:setBlocked', { contactId: alice.accountId, blocked: true });
    const rotated = getOwnProfile(bob.engine.current!.db.reader)!.profileKey;
    await bob.call('contacts:setBlocked', { contactId: alice.accountId, blocked: false });
    // Without Bob writing again, Alice holds his new key and it opens his profile.
    const heldByAlice = () => getContactProfile(alice.engine.current!.db.reader, fromHex(bob.accountId))?.profileKey;
    await waitFor(() => heldByAlice() !== null && heldByAlice() !== undefined && bytesEqual(heldByAlice()!, rotated), 'the rotated key at Alice');
    const served = await alice.engine.messaging!.relay.getProfile(fromHex(bob.accountId));
    expect(decryptProfile(served.profile, heldByAlice()!, fromHex(bob.accountId)).displayName).toBe('Bob');
    // And the next change reaches her as before the block.
    await bob.call('profile:set', { displayName: 'Bob, back', about: '' });
    await waitTitle(alice, bob, 'Bob, back');
  });

  it('unblocking a message request sends nothing: the key still waits for Accept', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const carol = await fixture.engine('carol');
    await bob.call('profile:set', { displayName: 'Bob', about: '' });
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hello stranger');
    await bob.receive(alice, 'hello stranger');
    await bob.call('contacts:setBlocked', { contactId: alice.accountId, blocked: true });
    await bob.call('contacts:setBlocked', { contactId: alice.accountId, blocked: false });
    await settledBetween(bob, alice, carol);
    expect(getContactProfile(alice.engine.current!.db.reader, fromHex(bob.accountId))?.profileKey ?? null).toBeNull();
    expect(await titleAt(alice, bob)).toBe(bob.username);
  });
});
