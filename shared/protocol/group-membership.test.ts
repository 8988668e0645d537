import { describe, expect, it } from 'vitest';
import { compareBytes, toHex } from '../crypto/bytes.js';
import { ed25519GenerateKeyPair, ed25519Sign } from '../crypto/ed25519.js';
import { deterministicRng } from '../testing/deterministic-rng.js';
import { asGroupMember, expectProtocolCode, groupPerson, listedDevices, proposeBy, sortedMembers, type GroupPerson } from '../testing/group-fixtures.js';
import { MAX_GROUP_MEMBERS } from './constants.js';
import type { ProtocolErrorCode } from './errors.js';
import {
  applyGroupRecord,
  checkGroupMessageHead,
  createGroupGenesis,
  deserializeMembership,
  encodeMembershipUpdate,
  groupMembers,
  isOnChain,
  membershipRecords,
  openMembership,
  parseGroupRecord,
  parseMembershipUpdate,
  serializeMembership,
  signGroupRecord,
  type DeviceKeyCheck,
  type GroupOperation,
  type Membership,
  type SignedGroupRecord,
} from './group-membership.js';

const T0 = Date.UTC(2026, 11, 8);

type Person = GroupPerson;
const person = (rng: Parameters<typeof groupPerson>[0]) => groupPerson(rng);
const asMember = asGroupMember;
const sorted = sortedMembers;
const listedCheck = listedDevices;
const expectCode = expectProtocolCode;

function setup(seed = 'group') {
  const rng = deterministicRng(seed);
  const [alice, bob, carol, dave] = [person(rng), person(rng), person(rng), person(rng)] as [Person, Person, Person, Person];
  const groupId = rng(16);
  const check = listedCheck([alice, bob, carol, dave]);
  const genesis = signGroupRecord(
    {
      groupId,
      epoch: 0,
      previousHash: new Uint8Array(32),
      time: T0,
      author: { accountId: alice.accountId, deviceId: 1, signingPublicKey: alice.device.publicKey },
      operation: { kind: 'create', name: 'Hiking', description: 'Sundays', members: sorted([asMember(alice, true), asMember(bob), asMember(carol)]) },
    },
    alice.device.privateKey,
  );
  const m = openMembership(genesis.bytes, check);
  return { rng, alice, bob, carol, dave, groupId, check, genesis, m };
}

function propose(m: Membership, by: Person, op: Exclude<GroupOperation, { kind: 'create' }>, time = T0 + 1): SignedGroupRecord {
  return proposeBy(m, by, op, time);
}

function apply(m: Membership, r: SignedGroupRecord, check?: DeviceKeyCheck): Membership {
  const out = applyGroupRecord(m, r.bytes, check);
  if (out.rejected) throw out.rejected;
  return out.membership;
}

function rejection(m: Membership, r: SignedGroupRecord): ProtocolErrorCode | undefined {
  const out = applyGroupRecord(m, r.bytes);
  expect(out.membership.head).toEqual(m.head);
  return out.rejected?.code;
}

const names = (m: Membership) => groupMembers(m.state).map((x) => toHex(x.accountId));

