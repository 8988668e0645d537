/**
 * Group membership (DESIGN §3.5, docs/protocol.md §24.1, §24.5): a hash chain of signed records
 * from a genesis record, its deterministic fork rule and the head hash every group message carries.
 *
 * - A record = (group id, epoch, previous record hash, time, author account id, author device id,
 *   author device's Ed25519 identity signing key, operation), signed by that device key under
 *   `Parley_v1_GroupRecord`; its hash is SHA-256(`Parley_v1_GroupRecordHash` ‖ body ‖ signature).
 *   Operations: create (genesis: name, description, first members), add, remove, set role
 *   (promote / demote), rename, leave. Members are account ids with their account public keys.
 * - A record takes effect if its author account is an admin (a member, for leave) at the record it
 *   builds on and its change makes sense there (MAX_GROUP_MEMBERS, no removal of a non-member or of
 *   oneself, the only admin neither leaves nor steps down). Any device of an admin can act: the
 *   caller's `DeviceKeyCheck` says whether the author device is on the author's current signed
 *   device list with that key (UNKNOWN_DEVICE otherwise).
 * - Fork rule: records with the same previous hash form a fork; of the ones that take effect, the
 *   one with the lowest hash (bytewise) continues the chain everywhere, and the removals and leaves
 *   of the others are applied right after it, so fork resolution never undoes a removal. The loser's
 *   author re-issues its other changes on the winner (`isOnChain` tells it). The head is where the
 *   chain ends.
 * - Determinism: which records take effect, the head and the member list are a function of the
 *   set of records held, whatever order they arrived in. So a record that does not take effect
 *   where it arrives is kept, inert (`rejected` says why), up to MAX_INERT_GROUP_RECORDS: a record
 *   that arrives later may change that. Errors that no later record can change — MALFORMED,
 *   BAD_SIGNATURE, UNKNOWN_DEVICE, GROUP_BROKEN_CHAIN — are thrown, and GROUP_UNKNOWN_RECORD (the
 *   previous record is not held yet) is thrown for the caller to keep the record until it is.
 *
 * Two views of the members are kept along a path: the **path** view applies only the path's own
 * records; the **effective** view also applies the removals of fork losers. Who may author a
 * record is judged on the effective view (a removed admin cannot act, even if the removal lost a
 * fork); whether the change makes sense (limits, targets) on the path view. The effective view is
 * a subset of the path view with the same roles, and both are what the rules above need to stay
 * order-independent.
 *
 * Does not own: delivery of records (E2E over pairwise sessions, the engine), device lists and
 * account keys (device-list.ts; the caller's check), rotation of sender keys on a removal (the
 * engine), storage. Sans-I/O and synchronous.
 */
import { bytesEqual, compareBytes, fromUtf8, toHex, utf8 } from '../crypto/bytes.js';
import { ed25519Sign, ed25519Verify, ED25519_SIGNATURE_LENGTH } from '../crypto/ed25519.js';
import { KeyType } from '../crypto/encoding.js';
import { sha256 } from '../crypto/sha256.js';
import { CryptoError } from '../crypto/errors.js';
import type { Rng } from '../crypto/random.js';
import { Reader, Writer } from './codec.js';
import {
  ACCOUNT_ID_LENGTH,
  GROUP_ID_LENGTH,
  GROUP_RECORD_HASH_LENGTH,
  GROUP_VERSION,
  label,
  MAX_GROUP_DESCRIPTION_BYTES,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_BYTES,
  MAX_GROUP_RECORD_BYTES,
  MAX_GROUP_UPDATE_RECORDS,
} from './constants.js';
import { ProtocolError, type ProtocolErrorCode } from './errors.js';

/** Records kept although they do not take effect (see the module comment); past it, such a record is refused. */
export const MAX_INERT_GROUP_RECORDS = 256;

export const GroupOperationCode = { create: 0x01, add: 0x02, remove: 0x03, setRole: 0x04, rename: 0x05, leave: 0x06 } as const;
export const GroupRole = { member: 0x00, admin: 0x01 } as const;

export type GroupMember = {
  readonly accountId: Uint8Array;
  /** Raw Ed25519 account public key (the one that signs the member's device lists). */
  readonly accountPublicKey: Uint8Array;
  readonly admin: boolean;
};

export type GroupOperation =
  | { readonly kind: 'create'; readonly name: string; readonly description: string; readonly members: readonly GroupMember[] }
  | { readonly kind: 'add'; readonly members: readonly GroupMember[] }
  | { readonly kind: 'remove'; readonly accountId: Uint8Array }
  | { readonly kind: 'setRole'; readonly accountId: Uint8Array; readonly admin: boolean }
  | { readonly kind: 'rename'; readonly name: string; readonly description: string }
  | { readonly kind: 'leave' };

