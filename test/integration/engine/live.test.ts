/**
 * What happens while engines are connected: typing indicators (one "started" per 3-second window,
 * "stopped" after 3 s idle or on send, incoming cleared after 5 s, off switches), presence (snapshot
 * at connection, live updates, nothing for non-contacts, the visibility setting), the connection
 * itself (the relay restarts: offline with the next attempt's time, jittered reconnect, nothing lost
 * or duplicated), and logout (unregistered at the relay, then deleted locally).
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../shared/crypto/bytes.js';
import { startRelay } from '../../../server/relay.js';
import type { OutboxKind } from '../../../electron/engine/db/outbox.js';
import { tempDir, TEST_LIMITS } from '../relay/helpers/relay.js';
import { type TestEngine, waitFor, relayAndEngines } from '../../support/engines.js';

const fixture = relayAndEngines();

const engine = (name: string, relayUrl?: string) => fixture.engine(name, relayUrl);

/** Records the kind of every send an engine queues. */
function queuedKinds(t: TestEngine): OutboxKind[] {
  const kinds: OutboxKind[] = [];
  const core = t.engine.messaging!.core;
  const original = core.queueSend.bind(core);
  core.queueSend = (db, send) => {
    kinds.push(send.kind);
    return original(db, send);
  };
  return kinds;
}

describe('typing indicators', () => {
  it('one "started" per 3-second window, "stopped" after 3 s idle or on send; incoming clears after 5 s', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    const kinds = queuedKinds(alice);
    const typing = (t: TestEngine) => t.payloads('typing').map((p) => p.typing);

    await alice.call('conversations:setTyping', { conversationId: aToB, typing: true });
    await bob.waitEvent('typing', (p) => p.typing && p.contactId === alice.accountId);
    await alice.call('conversations:setTyping', { conversationId: aToB, typing: true });
    await alice.call('conversations:setTyping', { conversationId: aToB, typing: true });
    expect(kinds).toEqual(['typing']);
    // The next window: another "started" (the receiver's 5-second display is renewed).
    alice.clock.advance(3_000);
    await alice.call('conversations:setTyping', { conversationId: aToB, typing: true });
    expect(kinds).toEqual(['typing', 'typing']);
    // 3 s without a keystroke: "stopped".
    alice.timers.advance(3_000);
    expect(kinds).toEqual(['typing', 'typing', 'typing']);
    await waitFor(() => typing(bob).at(-1) === false, 'typing cleared by "stopped"');
    expect(typing(bob)).toEqual([true, false]);

    // A "started" that is never followed by "stopped" clears itself after 5 s on the receiver.
    await alice.call('conversations:setTyping', { conversationId: aToB, typing: true });
    await waitFor(() => typing(bob).length === 3, 'typing again');
    bob.timers.advance(4_999);
    expect(typing(bob)).toEqual([true, false, true]);
    bob.timers.advance(1);
    expect(typing(bob)).toEqual([true, false, true, false]);

    // Sending stops typing: "stopped" is queued before the message.
    alice.clock.advance(3_000);
    await alice.call('conversations:setTyping', { conversationId: aToB, typing: true });
    kinds.length = 0;
    await alice.send(aToB, 'done typing');
    // The first text to Bob carries Alice's profile key first (ADR 0019).
    expect(kinds).toEqual(['typing', 'profile-key', 'message']);
    await bob.receive(alice, 'done typing');
  });

  it('typing indicators off: none sent, none shown', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    const bToA = await bob.add(alice);
    const kinds = queuedKinds(alice);
    await alice.call('settings:set', { typingIndicators: false });
    await alice.call('conversations:setTyping', { conversationId: aToB, typing: true });
    alice.timers.advance(10_000);
    expect(kinds).toEqual([]);
    // Bob turns them off: Alice's "started" arrives and is not shown.
    await alice.call('settings:set', { typingIndicators: true });
    await bob.call('settings:set', { typingIndicators: false });
    await alice.call('conversations:setTyping', { conversationId: aToB, typing: true });
    await alice.send(aToB, 'typed while hidden');
    await bob.receive(alice, 'typed while hidden');
    expect(bob.payloads('typing')).toEqual([]);
    // And Bob sends none either.
    const bobKinds = queuedKinds(bob);
    await bob.call('conversations:setTyping', { conversationId: bToA, typing: true });
    expect(bobKinds).toEqual([]);
  });
});