describe('group membership: records and the chain', () => {
  it('the genesis makes the creator admin and the others members; the head is the genesis', () => {
    const { m, genesis, alice, bob } = setup();
    expect(m.head).toEqual(genesis.hash);
    expect(m.state.name).toBe('Hiking');
    expect(m.state.members.size).toBe(3);
    expect(m.state.members.get(toHex(alice.accountId))!.admin).toBe(true);
    expect(m.state.members.get(toHex(bob.accountId))!.admin).toBe(false);
  });

  it('an admin adds, promotes, renames and removes; each record moves the head', () => {
    const { m, alice, bob, carol, dave, check } = setup();
    let g = apply(m, propose(m, alice, { kind: 'add', members: [asMember(dave)] }), check);
    expect(g.headEpoch).toBe(1);
    g = apply(g, propose(g, alice, { kind: 'setRole', accountId: bob.accountId, admin: true }), check);
    g = apply(g, propose(g, bob, { kind: 'rename', name: 'Climbing', description: '' }), check);
    g = apply(g, propose(g, bob, { kind: 'remove', accountId: carol.accountId }), check);
    expect(g.state.name).toBe('Climbing');
    expect(names(g)).toEqual(sorted([asMember(alice), asMember(bob), asMember(dave)]).map((x) => toHex(x.accountId)));
    expect(g.headEpoch).toBe(4);
  });

  it('anyone can leave; the only admin cannot leave or step down while others remain', () => {
    const { m, alice, carol } = setup();
    const g = apply(m, propose(m, carol, { kind: 'leave' }));
    expect(g.state.members.has(toHex(carol.accountId))).toBe(false);
    expect(rejection(g, propose(g, alice, { kind: 'leave' }))).toBe('GROUP_INVALID_CHANGE');
    expect(rejection(g, propose(g, alice, { kind: 'setRole', accountId: alice.accountId, admin: false }))).toBe('GROUP_INVALID_CHANGE');
  });

  it('a record signed by a non-admin is GROUP_NOT_ADMIN and changes nothing the user sees', () => {
    const { m, bob, dave } = setup();
    expect(rejection(m, propose(m, bob, { kind: 'add', members: [asMember(dave)] }))).toBe('GROUP_NOT_ADMIN');
  });

  it('a record signed by a removed admin is GROUP_NOT_MEMBER', () => {
    const { m, alice, bob, dave } = setup();
    let g = apply(m, propose(m, alice, { kind: 'setRole', accountId: bob.accountId, admin: true }));
    g = apply(g, propose(g, alice, { kind: 'remove', accountId: bob.accountId }));
    expect(rejection(g, propose(g, bob, { kind: 'add', members: [asMember(dave)] }))).toBe('GROUP_NOT_MEMBER');
    expect(rejection(g, propose(g, dave, { kind: 'rename', name: 'x', description: '' }))).toBe('GROUP_NOT_MEMBER');
  });

  it('a record from a device not on its account\'s list (or with another key) is UNKNOWN_DEVICE', () => {
    const { m, alice, dave, check, rng } = setup();
    const stranger = { ...alice, device: ed25519GenerateKeyPair(rng) };
    expectCode(() => applyGroupRecord(m, propose(m, stranger, { kind: 'add', members: [asMember(dave)] }).bytes, check), 'UNKNOWN_DEVICE');
    expectCode(() => applyGroupRecord(m, propose(m, { ...alice, deviceId: 2 }, { kind: 'add', members: [asMember(dave)] }).bytes, check), 'UNKNOWN_DEVICE');
  });

  it('a broken chain: an unknown previous record is GROUP_UNKNOWN_RECORD; a wrong epoch, another group or a second genesis is GROUP_BROKEN_CHAIN', () => {
    const { m, alice, dave, rng, genesis } = setup();
    const author = { accountId: alice.accountId, deviceId: 1, signingPublicKey: alice.device.publicKey };
    const op: GroupOperation = { kind: 'add', members: [asMember(dave)] };
    const sign = (fields: Partial<Parameters<typeof signGroupRecord>[0]>) =>
      signGroupRecord({ groupId: m.groupId, epoch: 1, previousHash: m.head, time: T0, author, operation: op, ...fields }, alice.device.privateKey).bytes;
    expectCode(() => applyGroupRecord(m, sign({ previousHash: rng(32) })), 'GROUP_UNKNOWN_RECORD');
    expectCode(() => applyGroupRecord(m, sign({ epoch: 2 })), 'GROUP_BROKEN_CHAIN');
    expectCode(() => applyGroupRecord(m, sign({ groupId: rng(16) })), 'GROUP_BROKEN_CHAIN');
    const otherGenesis = signGroupRecord({ ...parseGroupRecord(genesis.bytes).record, time: T0 + 5 }, alice.device.privateKey);
    expectCode(() => applyGroupRecord(m, otherGenesis.bytes), 'GROUP_BROKEN_CHAIN');
  });

  it('a bad signature or a tampered record is BAD_SIGNATURE; junk is MALFORMED', () => {
    const { m, alice, dave } = setup();
    const r = propose(m, alice, { kind: 'add', members: [asMember(dave)] });
    const flipped = r.bytes.slice();
    flipped[flipped.length - 1]! ^= 0x01;
    expectCode(() => applyGroupRecord(m, flipped), 'BAD_SIGNATURE');
    const changedTime = r.bytes.slice();
    changedTime[60]! ^= 0x01;
    expectCode(() => applyGroupRecord(m, changedTime), 'BAD_SIGNATURE');
    // Signed without the label: refused.
    const body = r.bytes.subarray(0, r.bytes.length - 64);
    expectCode(() => applyGroupRecord(m, Uint8Array.of(...body, ...ed25519Sign(alice.device.privateKey, body))), 'BAD_SIGNATURE');
    expectCode(() => applyGroupRecord(m, r.bytes.subarray(0, 50)), 'MALFORMED');
    expectCode(() => applyGroupRecord(m, Uint8Array.of(...r.bytes, 0)), 'MALFORMED');
  });

  it(`the member limit: ${MAX_GROUP_MEMBERS} members fit, one more is GROUP_TOO_LARGE`, () => {
    const { m, alice, rng } = setup('limit');
    const key = ed25519GenerateKeyPair(rng).publicKey;
    const extra = (n: number) => sorted(Array.from({ length: n }, () => ({ accountId: rng(16), accountPublicKey: key, admin: false })));
    const full = apply(m, propose(m, alice, { kind: 'add', members: extra(MAX_GROUP_MEMBERS - 3) }));
    expect(full.state.members.size).toBe(MAX_GROUP_MEMBERS);
    expect(rejection(full, propose(full, alice, { kind: 'add', members: extra(1) }))).toBe('GROUP_TOO_LARGE');
    // Adding someone already there adds nothing and so fits.
    const again = applyGroupRecord(full, propose(full, alice, { kind: 'add', members: [asMember(alice, true)] }).bytes);
    expect(again.rejected).toBeNull();
    expect(again.membership.state.members.size).toBe(MAX_GROUP_MEMBERS);
  });

  it('a record already held changes nothing', () => {
    const { m, alice, dave } = setup();
    const r = propose(m, alice, { kind: 'add', members: [asMember(dave)] });
    const g = apply(m, r);
    expect(applyGroupRecord(g, r.bytes)).toEqual({ membership: g, changed: false, rejected: null });
  });
});

