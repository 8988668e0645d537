/**
 * Disappearing messages and delete for everyone in 1:1 conversations (issue 17, DESIGN §3.8,
 * docs/protocol.md §23, ADR 0030) through the real relay and real SQLCipher profiles, with the
 * engines' clocks moved by hand (the OffsetClock of test/support/engines.ts) and the expiry run
 * when the clock says so.
 *
 * What a person (or an attacker) can observe: the timer and its system line on both sides; a
 * message's own timer; the sender's copy going at send + timer, the receiver's at first shown +
 * timer, never before it was shown; rows, search hits and files gone; a replayed or older timer
 * change doing nothing; a device without `timers` never getting a timed message; delete for
 * everyone refused for anyone but the author, past 24 h, and in every forged form.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_EXPIRE_TIMER_SECONDS } from '../../../shared/api/primitives.js';
import { Capability } from '../../../shared/protocol/constants.js';
import { resignDeviceListIfDue } from '../../../electron/engine/account/device-list.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { encodeContent, type Content } from '../../../electron/engine/messaging/content.js';
import { pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { readAll, sendFile } from '../../support/attachments.js';
import { relayAndEngines, waitFor, type TestEngine } from '../../support/engines.js';

const fixture = relayAndEngines();
const SECOND = 1000;
const HOUR = 3600 * SECOND;

async function pair(): Promise<{ alice: TestEngine; bob: TestEngine; aToB: string; bToA: string }> {
  const alice = await fixture.engine('alice');
  const bob = await fixture.engine('bob');
  const aToB = await alice.add(bob);
  const bToA = await bob.add(alice);
  return { alice, bob, aToB, bToA };
}

/** Queues `content` from `from` to `to` as if `from`'s engine had made it (a replay, or a forgery by the peer). */
function queueRaw(from: TestEngine, to: TestEngine, content: Content): void {
  const messaging = from.engine.messaging!;
  const db = from.engine.current!.db.writer;
  db.transaction(() => messaging.core.queueSend(db, { kind: 'message', recipient: Buffer.from(to.accountId, 'hex'), content: encodeContent(content), messageRowId: null }));
  messaging.outbox.kick();
}

async function hits(engine: TestEngine, query: string): Promise<number> {
  return (await engine.call('search:query', { query, limit: 10 })).results.length;
}

async function timerOf(engine: TestEngine, conversationId: string): Promise<number> {
  return (await engine.call('conversations:list', {})).find((c) => c.id === conversationId)!.expireTimerSeconds;
}

async function expire(engine: TestEngine, ms: number): Promise<void> {
  engine.clock.advance(ms);
  await engine.engine.messaging!.expiry.run();
}

function attachmentFiles(engine: TestEngine): string[] {
  const dir = join(engine.engine.profile.dataDir, 'attachments');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.spool')) : [];
}

