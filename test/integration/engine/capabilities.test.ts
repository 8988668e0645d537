/**
 * Device capabilities (issue 12 "Accounts", docs/protocol.md §4.4, ADR 0023) through the real
 * relay: a new device advertises what this build can show in its account-signed entry; a device
 * whose entry advertises less (an older version) is re-advertised by its primary at the next open;
 * and a sender whose contact has a device that cannot show files is told so in the conversation
 * when sending a file, instead of the send passing silently — while a contact whose devices all
 * show files gets no such notice.
 */
import { describe, expect, it } from 'vitest';
import { MAX_ATTACHMENT_CHUNK_BYTES } from '../../../shared/api/primitives.js';
import { Capability } from '../../../shared/protocol/constants.js';
import { parseDeviceList, verifyDeviceList } from '../../../shared/protocol/device-list.js';
import { pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { BUILD_CAPABILITIES, resignDeviceListIfDue } from '../../../electron/engine/account/device-list.js';
import { getContact } from '../../../electron/engine/db/contacts.js';
import { relayAndEngines, waitFor, type TestEngine } from '../../support/engines.js';
import { LinkedTestDevice } from './helpers/linked-device.js';

const fixture = relayAndEngines();

async function sendFile(from: TestEngine, conversationId: string, name: string) {
  const bytes = pseudoRandomBytes(name, 5_000);
  const { stageId } = await from.call('attachments:stage', { name, size: bytes.length });
  for (let offset = 0; offset < bytes.length; offset += MAX_ATTACHMENT_CHUNK_BYTES) {
    await from.call('attachments:write', { stageId, offset, data: Buffer.from(bytes.subarray(offset, offset + MAX_ATTACHMENT_CHUNK_BYTES)).toString('base64') });
  }
  return from.call('attachments:send', { conversationId, stageId, caption: '', asFile: true });
}

/** The capabilities `engine` holds for each device of `of` (from its stored, verified list). */
function capabilitiesSeen(engine: TestEngine, of: TestEngine): Record<number, number> {
  const db = engine.engine.current!.db.reader;
  const contact = getContact(db, Buffer.from(of.accountId, 'hex'))!;
  return Object.fromEntries(parseDeviceList(contact.deviceList.signed).list.devices.map((d) => [d.deviceId, d.capabilities]));
}

describe('device capabilities', () => {
  it('a new device advertises pq, files, profiles, timers and sealed in its signed entry, and a contact reads them from the verified list', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    expect(BUILD_CAPABILITIES).toBe(Capability.pq | Capability.files | Capability.profiles | Capability.groups | Capability.timers | Capability.sealed);
    const own = parseDeviceList(bob.engine.current!.account.deviceList.signed).list;
    expect(own.devices.map((d) => [d.deviceId, d.capabilities])).toEqual([[1, BUILD_CAPABILITIES]]);
    await alice.add(bob);
    expect(capabilitiesSeen(alice, bob)).toEqual({ 1: BUILD_CAPABILITIES });
  });

  it('sending a file to a person with a device that cannot show files adds a notice after the file; with none, no notice', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    // Every device of Bob shows files: no notice.
    const first = await sendFile(alice, aToB, 'first.bin');
    await alice.waitStatus(first.id, 'delivered', 30_000);
    expect((await alice.messages(aToB)).map((m) => m.kind)).toEqual(['attachment']);
    expect((await alice.call('conversations:list', {}))[0]).toMatchObject({ id: aToB, showsFiles: true });

    // Bob links a device of an older version: its signed entry has only pq (no files bit).
    const older = await LinkedTestDevice.link(bob, fixture.relay.url, Capability.pq);
    try {
      // A text makes Alice learn of it (the relay answers MISMATCHED_DEVICES, she fetches and verifies the list).
      const hello = await alice.send(aToB, 'hello both devices');
      await waitFor(() => older.texts().includes('hello both devices'), 'the older device got the text');
      await alice.waitStatus(hello.id, 'delivered');
      expect(capabilitiesSeen(alice, bob)).toEqual({ 1: BUILD_CAPABILITIES, 2: Capability.pq });
      // The conversation says so before anything is sent (the file preview shows it).
      expect((await alice.call('conversations:list', {}))[0]).toMatchObject({ id: aToB, showsFiles: false });

      const second = await sendFile(alice, aToB, 'second.bin');
      const notice = alice.payloads('message:added').find((p) => p.message.kind === 'files-unsupported');
      expect(notice?.message).toMatchObject({ conversationId: aToB, direction: 'incoming', senderId: null, body: null, read: true });
      // Bob's new device also shows as 'contact-devices-changed' (ADR 0027), not counted here.
      expect((await alice.messages(aToB)).map((m) => m.kind).filter((k) => k !== 'contact-devices-changed')).toEqual(['attachment', 'text', 'attachment', 'files-unsupported']);
      const [conversation] = await alice.call('conversations:list', {});
      expect(conversation!.lastMessage).toMatchObject({ kind: 'files-unsupported', preview: null });
      // The file still goes to every device: the one that can show it does; the older one gets the
      // content (and, not knowing the kind, would show "needs a newer version").
      await alice.waitStatus(second.id, 'delivered', 30_000);
      await waitFor(() => older.received.some((r) => r.content.type === 'attachment'), 'the older device got the file message');
      // A text is not gated: no further notice.
      await alice.send(aToB, 'a text');
      expect((await alice.messages(aToB)).filter((m) => m.kind === 'files-unsupported')).toHaveLength(1);
    } finally {
      older.close();
    }
  });

  it('a primary whose entry advertises less than its build re-signs the list at the next open, and contacts see the new bits', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await alice.add(bob);
    // Bob's list as an older version signed it: pq only (version 2), uploaded to the relay.
    const open = bob.engine.current!;
    const downgraded = resignDeviceListIfDue(open.db.writer, open.account, Date.now(), Capability.pq)!;
    await bob.engine.messaging!.relay.putDeviceList(downgraded.signed);
    expect(downgraded.version).toBe(2);
    const bobId = Buffer.from(bob.accountId, 'hex');
    await alice.engine.messaging!.contacts.refresh(bobId);
    expect(capabilitiesSeen(alice, bob)).toEqual({ 1: Capability.pq });

    const restarted = await bob.restart();
    fixture.track(restarted);
    const own = parseDeviceList(restarted.engine.current!.account.deviceList.signed).list;
    expect(own.version).toBe(3);
    expect(own.devices[0]!.capabilities).toBe(BUILD_CAPABILITIES);
    // The relay holds the new list (uploaded at connection), signed by Bob's account key.
    const account = restarted.engine.current!.account;
    let atRelay = (await restarted.engine.messaging!.relay.lookupAccount(account.accountId)).deviceList;
    const deadline = Date.now() + 10_000;
    while (parseDeviceList(atRelay).list.version < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      atRelay = (await restarted.engine.messaging!.relay.lookupAccount(account.accountId)).deviceList;
    }
    expect(verifyDeviceList(atRelay, account.accountPublicKey, account.accountId).devices[0]!.capabilities).toBe(BUILD_CAPABILITIES);
    await alice.engine.messaging!.contacts.refresh(bobId);
    expect(capabilitiesSeen(alice, restarted)).toEqual({ 1: BUILD_CAPABILITIES });
  });
});