export type GroupRecordAuthor = {
  readonly accountId: Uint8Array;
  readonly deviceId: number;
  /** Raw Ed25519 identity signing key (IKsig) of the author device. */
  readonly signingPublicKey: Uint8Array;
};

export type GroupRecord = {
  readonly groupId: Uint8Array;
  /** 0 for the genesis; previous record's epoch + 1 otherwise. */
  readonly epoch: number;
  /** 0³² for the genesis. */
  readonly previousHash: Uint8Array;
  readonly time: number;
  readonly author: GroupRecordAuthor;
  readonly operation: GroupOperation;
};

export type SignedGroupRecord = {
  readonly record: GroupRecord;
  /** body ‖ signature: the bytes that travel and are stored. */
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
};

/** Whether (account, device) lists that Ed25519 key on the account's current signed device list. */
export type DeviceKeyCheck = (accountId: Uint8Array, deviceId: number, signingPublicKey: Uint8Array) => boolean;

const ZERO_HASH = new Uint8Array(GROUP_RECORD_HASH_LENGTH);

// ── Encoding (docs/protocol.md §24.1) ─────────────────────────────────────────

function writeMembers(w: Writer, members: readonly GroupMember[]): void {
  w.u16(members.length);
  for (const m of members) w.bytes(m.accountId).key(KeyType.Ed25519, m.accountPublicKey).u8(m.admin ? GroupRole.admin : GroupRole.member);
}

function checkName(name: string, description: string): { name: Uint8Array; description: Uint8Array } {
  const n = utf8(name);
  const d = utf8(description);
  if (n.length < 1 || n.length > MAX_GROUP_NAME_BYTES) throw new ProtocolError('MALFORMED', 'group record: name length out of range');
  if (d.length > MAX_GROUP_DESCRIPTION_BYTES) throw new ProtocolError('MALFORMED', 'group record: description too long');
  return { name: n, description: d };
}

function checkMembers(members: readonly GroupMember[]): void {
  if (members.length < 1 || members.length > MAX_GROUP_MEMBERS) throw new ProtocolError('MALFORMED', 'group record: member count out of range');
  for (let i = 0; i < members.length; i++) {
    if (members[i]!.accountId.length !== ACCOUNT_ID_LENGTH) throw new ProtocolError('MALFORMED', 'group record: bad account id');
    if (i > 0 && compareBytes(members[i - 1]!.accountId, members[i]!.accountId) >= 0) {
      throw new ProtocolError('MALFORMED', 'group record: members not sorted and unique');
    }
  }
}

/** The signed body (§24.1). Checks the shape; refuses what a parser would refuse. */
export function encodeGroupRecordBody(r: GroupRecord): Uint8Array {
  if (r.groupId.length !== GROUP_ID_LENGTH || r.previousHash.length !== GROUP_RECORD_HASH_LENGTH || r.author.accountId.length !== ACCOUNT_ID_LENGTH) {
    throw new ProtocolError('MALFORMED', 'group record: wrong field length');
  }
  if (r.author.deviceId < 1) throw new ProtocolError('MALFORMED', 'group record: device id 0');
  const genesis = r.operation.kind === 'create';
  if (genesis !== (r.epoch === 0) || (genesis && !bytesEqual(r.previousHash, ZERO_HASH))) {
    throw new ProtocolError('MALFORMED', 'group record: only the genesis (create) has epoch 0 and no previous record');
  }
  const w = new Writer()
    .u8(GROUP_VERSION)
    .bytes(r.groupId)
    .u32(r.epoch)
    .bytes(r.previousHash)
    .u64(r.time)
    .bytes(r.author.accountId)
    .u32(r.author.deviceId)
    .key(KeyType.Ed25519, r.author.signingPublicKey)
    .u8(GroupOperationCode[r.operation.kind]);
  const op = r.operation;
  switch (op.kind) {
    case 'create': {
      const { name, description } = checkName(op.name, op.description);
      checkMembers(op.members);
      w.var16(name).var16(description);
      writeMembers(w, op.members);
      break;
    }
    case 'add':
      checkMembers(op.members);
      writeMembers(w, op.members);
      break;
    case 'remove':
      if (op.accountId.length !== ACCOUNT_ID_LENGTH) throw new ProtocolError('MALFORMED', 'group record: bad account id');
      w.bytes(op.accountId);
      break;
    case 'setRole':
      if (op.accountId.length !== ACCOUNT_ID_LENGTH) throw new ProtocolError('MALFORMED', 'group record: bad account id');
      w.bytes(op.accountId).u8(op.admin ? GroupRole.admin : GroupRole.member);
      break;
    case 'rename': {
      const { name, description } = checkName(op.name, op.description);
      w.var16(name).var16(description);
      break;
    }
    case 'leave':
      break;
  }
  const body = w.finish();
  if (body.length + ED25519_SIGNATURE_LENGTH > MAX_GROUP_RECORD_BYTES) throw new ProtocolError('MALFORMED', 'group record: too large');
  return body;
}

