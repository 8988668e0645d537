/**
 * Sync between one's own devices (issue 14, docs/protocol.md §16.1, docs/adr/0026) through the
 * engine on the real relay: Alice on two devices (the second linked by the real device-linking
 * flow) and Bob. What one of Alice's devices does shows on the other — a message sent (text and
 * file) appears as sent by her, in the right conversation, with its delivered and read statuses
 * as Bob's receipts arrive.
 */
import { describe, expect, it } from 'vitest';
import { relayAndEngines, settledBetween, TestEngine, waitFor } from '../../support/engines.js';
import { readAll, sendFile } from '../../support/attachments.js';

const fixture = relayAndEngines();

/** Alice with a second device linked by the real flow (offer text), both online, and Bob her contact both ways. */
async function aliceOnTwoDevicesAndBob(): Promise<{ alice: TestEngine; second: TestEngine; bob: TestEngine; aToB: string; bToA: string }> {
  const alice = await fixture.engine('alice');
  const bob = await fixture.engine('bob');
  const aToB = await alice.add(bob);
  const bToA = await bob.add(alice);
  const second = await TestEngine.start({ relayUrl: fixture.relay.url });
  fixture.track(second);
  const offer = await second.call('link:start', { relayUrl: fixture.relay.url });
  const linking = alice.call('devices:link', { offerText: offer.offerText });
  await second.waitEvent('link:status', (s) => s.phase === 'awaiting-confirmation');
  await second.call('link:accept', { deviceName: "Alice's laptop" });
  await linking;
  second.username = alice.username;
  await second.online();
  // Alice's first device learns its own new list (it signed it; a send to herself uses it).
  await alice.engine.messaging!.contacts.syncOwnList();
  return { alice, second, bob, aToB, bToA };
}

describe('sync between own devices: sent messages', () => {
  it('a text and a file sent from device 2 appear on device 1 as sent by Alice, then delivered and read as Bob reads', async () => {
    const { alice, second, bob, bToA } = await aliceOnTwoDevicesAndBob();
    const onSecond = (await second.conversationWith(bob))!;
    const text = await second.send(onSecond, 'hello from the laptop');
    const file = await sendFile(second, onSecond, 'notes.txt', new TextEncoder().encode('file from the laptop'), { caption: 'the notes' });

    // Device 1 shows both as outgoing, sent by this account from device 2, in the conversation with Bob.
    const onFirst = (await alice.conversationWith(bob))!;
    let mine: Awaited<ReturnType<TestEngine['messages']>> = [];
    for (let i = 0; mine.length < 2; i++) {
      mine = (await alice.messages(onFirst)).filter((m) => m.direction === 'outgoing');
      if (i > 500) throw new Error('device 1 never showed the copies');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [copy, fileCopy] = mine;
    expect(copy).toMatchObject({ body: 'hello from the laptop', direction: 'outgoing', senderId: null, kind: 'text' });
    expect(fileCopy).toMatchObject({ body: 'the notes', direction: 'outgoing', kind: 'attachment' });
    expect(fileCopy!.attachment).toMatchObject({ fileName: 'notes.txt', state: 'available' });
    expect(['sent', 'delivered', 'read']).toContain(copy!.status);

    // Bob gets both (delivery receipts go to every device of Alice's account).
    await bob.receive(alice, 'hello from the laptop');
    await waitFor(() => bob.payloads('message:added').some((p) => p.message.kind === 'attachment' && p.message.direction === 'incoming'), 'the file on Bob');
    await alice.waitStatus(copy!.id, 'delivered');
    await alice.waitStatus(fileCopy!.id, 'delivered');
    await second.waitStatus(text.id, 'delivered');

    // Bob reads: both of Alice's devices show read, and the Info of the copy names Bob's device.
    const incoming = (await bob.messages(bToA)).filter((m) => m.direction === 'incoming');
    await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: incoming.at(-1)!.id });
    await alice.waitStatus(copy!.id, 'read');
    await alice.waitStatus(fileCopy!.id, 'read');
    await second.waitStatus(file.id, 'read');
    const info = await alice.call('messages:info', { messageId: copy!.id });
    expect(info.direction).toBe('outgoing');
    expect(info.senderDeviceId).toBe(2);
    expect(info.acceptedAt).not.toBeNull();
    expect(info.devices).toEqual([expect.objectContaining({ contactId: bob.accountId, deviceId: 1, status: 'read' })]);
    expect(info.devices[0]!.deliveredAt).not.toBeNull();

    // The file opens on device 1 (its key came with the copy).
    const opened = await readAll(alice, fileCopy!.id);
    expect(opened.bytes.toString()).toBe('file from the laptop');
  });
});

