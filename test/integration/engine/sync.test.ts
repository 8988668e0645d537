/**
 * Sync between one's own devices (issue 14, docs/protocol.md §16.1, docs/adr/0026) through the
 * engine on the real relay: Alice on two devices (the second linked by the real device-linking
 * flow) and Bob. What one of Alice's devices does shows on the other — a message sent (text and
 * file) appears as sent by her, in the right conversation, with its delivered and read statuses
 * as Bob's receipts arrive.
 */
import { describe, expect, it } from 'vitest';
import { relayAndEngines, TestEngine, waitFor } from '../../support/engines.js';
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

