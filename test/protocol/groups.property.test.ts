/**
 * Group properties at protocol level (issue 16, DESIGN §3.5, docs/protocol.md §24): a model of up
 * to 8 accounts whose devices run the real shared/protocol functions — membership records, sender
 * keys, distributions — under a random interleaving of sends, joins, leaves, removals, promotions,
 * concurrent admin changes (forks: records proposed on a head before the others have it), device
 * links, record deliveries in any order, and replayed or forged distributions.
 *
 * The model's engine rules are DESIGN's: a sender distributes its chain at the current iteration to
 * every device of every member at its head that does not have it yet, and rotates first when a
 * device that had the chain is no longer among those (a removal, a leave) or the chain is due.
 * Messages reach their recipients at once (out-of-order delivery inside a chain is the unit
 * properties' business, shared/protocol/sender-key.test.ts).
 *
 * Checked, after every step and at the end (every record delivered everywhere):
 *  - every device agrees on the same head and members;
 *  - every device of a member at the head a message was sent under (as its sender held it)
 *    decrypted it; no other device did, and none can with its final full state (a removed
 *    member, a device linked later, a non-member) — so a removed member reads nothing sent after
 *    its removal reached the sender;
 *  - a late record only ever removes members from a head's view, never adds (sticky removals);
 *  - sender-key iterations never roll back;
 *  - a replayed distribution never changes a record (unchanged or SENDER_KEY_ROLLBACK), a forwarded
 *    one is SENDER_KEY_MISMATCH.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair, type Ed25519KeyPair } from '../../shared/crypto/ed25519.js';
import { isProtocolError } from '../../shared/protocol/errors.js';
import {
  applyGroupRecord,
  checkGroupMessageHead,
  groupMembers,
  groupStateAt,
  openMembership,
  proposeGroupRecord,
  signGroupRecord,
  type GroupOperation,
  type Membership,
} from '../../shared/protocol/group-membership.js';
import {
  createSenderKeyState,
  EMPTY_SENDER_KEY_RECORD,
  senderKeyDecrypt,
  senderKeyEncrypt,
  senderKeyNeedsRotation,
  serializeSenderKeyRecord,
  type SenderKeyRecord,
  type SenderKeyState,
} from '../../shared/protocol/sender-key.js';
import {
  createSenderKeyDistribution,
  processSenderKeyDistribution,
  type SenderKeyDistribution,
} from '../../shared/protocol/sender-key-distribution.js';
import { deterministicRng, ManualClock } from '../../shared/testing/deterministic-rng.js';
import { sortedMembers } from '../../shared/testing/group-fixtures.js';

const T0 = Date.UTC(2026, 11, 8);
const MAX_DEVICES = 3;

type Account = { readonly index: number; readonly accountId: Uint8Array; readonly accountKey: Ed25519KeyPair; devices: Device[] };

type Device = {
  readonly key: string;
  readonly account: Account;
  readonly deviceId: number;
  readonly signing: Ed25519KeyPair;
  membership: Membership;
  /** Records sent to this device and not applied yet (any order). */
  inbox: Uint8Array[];
  own: SenderKeyState | null;
  /** Devices the current own chain was distributed to. */
  distributedTo: Set<string>;
  /** Sender-key records by sender device key. */
  records: Map<string, SenderKeyRecord>;
  /** Highest iteration seen per (sender device, distribution id). */
  highest: Map<string, number>;
  decrypted: Set<number>;
};

type SentMessage = {
  readonly id: number;
  readonly sender: Device;
  readonly head: Uint8Array;
  readonly bytes: Uint8Array;
  readonly text: string;
  /** Device keys of the members at `head` as the sender held it (the sender's own other devices included). */
  readonly recipients: ReadonlySet<string>;
  /** Account ids (hex) in the effective view of `head` at the sender, when it sent. */
  readonly membersAtSend: ReadonlySet<string>;
};