/** The unread count of the conversation with `other` on `t`. */
async function unread(t: TestEngine, other: { readonly accountId: string }): Promise<number> {
  return (await t.call('conversations:list', {})).find((c) => c.contactId === other.accountId)?.unreadCount ?? -1;
}

async function waitUnread(t: TestEngine, other: { readonly accountId: string }, n: number): Promise<void> {
  for (let i = 0; (await unread(t, other)) !== n; i++) {
    if (i > 500) throw new Error(`unread on ${t.username} stayed ${await unread(t, other)}, not ${n}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('sync between own devices: read state', () => {
  it('reading a conversation on one device clears its unread on the other, both ways; Bob gets one read receipt', async () => {
    const { alice, second, bob, bToA } = await aliceOnTwoDevicesAndBob();
    await bob.send(bToA, 'one');
    const two = await bob.send(bToA, 'two');
    await alice.receive(bob, 'two');
    await second.receive(bob, 'two');
    await waitUnread(alice, bob, 2);
    await waitUnread(second, bob, 2);

    // Read on device 2 up to the newest: device 1 clears too (message:updated shows them read).
    const onSecond = (await second.conversationWith(bob))!;
    const newest = (await second.messages(onSecond)).at(-1)!;
    expect((await second.call('messages:markRead', { conversationId: onSecond, upToMessageId: newest.id })).unreadCount).toBe(0);
    await waitUnread(alice, bob, 0);
    const onFirst = (await alice.conversationWith(bob))!;
    expect((await alice.messages(onFirst)).filter((m) => m.direction === 'incoming').every((m) => m.read)).toBe(true);
    await bob.waitStatus(two.id, 'read');
    // Device 1 sent no read receipt of its own: once everything it sent reached Bob (a barrier),
    // Bob's Info shows device 2 read it and device 1 only holds it.
    await alice.drained();
    await alice.barrier(bob, (await alice.conversationWith(bob))!);
    const info = await bob.call('messages:info', { messageId: two.id });
    expect(info.devices.map((d) => [d.contactId, d.deviceId, d.status])).toEqual([
      [alice.accountId, 1, 'delivered'],
      [alice.accountId, 2, 'read'],
    ]);

    // And the other way: a new message read on device 1 clears on device 2.
    await bob.send(bToA, 'three');
    await alice.receive(bob, 'three');
    await second.receive(bob, 'three');
    await waitUnread(second, bob, 1);
    const three = (await alice.messages(onFirst)).at(-1)!;
    await alice.call('messages:markRead', { conversationId: onFirst, upToMessageId: three.id });
    await waitUnread(second, bob, 0);
  });
});


/** Polls `read` until `ok` holds (the other device applies sync content a moment later). */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await read();
    if (ok(v)) return v;
    if (i > 500) throw new Error(`never: ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const contactOn = (t: TestEngine, other: { readonly accountId: string }) => async () => (await t.call('contacts:list', {})).find((c) => c.id === other.accountId);

describe('sync between own devices: contacts, verification, blocking, requests, settings, deletion', () => {
  it('a contact added on one device appears on the other with its conversation; verification and blocking follow both ways', async () => {
    const { alice, second, bob, bToA } = await aliceOnTwoDevicesAndBob();
    const carol = await fixture.engine('carol');

    // Added on device 2: device 1 gets Carol as a contact with a conversation, and can write to her.
    await second.add(carol);
    await eventually(contactOn(alice, carol), (c) => c?.accepted === true, 'Carol on device 1');
    const aToC = await eventually(() => alice.conversationWith(carol), (c) => c !== undefined, "Carol's conversation on device 1");
    await alice.send(aToC!, 'hi Carol, from device 1');
    await carol.receive(alice, 'hi Carol, from device 1');

    // Verified on device 1: device 2 shows Bob verified; un-verified on device 2: device 1 follows.
    await alice.call('contacts:markVerified', { contactId: bob.accountId, verified: true });
    await eventually(contactOn(second, bob), (c) => c?.verified === true, 'verified on device 2');
    await second.call('contacts:markVerified', { contactId: bob.accountId, verified: false });
    await eventually(contactOn(alice, bob), (c) => c?.verified === false, 'unverified on device 1');

    // Blocked on device 2: device 1 lists Bob as blocked, his conversation leaves its list, and his
    // next message shows on neither device.
    await second.call('contacts:setBlocked', { contactId: bob.accountId, blocked: true });
    await eventually(() => alice.call('contacts:listBlocked', {}), (l) => l.some((c) => c.id === bob.accountId), 'blocked on device 1');
    await alice.waitEvent('conversation:removed');
    expect(await alice.conversationWith(bob)).toBeUndefined();
    await bob.send(bToA, 'can you hear me?');
    await settledBetween(bob, alice, carol);
    await settledBetween(bob, second, carol);
    // Unblocked on device 1: device 2 follows, and the conversation is back on both.
    await alice.call('contacts:setBlocked', { contactId: bob.accountId, blocked: false });
    await eventually(contactOn(second, bob), (c) => c?.blocked === false, 'unblocked on device 2');
    await eventually(() => second.conversationWith(bob), (c) => c !== undefined, "Bob's conversation back on device 2");
    for (const t of [alice, second]) {
      const c = (await t.conversationWith(bob))!;
      expect((await t.messages(c)).map((m) => m.body)).not.toContain('can you hear me?');
    }
  });

  it('a message request accepted on one device is accepted on the other; one deleted on one device is gone from both', async () => {
    const { alice, second } = await aliceOnTwoDevicesAndBob();
    const dave = await fixture.engine('dave');
    const erin = await fixture.engine('erin');
    await dave.send(await dave.add(alice), 'hello, a stranger here');
    await erin.send(await erin.add(alice), 'hello, another stranger');
    for (const t of [alice, second]) {
      await t.receive(dave, 'hello, a stranger here');
      await t.receive(erin, 'hello, another stranger');
      expect((await contactOn(t, dave)())?.accepted).toBe(false);
    }
    await second.call('contacts:accept', { contactId: dave.accountId });
    await eventually(contactOn(alice, dave), (c) => c?.accepted === true, 'accepted on device 1');
    await alice.call('contacts:deleteRequest', { contactId: erin.accountId });
    await eventually(contactOn(second, erin), (c) => c === undefined, 'the request gone from device 2');
    expect(await second.conversationWith(erin)).toBeUndefined();
  });

  it('synced settings follow (read receipts, typing, presence, notification content); app lock and search stay per device', async () => {
    const { alice, second } = await aliceOnTwoDevicesAndBob();
    const searchBefore = (await second.call('settings:get', {})).searchEnabled;
    await alice.call('settings:set', { readReceipts: false, notifications: 'nothing', searchEnabled: !searchBefore });
    const synced = await eventually(() => second.call('settings:get', {}), (s) => s.readReceipts === false && s.notifications === 'nothing', 'settings on device 2');
    expect(synced.searchEnabled).toBe(searchBefore);
    expect(second.payloads('settings:changed').at(-1)?.settings).toMatchObject({ readReceipts: false, notifications: 'nothing' });
    await second.call('settings:set', { typingIndicators: false, presenceVisible: false });
    await eventually(() => alice.call('settings:get', {}), (s) => !s.typingIndicators && !s.presenceVisible && !s.readReceipts, 'settings on device 1');
  });

  it('a conversation deleted on one device is deleted on the other; the person stays a contact', async () => {
    const { alice, second, bob, bToA } = await aliceOnTwoDevicesAndBob();
    await bob.send(bToA, 'something to delete');
    await alice.receive(bob, 'something to delete');
    await second.receive(bob, 'something to delete');
    await second.call('conversations:delete', { conversationId: (await second.conversationWith(bob))! });
    await eventually(() => alice.conversationWith(bob), (c) => c === undefined, 'the conversation gone from device 1');
    expect((await contactOn(alice, bob)())?.accepted).toBe(true);
    // Bob's next message starts a new conversation on both.
    await bob.send(bToA, 'after the deletion');
    for (const t of [alice, second]) {
      await t.receive(bob, 'after the deletion');
      expect((await t.messages((await t.conversationWith(bob))!)).map((m) => m.body)).toEqual(['after the deletion']);
    }
  });
});