/** "Parley_v1_GroupRecord" ‖ body: what the author device signs. */
export function groupRecordSignatureInput(body: Uint8Array): Uint8Array {
  return new Writer().bytes(label('GroupRecord')).bytes(body).finish();
}

/** SHA-256("Parley_v1_GroupRecordHash" ‖ body ‖ signature) = SHA-256(label ‖ signed bytes). */
export function groupRecordHash(signedBytes: Uint8Array): Uint8Array {
  return sha256(label('GroupRecordHash'), signedBytes);
}

/** Signs a record with the author device's identity signing key (seed); returns body ‖ signature. */
export function signGroupRecord(record: GroupRecord, deviceSigningPrivateKey: Uint8Array): SignedGroupRecord {
  const body = encodeGroupRecordBody(record);
  const signature = ed25519Sign(deviceSigningPrivateKey, groupRecordSignatureInput(body));
  const bytes = new Writer().bytes(body).bytes(signature).finish();
  return { record, bytes, hash: groupRecordHash(bytes) };
}

function readMembers(r: Reader): GroupMember[] {
  const n = r.u16();
  const members: GroupMember[] = [];
  for (let i = 0; i < n; i++) {
    const accountId = r.bytes(ACCOUNT_ID_LENGTH);
    const accountPublicKey = r.key(KeyType.Ed25519);
    const role = r.u8();
    if (role !== GroupRole.member && role !== GroupRole.admin) throw new ProtocolError('MALFORMED', 'group record: unknown role');
    members.push({ accountId, accountPublicKey, admin: role === GroupRole.admin });
  }
  checkMembers(members);
  return members;
}

function readName(r: Reader): { name: string; description: string } {
  const name = r.var16(MAX_GROUP_NAME_BYTES);
  const description = r.var16(MAX_GROUP_DESCRIPTION_BYTES);
  if (name.length < 1) throw new ProtocolError('MALFORMED', 'group record: empty name');
  try {
    return { name: fromUtf8(name), description: fromUtf8(description) };
  } catch (e) {
    if (e instanceof CryptoError) throw new ProtocolError('MALFORMED', 'group record: name is not UTF-8');
    throw e;
  }
}

/**
 * Parses signed record bytes and verifies the signature under the author key the record names
 * (BAD_SIGNATURE). Strict (MALFORMED): version 0x01, known operation, members sorted and unique,
 * names in range and UTF-8, epoch 0 exactly for the genesis, nothing after the signature.
 */
export function parseGroupRecord(bytes: Uint8Array): SignedGroupRecord {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_GROUP_RECORD_BYTES) throw new ProtocolError('MALFORMED', 'group record: too large');
  const r = new Reader(bytes, 'group record');
  const version = r.u8();
  if (version !== GROUP_VERSION) throw new ProtocolError('MALFORMED', `unsupported group record version ${version}`);
  const groupId = r.bytes(GROUP_ID_LENGTH);
  const epoch = r.u32();
  const previousHash = r.bytes(GROUP_RECORD_HASH_LENGTH);
  const time = r.u64();
  const author = { accountId: r.bytes(ACCOUNT_ID_LENGTH), deviceId: r.u32(), signingPublicKey: r.key(KeyType.Ed25519) };
  if (author.deviceId < 1) throw new ProtocolError('MALFORMED', 'group record: device id 0');
  const code = r.u8();
  let operation: GroupOperation;
  switch (code) {
    case GroupOperationCode.create: {
      const { name, description } = readName(r);
      operation = { kind: 'create', name, description, members: readMembers(r) };
      break;
    }
    case GroupOperationCode.add:
      operation = { kind: 'add', members: readMembers(r) };
      break;
    case GroupOperationCode.remove:
      operation = { kind: 'remove', accountId: r.bytes(ACCOUNT_ID_LENGTH) };
      break;
    case GroupOperationCode.setRole: {
      const accountId = r.bytes(ACCOUNT_ID_LENGTH);
      const role = r.u8();
      if (role !== GroupRole.member && role !== GroupRole.admin) throw new ProtocolError('MALFORMED', 'group record: unknown role');
      operation = { kind: 'setRole', accountId, admin: role === GroupRole.admin };
      break;
    }
    case GroupOperationCode.rename:
      operation = { kind: 'rename', ...readName(r) };
      break;
    case GroupOperationCode.leave:
      operation = { kind: 'leave' };
      break;
    default:
      throw new ProtocolError('MALFORMED', 'group record: unknown operation');
  }
  const bodyLength = r.position;
  const signature = r.bytes(ED25519_SIGNATURE_LENGTH);
  r.end();
  const genesis = operation.kind === 'create';
  if (genesis !== (epoch === 0) || (genesis && !bytesEqual(previousHash, ZERO_HASH))) {
    throw new ProtocolError('MALFORMED', 'group record: only the genesis (create) has epoch 0 and no previous record');
  }
  const body = bytes.subarray(0, bodyLength);
  if (!ed25519Verify(author.signingPublicKey, groupRecordSignatureInput(body), signature)) {
    throw new ProtocolError('BAD_SIGNATURE', 'group record: signature does not verify under the author device key');
  }
  const copy = bytes.slice();
  return { record: { groupId, epoch, previousHash, time, author, operation }, bytes: copy, hash: groupRecordHash(copy) };
}