type Step =
  | { readonly kind: 'propose'; readonly actor: number; readonly device: number; readonly op: number; readonly target: number }
  | { readonly kind: 'deliver'; readonly device: number; readonly pick: number; readonly count: number }
  | { readonly kind: 'send'; readonly actor: number; readonly device: number }
  | { readonly kind: 'link'; readonly actor: number }
  | { readonly kind: 'replay'; readonly pick: number }
  | { readonly kind: 'forward'; readonly pick: number; readonly via: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('propose' as const), actor: fc.nat(7), device: fc.nat(2), op: fc.nat(5), target: fc.nat(7) }),
  fc.record({ kind: fc.constant('propose' as const), actor: fc.nat(7), device: fc.nat(2), op: fc.nat(5), target: fc.nat(7) }),
  fc.record({ kind: fc.constant('deliver' as const), device: fc.nat(30), pick: fc.nat(100), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('send' as const), actor: fc.nat(7), device: fc.nat(2) }),
  fc.record({ kind: fc.constant('send' as const), actor: fc.nat(7), device: fc.nat(2) }),
  fc.record({ kind: fc.constant('link' as const), actor: fc.nat(7) }),
  fc.record({ kind: fc.constant('replay' as const), pick: fc.nat(1000) }),
  fc.record({ kind: fc.constant('forward' as const), pick: fc.nat(1000), via: fc.nat(30) }),
);

class World {
  readonly rng;
  readonly clock = new ManualClock(T0);
  readonly accounts: Account[];
  readonly groupId: Uint8Array;
  readonly records: Uint8Array[] = [];
  readonly messages: SentMessage[] = [];
  readonly distributions: { readonly to: Device; readonly from: Device; readonly distribution: SenderKeyDistribution }[] = [];

  constructor(seed: string, accounts: number, initial: readonly boolean[]) {
    this.rng = deterministicRng(seed);
    this.groupId = this.rng(16);
    this.accounts = Array.from({ length: accounts }, (_, index) => ({ index, accountId: this.rng(16), accountKey: ed25519GenerateKeyPair(this.rng), devices: [] }));
    const creator = this.accounts[0]!;
    const members = this.accounts.filter((a, i) => i === 0 || initial[i]).map((a) => ({ accountId: a.accountId, accountPublicKey: a.accountKey.publicKey, admin: a === creator }));
    const signing = ed25519GenerateKeyPair(this.rng);
    const genesis = signGroupRecord(
      {
        groupId: this.groupId,
        epoch: 0,
        previousHash: new Uint8Array(32),
        time: T0,
        author: { accountId: creator.accountId, deviceId: 1, signingPublicKey: signing.publicKey },
        operation: { kind: 'create', name: 'g', description: '', members: sortedMembers(members) },
      },
      signing.privateKey,
    );
    this.records.push(genesis.bytes);
    for (const a of this.accounts) this.addDevice(a, a === creator ? signing : undefined);
  }

  get devices(): Device[] {
    return this.accounts.flatMap((a) => a.devices);
  }

  /** A new device: it holds the genesis and gets every other record (from the inviter, in any order). */
  addDevice(account: Account, signing?: Ed25519KeyPair): Device {
    const device: Device = {
      key: `${account.index}/${account.devices.length + 1}`,
      account,
      deviceId: account.devices.length + 1,
      signing: signing ?? ed25519GenerateKeyPair(this.rng),
      membership: openMembership(this.records[0]!),
      inbox: this.records.slice(1),
      own: null,
      distributedTo: new Set(),
      records: new Map(),
      highest: new Map(),
      decrypted: new Set(),
    };
    account.devices.push(device);
    return device;
  }

  /** Applies what it can of a device's inbox, starting at `pick`; a record whose previous one is missing waits. */
  deliver(device: Device, pick: number, count: number): void {
    for (let n = 0; n < count && device.inbox.length > 0; n++) {
      const [bytes] = device.inbox.splice(pick % device.inbox.length, 1);
      try {
        device.membership = applyGroupRecord(device.membership, bytes!).membership;
      } catch (e) {
        if (!isProtocolError(e, 'GROUP_UNKNOWN_RECORD')) throw e;
        device.inbox.push(bytes!);
      }
    }
  }

