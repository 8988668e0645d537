/**
 * Profiles end to end between engines on the real relay (issue 12, docs/protocol.md §16
 * ProfileKey, §18): the display name chosen at onboarding reaches a person with the first message
 * (never "Unknown …"), the username they claim is shown once the relay confirms it, a change
 * reaches contacts that hold the key, the relay only ever holds ciphertext, a rolled-back profile is
 * not shown, and a message request gets nothing of ours until accepted.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, utf8 } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { encryptProfile } from '../../../shared/protocol/profile.js';
import { getOwnProfile } from '../../../electron/engine/db/profiles.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { relayAndEngines, type TestEngine } from '../../support/engines.js';

const fixture = relayAndEngines();

async function titleAt(engine: TestEngine, other: TestEngine): Promise<string | undefined> {
  return (await engine.call('conversations:list', {})).find((c) => c.contactId === other.accountId)?.title;
}

async function waitTitle(engine: TestEngine, other: TestEngine, title: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await titleAt(engine, other)) !== title) {
    if (Date.now() > deadline) throw new Error(`${engine.username} never showed "${title}" (shows "${await titleAt(engine, other)}")`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).indexOf(Buffer.from(needle)) !== -1;
}

describe('profiles', () => {
  it('a first message carries the profile key: the stranger sees the display name and the confirmed username, never "Unknown"', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await alice.call('profile:set', { displayName: 'Alice Liddell', about: 'Down the rabbit hole' });
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hello from alice');
    await bob.receive(alice, 'hello from alice');
    await waitTitle(bob, alice, 'Alice Liddell');
    const [conversation] = await bob.call('conversations:list', {});
    expect(conversation).toMatchObject({ title: 'Alice Liddell', username: alice.username, request: true });
    const [contact] = await bob.call('contacts:list', {});
    expect(contact).toMatchObject({ username: alice.username, displayName: 'Alice Liddell', about: 'Down the rabbit hole', accepted: false });

    // The relay holds only ciphertext: neither the name nor the about line appear in what it serves.
    const stored = await bob.engine.messaging!.relay.getProfile(fromHex(alice.accountId));
    expect(containsBytes(stored.profile, utf8('Alice Liddell'))).toBe(false);
    expect(containsBytes(stored.profile, utf8('rabbit'))).toBe(false);
  });

  it('a message request gets nothing of ours: Alice sees Bob by username only until Bob writes back', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await bob.call('profile:set', { displayName: 'Bob Builder', about: '' });
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'first');
    await bob.receive(alice, 'first');
    // Bob's engine shares nothing with a request; a barrier in the other direction is Bob's reply.
    expect(await titleAt(alice, bob)).toBe(bob.username);
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'reply');
    await alice.receive(bob, 'reply');
    await waitTitle(alice, bob, 'Bob Builder');
  });

  it('a changed profile reaches a contact that holds the key', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hi');
    await bob.receive(alice, 'hi');
    // The name defaults to the username.
    await waitTitle(bob, alice, alice.username);
    await alice.call('profile:set', { displayName: 'Alice in Wonderland', about: 'curiouser' });
    await waitTitle(bob, alice, 'Alice in Wonderland');
    expect((await bob.call('contacts:list', {}))[0]).toMatchObject({ displayName: 'Alice in Wonderland', about: 'curiouser' });
  });

  it('an older profile served again (rollback) is not shown', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await alice.call('profile:set', { displayName: 'Alice v2', about: '' });
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hi');
    await waitTitle(bob, alice, 'Alice v2');
    // Alice's own key encrypts an older revision, which the relay serves from now on.
    const own = getOwnProfile(alice.engine.current!.db.reader)!;
    const old = encryptProfile({ revision: own.revision - 1, displayName: 'Alice v1', about: '', avatar: null }, own.profileKey, fromHex(alice.accountId), { rng: systemRng });
    await alice.engine.messaging!.relay.putProfile(old);
    const db = bob.engine.current!.db.writer;
    db.transaction(() => db.run(sql`UPDATE contact_profiles SET fetch_due = 1`));
    await bob.engine.messaging!.profiles.fetchDue();
    expect(await titleAt(bob, alice)).toBe('Alice v2');
  });

  it('refuses an empty, too long or multi-line name with INVALID_PROFILE and keeps the profile', async () => {
    const alice = await fixture.engine('alice');
    expect(await alice.call('profile:get', {})).toEqual({ displayName: alice.username, about: '', avatar: null });
    expect(await alice.errorOf('profile:set', { displayName: '   ', about: '' })).toBe('INVALID_PROFILE');
    expect(await alice.errorOf('profile:set', { displayName: 'x'.repeat(129), about: '' })).toBe('INVALID_PROFILE');
    expect(await alice.errorOf('profile:set', { displayName: 'two\nlines', about: '' })).toBe('INVALID_PROFILE');
    expect(await alice.errorOf('profile:set', { displayName: 'ok', about: 'é'.repeat(257) })).toBe('INVALID_PROFILE');
    expect(await alice.call('profile:get', {})).toEqual({ displayName: alice.username, about: '', avatar: null });
    expect(await alice.call('profile:set', { displayName: '  Alice  ', about: ' hi ' })).toEqual({ displayName: 'Alice', about: 'hi', avatar: null });
  });
});