// ── Evaluation: the two views along a path ────────────────────────────────────

/** The group as a record leaves it. `members` is keyed by the hex of the account id. */
export type GroupState = {
  readonly name: string;
  readonly description: string;
  readonly members: ReadonlyMap<string, GroupMember>;
};

type View = {
  name: string;
  description: string;
  /** Effective members: the path's changes and the removals of fork losers on the way. */
  eff: Map<string, GroupMember>;
  /** The path's own changes only. */
  path: Map<string, GroupMember>;
};

function cloneView(v: View): View {
  return { name: v.name, description: v.description, eff: new Map(v.eff), path: new Map(v.path) };
}

function adminCount(members: ReadonlyMap<string, GroupMember>): number {
  let n = 0;
  for (const m of members.values()) if (m.admin) n++;
  return n;
}

/** Why `record` would not take effect on `v`, or null. */
function judge(v: View, record: GroupRecord): ProtocolErrorCode | null {
  const op = record.operation;
  if (op.kind === 'create') return 'GROUP_BROKEN_CHAIN';
  const authorKey = toHex(record.author.accountId);
  const author = v.eff.get(authorKey);
  if (!author) return 'GROUP_NOT_MEMBER';
  if (op.kind === 'leave') {
    const onPath = v.path.get(authorKey)!;
    if (onPath.admin && adminCount(v.path) === 1 && v.path.size > 1) return 'GROUP_INVALID_CHANGE';
    return null;
  }
  if (!author.admin) return 'GROUP_NOT_ADMIN';
  switch (op.kind) {
    case 'add': {
      let size = v.path.size;
      for (const m of op.members) if (!v.path.has(toHex(m.accountId))) size++;
      return size > MAX_GROUP_MEMBERS ? 'GROUP_TOO_LARGE' : null;
    }
    case 'remove': {
      const target = toHex(op.accountId);
      return !v.path.has(target) || target === authorKey ? 'GROUP_INVALID_CHANGE' : null;
    }
    case 'setRole': {
      const target = toHex(op.accountId);
      if (!v.path.has(target)) return 'GROUP_INVALID_CHANGE';
      if (!op.admin && target === authorKey && adminCount(v.path) === 1) return 'GROUP_INVALID_CHANGE';
      return null;
    }
    case 'rename':
      return null;
  }
}

/** Applies a record that takes effect (judge returned null). */
function applyRecord(v: View, record: GroupRecord): void {
  const op = record.operation;
  switch (op.kind) {
    case 'create':
      v.name = op.name;
      v.description = op.description;
      for (const m of op.members) {
        v.path.set(toHex(m.accountId), m);
        v.eff.set(toHex(m.accountId), m);
      }
      return;
    case 'add':
      for (const m of op.members) {
        const key = toHex(m.accountId);
        if (!v.path.has(key)) v.path.set(key, m);
        // A member a fork loser removed comes back with the role the path gives it.
        if (!v.eff.has(key)) v.eff.set(key, v.path.get(key)!);
      }
      return;
    case 'remove':
      v.path.delete(toHex(op.accountId));
      v.eff.delete(toHex(op.accountId));
      return;
    case 'setRole': {
      const key = toHex(op.accountId);
      const m = v.path.get(key)!;
      const changed = { ...m, admin: op.admin };
      v.path.set(key, changed);
      if (v.eff.has(key)) v.eff.set(key, changed);
      return;
    }
    case 'rename':
      v.name = op.name;
      v.description = op.description;
      return;
    case 'leave':
      v.path.delete(toHex(record.author.accountId));
      v.eff.delete(toHex(record.author.accountId));
      return;
  }
}