  flush(): void {
    for (const d of this.devices) {
      let guard = 0;
      while (d.inbox.length > 0) {
        this.deliver(d, 0, d.inbox.length);
        if (++guard > this.records.length + 2) throw new Error('records that never link');
      }
    }
  }

  propose(step: Extract<Step, { kind: 'propose' }>): void {
    // The actor: the step's pick among accounts that are admins on their own device's view (leave:
    // among members), so most steps make a change; two steps before a delivery make a fork.
    const leave = step.op === 3;
    const candidates = this.accounts.filter((a) => {
      const me = a.devices[0]!.membership.state.members.get(toHex(a.accountId));
      return me && (leave || me.admin);
    });
    if (candidates.length === 0) return;
    const actor = candidates[step.actor % candidates.length]!;
    const device = actor.devices[step.device % actor.devices.length]!;
    const state = device.membership.state;
    const me = state.members.get(toHex(actor.accountId));
    if (!me) return;
    const members = this.accounts.filter((a) => state.members.has(toHex(a.accountId)));
    const others = this.accounts.filter((a) => !state.members.has(toHex(a.accountId)));
    let op: Exclude<GroupOperation, { kind: 'create' }>;
    switch (step.op) {
      case 0: {
        const target = others[step.target % Math.max(1, others.length)];
        if (!target) return;
        op = { kind: 'add', members: [{ accountId: target.accountId, accountPublicKey: target.accountKey.publicKey, admin: false }] };
        break;
      }
      case 1: {
        const target = members.filter((a) => a !== actor)[step.target % Math.max(1, members.length - 1)];
        if (!target) return;
        op = { kind: 'remove', accountId: target.accountId };
        break;
      }
      case 2: {
        const target = members[step.target % members.length]!;
        op = { kind: 'setRole', accountId: target.accountId, admin: !state.members.get(toHex(target.accountId))!.admin };
        break;
      }
      case 3:
        op = { kind: 'leave' };
        break;
      case 4:
        op = { kind: 'rename', name: `n${this.records.length}`, description: '' };
        break;
      default: {
        const target = members.find((a) => !state.members.get(toHex(a.accountId))!.admin);
        if (!target) return;
        op = { kind: 'setRole', accountId: target.accountId, admin: true };
      }
    }
    if (op.kind !== 'leave' && !me.admin) return;
    this.proposeAs(device, op);
  }

  /** `device` signs `op` on its head and sends it to every other device, if it takes effect there. */
  proposeAs(device: Device, op: Exclude<GroupOperation, { kind: 'create' }>): void {
    const actor = device.account;
    this.clock.advance(1);
    const signed = proposeGroupRecord(
      device.membership,
      { accountId: actor.accountId, deviceId: device.deviceId, signingPublicKey: device.signing.publicKey },
      op,
      this.clock.now(),
      device.signing.privateKey,
    );
    // Proposed only when it takes effect on the proposer's head; others may be on another head (a fork).
    const out = applyGroupRecord(device.membership, signed.bytes);
    if (out.rejected) return;
    device.membership = out.membership;
    this.records.push(signed.bytes);
    for (const d of this.devices) if (d !== device) d.inbox.push(signed.bytes);
  }

  send(step: Extract<Step, { kind: 'send' }>): void {
    // The sender: the step's pick among the devices that are members on their own view.
    const candidates = this.devices.filter((d) => d.membership.state.members.has(toHex(d.account.accountId)));
    if (candidates.length === 0) return;
    this.sendFrom(candidates[(step.actor * MAX_DEVICES + step.device) % candidates.length]!);
  }