describe('group membership: forks', () => {
  it('concurrent records: the lowest hash wins on every device whatever the arrival order; the loser is off the chain', () => {
    const { m, alice, bob, dave } = setup();
    const g = apply(m, propose(m, alice, { kind: 'setRole', accountId: bob.accountId, admin: true }));
    const a = propose(g, alice, { kind: 'rename', name: 'A', description: '' });
    const b = propose(g, bob, { kind: 'add', members: [asMember(dave)] });
    const one = apply(apply(g, a), b);
    const two = apply(apply(g, b), a);
    expect(one.head).toEqual(two.head);
    const [winner, loser] = compareBytes(a.hash, b.hash) < 0 ? [a, b] : [b, a];
    expect(one.head).toEqual(winner.hash);
    expect(isOnChain(one, loser.hash)).toBe(false);
    expect(isOnChain(one, winner.hash)).toBe(true);
    // The loser's author re-issues on the winner.
    const reissued = propose(one, loser === a ? alice : bob, loser.record.operation as Exclude<GroupOperation, { kind: 'create' }>);
    expect(apply(one, reissued).head).toEqual(reissued.hash);
  });

  it('a removal is never undone by fork resolution: a losing removal still removes', () => {
    const { m, alice, bob, carol } = setup();
    const g = apply(m, propose(m, alice, { kind: 'setRole', accountId: bob.accountId, admin: true }));
    // Try times until the removal loses the fork (deterministic seeds: a few tries at most).
    for (let t = 0; t < 50; t++) {
      const removal = propose(g, alice, { kind: 'remove', accountId: carol.accountId }, T0 + 10 + t);
      const rename = propose(g, bob, { kind: 'rename', name: 'B', description: '' }, T0 + 100 + t);
      if (compareBytes(removal.hash, rename.hash) < 0) continue;
      const after = apply(apply(g, removal), rename);
      expect(after.head).toEqual(rename.hash);
      expect(after.state.name).toBe('B');
      expect(after.state.members.has(toHex(carol.accountId))).toBe(false);
      // Carol cannot author or be a sender at the head any more.
      expectCode(() => checkGroupMessageHead(after, after.head, carol.accountId), 'GROUP_NOT_MEMBER');
      return;
    }
    throw new Error('no losing removal found');
  });

  it('a rogue admin who wins a fork by grinding hashes is still removed, and cannot act after', () => {
    const { m, alice, bob, carol } = setup();
    const g = apply(m, propose(m, alice, { kind: 'setRole', accountId: bob.accountId, admin: true }));
    const removeBob = propose(g, alice, { kind: 'remove', accountId: bob.accountId });
    let grind: SignedGroupRecord | undefined;
    for (let t = 0; !grind || compareBytes(grind.hash, removeBob.hash) > 0; t++) grind = propose(g, bob, { kind: 'remove', accountId: alice.accountId }, T0 + t);
    const after = apply(apply(g, removeBob), grind);
    expect(after.head).toEqual(grind.hash);
    expect(after.state.members.has(toHex(bob.accountId))).toBe(false);
    expect(after.state.members.has(toHex(alice.accountId))).toBe(false);
    expect(rejection(after, propose(after, bob, { kind: 'add', members: [asMember(carol, true)] }))).toBe('GROUP_NOT_MEMBER');
  });

  it('a record that does not take effect is kept, and the result is the same in any arrival order', () => {
    const { m, alice, bob, carol, dave } = setup();
    const g = apply(m, propose(m, alice, { kind: 'setRole', accountId: bob.accountId, admin: true }));
    const removeBob = propose(g, alice, { kind: 'remove', accountId: bob.accountId });
    const bobAdds = propose(g, bob, { kind: 'add', members: [asMember(dave)] });
    const tip = compareBytes(removeBob.hash, bobAdds.hash) < 0 ? removeBob : bobAdds;
    const withTip = apply(apply(g, removeBob), bobAdds);
    const later = propose(withTip, tip === bobAdds ? bob : alice, { kind: 'rename', name: 'late', description: '' });
    const orders = [
      [removeBob, bobAdds, later],
      [bobAdds, removeBob, later],
      [bobAdds, later, removeBob],
    ];
    const results = orders.map((order) => {
      let x = g;
      for (const r of order) x = applyGroupRecord(x, r.bytes).membership;
      return x;
    });
    for (const r of results) {
      expect(r.head).toEqual(results[0]!.head);
      expect(names(r)).toEqual(names(results[0]!));
      expect(r.state.name).toBe(results[0]!.state.name);
    }
    // Bob is removed (his removal, winning or losing, sticks), so his rename after it never takes effect.
    expect(results[0]!.state.members.has(toHex(bob.accountId))).toBe(false);
    expect(results[0]!.state.members.has(toHex(carol.accountId))).toBe(true);
  });
});

