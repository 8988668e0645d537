/**
 * History transfer to a newly linked device (issue 14, docs/protocol.md §22, ADR 0028), end to end
 * through the engine on the real relay: the person chooses on the primary (devices:link's
 * `history`); the archive is exported, sealed with the file cipher, uploaded through the relay's
 * attachment store, downloaded, checked, imported — and deleted at the relay. Progress shows on
 * both devices (history:status).
 *
 * Alice's history has two old messages (40 days; written straight into her database with the
 * engine's own insert, since no relay accepts a 40-day-old clock) and two recent ones exchanged
 * with Bob through the relay (an outgoing one Bob read, an incoming one Alice has not read).
 * "The last 30 days" brings exactly the recent two with their directions and statuses, searchable;
 * "everything" all four; "none" nothing. Cancel on either device, a relay that flips a byte of the
 * archive or swaps in another, and malformed archive bytes import nothing, leave no upload at the
 * relay, and leave the link working.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HistoryTransferView } from '../../../shared/api/view-models.js';
import { fromHex } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { layoutFromCiphertextLength, sealAttachment } from '../../../shared/protocol/attachment-cipher.js';
import { parseDeviceList } from '../../../shared/protocol/device-list.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { encodeHistoryArchive } from '../../../shared/protocol/history-archive.js';
import { insertContact } from '../../../electron/engine/db/contacts.js';
import { getOrCreateDirectConversation } from '../../../electron/engine/db/conversations.js';
import { insertMessage } from '../../../electron/engine/db/messages.js';
import { importHistory } from '../../../electron/engine/linking/history.js';
import { relayAndEngines, TestEngine } from '../../support/engines.js';
import { RewritingProxy } from './helpers/rewriting-proxy.js';

const fixture = relayAndEngines();
const DAY = 24 * 3600_000;

/** The relay's stored attachment files (tus data and metadata). */
function relayBlobs(): string[] {
  try {
    return readdirSync(join(fixture.relay.dataDir, 'attachments')).sort();
  } catch {
    return [];
  }
}

type World = { alice: TestEngine; bob: TestEngine; aToB: string; recentOut: string; recentIn: string };

/** Alice and Bob with two old messages (40 days) and two recent ones (Bob read Alice's; Alice has not read Bob's). */
async function world(): Promise<World> {
  const alice = await fixture.engine('alice');
  const bob = await fixture.engine('bob');
  const aToB = await alice.add(bob);
  await bob.add(alice);
  const db = alice.engine.current!.db.writer;
  const now = Date.now();
  const bobId = fromHex(bob.accountId);
  const own = alice.engine.current!.account.accountId;
  db.transaction(() => {
    const c = getOrCreateDirectConversation(db, bobId, now);
    const old = now - 40 * DAY;
    insertMessage(db, { conversationId: c.id, kind: 'text', direction: 'incoming', senderAccountId: bobId, senderDeviceId: 1, messageId: systemRng(16), sentAt: old, receivedAt: old + 500, body: 'ancient greeting', status: null, readAt: old + 1000 });
    insertMessage(db, { conversationId: c.id, kind: 'text', direction: 'outgoing', senderAccountId: own, senderDeviceId: 1, messageId: systemRng(16), sentAt: old + 2000, receivedAt: old + 2000, body: 'ancient reply', status: 'read', readAt: null });
  });
  const out = await alice.send(aToB, 'recent question about lunch');
  const inBob = await bob.receive(alice, 'recent question about lunch');
  await bob.call('messages:markRead', { conversationId: inBob.conversationId, upToMessageId: inBob.id });
  await alice.waitStatus(out.id, 'read');
  const bToA = (await bob.conversationWith(alice))!;
  await bob.send(bToA, 'recent answer: noodles');
  const inAlice = await alice.receive(bob, 'recent answer: noodles');
  await bob.drained();
  await alice.drained();
  return { alice, bob, aToB, recentOut: out.id, recentIn: inAlice.id };
}

/** Links a new device to Alice's account with `history` chosen on Alice's device; the new device may use its own relay URL (a proxy). */
async function link(alice: TestEngine, history: 'none' | 'recent' | 'all', relayUrl = fixture.relay.url): Promise<TestEngine> {
  const second = await TestEngine.start({ relayUrl, transferRetry: { maxAttempts: 2 } });
  fixture.track(second);
  const offer = await second.call('link:start', { relayUrl });
  const linking = alice.call('devices:link', { offerText: offer.offerText, history });
  await second.waitEvent('link:status', (s) => s.phase === 'awaiting-confirmation');
  await second.call('link:accept', { deviceName: "Alice's laptop" });
  await linking;
  second.username = alice.username;
  await second.online();
  return second;
}