  sendFrom(sender: Device): void {
    const account = sender.account;
    const m = sender.membership;
    if (!m.state.members.has(toHex(account.accountId))) return;
    const members = new Set(m.state.members.keys());
    const targets = this.devices.filter((d) => d !== sender && members.has(toHex(d.account.accountId)));
    const targetKeys = new Set(targets.map((d) => d.key));
    this.clock.advance(1);
    const now = this.clock.now();
    // Rotate on a device that had the chain and is no longer a recipient (removal, leave), or when due.
    if (!sender.own || senderKeyNeedsRotation(sender.own, now) || [...sender.distributedTo].some((k) => !targetKeys.has(k))) {
      sender.own = createSenderKeyState(this.groupId, { rng: this.rng, now: this.clock.now });
      sender.distributedTo = new Set();
    }
    const from = { accountId: account.accountId, deviceId: sender.deviceId };
    for (const d of targets) {
      if (sender.distributedTo.has(d.key)) continue;
      // Over the pairwise session: the context names the authenticated sender device.
      const distribution = createSenderKeyDistribution(sender.own, from);
      const { record } = processSenderKeyDistribution(d.records.get(sender.key) ?? EMPTY_SENDER_KEY_RECORD, distribution, { groupId: this.groupId, from, now: this.clock.now });
      d.records.set(sender.key, record);
      sender.distributedTo.add(d.key);
      this.distributions.push({ to: d, from: sender, distribution });
    }
    const id = this.messages.length;
    const text = `message ${id}`;
    const out = senderKeyEncrypt(sender.own, utf8(text), m.head);
    sender.own = out.state;
    const message: SentMessage = { id, sender, head: m.head, bytes: out.message, text, recipients: targetKeys, membersAtSend: members };
    this.messages.push(message);
    for (const d of this.devices) {
      if (d === sender) continue;
      this.receive(d, message);
    }
  }

  /** A device tries a message with everything it holds; only recipients may succeed. */
  receive(d: Device, message: SentMessage): void {
    const record = d.records.get(message.sender.key);
    let plaintext: Uint8Array | undefined;
    try {
      if (!record) throw new Error('no record');
      const out = senderKeyDecrypt(record, message.bytes);
      plaintext = out.plaintext;
      const key = `${message.sender.key}/${toHex(out.header.distributionId)}`;
      const state = out.record.states.find((s) => toHex(s.distributionId) === toHex(out.header.distributionId))!;
      expect(state.iteration).toBeGreaterThanOrEqual(d.highest.get(key) ?? 0);
      d.highest.set(key, state.iteration);
      d.records.set(message.sender.key, out.record);
    } catch (e) {
      if (e instanceof Error && !isProtocolError(e) && e.message !== 'no record') throw e;
    }
    if (message.recipients.has(d.key)) {
      expect(plaintext, `device ${d.key} is a member at the head of message ${message.id}`).toBeDefined();
      expect(new TextDecoder().decode(plaintext)).toBe(message.text);
      d.decrypted.add(message.id);
    } else {
      expect(plaintext, `device ${d.key} is not a member at the head of message ${message.id}`).toBeUndefined();
    }
  }

  link(step: Extract<Step, { kind: 'link' }>): void {
    const account = this.accounts[step.actor % this.accounts.length]!;
    if (account.devices.length < MAX_DEVICES) this.addDevice(account);
  }

  replay(step: Extract<Step, { kind: 'replay' }>): void {
    if (this.distributions.length === 0) return;
    const { to, from, distribution } = this.distributions[step.pick % this.distributions.length]!;
    const record = to.records.get(from.key) ?? EMPTY_SENDER_KEY_RECORD;
    const before = serializeSenderKeyRecord(record);
    try {
      const out = processSenderKeyDistribution(record, distribution, { groupId: this.groupId, from: { accountId: from.account.accountId, deviceId: from.deviceId }, now: this.clock.now });
      expect(out.changed).toBe(false);
    } catch (e) {
      if (!isProtocolError(e, 'SENDER_KEY_ROLLBACK')) throw e;
    }
    expect(serializeSenderKeyRecord(record)).toEqual(before);
  }

