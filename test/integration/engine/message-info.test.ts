/**
 * Message info and Delete for me (issue 12 "Rough edges": the message context menu) through the
 * real relay: the info of an outgoing message lists every recipient device with its own status —
 * delivered and read only after that device's own receipts — and an incoming message's info names
 * the sending device and both times. Delete for me removes the message from this device only (the
 * row, the search hit, the attachment's files) and survives a restart; the peer keeps their copy.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_ATTACHMENT_CHUNK_BYTES } from '../../../shared/api/primitives.js';
import type { MessageInfo } from '../../../shared/api/view-models.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { relayAndEngines, waitFor, type TestEngine } from '../../support/engines.js';
import { LinkedTestDevice } from './helpers/linked-device.js';

const fixture = relayAndEngines();

async function pair(): Promise<{ alice: TestEngine; bob: TestEngine; aToB: string }> {
  const alice = await fixture.engine('alice');
  const bob = await fixture.engine('bob');
  const aToB = await alice.add(bob);
  await bob.add(alice);
  return { alice, bob, aToB };
}

async function infoWhen(engine: TestEngine, messageId: string, ready: (i: MessageInfo) => boolean, what: string): Promise<MessageInfo> {
  let info: MessageInfo | undefined;
  const deadline = Date.now() + 10_000;
  for (;;) {
    info = await engine.call('messages:info', { messageId });
    if (ready(info)) return info;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(info.devices)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('message info', () => {
  it("lists each recipient device with its own status: delivered and read only after that device's receipts", async () => {
    const { alice, bob, aToB } = await pair();
    const second = await LinkedTestDevice.link(bob, fixture.relay.url);
    try {
      const before = Date.now();
      const sent = await alice.send(aToB, 'info please');
      // Bob's primary answers with a delivery receipt by itself; his second device says nothing yet.
      await alice.waitStatus(sent.id, 'delivered');
      await waitFor(() => second.texts().includes('info please'), 'the second device has the message');
      const contentId = second.received.find((r) => r.content.type === 'text' && r.content.text === 'info please')!.content.messageId;
      let info = await infoWhen(alice, sent.id, (i) => i.devices.some((d) => d.deviceId === 1 && d.status === 'delivered'), 'delivered on device 1');
      expect(info).toMatchObject({ messageId: sent.id, conversationId: aToB, direction: 'outgoing', sentAt: sent.sentAt, receivedAt: null, senderDeviceId: 1, status: 'delivered' });
      expect(info.acceptedAt).toBeGreaterThanOrEqual(before - 5_000);
      expect(info.devices.map((d) => [d.contactId, d.deviceId, d.status])).toEqual([
        [bob.accountId, 1, 'delivered'],
        [bob.accountId, 2, 'sent'],
      ]);
      for (const d of info.devices) expect(d.sentAt).toBe(info.acceptedAt);
      expect(info.devices[1]).toMatchObject({ deliveredAt: null, readAt: null });

      // The second device reads it: its receipts name the message by its exact id (content 0x05).
      await second.sendTo(alice, { type: 'receipt', messageId: systemRng(16), sentAt: Date.now(), receipt: 'read', messageIds: [contentId] });
      info = await infoWhen(alice, sent.id, (i) => i.devices.some((d) => d.deviceId === 2 && d.status === 'read'), 'read on device 2');
      expect(info.status).toBe('read');
      const dev2 = info.devices.find((d) => d.deviceId === 2)!;
      expect(dev2.readAt).not.toBeNull();
      expect(dev2.deliveredAt).toBe(dev2.readAt); // a read receipt settles delivery too
      expect(info.devices.find((d) => d.deviceId === 1)).toMatchObject({ status: 'delivered', readAt: null });

      // Bob's primary reads it later: its read time is its own.
      const bToA = (await bob.conversationWith(alice))!;
      const incoming = await bob.receive(alice, 'info please');
      await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: incoming.id });
      info = await infoWhen(alice, sent.id, (i) => i.devices.every((d) => d.status === 'read'), 'read on both devices');
      const dev1 = info.devices.find((d) => d.deviceId === 1)!;
      expect(dev1.deliveredAt!).toBeLessThanOrEqual(dev1.readAt!);
      expect(dev1.readAt!).toBeGreaterThanOrEqual(dev2.readAt!);

      // The incoming side: the sending device, the sender's time and this device's receive time.
      const theirs = await bob.call('messages:info', { messageId: incoming.id });
      expect(theirs).toEqual({
        messageId: incoming.id,
        conversationId: bToA,
        direction: 'incoming',
        sentAt: incoming.sentAt,
        receivedAt: incoming.receivedAt,
        acceptedAt: null,
        senderDeviceId: 1,
        status: null,
        devices: [],
      });
      // Info survives a restart (the statuses are stored, not kept in memory).
      const restarted = await alice.restart();
      fixture.track(restarted);
      expect((await restarted.call('messages:info', { messageId: sent.id })).devices).toEqual(info.devices);
    } finally {
      second.close();
    }
  });

  it('a receipt for a message this device never sent records nothing; an unknown id is NOT_FOUND', async () => {
    const { alice, bob, aToB } = await pair();
    const second = await LinkedTestDevice.link(bob, fixture.relay.url);
    try {
      const sent = await alice.send(aToB, 'only this one');
      await alice.waitStatus(sent.id, 'delivered');
      await second.sendTo(alice, { type: 'receipt', messageId: systemRng(16), sentAt: Date.now(), receipt: 'read', messageIds: [systemRng(16)] });
      await bob.barrier(alice, (await bob.conversationWith(alice))!);
      const info = await alice.call('messages:info', { messageId: sent.id });
      expect(info.devices.find((d) => d.deviceId === 2)).toMatchObject({ status: 'sent', deliveredAt: null, readAt: null });
      expect(await alice.errorOf('messages:info', { messageId: '999999' })).toBe('NOT_FOUND');
      expect(await alice.errorOf('messages:info', { messageId: 'x' })).toBe('INVALID_REQUEST');
    } finally {
      second.close();
    }
  });
});

describe('delete for me', () => {
  it('removes the message, its search hit and nothing at the peer; it stays gone after a restart', async () => {
    const { alice, bob, aToB } = await pair();
    const keep = await alice.send(aToB, 'keep the lighthouse');
    const gone = await alice.send(aToB, 'forget the zeppelin');
    await bob.receive(alice, 'forget the zeppelin');
    const found = async (engine: TestEngine, query: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const page = await engine.call('search:query', { query, limit: 10 });
        if (page.indexComplete || Date.now() > deadline) return page.results.map((r) => r.messageId);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    expect(await found(alice, 'zeppelin')).toEqual([gone.id]);

    await alice.call('messages:deleteForMe', { messageId: gone.id });
    expect(alice.payloads('message:removed')).toEqual([{ conversationId: aToB, messageId: gone.id }]);
    expect((await alice.messages(aToB)).map((m) => m.body)).toEqual(['keep the lighthouse']);
    expect(await found(alice, 'zeppelin')).toEqual([]);
    expect(await found(alice, 'lighthouse')).toEqual([keep.id]);
    // The list shows what is now the last message.
    const [conversation] = await alice.call('conversations:list', {});
    expect(conversation!.lastMessage).toMatchObject({ id: keep.id });
    expect(await alice.errorOf('messages:info', { messageId: gone.id })).toBe('NOT_FOUND');
    expect(await alice.errorOf('messages:deleteForMe', { messageId: gone.id })).toBe('NOT_FOUND');

    // Bob was not told: his copy stays, and is still found.
    const bToA = (await bob.conversationWith(alice))!;
    await alice.barrier(bob, aToB);
    expect((await bob.messages(bToA)).map((m) => m.body)).toContain('forget the zeppelin');
    expect(await found(bob, 'zeppelin')).toHaveLength(1);

    const restarted = await alice.restart();
    fixture.track(restarted);
    expect((await restarted.messages(aToB)).map((m) => m.body)).not.toContain('forget the zeppelin');
    expect(await found(restarted, 'zeppelin')).toEqual([]);
  });

  it('an attachment goes with its files; an incoming message can be deleted too', async () => {
    const { alice, bob, aToB } = await pair();
    const bytes = pseudoRandomBytes('delete me', 200_000);
    const { stageId } = await alice.call('attachments:stage', { name: 'notes.bin', size: bytes.length });
    for (let offset = 0; offset < bytes.length; offset += MAX_ATTACHMENT_CHUNK_BYTES) {
      await alice.call('attachments:write', { stageId, offset, data: Buffer.from(bytes.subarray(offset, offset + MAX_ATTACHMENT_CHUNK_BYTES)).toString('base64') });
    }
    const sent = await alice.call('attachments:send', { conversationId: aToB, stageId, caption: 'the file', asFile: true });
    await alice.waitStatus(sent.id, 'delivered', 30_000);
    const dir = join(alice.engine.profile.dataDir, 'attachments');
    expect(existsSync(join(dir, `${sent.id}.spool`))).toBe(true);
    await alice.call('messages:deleteForMe', { messageId: sent.id });
    expect(existsSync(join(dir, `${sent.id}.spool`))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith(`${sent.id}.`))).toEqual([]);
    expect((await alice.messages(aToB)).some((m) => m.id === sent.id)).toBe(false);

    // Bob still has the file and can open it; then he deletes it on his side only.
    const bToA = (await bob.conversationWith(alice))!;
    const theirs = (await bob.messages(bToA)).find((m) => m.kind === 'attachment')!;
    const opened = await bob.call('attachments:open', { messageId: theirs.id });
    expect(opened.size).toBe(bytes.length);
    const bobDir = join(bob.engine.profile.dataDir, 'attachments');
    expect(existsSync(join(bobDir, `${theirs.id}.spool`))).toBe(true);
    await bob.call('messages:deleteForMe', { messageId: theirs.id });
    expect(readdirSync(bobDir).filter((n) => n.startsWith(`${theirs.id}.`))).toEqual([]);
    expect(readdirSync(join(bobDir, 'open'))).toEqual([]);
    expect((await bob.messages(bToA)).some((m) => m.id === theirs.id)).toBe(false);
  });
});