/** The removal a fork loser still carries out (effective view only). */
function applyLoserRemoval(v: View, record: GroupRecord): void {
  const op = record.operation;
  if (op.kind === 'remove') v.eff.delete(toHex(op.accountId));
  else if (op.kind === 'leave') v.eff.delete(toHex(record.author.accountId));
}

type Node = {
  readonly signed: SignedGroupRecord;
  readonly parent: string | null;
  readonly children: readonly string[];
};

export type Membership = {
  readonly groupId: Uint8Array;
  readonly genesisHash: Uint8Array;
  /** Every record held, by the hex of its hash. */
  readonly nodes: ReadonlyMap<string, Node>;
  /** The head: the last record of the chain. */
  readonly head: Uint8Array;
  readonly headEpoch: number;
  /** The group at the head. */
  readonly state: GroupState;
  /** Records held that do not take effect. */
  readonly inert: number;
};

/**
 * Steps from `node` (whose view is `v`) into `child`: the child must take effect on `v`; the other
 * children of `node` that take effect on `v` are fork losers (or winners, if `child` is a loser)
 * whose removals apply right after it. Returns the child's view or the child's error. With
 * `reuse`, `v` itself becomes the child's view (no copy: the caller no longer needs `v`); on an
 * error `v` is left as it was.
 */
function stepInto(nodes: ReadonlyMap<string, Node>, node: Node, v: View, child: string, reuse: boolean): View | ProtocolErrorCode {
  const c = nodes.get(child)!;
  const error = judge(v, c.signed.record);
  if (error) return error;
  // Siblings are judged on the view before the step.
  const losers: GroupRecord[] = [];
  if (node.children.length > 1) {
    for (const sibling of sortedChildren(node)) {
      if (sibling === child) continue;
      const s = nodes.get(sibling)!.signed.record;
      if (judge(v, s) === null) losers.push(s);
    }
  }
  const next = reuse ? v : cloneView(v);
  applyRecord(next, c.signed.record);
  for (const s of losers) applyLoserRemoval(next, s);
  return next;
}

/** Children by record hash, lowest first (hex order is bytewise order for equal lengths). */
function sortedChildren(node: Node): string[] {
  return [...node.children].sort();
}

function genesisView(nodes: ReadonlyMap<string, Node>, genesis: string): View {
  const v: View = { name: '', description: '', eff: new Map(), path: new Map() };
  applyRecord(v, nodes.get(genesis)!.signed.record);
  return v;
}

/** The view at the record `hash` (walking from the genesis), or why that record does not take effect. */
function viewAt(nodes: ReadonlyMap<string, Node>, genesis: string, hash: string): View | ProtocolErrorCode {
  const path: string[] = [];
  for (let at: string | null = hash; at !== null; at = nodes.get(at)!.parent) path.push(at);
  path.reverse();
  let v = genesisView(nodes, genesis);
  for (let i = 1; i < path.length; i++) {
    const next = stepInto(nodes, nodes.get(path[i - 1]!)!, v, path[i]!, true);
    if (typeof next === 'string') return next;
    v = next;
  }
  return v;
}

function toState(v: View): GroupState {
  return { name: v.name, description: v.description, members: v.eff };
}

/** The canonical walk: from the genesis, into the lowest-hash child that takes effect, to the end. */
function evaluate(groupId: Uint8Array, genesis: string, nodes: ReadonlyMap<string, Node>): Membership {
  let at = genesis;
  let v = genesisView(nodes, genesis);
  for (;;) {
    const node = nodes.get(at)!;
    let moved = false;
    for (const child of sortedChildren(node)) {
      // A failed step leaves `v` as it was, so the next child is judged on the same view.
      const next = stepInto(nodes, node, v, child, true);
      if (typeof next === 'string') continue;
      at = child;
      v = next;
      moved = true;
      break;
    }
    if (!moved) break;
  }
  // Records that do not take effect (with everything built on them): one pass over the tree.
  let inert = 0;
  const stack: [string, View][] = [[genesis, genesisView(nodes, genesis)]];
  while (stack.length > 0) {
    const [key, view] = stack.pop()!;
    const node = nodes.get(key)!;
    node.children.forEach((child, i) => {
      // The last child may take the view over; the others need their own copy.
      const next = stepInto(nodes, node, view, child, i === node.children.length - 1);
      if (typeof next === 'string') inert += subtreeSize(nodes, child);
      else stack.push([child, next]);
    });
  }
  const head = nodes.get(at)!.signed;
  return {
    groupId,
    genesisHash: nodes.get(genesis)!.signed.hash,
    nodes,
    head: head.hash,
    headEpoch: head.record.epoch,
    state: toState(v),
    inert,
  };
}