  forward(step: Extract<Step, { kind: 'forward' }>): void {
    if (this.distributions.length === 0) return;
    const { to, from, distribution } = this.distributions[step.pick % this.distributions.length]!;
    const via = this.devices[step.via % this.devices.length]!;
    if (via === from) return;
    // `via` passes `from`'s chain to `to` over its own session: the session names `via`.
    const record = to.records.get(via.key) ?? EMPTY_SENDER_KEY_RECORD;
    expect(() =>
      processSenderKeyDistribution(record, distribution, { groupId: this.groupId, from: { accountId: via.account.accountId, deviceId: via.deviceId }, now: this.clock.now }),
    ).toThrowError(expect.objectContaining({ code: 'SENDER_KEY_MISMATCH' }));
  }

  run(step: Step): void {
    switch (step.kind) {
      case 'propose':
        return this.propose(step);
      case 'deliver': {
        const d = this.devices[step.device % this.devices.length]!;
        return this.deliver(d, step.pick, step.count);
      }
      case 'send':
        return this.send(step);
      case 'link':
        return this.link(step);
      case 'replay':
        return this.replay(step);
      case 'forward':
        return this.forward(step);
    }
  }

  /** The end state: everything delivered; the properties of the module comment. */
  check(): void {
    this.flush();
    const [first, ...rest] = this.devices;
    const names = (m: Membership) => groupMembers(m.state).map((x) => `${toHex(x.accountId)}:${x.admin}`);
    for (const d of rest) {
      expect(toHex(d.membership.head), `device ${d.key} head`).toBe(toHex(first!.membership.head));
      expect(names(d.membership)).toEqual(names(first!.membership));
    }
    for (const message of this.messages) {
      // A late record only ever removes members from a head's view.
      const final = groupStateAt(first!.membership, message.head);
      for (const account of final.members.keys()) expect(message.membersAtSend.has(account)).toBe(true);
      if (final.members.has(toHex(message.sender.account.accountId))) {
        expect(() => checkGroupMessageHead(first!.membership, message.head, message.sender.account.accountId)).not.toThrow();
      }
      for (const d of this.devices) {
        if (d === message.sender) continue;
        if (message.recipients.has(d.key)) {
          expect(d.decrypted.has(message.id)).toBe(true);
          expect(message.membersAtSend.has(toHex(d.account.accountId))).toBe(true);
          continue;
        }
        expect(d.decrypted.has(message.id)).toBe(false);
        // Its full final state (every record of every sender) opens nothing it was not sent.
        for (const record of d.records.values()) {
          expect(() => senderKeyDecrypt(record, message.bytes)).toThrow();
        }
      }
    }
  }
}

describe('groups at protocol level: interleavings of up to 8 members', () => {
  it('property: every device agrees on the head; members at a message\'s head decrypt it, no one else can; iterations never roll back; replayed and forwarded distributions are refused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.array(stepArb, { minLength: 10, maxLength: 60 }),
        fc.string({ maxLength: 6 }),
        (accounts, initial, steps, seed) => {
          const world = new World(`groups-property/${seed}`, accounts, initial);
          for (const step of steps) world.run(step);
          world.check();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a removed member\'s full state decrypts nothing sent after the removal reached the sender, even after it is added back', () => {
    const world = new World('removed-member', 4, [true, true, true, true]);
    const [alice, bob, carol] = world.accounts.map((a) => a.devices[0]!) as [Device, Device, Device];
    world.sendFrom(carol);
    world.proposeAs(alice, { kind: 'remove', accountId: bob.account.accountId });
    world.flush();
    world.sendFrom(carol);
    world.sendFrom(alice);
    world.proposeAs(alice, { kind: 'add', members: [{ accountId: bob.account.accountId, accountPublicKey: bob.account.accountKey.publicKey, admin: false }] });
    world.flush();
    world.sendFrom(carol);
    const [beforeRemoval, afterCarol, afterAlice, afterReAdd] = world.messages as [SentMessage, SentMessage, SentMessage, SentMessage];
    const bobDevice = bob;
    expect(bobDevice.decrypted.has(beforeRemoval.id)).toBe(true);
    expect(bobDevice.decrypted.has(afterCarol.id)).toBe(false);
    expect(bobDevice.decrypted.has(afterAlice.id)).toBe(false);
    expect(bobDevice.decrypted.has(afterReAdd.id)).toBe(true);
    world.check();
  });
});