describe('disappearing messages (1:1)', () => {
  it('a timer set by either party is a system line on both sides; each message carries it; the sender’s copy goes at send + timer, the receiver’s only after it was shown, with its search hit', async () => {
    const { alice, bob, aToB, bToA } = await pair();
    const view = await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 30 });
    expect(view).toMatchObject({ expireTimerSeconds: 30, showsTimers: true });
    const line = await bob.waitEvent('message:added', (p) => p.message.kind === 'timer-changed');
    expect(line.message).toMatchObject({ direction: 'incoming', expireTimerSeconds: 30, conversationId: bToA });
    expect(await timerOf(bob, bToA)).toBe(30);
    expect((await alice.messages(aToB)).map((m) => [m.kind, m.direction, m.expireTimerSeconds])).toEqual([['timer-changed', 'outgoing', 30]]);

    const sent = await alice.send(aToB, 'the ostrich plan');
    expect(sent).toMatchObject({ expireTimerSeconds: 30, expiresAt: sent.sentAt + 30 * SECOND });
    const got = await bob.receive(alice, 'the ostrich plan');
    // Not shown yet: the timer has not started (only the maximum lifetime applies).
    expect(got.expireTimerSeconds).toBe(30);
    expect(got.expiresAt).toBeUndefined();
    expect(await hits(bob, 'ostrich')).toBe(1);

    // Time passes before Bob looks: his copy stays.
    await expire(bob, 60 * SECOND);
    expect((await bob.messages(bToA)).some((m) => m.body === 'the ostrich plan')).toBe(true);

    // Shown in a visible, focused window (the renderer marks it read): the timer starts.
    await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: got.id });
    const shown = (await bob.messages(bToA)).find((m) => m.id === got.id)!;
    expect(shown.expiresAt! - bob.clock.now()).toBeGreaterThan(25 * SECOND);
    expect(shown.expiresAt! - bob.clock.now()).toBeLessThanOrEqual(30 * SECOND);

    await expire(bob, 10 * SECOND);
    expect((await bob.messages(bToA)).some((m) => m.id === got.id)).toBe(true);
    await expire(bob, 21 * SECOND);
    expect((await bob.messages(bToA)).map((m) => m.kind)).toEqual(['timer-changed']);
    expect(bob.payloads('message:removed')).toContainEqual({ conversationId: bToA, messageId: got.id });
    expect(await hits(bob, 'ostrich')).toBe(0);

    // The sender's copy: at send + 30 s.
    expect(await hits(alice, 'ostrich')).toBe(1);
    await expire(alice, 31 * SECOND);
    expect((await alice.messages(aToB)).map((m) => m.kind)).toEqual(['timer-changed']);
    expect(await hits(alice, 'ostrich')).toBe(0);

    // Bob turns it off: a line on both sides, and the next message is untimed.
    await bob.call('conversations:setTimer', { conversationId: bToA, seconds: 0 });
    await alice.waitEvent('message:added', (p) => p.message.kind === 'timer-changed' && p.message.expireTimerSeconds === 0);
    expect(await timerOf(alice, aToB)).toBe(0);
    const plain = await alice.send(aToB, 'no timer now');
    expect(plain.expireTimerSeconds).toBeUndefined();
    expect((await bob.receive(alice, 'no timer now')).expireTimerSeconds).toBeUndefined();
  });

  it('a timer out of range is refused with a typed error and changes nothing', async () => {
    const { alice, aToB } = await pair();
    for (const seconds of [MAX_EXPIRE_TIMER_SECONDS + 1, -1, 1.5, 2 ** 32]) {
      expect(await alice.errorOf('conversations:setTimer', { conversationId: aToB, seconds })).toBe('INVALID_REQUEST');
    }
    expect(await timerOf(alice, aToB)).toBe(0);
    expect(await alice.messages(aToB)).toEqual([]);
    // The edges are fine: 1 second and 4 weeks (a custom value and the longest preset).
    expect((await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 1 })).expireTimerSeconds).toBe(1);
    expect((await alice.call('conversations:setTimer', { conversationId: aToB, seconds: MAX_EXPIRE_TIMER_SECONDS })).expireTimerSeconds).toBe(MAX_EXPIRE_TIMER_SECONDS);
  });

  it('a replayed timer change, or an older one arriving late, is ignored', async () => {
    const { alice, bob, aToB, bToA } = await pair();
    await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 300 });
    await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 0 });
    await waitFor(() => bob.payloads('message:added').filter((p) => p.message.kind === 'timer-changed').length === 2, 'both changes at Bob');
    expect(await timerOf(bob, bToA)).toBe(0);
    // The first change, exactly as it was sent (same message id and time), sent again.
    const first = alice.engine.current!.db.reader.get<{ message_id: Uint8Array; sent_at: number }>(
      sql`SELECT message_id, sent_at FROM messages WHERE kind = 'timer-changed' AND expire_timer_seconds = 300`,
    )!;
    queueRaw(alice, bob, { type: 'timer-change', messageId: new Uint8Array(first.message_id), sentAt: first.sent_at, seconds: 300 });
    // An older change under a fresh id (delayed, or replayed with a new id).
    queueRaw(alice, bob, { type: 'timer-change', messageId: pseudoRandomBytes('old change', 16), sentAt: first.sent_at - 1, seconds: 3600 });
    await alice.drained();
    await alice.barrier(bob, aToB);
    expect(await timerOf(bob, bToA)).toBe(0);
    expect((await bob.messages(bToA)).filter((m) => m.kind === 'timer-changed')).toHaveLength(2);
  });

  it('a person with a device that cannot honour timers never gets a timed message: turning a timer on and timed sends are refused (TIMERS_UNSUPPORTED), off still works', async () => {
    const { alice, bob, aToB } = await pair();
    await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 60 });
    // Bob's list as an older version signs it: no `timers` bit.
    const open = bob.engine.current!;
    const older = resignDeviceListIfDue(open.db.writer, open.account, Date.now(), Capability.pq | Capability.files | Capability.profiles)!;
    await bob.engine.messaging!.relay.putDeviceList(older.signed);
    await alice.engine.messaging!.contacts.refresh(Buffer.from(bob.accountId, 'hex'));
    expect((await alice.call('conversations:list', {})).find((c) => c.id === aToB)).toMatchObject({ showsTimers: false, expireTimerSeconds: 60 });

    const before = (await alice.messages(aToB)).length;
    expect(await alice.errorOf('messages:send', { conversationId: aToB, body: 'would show as plain' })).toBe('TIMERS_UNSUPPORTED');
    const file = pseudoRandomBytes('timed file', 2_000);
    await expect(sendFile(alice, aToB, 'f.bin', file, { asFile: true })).rejects.toThrow('TIMERS_UNSUPPORTED');
    expect((await alice.messages(aToB)).length).toBe(before);

    await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 0 });
    expect(await alice.errorOf('conversations:setTimer', { conversationId: aToB, seconds: 30 })).toBe('TIMERS_UNSUPPORTED');
    expect(await timerOf(alice, aToB)).toBe(0);
    await alice.send(aToB, 'plain is fine');
    await bob.receive(alice, 'plain is fine');
  });

  it('a timed file goes with its files; a message that expired while the app was closed is gone at start', async () => {
    const { alice, bob, aToB, bToA } = await pair();
    await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 300 });
    const bytes = pseudoRandomBytes('timed photo', 20_000);
    const sent = await sendFile(alice, aToB, 'plans.bin', bytes, { asFile: true, caption: 'the heron caption' });
    expect(sent.expireTimerSeconds).toBe(300);
    await waitFor(() => bob.payloads('message:added').some((p) => p.message.kind === 'attachment'), 'the file at Bob');
    const got = bob.payloads('message:added').find((p) => p.message.kind === 'attachment')!.message;
    expect(got.expireTimerSeconds).toBe(300);
    expect((await readAll(bob, got.id)).bytes.equals(Buffer.from(bytes))).toBe(true);
    expect(attachmentFiles(bob)).toHaveLength(1);
    await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: got.id });
    await bob.send(bToA, 'seen it');
    await alice.receive(bob, 'seen it');
    await bob.drained();

    // Bob's app is closed while the time runs out.
    await bob.close();
    bob.clock.advance(301 * SECOND);
    const again = await bob.restart();
    fixture.track(again);
    // Gone before anything could show it (the purge runs before the engine is ready); so is Bob's
    // own reply, timed too (from its send).
    expect((await again.messages(bToA)).map((m) => m.kind)).toEqual(['timer-changed']);
    await again.engine.messaging!.attachments.idle();
    await waitFor(() => attachmentFiles(again).length === 0, 'the file deleted by the clean-up at start');

    // Alice's copy (started at send) goes with its spool; Bob's reply, not shown to her yet, stays.
    expect(attachmentFiles(alice)).toHaveLength(1);
    await expire(alice, 301 * SECOND);
    expect((await alice.messages(aToB)).map((m) => [m.kind, m.body])).toEqual([
      ['timer-changed', null],
      ['text', 'seen it'],
    ]);
    expect(attachmentFiles(alice)).toHaveLength(0);
  });
});