function subtreeSize(nodes: ReadonlyMap<string, Node>, key: string): number {
  let n = 0;
  const stack = [key];
  while (stack.length > 0) {
    n++;
    stack.push(...nodes.get(stack.pop()!)!.children);
  }
  return n;
}

function checkAuthorDevice(signed: SignedGroupRecord, check: DeviceKeyCheck | undefined): void {
  const a = signed.record.author;
  if (check && !check(a.accountId, a.deviceId, a.signingPublicKey)) {
    throw new ProtocolError('UNKNOWN_DEVICE', 'group record: author device is not on its account\'s signed list with that key');
  }
}

/**
 * A membership from its genesis record: parsed and verified (MALFORMED, BAD_SIGNATURE,
 * UNKNOWN_DEVICE), a create (GROUP_BROKEN_CHAIN otherwise), whose author is one of its admins
 * (GROUP_NOT_ADMIN otherwise).
 */
export function openMembership(genesisBytes: Uint8Array, check?: DeviceKeyCheck): Membership {
  const signed = parseGroupRecord(genesisBytes);
  const op = signed.record.operation;
  if (op.kind !== 'create') throw new ProtocolError('GROUP_BROKEN_CHAIN', 'group record: not a genesis');
  checkAuthorDevice(signed, check);
  const creator = op.members.find((m) => bytesEqual(m.accountId, signed.record.author.accountId));
  if (!creator) throw new ProtocolError('GROUP_NOT_MEMBER', 'group genesis: the creator is not a member');
  if (!creator.admin) throw new ProtocolError('GROUP_NOT_ADMIN', 'group genesis: the creator is not an admin');
  const key = toHex(signed.hash);
  const nodes = new Map<string, Node>([[key, { signed, parent: null, children: [] }]]);
  return evaluate(signed.record.groupId, key, nodes);
}

export type ApplyGroupRecordResult = {
  /** The membership to keep (in every case this returns). */
  readonly membership: Membership;
  /** False for a record already held. */
  readonly changed: boolean;
  /**
   * Set when the record is held but does not take effect (GROUP_NOT_ADMIN, GROUP_NOT_MEMBER,
   * GROUP_TOO_LARGE, GROUP_INVALID_CHANGE at its previous record): nothing the user sees changes.
   */
  readonly rejected: ProtocolError | null;
};

/**
 * Adds a record. Throws (and changes nothing) for MALFORMED, BAD_SIGNATURE, UNKNOWN_DEVICE (the
 * caller's check), GROUP_BROKEN_CHAIN (another group, a second genesis, an epoch that is not the
 * previous record's + 1), GROUP_UNKNOWN_RECORD (the previous record is not held: keep the record
 * and apply it after that one), and for a record that does not take effect when
 * MAX_INERT_GROUP_RECORDS are already held. Otherwise returns the new membership; see `rejected`.
 */
export function applyGroupRecord(m: Membership, bytes: Uint8Array, check?: DeviceKeyCheck): ApplyGroupRecordResult {
  const signed = parseGroupRecord(bytes);
  if (m.nodes.has(toHex(signed.hash))) return { membership: m, changed: false, rejected: null };
  const parentKey = checkLink(m, signed);
  checkAuthorDevice(signed, check);
  const genesis = toHex(m.genesisHash);
  const parentView = viewAt(m.nodes, genesis, parentKey);
  const code = typeof parentView === 'string' ? parentView : judge(parentView, signed.record);
  const rejected = code ? new ProtocolError(code, rejectionMessage(code)) : null;
  if (rejected && m.inert >= MAX_INERT_GROUP_RECORDS) throw rejected;
  const nodes = new Map(m.nodes);
  insert(nodes, parentKey, signed);
  return { membership: evaluate(m.groupId, genesis, nodes), changed: true, rejected };
}

/** The structural checks of a new record against the held ones; returns its parent's key. */
function checkLink(m: { readonly groupId: Uint8Array; readonly nodes: ReadonlyMap<string, Node> }, signed: SignedGroupRecord): string {
  const record = signed.record;
  if (!bytesEqual(record.groupId, m.groupId)) throw new ProtocolError('GROUP_BROKEN_CHAIN', 'group record of another group');
  if (record.operation.kind === 'create') throw new ProtocolError('GROUP_BROKEN_CHAIN', 'a second genesis record');
  const parentKey = toHex(record.previousHash);
  const parent = m.nodes.get(parentKey);
  if (!parent) throw new ProtocolError('GROUP_UNKNOWN_RECORD', 'group record builds on a record not held');
  if (record.epoch !== parent.signed.record.epoch + 1) throw new ProtocolError('GROUP_BROKEN_CHAIN', 'group record epoch does not follow its previous record');
  return parentKey;
}

