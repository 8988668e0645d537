/**
 * Groups end to end (issue 16, ADR 0032): real engines against the real relay. Three members
 * create a group and exchange messages (each sent once under the sender's chain, one sealed
 * multi-account upload); a removed member learns it, can no longer send, and — proven from its
 * full stored state — holds no key that opens what the group sends afterwards; a non-admin's
 * record delivered end to end changes nothing anywhere; a member whose device lacks the groups
 * capability is refused with a typed error; non-admin API calls are refused with nothing changed.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../shared/crypto/bytes.js';
import { Capability } from '../../../shared/protocol/constants.js';
import { deserializeMembership, groupMembers, proposeGroupRecord } from '../../../shared/protocol/group-membership.js';
import { deserializeSenderKeyRecord, deserializeSenderKeyState, senderKeyDecrypt, senderKeyEncrypt } from '../../../shared/protocol/sender-key.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { getGroup, ownChain, senderKeyRecords } from '../../../electron/engine/db/groups.js';
import { encodeContent } from '../../../electron/engine/messaging/content.js';
import { relayAndEngines, type TestEngine } from '../../support/engines.js';
import { LinkedTestDevice } from './helpers/linked-device.js';

const fixture = relayAndEngines();

async function groupOf(e: TestEngine, name: string) {
  let found;
  const deadline = Date.now() + 15_000;
  for (;;) {
    found = (await e.call('groups:list', {})).find((g) => g.name === name);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`${e.username} never learned the group ${name}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function receiveIn(e: TestEngine, conversationId: string, body: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await e.messages(conversationId)).find((m) => m.body === body && m.direction === 'incoming');
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`${e.username} did not receive "${body}" in the group`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function waitGroup(e: TestEngine, groupId: string, match: (g: Awaited<ReturnType<typeof groupOf>>) => boolean, what: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const g = (await e.call('groups:list', {})).find((x) => x.id === groupId);
    if (g && match(g)) return g;
    if (Date.now() > deadline) throw new Error(`${e.username}: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Alice with Bob and Carol as contacts who know her too (so every pair can talk). */
async function threePeople() {
  const alice = await fixture.engine('alice');
  const bob = await fixture.engine('bob');
  const carol = await fixture.engine('carol');
  await alice.add(bob);
  await alice.add(carol);
  await bob.add(alice);
  await carol.add(alice);
  await bob.add(carol);
  await carol.add(bob);
  return { alice, bob, carol };
}