describe('presence', () => {
  it('snapshot at connection, live updates between mutual contacts, nothing for a one-sided contact', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const carol = await engine('carol');
    await alice.add(bob);
    await bob.add(alice);
    await carol.add(alice); // Alice never adds Carol
    // The relay's contact lists are exactly the accepted contacts.
    const listed = async (t: TestEngine) => (await fixture.relay.store.getContacts(fromHex(t.accountId))).map((c) => Buffer.from(c).toString('hex'));
    expect(await listed(alice)).toEqual([bob.accountId]);
    expect(await listed(carol)).toEqual([alice.accountId]);
    // A fresh connection takes a snapshot: Bob is online for Alice.
    const aliceAgain = await alice.restart();
    fixture.track(aliceAgain);
    await aliceAgain.waitEvent('presence', (p) => p.contactId === bob.accountId && p.presence.state === 'online');
    expect((await aliceAgain.call('conversations:list', {}))[0]!.presence.state).toBe('online');
    // Bob reconnects: Alice sees him go and come back (live updates).
    const bobAgain = await bob.restart();
    fixture.track(bobAgain);
    await aliceAgain.waitEvent('presence', (p) => p.contactId === bob.accountId && p.presence.state === 'offline');
    const offline = aliceAgain.payloads('presence').find((p) => p.presence.state === 'offline')!;
    expect(offline.presence.lastSeenAt).not.toBeNull();
    await waitFor(() => aliceAgain.payloads('presence').filter((p) => p.contactId === bob.accountId && p.presence.state === 'online').length === 2, 'back online');
    await waitFor(() => bobAgain.payloads('presence').some((p) => p.contactId === alice.accountId && p.presence.state === 'online'), 'snapshot at Bob');
    // Carol (one-sided) sees Alice as offline at best, never online.
    const carolAgain = await carol.restart();
    fixture.track(carolAgain);
    // Barrier: restart() waited for the snapshot; a ping's answer comes after every frame the relay
    // wrote to Carol's socket before it.
    await carolAgain.engine.messaging!.relay.ping();
    expect(carolAgain.payloads('presence').some((p) => p.presence.state === 'online')).toBe(false);
    // Nothing at all: Alice has not added Carol back, so her presence is not shared ("Offline" would be a guess).
    expect((await carolAgain.call('conversations:list', {}))[0]!.presence).toEqual({ state: 'not-shared', lastSeenAt: null });
    // Alice never hears about Carol.
    expect([...alice.payloads('presence'), ...aliceAgain.payloads('presence')].some((p) => p.contactId === carol.accountId)).toBe(false);
  });

  it('presenceVisible off shows contacts nothing (no "last seen" dating the hide); on again, online', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    await alice.add(bob);
    await bob.add(alice);
    await bob.waitEvent('presence', (p) => p.contactId === alice.accountId && p.presence.state === 'online');
    await alice.call('settings:set', { presenceVisible: false });
    const hidden = await bob.waitEvent('presence', (p) => p.contactId === alice.accountId && p.presence.state !== 'online');
    expect(hidden.presence).toEqual({ state: 'not-shared', lastSeenAt: null });
    expect((await bob.call('conversations:list', {})).find((c) => c.contactId === alice.accountId)!.presence).toEqual({ state: 'not-shared', lastSeenAt: null });
    expect(bob.payloads('presence').some((p) => p.contactId === alice.accountId && p.presence.state === 'offline')).toBe(false);
    await alice.call('settings:set', { presenceVisible: true });
    await bob.waitEvent('presence', (p) => p.contactId === alice.accountId && p.presence.state === 'online' && bob.payloads('presence').indexOf(p) > bob.payloads('presence').indexOf(hidden));
  });

  it('when Bob adds Alice back while both are online, each sees the other online at once (no reconnect)', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    await alice.add(bob); // one-sided for now
    await alice.online();
    await bob.online();
    const aliceView = async () => (await alice.call('conversations:list', {})).find((c) => c.contactId === bob.accountId)!.presence;
    // The relay has answered Alice's snapshot: Bob does not share presence with her (yet).
    await alice.waitEvent('presence', (p) => p.contactId === bob.accountId && p.presence.state === 'not-shared');
    expect(await aliceView()).toEqual({ state: 'not-shared', lastSeenAt: null });
    await bob.add(alice);
    await alice.waitEvent('presence', (p) => p.contactId === bob.accountId && p.presence.state === 'online');
    expect((await aliceView()).state).toBe('online');
    await bob.waitEvent('presence', (p) => p.contactId === alice.accountId && p.presence.state === 'online');
  });
});

describe('connection', () => {
  it('the relay restarts: offline with the next attempt time, reconnect with backoff, nothing lost or duplicated', async () => {
    const dataDir = tempDir();
    const own = await startRelay({ dataDir, host: '127.0.0.1', port: 0, logLevel: 'silent', limits: TEST_LIMITS });
    let current = own;
    try {
      const alice = await engine('alice', own.url);
      const bob = await engine('bob', own.url);
      const aToB = await alice.add(bob);
      await bob.add(alice);
      await alice.send(aToB, 'before');
      await bob.receive(alice, 'before');

      await own.close();
      await alice.waitEvent('connection', (c) => c.state === 'offline' && c.nextAttemptAt !== null);
      const during = await alice.send(aToB, 'during the outage');
      expect(during.status).toBe('sending');
      current = await startRelay({ dataDir, host: '127.0.0.1', port: own.port, logLevel: 'silent', limits: TEST_LIMITS });
      await alice.online(15_000);
      await bob.online(15_000);
      await bob.receive(alice, 'during the outage', 15_000);
      await alice.waitStatus(during.id, 'delivered');
      const states = alice.payloads('connection').map((c) => c.state);
      expect(states.slice(0, 2)).toEqual(['connecting', 'online']);
      expect(states.at(-1)).toBe('online');
      const bToA = (await bob.conversationWith(alice))!;
      expect((await bob.messages(bToA)).map((m) => m.body)).toEqual(['before', 'during the outage']);
    } finally {
      await current.close().catch(() => undefined);
    }
  });
});

describe('logout', () => {
  it('unregisters the device at the relay, then deletes the database, key file and keychain entry', async () => {
    const alice = await engine('alice');
    const accountId = fromHex(alice.accountId);
    expect(await fixture.relay.store.getDevice(accountId, 1)).toBeDefined();
    const { profile } = alice.engine;
    expect(existsSync(profile.databasePath)).toBe(true);
    expect(alice.options.keychain.secrets.size).toBe(1);
    const state = await alice.call('account:logout', {});
    expect(state.state).toBe('needs-account');
    expect(await fixture.relay.store.getDevice(accountId, 1)).toBeUndefined();
    expect(existsSync(profile.databasePath)).toBe(false);
    expect(existsSync(profile.dataDir)).toBe(false);
    expect(alice.options.keychain.secrets.size).toBe(0);
  });
});