function insert(nodes: Map<string, Node>, parentKey: string, signed: SignedGroupRecord): void {
  const key = toHex(signed.hash);
  const parent = nodes.get(parentKey)!;
  nodes.set(parentKey, { ...parent, children: [...parent.children, key] });
  nodes.set(key, { signed, parent: parentKey, children: [] });
}

function rejectionMessage(code: ProtocolErrorCode): string {
  switch (code) {
    case 'GROUP_NOT_ADMIN':
      return 'group record: the author is not an admin';
    case 'GROUP_NOT_MEMBER':
      return 'group record: the author is not a member';
    case 'GROUP_TOO_LARGE':
      return 'group record: the group would exceed its member limit';
    case 'GROUP_INVALID_CHANGE':
      return 'group record: the change does not apply at its previous record';
    default:
      return 'group record: builds on a record that does not take effect';
  }
}

/** The group at a held record that takes effect (GROUP_UNKNOWN_HEAD for any other hash). */
export function groupStateAt(m: Membership, hash: Uint8Array): GroupState {
  // Most group messages are sent under the current head: its state is at hand.
  if (bytesEqual(hash, m.head)) return m.state;
  const key = toHex(hash);
  if (!m.nodes.has(key)) throw new ProtocolError('GROUP_UNKNOWN_HEAD', 'membership head not held');
  const v = viewAt(m.nodes, toHex(m.genesisHash), key);
  if (typeof v === 'string') throw new ProtocolError('GROUP_UNKNOWN_HEAD', 'membership head does not take effect');
  return toState(v);
}

/**
 * The check a receiver makes on a decrypted group message's head hash (§24.5): the head is a held
 * record that takes effect (GROUP_UNKNOWN_HEAD: the receiver missed an update, or the head is
 * forged) and the sender account is a member there (GROUP_NOT_MEMBER). `current` is false when the
 * sender sent under another head than this device's (it has not seen an update yet, or this one).
 */
export function checkGroupMessageHead(m: Membership, headHash: Uint8Array, senderAccountId: Uint8Array): { readonly current: boolean } {
  const state = groupStateAt(m, headHash);
  if (!state.members.has(toHex(senderAccountId))) throw new ProtocolError('GROUP_NOT_MEMBER', 'group message from a non-member at its head');
  return { current: bytesEqual(headHash, m.head) };
}

/** Whether a held record is on the chain from the genesis to the head (a fork loser is not: its author re-issues). */
export function isOnChain(m: Membership, hash: Uint8Array): boolean {
  let at: string | null = toHex(m.head);
  const target = toHex(hash);
  while (at !== null) {
    if (at === target) return true;
    at = m.nodes.get(at)!.parent;
  }
  return false;
}

/** Every record held, parents before children (by epoch, then hash): what a newcomer is sent. */
export function membershipRecords(m: Membership): Uint8Array[] {
  return [...m.nodes.values()]
    .sort((a, b) => a.signed.record.epoch - b.signed.record.epoch || compareBytes(a.signed.hash, b.signed.hash))
    .map((n) => n.signed.bytes);
}

export function findGroupMember(state: GroupState, accountId: Uint8Array): GroupMember | undefined {
  return state.members.get(toHex(accountId));
}

/** Members in account-id order. */
export function groupMembers(state: GroupState): GroupMember[] {
  return [...state.members.values()].sort((a, b) => compareBytes(a.accountId, b.accountId));
}

/**
 * The next record on the head, filled in from the membership: epoch, previous hash, group id.
 * Signed by the author device; the caller applies it locally like any other.
 */
export function proposeGroupRecord(
  m: Membership,
  author: GroupRecordAuthor,
  operation: Exclude<GroupOperation, { kind: 'create' }>,
  time: number,
  deviceSigningPrivateKey: Uint8Array,
): SignedGroupRecord {
  return signGroupRecord(
    { groupId: m.groupId, epoch: m.headEpoch + 1, previousHash: m.head, time, author, operation },
    deviceSigningPrivateKey,
  );
}

/**
 * A new group: draws its 16-byte group id and signs the genesis (create) with the creator's device
 * key. `members` in any order (sorted here); the creator's account must be among them as admin
 * (GROUP_NOT_ADMIN / GROUP_NOT_MEMBER otherwise, as openMembership would say).
 */
