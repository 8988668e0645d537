/**
 * Relay crashes under a conversation (issue 4 "Faults"): the relay (dist/server/main.js, a child
 * process, SQLite on its data dir) is SIGKILLed while two engines — child processes too — write
 * to each other, and restarted on the same data dir and port. The engines reconnect by
 * themselves; whatever the relay had committed is delivered, whatever it had not is sent again by
 * the senders' outboxes, and a send committed whose answer was lost (killed at
 * mailbox.after-commit) is stored twice by the relay and shown once by the receiver. Checked
 * through the contract only.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnRelay, tempDir, type RelayProcess } from '../relay/helpers/relay.js';
import { addContact, expectConversation, online, Profile, waitForPage } from './helpers.js';

const relays: RelayProcess[] = [];
const dirs: string[] = [];
const profiles: Profile[] = [];

afterEach(async () => {
  for (const p of profiles.splice(0)) await p.dispose();
  for (const r of relays.splice(0)) await r.kill();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function relayOn(dataDir: string, port?: number, env: Readonly<Record<string, string>> = {}): Promise<RelayProcess> {
  const r = await spawnRelay({ dataDir, ...(port !== undefined && { port }), env });
  relays.push(r);
  return r;
}

function profile(): Profile {
  const p = new Profile();
  profiles.push(p);
  return p;
}

const send = (p: Profile, conversationId: string, body: string) => p.p.call('messages:send', { conversationId, body });
const hasText = (body: string) => (ms: readonly { kind: string; body: string | null }[]) => ms.some((m) => m.kind === 'text' && m.body === body);

async function talking(relayUrl: string) {
  const alice = profile();
  const bob = profile();
  await alice.create(relayUrl, 'alice');
  await bob.create(relayUrl, 'bob');
  const aToB = await addContact(alice.p, bob);
  const bToA = await addContact(bob.p, alice);
  await send(alice, aToB, 'a0');
  await waitForPage(bob.p, bToA, hasText('a0'), 'a0 at Bob');
  await send(bob, bToA, 'b0');
  await expectConversation(alice.p, aToB, ['a0', 'b0'], 'Alice');
  await expectConversation(bob.p, bToA, ['a0', 'b0'], 'Bob');
  return { alice, bob, aToB, bToA };
}

describe('relay killed mid-conversation', () => {
  it('SIGKILLed while both sides write and restarted on the same data dir: every text arrives once, in each sender\'s order; the sessions go on', async () => {
    const dataDir = tempDir('parley-fault-relay-');
    dirs.push(dataDir);
    const first = await relayOn(dataDir);
    const c = await talking(first.url);

    // Both write at once (requests answered after each local commit); the relay dies under them.
    const fromAlice = Array.from({ length: 12 }, (_, i) => `a${i + 1}`);
    const fromBob = Array.from({ length: 12 }, (_, i) => `b${i + 1}`);
    await Promise.all([...fromAlice.map((b) => send(c.alice, c.aToB, b)), ...fromBob.map((b) => send(c.bob, c.bToA, b))]);
    await first.kill();
    expect((await first.exited).signal).toBe('SIGKILL');

    await relayOn(dataDir, first.port);
    await expectConversation(c.alice.p, c.aToB, { outgoing: ['a0', ...fromAlice], incoming: ['b0', ...fromBob] }, 'Alice after the relay restart');
    await expectConversation(c.bob.p, c.bToA, { outgoing: ['b0', ...fromBob], incoming: ['a0', ...fromAlice] }, 'Bob after the relay restart');

    await send(c.alice, c.aToB, 'after: from alice');
    await waitForPage(c.bob.p, c.bToA, hasText('after: from alice'), 'the next text at Bob');
    await send(c.bob, c.bToA, 'after: from bob');
    await expectConversation(c.alice.p, c.aToB, { outgoing: ['a0', ...fromAlice, 'after: from alice'], incoming: ['b0', ...fromBob, 'after: from bob'] }, 'Alice after');
    await expectConversation(c.bob.p, c.bToA, { outgoing: ['b0', ...fromBob, 'after: from bob'], incoming: ['a0', ...fromAlice, 'after: from alice'] }, 'Bob after');
  });

  it('killed after committing a send but before answering it (mailbox.after-commit): the sender sends again, the relay holds it twice, the receiver shows it once', async () => {
    const dataDir = tempDir('parley-fault-relay-');
    dirs.push(dataDir);
    const first = await relayOn(dataDir);
    const c = await talking(first.url);

    // The same relay again, now armed: its next mailbox commit is its last.
    await first.stop();
    const armed = await relayOn(dataDir, first.port, { PARLEY_TEST_CRASH_AT: 'mailbox.after-commit' });
    await online(c.alice.p);
    await online(c.bob.p);
    await waitForPage(c.alice.p, c.aToB, () => true, 'Alice responsive');
    const aliceOnline = c.alice.p.events.filter((e) => e.event === 'connection' && e.payload.state === 'online').length;
    await send(c.alice, c.aToB, 'committed, answer lost');
    expect((await armed.exited).signal).toBe('SIGKILL');

    await relayOn(dataDir, first.port);
    await c.alice.p.waitEvent((e) => e.event === 'connection' && e.payload.state === 'online' && c.alice.p.events.indexOf(e) >= aliceOnline, 20_000);
    const expected = ['a0', 'b0', 'committed, answer lost'];
    await expectConversation(c.bob.p, c.bToA, expected, 'Bob');
    await expectConversation(c.alice.p, c.aToB, expected, 'Alice');
    const added = c.bob.p.events.filter((e) => e.event === 'message:added' && e.payload.message.body === 'committed, answer lost');
    expect(added).toHaveLength(1);
  });
});
