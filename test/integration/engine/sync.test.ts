/**
 * Sync between one's own devices (issue 14, docs/protocol.md §16.1, docs/adr/0026) through the
 * engine on the real relay: Alice on two devices (the second linked by the real device-linking
 * flow) and Bob. What one of Alice's devices does shows on the other — a message sent (text and
 * file) appears as sent by her, in the right conversation, with its delivered and read statuses
 * as Bob's receipts arrive; reading clears unread; contacts added or accepted, verification,
 * blocking, synced settings and deleted conversations follow. Bad input changes nothing: sync
 * content from a contact's device (SyncRefused), malformed content or a contact record whose list
 * does not verify (MALFORMED, SyncInvalid), and — through a hostile relay (test/hostile-proxy) —
 * sync content delivered as from an own device that is not on the signed list, made up or removed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { Writer } from '../../../shared/protocol/codec.js';
import { parseDeviceList } from '../../../shared/protocol/device-list.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { decodeContent, encodeContent } from '../../../electron/engine/messaging/content.js';
import { SyncRefused } from '../../../electron/engine/messaging/sync.js';
import { HostileProxy } from '../../hostile-proxy/hostile-proxy.js';
import { relayAndEngines, settledBetween, TestEngine, waitFor } from '../../support/engines.js';
import { readAll, sendFile } from '../../support/attachments.js';
import { LinkedTestDevice } from './helpers/linked-device.js';

const fixture = relayAndEngines();
const devices: LinkedTestDevice[] = [];
// Registered after the fixture's hooks, so it runs first: devices go before their engines.
afterEach(() => {
  for (const d of devices.splice(0)) d.close();
});

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
    // The note to self too.
    const note = await second.call('conversations:start', { username: alice.username });
    await second.send(note.id, 'a note');
    const notes = async (t: TestEngine) => (await t.call('conversations:list', {})).filter((c) => c.kind === 'note-to-self');
    await eventually(() => notes(alice), (l) => l.length === 1, 'the note on device 1');
    await second.call('conversations:delete', { conversationId: note.id });
    await eventually(() => notes(alice), (l) => l.length === 0, 'the note gone from device 1');
  });
});

describe('sync between own devices: bad input changes nothing', () => {
  const syncId = () => systemRng(16);

  it('sync content from a stranger (a contact\'s own device) is refused: no setting, read state, deletion or contact changes', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const carol = await fixture.engine('carol');
    const aToB = await alice.add(bob);
    const bToA = await bob.add(alice);
    await alice.add(carol);
    await bob.send(bToA, 'unread, and staying so');
    await alice.receive(bob, 'unread, and staying so');
    const bobsOther = await LinkedTestDevice.link(bob, fixture.relay.url);
    devices.push(bobsOther);
    const [incoming] = (await alice.messages(aToB)).filter((m) => m.direction === 'incoming');
    const held = (await alice.engine.messaging!.core.db.reader.get<{ message_id: Uint8Array }>(sql`SELECT message_id FROM messages WHERE id = ${Number(incoming!.id)}`))!;
    for (const content of [
      { type: 'settings-sync', messageId: syncId(), sentAt: Date.now(), settings: { readReceipts: false, notifications: 'nothing' } },
      { type: 'read-sync', messageId: syncId(), sentAt: Date.now(), entries: [{ senderAccountId: fromHex(bob.accountId), senderDeviceId: 1, messageId: held.message_id }] },
      { type: 'conversation-deleted', messageId: syncId(), sentAt: Date.now(), peer: fromHex(bob.accountId), deletedAt: Date.now(), request: false },
      { type: 'contact-sync', messageId: syncId(), sentAt: Date.now(), accountId: fromHex(carol.accountId), accepted: true, blocked: true, accountKey: carol.engine.current!.account.accountPublicKey, deviceList: carol.engine.current!.account.deviceList.signed, username: carol.username },
      { type: 'sent', messageId: syncId(), sentAt: Date.now(), destination: fromHex(carol.accountId), text: 'a forged copy', expireTimerSeconds: null },
    ] as const) {
      await bobsOther.sendTo(alice, content);
    }
    await bob.barrier(alice, bToA);
    const settings = await alice.call('settings:get', {});
    expect([settings.readReceipts, settings.notifications]).toEqual([true, 'name-only']);
    expect((await alice.call('conversations:list', {})).find((c) => c.contactId === bob.accountId)?.unreadCount).toBe(2);
    expect((await alice.call('contacts:list', {})).find((c) => c.id === carol.accountId)?.blocked).toBe(false);
    const withCarol = (await alice.conversationWith(carol))!;
    expect((await alice.messages(withCarol)).map((m) => m.body)).not.toContain('a forged copy');
    // The typed refusal behind it.
    const db = alice.engine.messaging!.core.db.writer;
    const effects = { events: [], conversations: new Set<number>(), contactsChanged: false, settings: null, filesGone: [] };
    expect(() => alice.engine.messaging!.sync.apply(db, { own: false, deviceId: 1 }, { type: 'settings-sync', messageId: syncId(), sentAt: 1, settings: { readReceipts: false } }, effects)).toThrow(SyncRefused);
  });

  it('malformed sync content and a contact record whose list does not verify, from an own device, change nothing', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const carol = await fixture.engine('carol');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    const own = await LinkedTestDevice.link(alice, fixture.relay.url);
    devices.push(own);
    await alice.engine.messaging!.contacts.syncOwnList();
    const head = (type: number) => new Writer().u8(1).u8(type).bytes(syncId()).u64(Date.now());
    const carolKey = carol.engine.current!.account.accountPublicKey;
    const carolList = carol.engine.current!.account.deviceList.signed;
    const forgedList = Uint8Array.from(carolList);
    forgedList[forgedList.length - 1]! ^= 0x01; // the account key's signature no longer holds
    // A settings record that changes nothing, an unknown account-sync kind, a read sync of no messages.
    await own.sendRawTo(alice, head(0x0b).u8(1).u8(0).u8(0).u8(0).finish());
    await own.sendRawTo(alice, head(0x0b).u8(9).finish());
    await own.sendRawTo(alice, head(0x09).u16(0).finish());
    await own.sendTo(alice, { type: 'contact-sync', messageId: syncId(), sentAt: Date.now(), accountId: fromHex(carol.accountId), accepted: true, accountKey: carolKey, deviceList: forgedList, username: carol.username });
    // Carol's real list under Bob's account key: refused too.
    await own.sendTo(alice, { type: 'contact-sync', messageId: syncId(), sentAt: Date.now(), accountId: fromHex(carol.accountId), accepted: true, accountKey: bob.engine.current!.account.accountPublicKey, deviceList: carolList, username: carol.username });
    // A well-formed record after them still applies: the session and the channel are fine.
    await own.sendTo(alice, { type: 'settings-sync', messageId: syncId(), sentAt: Date.now(), settings: { typingIndicators: false } });
    await eventually(() => alice.call('settings:get', {}), (s) => !s.typingIndicators, 'the good record applied');
    expect((await alice.call('contacts:list', {})).map((c) => c.id)).toEqual([bob.accountId]);
    expect(await alice.conversationWith(carol)).toBeUndefined();
    expect((await alice.call('settings:get', {})).readReceipts).toBe(true);
    expect((await alice.messages(aToB)).filter((m) => m.kind !== 'text')).toEqual([]); // no notice either
    // The typed errors behind it.
    expect(() => decodeContent(head(0x0b).u8(9).finish())).toThrow(expect.objectContaining({ code: 'MALFORMED' }));
    const db = alice.engine.messaging!.core.db.writer;
    const effects = { events: [], conversations: new Set<number>(), contactsChanged: false, settings: null, filesGone: [] };
    const record = { type: 'contact-sync', messageId: syncId(), sentAt: 1, accountId: fromHex(carol.accountId), accepted: true, accountKey: carolKey, deviceList: forgedList, username: carol.username } as const;
    expect(() => db.transaction(() => alice.engine.messaging!.sync.apply(db, { own: true, deviceId: 2 }, record, effects))).toThrow(expect.objectContaining({ name: 'SyncInvalid', code: 'UNTRUSTED_CONTACT' }));
  });

  it('a hostile relay delivering sync content as from an own device not on the signed list (made up, or removed) is refused', async () => {
    const proxy = await HostileProxy.start(fixture.relay.url);
    try {
      const alice = await TestEngine.create({ relayUrl: proxy.url, name: 'alice' });
      fixture.track(alice);
      const bob = await fixture.engine('bob');
      await alice.add(bob);
      const bToA = await bob.add(alice);
      const own = await LinkedTestDevice.link(alice, fixture.relay.url);
      devices.push(own);
      await alice.engine.messaging!.contacts.syncOwnList();
      // Listed: its sync applies.
      await own.sendTo(alice, { type: 'settings-sync', messageId: syncId(), sentAt: Date.now(), settings: { readReceipts: false } });
      await eventually(() => alice.call('settings:get', {}), (s) => !s.readReceipts, 'the listed device\'s sync applied');

      // Control: the relay injecting the listed device's own ciphertext under its own id is applied
      // (the injection path works; what follows is refused for the device alone).
      const control = encodeContent({ type: 'settings-sync', messageId: syncId(), sentAt: Date.now() + 500, settings: { notifications: 'name-and-message' } });
      proxy.inject(alice.accountId, { from: alice.accountId, deviceId: own.device.deviceId, content: await own.encryptFor(alice, control) });
      await eventually(() => alice.call('settings:get', {}), (s) => s.notifications === 'name-and-message', 'the injected copy of a listed device applied');

      // A device id the list does not have, claimed by the relay for a real ciphertext of the listed one.
      const turnOn = encodeContent({ type: 'settings-sync', messageId: syncId(), sentAt: Date.now() + 1_000, settings: { readReceipts: true } });
      proxy.inject(alice.accountId, { from: alice.accountId, deviceId: 9, content: await own.encryptFor(alice, turnOn) });
      // The device is removed (the list is re-signed without it); the relay still delivers what it made.
      await own.unlink();
      await alice.engine.messaging!.contacts.syncOwnList();
      expect(parseDeviceList(alice.engine.current!.account.deviceList.signed).list.devices.map((d) => d.deviceId)).toEqual([1]);
      const again = encodeContent({ type: 'settings-sync', messageId: syncId(), sentAt: Date.now() + 2_000, settings: { readReceipts: true, notifications: 'nothing' } });
      proxy.inject(alice.accountId, { from: alice.accountId, deviceId: own.device.deviceId, content: await own.encryptFor(alice, again) });
      // Everything delivered before Bob's message was processed before it (one mailbox, in order).
      await bob.send(bToA, 'after the forged syncs');
      await alice.receive(bob, 'after the forged syncs');
      const settings = await alice.call('settings:get', {});
      expect([settings.readReceipts, settings.notifications]).toEqual([false, 'name-and-message']);
    } finally {
      await proxy.close();
    }
  });
});

describe('sync between own devices: one profile under one key', () => {
  const ownKey = (t: TestEngine) => t.engine.current!.db.reader.get<{ profile_key: Uint8Array }>(sql`SELECT profile_key FROM own_profile`)!.profile_key;

  it('a profile changed on one device, and the key a block rotates there, are adopted by the other; a later change there goes out under that key', async () => {
    const { alice, second, bob } = await aliceOnTwoDevicesAndBob();
    const carol = await fixture.engine('carol');
    const aToC = await alice.add(carol);
    await carol.add(alice);
    await alice.send(aToC, 'hello Carol');
    await carol.receive(alice, 'hello Carol');
    expect(Buffer.from(ownKey(second)).equals(Buffer.from(ownKey(alice)))).toBe(true);

    await second.call('profile:set', { displayName: 'Alice on the laptop', about: 'typing from the laptop' });
    await eventually(() => alice.call('profile:get', {}), (p) => p.displayName === 'Alice on the laptop' && p.about === 'typing from the laptop', 'the name on device 1');
    // The renderer is told (its Settings show the name without a reload).
    expect(alice.payloads('profile:changed').map((p) => p.profile.displayName)).toContain('Alice on the laptop');

    const before = Buffer.from(ownKey(alice));
    await second.call('contacts:setBlocked', { contactId: bob.accountId, blocked: true });
    await eventually(async () => Buffer.from(ownKey(alice)), (k) => !k.equals(before) && k.equals(Buffer.from(ownKey(second))), 'the rotated key on device 1');

    // Device 1 changes the name: uploaded under the rotated key, so Carol (who got it) opens it.
    await alice.call('profile:set', { displayName: 'Alice at her desk', about: '' });
    await eventually(() => carol.call('contacts:list', {}), (l) => l.find((c) => c.id === alice.accountId)?.displayName === 'Alice at her desk', 'the new name on Carol');
    await eventually(() => second.call('profile:get', {}), (p) => p.displayName === 'Alice at her desk', 'the new name on device 2');
    // Still the rotated key on both: nothing Bob holds opens the profile again.
    expect(Buffer.from(ownKey(alice)).equals(Buffer.from(ownKey(second)))).toBe(true);
    expect(Buffer.from(ownKey(alice)).equals(before)).toBe(false);
  });
});

describe('sync between own devices: conversation timers and deletes (issue 17)', () => {
  const syncId = () => systemRng(16);
  const timerOf = async (t: TestEngine, conversationId: string) => (await t.call('conversations:list', {})).find((c) => c.id === conversationId)?.expireTimerSeconds;

  it('a timer set on one device follows to the other with the same system line, and the other device sends with it', async () => {
    const { alice, second, bob, aToB, bToA } = await aliceOnTwoDevicesAndBob();
    const onSecond = (await second.conversationWith(bob))!;
    await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 300 });
    const line = await second.waitEvent('message:added', (p) => p.message.kind === 'timer-changed');
    expect(line.message).toMatchObject({ direction: 'outgoing', expireTimerSeconds: 300, conversationId: onSecond });
    expect(await timerOf(second, onSecond)).toBe(300);
    const [original] = (await alice.messages(aToB)).filter((m) => m.kind === 'timer-changed');
    expect(line.message.sentAt).toBe(original!.sentAt);
    // Device 2 now sends with the timer; Bob sees it timed, and saw the change once.
    const sent = await second.send(onSecond, 'timed from the laptop');
    expect(sent.expireTimerSeconds).toBe(300);
    expect((await bob.receive(alice, 'timed from the laptop')).expireTimerSeconds).toBe(300);
    expect((await bob.messages(bToA)).filter((m) => m.kind === 'timer-changed')).toHaveLength(1);
    // Off on device 2 follows back to device 1.
    await second.call('conversations:setTimer', { conversationId: onSecond, seconds: 0 });
    await alice.waitEvent('message:added', (p) => p.message.kind === 'timer-changed' && p.message.expireTimerSeconds === 0);
    expect(await timerOf(alice, aToB)).toBe(0);
  });

  it('delete for me on one device deletes on the other (received and sent), never at the peer', async () => {
    const { alice, second, bob, aToB, bToA } = await aliceOnTwoDevicesAndBob();
    const onSecond = (await second.conversationWith(bob))!;
    await bob.send(bToA, 'from Bob, to be deleted');
    const received = await alice.receive(bob, 'from Bob, to be deleted');
    await second.receive(bob, 'from Bob, to be deleted');
    const mine = await second.send(onSecond, 'from the laptop, to be deleted');
    await bob.receive(alice, 'from the laptop, to be deleted');
    const copy = await eventually(() => alice.messages(aToB), (ms) => ms.some((m) => m.body === 'from the laptop, to be deleted'), 'the copy on device 1');
    await alice.call('messages:deleteForMe', { messageId: received.id });
    await alice.call('messages:deleteForMe', { messageId: copy.find((m) => m.body === 'from the laptop, to be deleted')!.id });
    await second.waitEvent('message:removed', (p) => p.messageId === mine.id);
    const left = (await second.messages(onSecond)).map((m) => m.body);
    expect(left).not.toContain('from Bob, to be deleted');
    expect(left).not.toContain('from the laptop, to be deleted');
    expect((await second.call('search:query', { query: 'deleted', limit: 10 })).results).toEqual([]);
    // Bob keeps both.
    expect((await bob.messages(bToA)).map((m) => m.body)).toEqual(expect.arrayContaining(['from Bob, to be deleted', 'from the laptop, to be deleted']));
  });

  it('delete for everyone from device 1 of a message sent from device 2: a tombstone on both of Alice\'s devices and at Bob', async () => {
    const { alice, second, bob, aToB, bToA } = await aliceOnTwoDevicesAndBob();
    const onSecond = (await second.conversationWith(bob))!;
    const sent = await second.send(onSecond, 'regretted');
    await bob.receive(alice, 'regretted');
    const copies = await eventually(() => alice.messages(aToB), (ms) => ms.some((m) => m.body === 'regretted'), 'the copy on device 1');
    await alice.call('messages:deleteForEveryone', { messageId: copies.find((m) => m.body === 'regretted')!.id });
    await second.waitEvent('message:removed', (p) => p.messageId === sent.id);
    await eventually(() => second.messages(onSecond), (ms) => ms.some((m) => m.kind === 'deleted' && m.direction === 'outgoing'), 'the tombstone on device 2');
    expect((await second.messages(onSecond)).map((m) => m.body)).not.toContain('regretted');
    await eventually(() => bob.messages(bToA), (ms) => ms.some((m) => m.kind === 'deleted') && !ms.some((m) => m.body === 'regretted'), 'the tombstone at Bob');
  });

  it("bad input: a delete for everyone of someone else's message, or past the window, from an own device changes nothing; a contact's timer or delete sync is refused", async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    const bToA = await bob.add(alice);
    await bob.send(bToA, 'Bob wrote this');
    const fromBob = await alice.receive(bob, 'Bob wrote this');
    const mine = await alice.send(aToB, 'Alice wrote this');
    await bob.receive(alice, 'Alice wrote this');
    const ids = alice.engine.messaging!.core.db.reader.all<{ id: number; message_id: Uint8Array; sender_account_id: Uint8Array; sender_device_id: number }>(
      sql`SELECT id, message_id, sender_account_id, sender_device_id FROM messages WHERE id IN (${Number(fromBob.id)}, ${Number(mine.id)}) ORDER BY id`,
    );
    const ref = (row: (typeof ids)[number]) => ({ senderAccountId: row.sender_account_id, senderDeviceId: row.sender_device_id, messageId: row.message_id });
    const bobsRow = ids.find((r) => r.id === Number(fromBob.id))!;
    const mineRow = ids.find((r) => r.id === Number(mine.id))!;
    // From Bob's second device (a contact, not an own device): a timer and a deletion, refused.
    const bobsOther = await LinkedTestDevice.link(bob, fixture.relay.url);
    devices.push(bobsOther);
    await bobsOther.sendTo(alice, { type: 'timer-sync', messageId: syncId(), sentAt: Date.now(), peer: fromHex(bob.accountId), seconds: 60 });
    await bobsOther.sendTo(alice, { type: 'messages-deleted', messageId: syncId(), sentAt: Date.now(), forEveryone: false, entries: [ref(mineRow)] });
    await bob.barrier(alice, bToA);
    const own = await LinkedTestDevice.link(alice, fixture.relay.url);
    devices.push(own);
    await alice.engine.messaging!.contacts.syncOwnList();
    // For everyone, but Bob's message (not this account's): refused.
    await own.sendTo(alice, { type: 'messages-deleted', messageId: syncId(), sentAt: Date.now(), forEveryone: true, entries: [ref(bobsRow)] });
    // For everyone, Alice's own message, but the request is dated two days after it: refused.
    await own.sendTo(alice, { type: 'messages-deleted', messageId: syncId(), sentAt: Date.now() + 2 * 86_400_000, forEveryone: true, entries: [ref(mineRow)] });
    // Control, after them (one mailbox, in order): the own device's valid timer change applies (so the path works).
    await own.sendTo(alice, { type: 'timer-sync', messageId: syncId(), sentAt: Date.now() + 1_000, peer: fromHex(bob.accountId), seconds: 3600 });
    await eventually(() => timerOf(alice, aToB), (t) => t === 3600, 'the own device\'s timer applied');
    const kinds = (await alice.messages(aToB)).map((m) => [m.kind, m.body ?? null]);
    expect(kinds).toContainEqual(['text', 'Bob wrote this']);
    expect(kinds).toContainEqual(['text', 'Alice wrote this']);
    expect(kinds.filter(([k]) => k === 'deleted')).toEqual([]);
    expect(kinds.filter(([k]) => k === 'timer-changed')).toHaveLength(1);
  });
});
