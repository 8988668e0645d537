/**
 * Engines talking through the real relay (in process on 127.0.0.1:0, real SQLite both sides):
 * registration, contacts by username, messages both ways, delivery statuses through read, receipts
 * off, the size limit, the offline queue, duplicates, display order with clamped timestamps.
 */
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BODY_BYTES } from '../../../shared/api/primitives.js';
import type { Envelope } from '../../../shared/wire/frames.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { countOutbox } from '../../../electron/engine/db/outbox.js';
import { pendingReceipts } from '../../../electron/engine/db/receipts.js';
import { INBOUND_QUEUE_HIGH_WATER } from '../../../electron/engine/messaging/limits.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { Sessions } from '../../../electron/engine/messaging/sessions.js';
import { TestEngine, waitFor, relayAndEngines } from '../../support/engines.js';

const fixture = relayAndEngines();

const engine = (name: string) => fixture.engine(name);

describe('engines through the relay', () => {
  it('registers at account creation: the relay knows the username, prekeys are uploaded in chunks of at most 100', async () => {
    const alice = await engine('alice');
    const account = alice.engine.current!.account;
    expect(account.registeredAt).not.toBeNull();
    const counts = await alice.engine.messaging!.relay.prekeyCounts();
    expect(counts.oneTimePrekeys).toBe(100);
    expect(counts.kemOneTimePrekeys).toBe(100);
    const notUploaded = alice.engine.current!.db.reader.get<{ n: number }>(sql`
      SELECT (SELECT count(*) FROM one_time_prekeys WHERE uploaded_at IS NULL) + (SELECT count(*) FROM kem_prekeys WHERE uploaded_at IS NULL) AS n`)!.n;
    expect(notUploaded).toBe(0);
    // A taken username is refused at creation, and nothing is left behind.
    const second = await TestEngine.start({ relayUrl: fixture.relay.url });
    fixture.track(second);
    expect(await second.errorOf('account:create', { username: alice.username, relayUrl: fixture.relay.url })).toBe('USERNAME_TAKEN');
    expect(second.engine.getState().state).toBe('needs-account');
  });

  it('Alice and Bob write both ways; statuses go sending → sent → delivered → read', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    const sent = await alice.send(aToB, 'hello bob');
    expect(sent.status).toBe('sending');
    const got = await bob.receive(alice, 'hello bob');
    expect(got).toMatchObject({ kind: 'text', direction: 'incoming', senderId: alice.accountId, read: false });

    // Bob (a message request until he answers: no delivery receipt yet) replies; Alice receives
    // it, and the delivery receipt held back goes with the reply.
    const bToA = (await bob.conversationWith(alice))!;
    const reply = await bob.send(bToA, 'hi alice');
    await alice.receive(bob, 'hi alice');
    await alice.waitStatus(sent.id, 'delivered');
    const statuses = alice.payloads('message:status').filter((s) => s.messageId === sent.id).map((s) => s.status);
    expect(statuses).toEqual(['sent', 'delivered']);
    await bob.waitStatus(reply.id, 'delivered');

    await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: got.id });
    await alice.waitStatus(sent.id, 'read');
    expect(alice.payloads('message:status').filter((s) => s.messageId === sent.id).map((s) => s.status)).toEqual(['sent', 'delivered', 'read']);
    // Bob's view of Alice's conversation and Alice's view: last messages, unread counts.
    const [aliceConversation] = await alice.call('conversations:list', {});
    expect(aliceConversation).toMatchObject({ contactId: bob.accountId, unreadCount: 1, lastMessage: { direction: 'incoming', preview: 'hi alice' } });
    // Neither database holds the plaintext outside the encrypted file: covered by phase 1; here the
    // outboxes are empty once everything is acknowledged.
    await waitFor(() => countOutbox(alice.engine.current!.db.reader) === 0 && countOutbox(bob.engine.current!.db.reader) === 0, 'outboxes drained');
  });

  it('with read receipts off, reading sends no receipt (delivery receipts still go)', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    await bob.call('settings:set', { readReceipts: false });
    const sent = await alice.send(aToB, 'read me');
    const got = await bob.receive(alice, 'read me');
    await alice.waitStatus(sent.id, 'delivered');
    const bToA = (await bob.conversationWith(alice))!;
    await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: got.id });
    // Bob hands everything queued to the relay (nothing for the read); a sentinel sent after it
    // reaches Alice after anything Bob sent before, and she stays at delivered.
    await bob.drained();
    await bob.barrier(alice, bToA);
    expect(await alice.statusOf(sent.id)).toBe('delivered');
  });

  it('refuses a message over the size limit with MESSAGE_TOO_LARGE and stores nothing', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice); // a contact: Bob sends delivery receipts
    expect(await alice.errorOf('messages:send', { conversationId: aToB, body: 'é'.repeat(MAX_MESSAGE_BODY_BYTES / 2 + 1) })).toBe('MESSAGE_TOO_LARGE');
    expect(await alice.messages(aToB)).toEqual([]);
    // The largest message goes through (it fits one relay envelope even as a first, prekey message).
    const big = 'x'.repeat(MAX_MESSAGE_BODY_BYTES);
    const sent = await alice.send(aToB, big);
    await bob.receive(alice, big);
    await alice.waitStatus(sent.id, 'delivered');
  });

  it('queues while offline and delivers after reconnecting; nothing is lost or shown twice', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    await alice.send(aToB, 'before');
    await bob.receive(alice, 'before');
    // Bob goes away; Alice writes three messages: the relay keeps them.
    await bob.close();
    const queued = [];
    for (const body of ['one', 'two', 'three']) queued.push(await alice.send(aToB, body));
    for (const m of queued) await alice.waitStatus(m.id, 'sent');
    // Alice loses the relay too and writes one more: it waits in her outbox as `sending`.
    alice.engine.messaging!.relay.close();
    const four = await alice.send(aToB, 'four');
    expect(await alice.statusOf(four.id)).toBe('sending');
    expect(countOutbox(alice.engine.current!.db.reader)).toBe(1);
    const aliceAgain = await alice.restart();
    fixture.track(aliceAgain);
    await aliceAgain.waitStatus(four.id, 'sent');
    const bobAgain = await bob.restart();
    fixture.track(bobAgain);
    await bobAgain.receive(aliceAgain, 'four');
    const bToA = (await bobAgain.conversationWith(aliceAgain))!;
    expect((await bobAgain.messages(bToA)).map((m) => m.body)).toEqual(['before', 'one', 'two', 'three', 'four']);
    for (const m of [...queued, four]) await aliceAgain.waitStatus(m.id, 'delivered');

    // Bob reads while offline: the read receipt waits and goes out when he is back.
    bobAgain.engine.messaging!.relay.close();
    const last = (await bobAgain.messages(bToA)).at(-1)!;
    await bobAgain.call('messages:markRead', { conversationId: bToA, upToMessageId: last.id });
    expect(pendingReceipts(bobAgain.engine.current!.db.reader).map((r) => r.kind)).toEqual(['read']);
    expect(await aliceAgain.statusOf(four.id)).toBe('delivered');
    const bobThird = await bobAgain.restart();
    fixture.track(bobThird);
    for (const m of [...queued, four]) await aliceAgain.waitStatus(m.id, 'read');
  });

  it('a backlog longer than the inbound queue may hold is read in steps (the live channel pauses) and arrives whole, in order, once', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    await alice.send(aToB, 'hello');
    await bob.receive(alice, 'hello');
    await bob.close();
    const count = INBOUND_QUEUE_HIGH_WATER + 150;
    const sent = await Promise.all(Array.from({ length: count }, (_, i) => alice.send(aToB, `backlog ${i}`)));
    for (const m of sent) await alice.waitStatus(m.id, 'sent', 30_000);
    // Count the pauses of every relay client from here on (Bob's restarted engine makes a new one),
    // and make every batch slow (30 ms more) so that the backlog piles up in the queue whatever the
    // machine's speed: the socket delivers faster than Bob processes.
    const pauses = { pause: 0, resume: 0 };
    const { pauseDelivery, resumeDelivery } = RelayClient.prototype;
    const { batch } = Sessions.prototype;
    Sessions.prototype.batch = function <T>(this: Sessions, fn: () => T): T {
      const until = performance.now() + 30;
      while (performance.now() < until); // a slow machine, deterministically
      return batch.call(this, fn) as T;
    };
    RelayClient.prototype.pauseDelivery = function (this: RelayClient) {
      pauses.pause++;
      pauseDelivery.call(this);
    };
    RelayClient.prototype.resumeDelivery = function (this: RelayClient) {
      pauses.resume++;
      resumeDelivery.call(this);
    };
    try {
      const bobAgain = await bob.restart();
      fixture.track(bobAgain);
      await bobAgain.receive(alice, `backlog ${count - 1}`, 30_000);
      const bodies = bobAgain.engine.current!.db.reader
        .all<{ body: string }>(sql`SELECT body FROM messages WHERE direction = 'incoming' ORDER BY display_at, id`)
        .map((r) => r.body);
      expect(bodies).toEqual(['hello', ...Array.from({ length: count }, (_, i) => `backlog ${i}`)]);
      expect(pauses.pause).toBeGreaterThan(0);
      expect(pauses.resume).toBe(pauses.pause);
      for (const m of sent) await alice.waitStatus(m.id, 'delivered', 30_000);
    } finally {
      RelayClient.prototype.pauseDelivery = pauseDelivery;
      RelayClient.prototype.resumeDelivery = resumeDelivery;
      Sessions.prototype.batch = batch;
    }
  });

  it('a relay redelivery of processed envelopes is recognised before decryption and shows nothing twice', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const captured: Envelope[] = [];
    bob.engine.messaging!.relay.on('envelope', (e) => captured.push(e));
    const aToB = await alice.add(bob);
    await bob.add(alice); // a contact: Bob sends delivery receipts
    let last;
    for (const body of ['a', 'b', 'c']) last = await alice.send(aToB, body);
    await bob.receive(alice, 'c');
    // Quiet: Bob's delivery receipt went out (it advances his session) and reached Alice.
    await alice.waitStatus(last!.id, 'delivered');
    await waitFor(() => countOutbox(bob.engine.current!.db.reader) === 0, 'bob outbox empty');
    const inbound = bob.engine.messaging!.inbound;
    await waitFor(() => inbound.pending === 0, 'inbound idle');
    const added = bob.payloads('message:added').length;
    const sessions = bob.engine.current!.db.reader.all<{ record: Uint8Array }>(sql`SELECT record FROM sessions`);
    // The same envelopes again, as the relay sends them after a lost ack.
    for (const envelope of captured) inbound.enqueue({ envelope, live: true });
    await waitFor(() => inbound.pending === 0, 'replay processed');
    // Recognised by hash: the sessions were not even touched.
    expect(bob.engine.current!.db.reader.all<{ record: Uint8Array }>(sql`SELECT record FROM sessions`)).toEqual(sessions);
    // A sentinel queued after the replay: once Bob shows it, the replay is done showing (nothing).
    const sentinel = await alice.barrier(bob, aToB);
    const bToA = (await bob.conversationWith(alice))!;
    expect((await bob.messages(bToA)).map((m) => m.body)).toEqual(['a', 'b', 'c', sentinel]);
    expect(bob.payloads('message:added').length).toBe(added + 1);
    expect(bob.payloads('message:decryptFailed')).toEqual([]);
  });

  it('orders by the sender clock clamped to the receive time; late arrivals slot in', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    // Alice's clock runs an hour ahead: her message is shown at Bob's receive time, not in the future.
    alice.clock.advance(3600_000);
    await alice.send(aToB, 'from the future');
    const future = await bob.receive(alice, 'from the future');
    expect(future.sentAt - future.receivedAt).toBeGreaterThan(3000_000);
    expect(future.displayAt).toBe(future.receivedAt);
    // Then an hour behind: the message slots in before the one already shown.
    alice.clock.advance(-2 * 3600_000);
    await alice.send(aToB, 'from the past');
    const past = await bob.receive(alice, 'from the past');
    expect(past.displayAt).toBe(past.sentAt);
    const bToA = (await bob.conversationWith(alice))!;
    expect((await bob.messages(bToA)).map((m) => m.body)).toEqual(['from the past', 'from the future']);
    // The event carries the display key (displayAt, id) the renderer sorts by.
    const added = bob.payloads('message:added').find((p) => p.message.body === 'from the past')!;
    expect(added.message.displayAt).toBe(past.displayAt);
  });
});