const ended = (v: HistoryTransferView): boolean => v.phase === 'done' || v.phase === 'cancelled' || v.phase === 'failed';

async function bodies(t: TestEngine, peer: TestEngine): Promise<{ body: string | null; direction: string; status: string | null; read: boolean }[]> {
  const c = await t.conversationWith(peer);
  if (!c) return [];
  return (await t.messages(c)).map((m) => ({ body: m.body, direction: m.direction, status: m.status, read: m.read }));
}

describe('history transfer to a newly linked device', () => {
  it('the last 30 days: the new device shows exactly the recent messages, with directions and statuses, and finds them by search; the upload is gone from the relay', async () => {
    const { alice, bob } = await world();
    const before = relayBlobs();
    const second = await link(alice, 'recent');
    const done = await second.waitEvent('history:status', (v) => ended(v), 20_000);
    expect(done).toMatchObject({ role: 'receiving', deviceId: 1, scope: 'recent', phase: 'done', messages: 2, totalMessages: 2, error: null });
    // Progress on both devices: the new one went through downloading and importing, the primary through preparing, uploading and waiting.
    expect(new Set(second.payloads('history:status').map((v) => v.phase))).toEqual(new Set(['preparing', 'downloading', 'importing', 'done']));
    const sent = await alice.waitEvent('history:status', (v) => v.phase === 'done');
    expect(sent).toMatchObject({ role: 'sending', deviceId: 2, scope: 'recent', messages: 2 });
    expect(alice.payloads('history:status').map((v) => v.phase)).toEqual(expect.arrayContaining(['preparing', 'uploading', 'waiting', 'done']));

    expect(await bodies(second, bob)).toEqual([
      { body: 'recent question about lunch', direction: 'outgoing', status: 'read', read: true },
      { body: 'recent answer: noodles', direction: 'incoming', status: null, read: false },
    ]);
    const hits = await second.call('search:query', { query: 'noodles', limit: 20 });
    expect(hits.results.map((h) => h.direction)).toEqual(['incoming']);
    expect((await second.call('search:query', { query: 'ancient', limit: 20 })).results).toEqual([]);
    expect(relayBlobs()).toEqual(before);

    // Linked and working: Bob's next message reaches the new device, once.
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'after the link');
    await second.receive(bob, 'after the link');
    expect((await bodies(second, bob)).map((m) => m.body)).toEqual(['recent question about lunch', 'recent answer: noodles', 'after the link']);
  });

  it('everything: all four messages, the 40-day-old ones too — but never a timed (disappearing) one', async () => {
    const { alice, bob } = await world();
    // A disappearing message (issue 17, DESIGN §3.8): it is not put in any archive.
    const db = alice.engine.current!.db.writer;
    db.transaction(() => {
      const c = getOrCreateDirectConversation(db, fromHex(bob.accountId), Date.now());
      const at = Date.now() - 1000;
      insertMessage(db, { conversationId: c.id, kind: 'text', direction: 'incoming', senderAccountId: fromHex(bob.accountId), senderDeviceId: 1, messageId: systemRng(16), sentAt: at, receivedAt: at, body: 'ephemeral secret plan', status: null, readAt: null, expireTimerSeconds: 3600 });
    });
    const second = await link(alice, 'all');
    expect(await second.waitEvent('history:status', ended, 20_000)).toMatchObject({ phase: 'done', scope: 'all', messages: 4 });
    expect(await bodies(second, bob)).toEqual([
      { body: 'ancient greeting', direction: 'incoming', status: null, read: true },
      { body: 'ancient reply', direction: 'outgoing', status: 'read', read: true },
      { body: 'recent question about lunch', direction: 'outgoing', status: 'read', read: true },
      { body: 'recent answer: noodles', direction: 'incoming', status: null, read: false },
    ]);
    expect((await second.call('search:query', { query: 'ancient', limit: 20 })).results).toHaveLength(2);
    expect((await second.call('search:query', { query: 'ephemeral', limit: 20 })).results).toEqual([]);
  });

  it('none: no transfer on either device, and the new device holds only what was sent after the link', async () => {
    const { alice, bob } = await world();
    const before = relayBlobs();
    const second = await link(alice, 'none');
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'after the link');
    await second.receive(bob, 'after the link');
    expect((await bodies(second, bob)).map((m) => m.body)).toEqual(['after the link']);
    expect(second.payloads('history:status')).toEqual([]);
    expect(alice.payloads('history:status')).toEqual([]);
    expect(await second.call('history:list', {})).toEqual([]);
    expect(relayBlobs()).toEqual(before);
  });

  it.each(['new device', 'primary'] as const)('cancel on the %s: nothing is imported, the upload is deleted at the relay, both devices say cancelled', async (side) => {
    const { alice, bob } = await world();
    const proxy = await RewritingProxy.start(fixture.relay.url);
    let release!: () => void;
    proxy.holdDownloads = new Promise((resolve) => (release = resolve));
    try {
      const before = relayBlobs();
      const second = await link(alice, 'all', proxy.url);
      // The archive is at the relay and the new device is downloading it (held by the proxy).
      await alice.waitEvent('history:status', (v) => v.phase === 'waiting', 20_000);
      const downloading = await second.waitEvent('history:status', (v) => v.phase === 'downloading', 20_000);
      expect(relayBlobs().length).toBeGreaterThan(before.length);
      const canceller = side === 'primary' ? alice : second;
      const [mine] = await canceller.call('history:list', {});
      expect(mine!.transferId).toBe(downloading.transferId);
      expect(await canceller.call('history:cancel', { transferId: mine!.transferId })).toBeNull();
      const other = side === 'primary' ? second : alice;
      expect(await other.waitEvent('history:status', ended, 20_000)).toMatchObject({ phase: 'cancelled', error: { code: 'HISTORY_CANCELLED' } });
      expect((await canceller.call('history:list', {}))[0]).toMatchObject({ phase: 'cancelled' });
      release();
      // Nothing imported, and the upload is gone from the relay.
      await bob.send((await bob.conversationWith(alice))!, 'after the cancel');
      await second.receive(bob, 'after the cancel');
      expect((await bodies(second, bob)).map((m) => m.body)).toEqual(['after the cancel']);
      for (let i = 0; relayBlobs().length !== before.length; i++) {
        if (i > 200) throw new Error('the upload stayed at the relay');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(relayBlobs()).toEqual(before);
      expect(await second.errorOf('history:cancel', { transferId: '00'.repeat(16) })).toBe('HISTORY_NOT_FOUND');
    } finally {
      release();
      await proxy.close();
    }
  });

  it.each([
    ['flips a byte of the archive', (body: Uint8Array) => {
      const b = body.slice();
      b[b.length - 40]! ^= 0x01;
      return b;
    }],
    ['swaps in another archive of the same size', (body: Uint8Array) => {
      // A valid sealed file of exactly this length under another key (Padmé(P) = P).
      const layout = layoutFromCiphertextLength(body.length)!;
      return sealAttachment(new Uint8Array(layout.paddedLength), { rng: systemRng }).ciphertext;
    }],
  ] as const)('a relay that %s: HISTORY_TAMPERED, nothing imported, no upload left, and the link works', async (_what, rewrite) => {
    const { alice, bob } = await world();
    const proxy = await RewritingProxy.start(fixture.relay.url);
    try {
      const before = relayBlobs();
      proxy.rewriteDownload = rewrite;
      const second = await link(alice, 'all', proxy.url);
      expect(await second.waitEvent('history:status', ended, 20_000)).toMatchObject({ phase: 'failed', error: { code: 'HISTORY_TAMPERED' } });
      expect(proxy.downloads).toBeGreaterThan(0);
      // The primary is told the transfer ended.
      expect(await alice.waitEvent('history:status', ended, 20_000)).toMatchObject({ phase: 'cancelled' });
      await bob.send((await bob.conversationWith(alice))!, 'still linked');
      await second.receive(bob, 'still linked');
      expect((await bodies(second, bob)).map((m) => m.body)).toEqual(['still linked']);
      for (let i = 0; relayBlobs().length !== before.length; i++) {
        if (i > 200) throw new Error('the upload stayed at the relay');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      // And the new device sends from the account like any other.
      const toBob = (await second.conversationWith(bob))!;
      await second.send(toBob, 'from the laptop');
      await bob.receive(alice, 'from the laptop');
    } finally {
      await proxy.close();
    }
  });

  it('a device takes history only within 24 hours of its link: later, Offer and Ready from the primary are ignored', async () => {
    const { alice, bob, aToB } = await world();
    const second = await link(alice, 'none');
    second.clock.advance(25 * 3600_000);
    alice.engine.messaging!.history.start(2, 'all');
    await alice.waitEvent('history:status', (v) => v.phase === 'waiting', 20_000);
    // A barrier: Alice's next text reaches the new device (as her sent copy) after the Offer and the Ready.
    await alice.send(aToB, 'sent after the ready');
    for (let i = 0; !(await bodies(second, bob)).some((m) => m.body === 'sent after the ready'); i++) {
      if (i > 400) throw new Error('the new device never showed the sent copy');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(second.payloads('history:status')).toEqual([]);
    expect((await bodies(second, bob)).map((m) => m.body)).toEqual(['sent after the ready']);
  });

  it('an account state larger than the link carries (about 400 contacts) is LINK_ACCOUNT_TOO_LARGE before anything is signed', async () => {
    const alice = await fixture.engine('alice');
    const db = alice.engine.current!.db.writer;
    // 600 contacts with 1 KB device lists: well over the 512 KiB the provisioning frame carries.
    db.transaction(() => {
      for (let i = 0; i < 600; i++) {
        const accountId = systemRng(16);
        insertContact(db, { accountId, username: `many_${i}`, accountKey: systemRng(32), deviceList: { signed: systemRng(1000), version: 1, issuedAt: 1 }, now: Date.now() });
      }
    });
    const version = parseDeviceList(alice.engine.current!.account.deviceList.signed).list.version;
    const second = await TestEngine.start({ relayUrl: fixture.relay.url });
    fixture.track(second);
    const offer = await second.call('link:start', { relayUrl: fixture.relay.url });
    const linking = alice.errorOf('devices:link', { offerText: offer.offerText, history: 'all' });
    await second.waitEvent('link:status', (s) => s.phase === 'awaiting-confirmation');
    const accepted = second.errorOf('link:accept', { deviceName: 'laptop' });
    expect(await linking).toBe('LINK_ACCOUNT_TOO_LARGE');
    expect(await accepted).toBe('LINK_EXPIRED');
    // Nothing was signed or published, and no transfer started.
    expect(parseDeviceList(alice.engine.current!.account.deviceList.signed).list.version).toBe(version);
    expect((await alice.call('devices:list', {})).map((d) => d.deviceId)).toEqual([1]);
    expect(alice.payloads('history:status')).toEqual([]);
  });

  it('malformed archive bytes are typed errors and import nothing', async () => {
    const { alice, bob } = await world();
    const core = alice.engine.messaging!.core;
    const count = async () => (await bodies(alice, bob)).length;
    const n = await count();
    const own = core.account.accountId;
    const valid = encodeHistoryArchive({ scope: 'all', accountId: own, createdAt: Date.now(), since: 0, conversations: [{ peerAccountId: fromHex(bob.accountId), messages: [{ kind: 'text', direction: 'incoming', status: null, readAt: null, senderDeviceId: 1, messageId: systemRng(16), sentAt: 1, receivedAt: 2, body: 'smuggled', pointer: null }] }] });
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'MALFORMED'],
      [Uint8Array.of(2, 1), 'UNSUPPORTED_VERSION'],
      [valid.subarray(0, valid.length - 1), 'MALFORMED'],
      [Uint8Array.of(...valid, 0), 'MALFORMED'],
      [encodeHistoryArchive({ scope: 'all', accountId: fromHex(bob.accountId), createdAt: 5, since: 0, conversations: [] }), 'UNTRUSTED_IDENTITY'],
    ];
    for (const [bytes, code] of cases) {
      const e = await importHistory(core, bytes).then(() => null, (x: unknown) => x);
      expect(isProtocolError(e) && e.code).toBe(code);
    }
    expect(await count()).toBe(n);
    // The valid one imports once; a second import adds nothing.
    expect(await importHistory(core, valid)).toEqual({ imported: 1, total: 1 });
    expect(await importHistory(core, valid)).toEqual({ imported: 0, total: 1 });
    expect(await count()).toBe(n + 1);
  });
});