export function createGroupGenesis(
  input: {
    readonly name: string;
    readonly description: string;
    readonly members: readonly GroupMember[];
    readonly author: GroupRecordAuthor;
    readonly time: number;
  },
  deviceSigningPrivateKey: Uint8Array,
  deps: { readonly rng: Rng },
): { readonly groupId: Uint8Array; readonly genesis: SignedGroupRecord; readonly membership: Membership } {
  const creator = input.members.find((m) => bytesEqual(m.accountId, input.author.accountId));
  if (!creator) throw new ProtocolError('GROUP_NOT_MEMBER', 'group genesis: the creator is not a member');
  if (!creator.admin) throw new ProtocolError('GROUP_NOT_ADMIN', 'group genesis: the creator is not an admin');
  const groupId = deps.rng(GROUP_ID_LENGTH);
  const members = [...input.members].sort((a, b) => compareBytes(a.accountId, b.accountId));
  const genesis = signGroupRecord(
    {
      groupId,
      epoch: 0,
      previousHash: ZERO_HASH,
      time: input.time,
      author: input.author,
      operation: { kind: 'create', name: input.name, description: input.description, members },
    },
    deviceSigningPrivateKey,
  );
  return { groupId, genesis, membership: openMembership(genesis.bytes) };
}

// ── Membership update (content type 0x11, §24.6) ─────────────────────────────

export type MembershipUpdate = {
  readonly groupId: Uint8Array;
  /** Signed records, parents before children. */
  readonly records: readonly Uint8Array[];
};

/** groupId ‖ u16 n ‖ n × (u32 length ‖ signed record); 1 ≤ n ≤ MAX_GROUP_UPDATE_RECORDS. */
export function encodeMembershipUpdate(u: MembershipUpdate): Uint8Array {
  if (u.groupId.length !== GROUP_ID_LENGTH) throw new ProtocolError('MALFORMED', 'membership update: bad group id');
  if (u.records.length < 1 || u.records.length > MAX_GROUP_UPDATE_RECORDS) throw new ProtocolError('MALFORMED', 'membership update: record count out of range');
  const w = new Writer().bytes(u.groupId).u16(u.records.length);
  for (const r of u.records) {
    if (r.length > MAX_GROUP_RECORD_BYTES) throw new ProtocolError('MALFORMED', 'membership update: record too large');
    w.var32(r);
  }
  return w.finish();
}

/** Strict (MALFORMED): the layout above; the records themselves are parsed by applyGroupRecord. */
export function parseMembershipUpdate(bytes: Uint8Array): MembershipUpdate {
  const r = new Reader(bytes, 'membership update');
  const groupId = r.bytes(GROUP_ID_LENGTH);
  const n = r.u16();
  if (n < 1 || n > MAX_GROUP_UPDATE_RECORDS) throw new ProtocolError('MALFORMED', 'membership update: record count out of range');
  const records: Uint8Array[] = [];
  for (let i = 0; i < n; i++) records.push(r.var32(MAX_GROUP_RECORD_BYTES));
  r.end();
  return { groupId, records };
}

// ── Serialization (§24.7) ─────────────────────────────────────────────────────

/** u8 version 0x01 ‖ groupId ‖ u32 n ‖ n × (u32 length ‖ signed record), parents first. */
export function serializeMembership(m: Membership): Uint8Array {
  const records = membershipRecords(m);
  const w = new Writer().u8(GROUP_VERSION).bytes(m.groupId).u32(records.length);
  for (const r of records) w.var32(r);
  return w.finish();
}

/**
 * Rebuilds a stored membership: every record parsed and its signature verified again; no device
 * check (the lists of the time are gone; the records were checked when they arrived).
 */
export function deserializeMembership(bytes: Uint8Array): Membership {
  const r = new Reader(bytes, 'membership');
  const version = r.u8();
  if (version !== GROUP_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `membership version ${version}`);
  const groupId = r.bytes(GROUP_ID_LENGTH);
  const n = r.u32();
  if (n < 1) throw new ProtocolError('MALFORMED', 'membership: no genesis');
  const first = openMembership(r.var32(MAX_GROUP_RECORD_BYTES));
  if (!bytesEqual(first.groupId, groupId)) throw new ProtocolError('MALFORMED', 'membership: genesis of another group');
  // Parents come first, so every record links; the tree is evaluated once at the end.
  const nodes = new Map(first.nodes);
  const held = { groupId, nodes };
  for (let i = 1; i < n; i++) {
    const signed = parseGroupRecord(r.var32(MAX_GROUP_RECORD_BYTES));
    if (nodes.has(toHex(signed.hash))) throw new ProtocolError('MALFORMED', 'membership: a record twice');
    insert(nodes, checkLink(held, signed), signed);
  }
  const m = evaluate(groupId, toHex(first.genesisHash), nodes);
  r.end();
  return m;
}