describe('delete for everyone (1:1)', () => {
  it('the author deletes a text and a file: both sides show "deleted", lose the search hit and the file', async () => {
    const { alice, bob, aToB, bToA } = await pair();
    const text = await alice.send(aToB, 'the walrus memo');
    const bytes = pseudoRandomBytes('deleted file', 10_000);
    const file = await sendFile(alice, aToB, 'memo.bin', bytes, { asFile: true });
    const gotText = await bob.receive(alice, 'the walrus memo');
    await waitFor(() => bob.payloads('message:added').some((p) => p.message.kind === 'attachment'), 'the file at Bob');
    const gotFile = bob.payloads('message:added').find((p) => p.message.kind === 'attachment')!.message;
    await readAll(bob, gotFile.id);
    expect(attachmentFiles(bob)).toHaveLength(1);
    expect(await hits(bob, 'walrus')).toBe(1);

    expect(await alice.call('messages:deleteForEveryone', { messageId: text.id })).toBeNull();
    expect(await alice.call('messages:deleteForEveryone', { messageId: file.id })).toBeNull();
    expect((await alice.messages(aToB)).map((m) => [m.kind, m.body])).toEqual([
      ['deleted', null],
      ['deleted', null],
    ]);
    expect(await hits(alice, 'walrus')).toBe(0);
    expect(attachmentFiles(alice)).toHaveLength(0);

    await waitFor(() => bob.payloads('message:removed').length === 2, 'both removed at Bob');
    expect(bob.payloads('message:removed').map((p) => p.messageId).sort()).toEqual([gotText.id, gotFile.id].sort());
    expect((await bob.messages(bToA)).map((m) => [m.kind, m.direction, m.body])).toEqual([
      ['deleted', 'incoming', null],
      ['deleted', 'incoming', null],
    ]);
    expect(await hits(bob, 'walrus')).toBe(0);
    await waitFor(() => attachmentFiles(bob).length === 0, 'Bob’s copy of the file deleted');
  });

  it('refuses anyone but the author, past the 24-hour window, and forged requests — nothing changes', async () => {
    const { alice, bob, aToB, bToA } = await pair();
    const mine = await alice.send(aToB, 'alice wrote this');
    const theirs = await bob.receive(alice, 'alice wrote this');
    // Bob cannot delete Alice's message for everyone, nor a notice.
    expect(await bob.errorOf('messages:deleteForEveryone', { messageId: theirs.id })).toBe('NOT_DELETABLE');
    await bob.call('conversations:setTimer', { conversationId: bToA, seconds: 60 });
    const notice = (await bob.messages(bToA)).find((m) => m.kind === 'timer-changed')!;
    expect(await bob.errorOf('messages:deleteForEveryone', { messageId: notice.id })).toBe('NOT_DELETABLE');
    await bob.call('conversations:setTimer', { conversationId: bToA, seconds: 0 });

    // Bob's engine forges a request naming Alice's message (its id as Alice chose it).
    const aliceIds = alice.engine.current!.db.reader.get<{ message_id: Uint8Array }>(sql`SELECT message_id FROM messages WHERE id = ${Number(mine.id)}`)!;
    queueRaw(bob, alice, { type: 'delete', messageId: pseudoRandomBytes('forged delete', 16), sentAt: bob.clock.now(), target: new Uint8Array(aliceIds.message_id) });
    await bob.drained();
    await bob.barrier(alice, bToA);
    expect((await alice.messages(aToB)).find((m) => m.id === mine.id)).toMatchObject({ kind: 'text', body: 'alice wrote this' });

    // A request Alice makes 25 hours after her message (her own clock says so) is refused by Bob.
    queueRaw(alice, bob, { type: 'delete', messageId: pseudoRandomBytes('late delete', 16), sentAt: mine.sentAt + 25 * HOUR, target: new Uint8Array(aliceIds.message_id) });
    await alice.drained();
    await alice.barrier(bob, aToB);
    expect((await bob.messages(bToA)).find((m) => m.id === theirs.id)).toMatchObject({ kind: 'text', body: 'alice wrote this' });

    // And Alice's own engine refuses past the window.
    alice.clock.advance(24 * HOUR + 60 * SECOND);
    expect(await alice.errorOf('messages:deleteForEveryone', { messageId: mine.id })).toBe('DELETE_WINDOW_PASSED');
    expect((await alice.messages(aToB)).find((m) => m.id === mine.id)?.kind).toBe('text');
  });
});