describe('groups end to end', () => {
  it('three members exchange messages; after a removal the removed member holds no key for anything sent afterwards', async () => {
    const { alice, bob, carol } = await threePeople();
    const created = await alice.call('groups:create', { name: 'Book club', description: 'Tuesdays', memberIds: [bob.accountId, carol.accountId] });
    expect(created.admin).toBe(true);
    expect(created.members.map((m) => m.id).sort()).toEqual([alice.accountId, bob.accountId, carol.accountId].sort());
    const atBob = await groupOf(bob, 'Book club');
    const atCarol = await groupOf(carol, 'Book club');
    expect(atBob.id).toBe(created.id);
    expect(atBob.admin).toBe(false);
    expect(atBob.members.find((m) => m.id === alice.accountId)?.admin).toBe(true);

    await alice.call('groups:send', { groupId: created.id, body: 'hello group' });
    const got = await receiveIn(bob, atBob.conversationId, 'hello group');
    expect(got.senderId).toBe(alice.accountId);
    await receiveIn(carol, atCarol.conversationId, 'hello group');
    // The composer of a group conversation sends to the group too.
    await bob.call('messages:send', { conversationId: atBob.conversationId, body: 'hi from bob' });
    await receiveIn(alice, created.conversationId, 'hi from bob');
    await receiveIn(carol, atCarol.conversationId, 'hi from bob');

    // Alice removes Carol: everyone sees it; Carol is told, and can no longer send.
    const after = await alice.call('groups:removeMember', { groupId: created.id, memberId: carol.accountId });
    expect(after.members.map((m) => m.id).sort()).toEqual([alice.accountId, bob.accountId].sort());
    await waitGroup(carol, created.id, (g) => g.standing === 'removed', 'never learned it was removed');
    await waitGroup(bob, created.id, (g) => g.members.length === 2, 'never saw the removal');
    const lines = (await carol.messages(atCarol.conversationId)).filter((m) => m.kind === 'group-changed').map((m) => m.body);
    expect(lines.at(-1)).toMatch(/removed you$/);
    expect(await carol.errorOf('groups:send', { groupId: created.id, body: 'still here?' })).toBe('REMOVED_FROM_GROUP');

    await alice.call('groups:send', { groupId: created.id, body: 'after removal' });
    await receiveIn(bob, atBob.conversationId, 'after removal');
    await bob.call('groups:send', { groupId: created.id, body: 'bob after removal' });
    await receiveIn(alice, created.conversationId, 'bob after removal');

    // From Carol's full state: no record of hers opens Alice's or Bob's current chain.
    const carolDb = carol.engine.current!.db.reader;
    const groupId = fromHex(created.id);
    const carolRecords = senderKeyRecords(carolDb, groupId).map((r) => deserializeSenderKeyRecord(r.record));
    for (const sender of [alice, bob]) {
      const senderDb = sender.engine.current!.db.reader;
      const chain = deserializeSenderKeyState(ownChain(senderDb, groupId)!.state);
      const head = deserializeMembership(getGroup(senderDb, groupId)!.membership).head;
      const { message } = senderKeyEncrypt(chain, encodeContent({ type: 'text', messageId: new Uint8Array(16), sentAt: Date.now(), text: 'secret', expireTimerSeconds: null }), head);
      for (const record of carolRecords) {
        expect(record.states.some((s) => Buffer.from(s.distributionId).equals(Buffer.from(chain.distributionId)))).toBe(false);
        let refused = false;
        try {
          senderKeyDecrypt(record, message);
        } catch (e) {
          refused = isProtocolError(e, 'NO_SENDER_KEY');
        }
        expect(refused).toBe(true);
      }
    }
    // And Carol's UI shows nothing sent after the removal.
    await alice.drained();
    await bob.drained();
    const carolBodies = (await carol.messages(atCarol.conversationId)).map((m) => m.body);
    expect(carolBodies).not.toContain('after removal');
    expect(carolBodies).not.toContain('bob after removal');
  }, 90_000);

  it('a non-admin cannot change the group: refused by the API, and a forged record it delivers end to end changes nothing', async () => {
    const { alice, bob, carol } = await threePeople();
    const created = await alice.call('groups:create', { name: 'Admins only', memberIds: [bob.accountId, carol.accountId] });
    const atBob = await groupOf(bob, 'Admins only');
    await groupOf(carol, 'Admins only');
    expect(await bob.errorOf('groups:removeMember', { groupId: created.id, memberId: carol.accountId })).toBe('NOT_GROUP_ADMIN');
    expect(await bob.errorOf('groups:rename', { groupId: created.id, name: 'Mine now' })).toBe('NOT_GROUP_ADMIN');
    expect((await bob.call('groups:list', {})).find((g) => g.id === created.id)?.members).toHaveLength(3);

    // Bob signs a removal of Carol anyway and sends it to Alice and Carol over his sessions.
    const bobCurrent = bob.engine.current!;
    const m = deserializeMembership(getGroup(bobCurrent.db.reader, fromHex(created.id))!.membership);
    const forged = proposeGroupRecord(
      m,
      { accountId: bobCurrent.account.accountId, deviceId: bobCurrent.account.deviceId, signingPublicKey: bobCurrent.account.identitySigning.publicKey },
      { kind: 'remove', accountId: fromHex(carol.accountId) },
      Date.now(),
      bobCurrent.account.identitySigning.privateKey,
    );
    const core = bob.engine.messaging!.core;
    for (const to of [alice, carol]) {
      const content = encodeContent({ type: 'group-update', messageId: core.rng(16), sentAt: Date.now(), groupId: fromHex(created.id), records: [forged.bytes] });
      core.db.writer.transaction(() => core.queueSend(core.db.writer, { kind: 'sync', recipient: fromHex(to.accountId), content, messageRowId: null }));
    }
    bob.engine.messaging!.outbox.kick();
    await bob.drained();
    // A message from Alice after the forged record: Carol still gets it, and nobody's member list moved.
    await alice.call('groups:send', { groupId: created.id, body: 'still three of us' });
    await receiveIn(carol, (await groupOf(carol, 'Admins only')).conversationId, 'still three of us');
    await receiveIn(bob, atBob.conversationId, 'still three of us');
    for (const e of [alice, bob, carol]) {
      const g = (await e.call('groups:list', {})).find((x) => x.id === created.id)!;
      expect(g.members).toHaveLength(3);
      expect(g.standing).toBe('member');
      const held = deserializeMembership(getGroup(e.engine.current!.db.reader, fromHex(created.id))!.membership);
      expect(groupMembers(held.state)).toHaveLength(3);
    }
  }, 90_000);

  it('an admin renames the group and makes a member an admin; a member leaves: everyone sees each change, the leaver can no longer send', async () => {
    const { alice, bob, carol } = await threePeople();
    const created = await alice.call('groups:create', { name: 'Choir', memberIds: [bob.accountId, carol.accountId] });
    await groupOf(bob, 'Choir');
    await groupOf(carol, 'Choir');
    await alice.call('groups:rename', { groupId: created.id, name: 'Choir (Tuesdays)' });
    const promoted = await alice.call('groups:setAdmin', { groupId: created.id, memberId: bob.accountId, admin: true });
    expect(promoted.members.find((m) => m.id === bob.accountId)?.admin).toBe(true);
    const atBob = await waitGroup(bob, created.id, (g) => g.name === 'Choir (Tuesdays)' && g.admin, 'never saw the rename and promotion');
    // Bob, now an admin, may rename too; Carol leaves once she has seen it (no fork: ADR 0032).
    await bob.call('groups:rename', { groupId: created.id, name: 'Choir' });
    await waitGroup(carol, created.id, (g) => g.name === 'Choir', 'never saw the second rename');
    const left = await carol.call('groups:leave', { groupId: created.id });
    expect(left.standing).toBe('left');
    expect(await carol.errorOf('groups:send', { groupId: created.id, body: 'bye?' })).toBe('REMOVED_FROM_GROUP');
    for (const e of [alice, bob]) await waitGroup(e, created.id, (g) => g.members.length === 2 && g.name === 'Choir', 'never saw the leave and the second rename');
    const lines = (await alice.messages(created.conversationId)).filter((m) => m.kind === 'group-changed').map((m) => m.body);
    expect(lines).toEqual(expect.arrayContaining([`You renamed the group to “Choir (Tuesdays)”`, `You made ${bob.username} an admin`, `${carol.username} left the group`]));
    await alice.call('groups:send', { groupId: created.id, body: 'two of us' });
    await receiveIn(bob, atBob.conversationId, 'two of us');
  }, 90_000);

  it('a person with a device that lacks the groups capability cannot be added (typed error, no group made)', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    await alice.add(bob);
    const older = await LinkedTestDevice.link(bob, fixture.relay.url, Capability.pq);
    try {
      // Alice learns Bob's new list (as at her next send to him).
      await alice.engine.messaging!.contacts.refresh(fromHex(bob.accountId));
      expect(await alice.errorOf('groups:create', { name: 'Nope', memberIds: [bob.accountId] })).toBe('GROUP_MEMBER_UNSUPPORTED');
      expect(await alice.call('groups:list', {})).toEqual([]);
    } finally {
      older.close();
    }
  }, 60_000);
});