describe('group membership: heads, export, serialization', () => {
  it('a group message under an unknown head is GROUP_UNKNOWN_HEAD; from a non-member at its head GROUP_NOT_MEMBER; an older head is not current', () => {
    const { m, alice, carol, dave, rng } = setup();
    const g = apply(m, propose(m, alice, { kind: 'add', members: [asMember(dave)] }));
    expectCode(() => checkGroupMessageHead(g, rng(32), alice.accountId), 'GROUP_UNKNOWN_HEAD');
    expect(checkGroupMessageHead(g, g.head, dave.accountId)).toEqual({ current: true });
    expect(checkGroupMessageHead(g, m.head, carol.accountId)).toEqual({ current: false });
    expectCode(() => checkGroupMessageHead(g, m.head, dave.accountId), 'GROUP_NOT_MEMBER');
  });

  it('a newcomer given every record (parents first) computes the same head and members', () => {
    const { m, alice, bob, dave, check } = setup();
    let g = apply(m, propose(m, alice, { kind: 'setRole', accountId: bob.accountId, admin: true }));
    const x = propose(g, alice, { kind: 'rename', name: 'x', description: '' });
    const y = propose(g, bob, { kind: 'add', members: [asMember(dave)] });
    g = apply(apply(g, x), y);
    const [first, ...rest] = membershipRecords(g);
    let newcomer = openMembership(first!, check);
    for (const r of rest) newcomer = applyGroupRecord(newcomer, r, check).membership;
    expect(newcomer.head).toEqual(g.head);
    expect(names(newcomer)).toEqual(names(g));
  });

  it('a membership update round-trips its records; an empty, truncated or padded one is MALFORMED', () => {
    const { m, alice, dave, groupId } = setup();
    const g = apply(m, propose(m, alice, { kind: 'add', members: [asMember(dave)] }));
    const update = encodeMembershipUpdate({ groupId, records: membershipRecords(g) });
    expect(parseMembershipUpdate(update)).toEqual({ groupId, records: membershipRecords(g) });
    expectCode(() => parseMembershipUpdate(update.subarray(0, update.length - 1)), 'MALFORMED');
    expectCode(() => parseMembershipUpdate(Uint8Array.of(...update, 0)), 'MALFORMED');
    expectCode(() => parseMembershipUpdate(Uint8Array.of(...groupId, 0, 0)), 'MALFORMED');
  });

  it('serialization round-trips; an unknown version is UNSUPPORTED_VERSION and trailing bytes MALFORMED', () => {
    const { m, alice, dave } = setup();
    const g = apply(m, propose(m, alice, { kind: 'add', members: [asMember(dave, true)] }));
    const bytes = serializeMembership(g);
    const back = deserializeMembership(bytes);
    expect(back.head).toEqual(g.head);
    expect(names(back)).toEqual(names(g));
    expectCode(() => deserializeMembership(Uint8Array.of(2, ...bytes.subarray(1))), 'UNSUPPORTED_VERSION');
    expectCode(() => deserializeMembership(Uint8Array.of(...bytes, 0)), 'MALFORMED');
  });

  it('createGroupGenesis draws the group id, sorts the members and opens the membership; a creator who is not an admin in it is refused', () => {
    const { alice, bob, carol, rng } = setup();
    const author = { accountId: alice.accountId, deviceId: 1, signingPublicKey: alice.device.publicKey };
    const members = [asMember(carol), asMember(alice, true), asMember(bob)];
    const { groupId, genesis, membership } = createGroupGenesis({ name: 'New', description: '', members, author, time: T0 }, alice.device.privateKey, { rng });
    expect(groupId).toHaveLength(16);
    expect(membership.head).toEqual(genesis.hash);
    expect(membership.groupId).toEqual(groupId);
    expect(groupMembers(membership.state).map((m) => toHex(m.accountId))).toEqual(sorted(members).map((m) => toHex(m.accountId)));
    expectCode(() => createGroupGenesis({ name: 'x', description: '', members: [asMember(alice), asMember(bob, true)], author, time: T0 }, alice.device.privateKey, { rng }), 'GROUP_NOT_ADMIN');
    expectCode(() => createGroupGenesis({ name: 'x', description: '', members: [asMember(bob, true)], author, time: T0 }, alice.device.privateKey, { rng }), 'GROUP_NOT_MEMBER');
  });

  it('a genesis whose author is not an admin in it is refused', () => {
    const { alice, bob, groupId } = setup();
    const genesis = signGroupRecord(
      {
        groupId,
        epoch: 0,
        previousHash: new Uint8Array(32),
        time: T0,
        author: { accountId: alice.accountId, deviceId: 1, signingPublicKey: alice.device.publicKey },
        operation: { kind: 'create', name: 'x', description: '', members: sorted([asMember(alice), asMember(bob, true)]) },
      },
      alice.device.privateKey,
    );
    expectCode(() => openMembership(genesis.bytes), 'GROUP_NOT_ADMIN');
  });

  it('record parsing is strict: unsorted members, an empty name, an unknown operation are MALFORMED', () => {
    const { alice, bob, groupId } = setup();
    const author = { accountId: alice.accountId, deviceId: 1, signingPublicKey: alice.device.publicKey };
    const base = { groupId, epoch: 0, previousHash: new Uint8Array(32), time: T0, author };
    const members = sorted([asMember(alice, true), asMember(bob)]);
    expectCode(() => signGroupRecord({ ...base, operation: { kind: 'create', name: 'x', description: '', members: [...members].reverse() } }, alice.device.privateKey), 'MALFORMED');
    expectCode(() => signGroupRecord({ ...base, operation: { kind: 'create', name: '', description: '', members } }, alice.device.privateKey), 'MALFORMED');
    const good = signGroupRecord({ ...base, operation: { kind: 'create', name: 'x', description: '', members } }, alice.device.privateKey).bytes;
    const unknownOp = good.slice();
    unknownOp[1 + 16 + 4 + 32 + 8 + 16 + 4 + 33] = 0x09;
    expectCode(() => parseGroupRecord(unknownOp), 'MALFORMED');
  });
});
