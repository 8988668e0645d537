/**
 * Key transparency (DESIGN §3.10, docs/protocol.md §26): the relay's append-only log of device-list
 * changes and everything a client needs to check what the relay shows it.
 *
 * - **RFC 9162 Merkle tree** (§2.1): leaf hash SHA-256(0x00 ‖ leaf), node hash
 *   SHA-256(0x01 ‖ left ‖ right), the tree hash MTH of n leaves splitting at the largest power of two
 *   below n. Proof generation (PATH, SUBPROOF) is written over *ranges* of leaves and *perfect
 *   nodes* (complete, aligned subtrees of 2^level leaves), so a store that keeps perfect-node hashes
 *   can build any proof from O(log n) lookups: `inclusionProofRanges` / `consistencyProofRanges`
 *   say which ranges a proof holds, `perfectNodesOf` which stored nodes make up a range, and
 *   `rangeHash` folds them. `MemoryMerkleTree` keeps every perfect node in memory (tests, tools).
 *   Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 to the letter.
 * - **Leaf** (§26.2): `Parley_v1_KTLeaf` ‖ account id ‖ u64 sequence (= the signed device-list
 *   version) ‖ SHA-256(Enc(account key)) ‖ SHA-256(signed device list) ‖ u64 relay time.
 * - **Signed tree head** (§26.3): (version, relay id, tree size, root hash, timestamp, key id)
 *   signed by the relay's tree-head key (not its certificate key) under `Parley_v1_KTTreeHead`.
 * - **A lookup's checks** (§26.5): `verifyKeyLookup` — head signature and age, no rollback of the
 *   tree or of the account's sequence, consistency with the last head the client holds, the leaf
 *   matching the signed list the relay returned, the leaf's inclusion under the head.
 *
 * Sans-I/O and synchronous: time and trust come in as arguments; nothing is stored, logged or sent.
 * Does not own: the relay's storage of leaves and nodes (server/transparency), the engine's memory
 * of heads and sequence numbers, gossip of heads between devices, or what a failure shows.
 * Tree sizes and indexes are JavaScript numbers (≤ 2⁵³ − 1, §1): no 32-bit bit operations here.
 */
import { constantTimeEqual } from '../crypto/bytes.js';
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.js';
import { KeyType } from '../crypto/encoding.js';
import { sha256 } from '../crypto/sha256.js';
import { Reader, Writer } from './codec.js';
import {
  ACCOUNT_ID_LENGTH,
  KT_HASH_LENGTH,
  KT_HEAD_VERSION,
  KT_LEAF_LENGTH,
  KT_MAX_HEAD_AGE_MS,
  KT_MAX_HEAD_FUTURE_MS,
  KT_MAX_PROOF_LENGTH,
  label,
  RELAY_ID_LENGTH,
  SIGNED_TREE_HEAD_BODY_LENGTH,
  SIGNED_TREE_HEAD_LENGTH,
} from './constants.js';
import { ProtocolError } from './errors.js';

// ── RFC 9162 §2.1.1 hashing ──────────────────────────────────────────────────

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** SHA-256(0x00 ‖ leaf). */
export function merkleLeafHash(leaf: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, leaf);
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** MTH({}) = SHA-256() — the root of the empty tree. */
export const EMPTY_TREE_ROOT: Uint8Array = sha256();

const isOdd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

/** The largest power of two strictly below n (n ≥ 2): RFC 9162's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

function log2Exact(n: number): number {
  let level = 0;
  for (let k = 1; k < n; k *= 2) level++;
  return level;
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a safe non-negative integer`);
}

// ── Ranges and perfect nodes (proof generation) ──────────────────────────────

/** Leaves [start, end) of the log; in every range a proof names, MTH(range) is a subtree hash. */
export type LeafRange = { readonly start: number; readonly end: number };

/** The complete subtree of 2^level leaves starting at leaf index·2^level. Level 0 is a leaf hash. */
export type PerfectNode = { readonly level: number; readonly index: number };

/**
 * The perfect nodes whose hashes make up MTH(range), left to right: a range of a power-of-two
 * length is one node; any other splits at the largest power of two below its length (RFC 9162
 * §2.1.1), its left part is perfect, its right part is split again. At most log₂(n) + 1 nodes.
 * `range.start` must be a multiple of the largest power of two ≤ its length (always true of the
 * ranges MTH, PATH and SUBPROOF recurse into).
 */
export function perfectNodesOf(range: LeafRange): PerfectNode[] {
  const nodes: PerfectNode[] = [];
  let { start } = range;
  const { end } = range;
  if (!(end > start)) throw new RangeError('perfectNodesOf: empty range');
  while (end - start > 0) {
    const n = end - start;
    const k = isPowerOfTwo(n) ? n : splitPoint(n);
    if (start % k !== 0) throw new RangeError('perfectNodesOf: range is not a subtree');
    nodes.push({ level: log2Exact(k), index: start / k });
    start += k;
  }
  return nodes;
}

/** MTH(range) from the hashes of its perfect nodes (as `perfectNodesOf` lists them): folded right to left. */
export function rangeHash(range: LeafRange, node: (n: PerfectNode) => Uint8Array): Uint8Array {
  const nodes = perfectNodesOf(range);
  let hash = node(nodes[nodes.length - 1]!);
  for (let i = nodes.length - 2; i >= 0; i--) hash = merkleNodeHash(node(nodes[i]!), hash);
  return hash;
}

/**
 * RFC 9162 §2.1.3.1 PATH(index, D[size]) as ranges: the i-th proof element is MTH of the i-th
 * range (deepest first). index < size.
 */
export function inclusionProofRanges(index: number, size: number): LeafRange[] {
  checkSize(index, 'leaf index');
  checkSize(size, 'tree size');
  if (index >= size) throw new RangeError('inclusion proof: leaf index outside the tree');
  const out: LeafRange[] = [];
  const path = (m: number, start: number, n: number): void => {
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      path(m, start, k);
      out.push({ start: start + k, end: start + n });
    } else {
      path(m - k, start + k, n - k);
      out.push({ start, end: start + k });
    }
  };
  path(index, 0, size);
  return out;
}

/**
 * RFC 9162 §2.1.4.1 PROOF(size1, D[size2]) = SUBPROOF(size1, D[size2], true) as ranges.
 * 0 < size1 ≤ size2; size1 = size2 gives the empty proof.
 */
export function consistencyProofRanges(size1: number, size2: number): LeafRange[] {
  checkSize(size1, 'first tree size');
  checkSize(size2, 'second tree size');
  if (size1 === 0 || size1 > size2) throw new RangeError('consistency proof: needs 0 < size1 ≤ size2');
  const out: LeafRange[] = [];
  const subproof = (m: number, start: number, n: number, complete: boolean): void => {
    if (m === n) {
      if (!complete) out.push({ start, end: start + n });
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      subproof(m, start, k, complete);
      out.push({ start: start + k, end: start + n });
    } else {
      subproof(m - k, start + k, n - k, false);
      out.push({ start, end: start + k });
    }
  };
  subproof(size1, 0, size2, true);
  return out;
}

/**
 * One integer per perfect node, for a store's key: the node's position in the in-order (flat) layout
 * of a full binary tree, index·2^(level+1) + 2^level − 1 (leaf i is 2i). Distinct for distinct nodes
 * and below 2·size, so safe for any log of at most 2⁵² leaves.
 */
export function perfectNodeId(node: PerfectNode): number {
  return node.index * 2 ** (node.level + 1) + 2 ** node.level - 1;
}

/** Every perfect node a set of ranges needs, without repeats (one batched lookup in a store). */
export function perfectNodesFor(ranges: readonly LeafRange[]): PerfectNode[] {
  const seen = new Map<string, PerfectNode>();
  for (const r of ranges) for (const n of perfectNodesOf(r)) seen.set(`${n.level}/${n.index}`, n);
  return [...seen.values()];
}

/**
 * The perfect nodes completed by appending the leaf at `index` (the tree grows to index + 1):
 * (0, index), and (l, index >> l) for each l while the subtree below is complete. Each new node of
 * level l ≥ 1 is the node hash of (l − 1, 2k) — `appendNeeds` lists those — and the node just made.
 */
export function appendNeeds(index: number): PerfectNode[] {
  checkSize(index, 'leaf index');
  const needs: PerfectNode[] = [];
  let i = index;
  for (let level = 0; isOdd(i); level++, i = half(i)) needs.push({ level, index: i - 1 });
  return needs;
}

/** The perfect nodes appending `leafHash` at `index` completes, bottom-up; `node` answers for `appendNeeds(index)`. */
export function appendLeafNodes(index: number, leafHash: Uint8Array, node: (n: PerfectNode) => Uint8Array): { node: PerfectNode; hash: Uint8Array }[] {
  if (leafHash.length !== KT_HASH_LENGTH) throw new RangeError('leaf hash is 32 bytes');
  const out = [{ node: { level: 0, index }, hash: leafHash }];
  let hash = leafHash;
  for (const left of appendNeeds(index)) {
    hash = merkleNodeHash(node(left), hash);
    out.push({ node: { level: left.level + 1, index: half(left.index) }, hash });
  }
  return out;
}

/**
 * A whole tree in memory: every perfect node's hash, level by level (2n − 1 hashes for n leaves).
 * For tests, tools and vectors; the relay keeps the same nodes in its store.
 */
export class MemoryMerkleTree {
  readonly #levels: Uint8Array[][] = [[]];

  get size(): number {
    return this.#levels[0]!.length;
  }

  /** Appends a leaf (its bytes; hashed here) and returns its index. */
  append(leaf: Uint8Array): number {
    return this.appendHash(merkleLeafHash(leaf));
  }

  appendHash(leafHash: Uint8Array): number {
    const index = this.size;
    for (const { node, hash } of appendLeafNodes(index, leafHash, (n) => this.node(n))) {
      (this.#levels[node.level] ??= [])[node.index] = hash;
    }
    return index;
  }

  node(n: PerfectNode): Uint8Array {
    const hash = this.#levels[n.level]?.[n.index];
    if (!hash) throw new RangeError(`no perfect node ${n.level}/${n.index} in a tree of ${this.size}`);
    return hash;
  }

  leafHash(index: number): Uint8Array {
    return this.node({ level: 0, index });
  }

  /** MTH(D[0:size]) for any size up to the current one. */
  root(size = this.size): Uint8Array {
    checkSize(size, 'tree size');
    if (size > this.size) throw new RangeError('root: size beyond the tree');
    return size === 0 ? EMPTY_TREE_ROOT : rangeHash({ start: 0, end: size }, (n) => this.node(n));
  }

  inclusionProof(index: number, size = this.size): Uint8Array[] {
    if (size > this.size) throw new RangeError('inclusion proof: size beyond the tree');
    return inclusionProofRanges(index, size).map((r) => rangeHash(r, (n) => this.node(n)));
  }

  consistencyProof(size1: number, size2 = this.size): Uint8Array[] {
    if (size2 > this.size) throw new RangeError('consistency proof: size beyond the tree');
    return consistencyProofRanges(size1, size2).map((r) => rangeHash(r, (n) => this.node(n)));
  }
}

/**
 * The perfect nodes of the tree of `size` leaves (its "compact range", `perfectNodesOf([0, size))`,
 * left to right, decreasing levels): all a monitor needs to keep to extend a verified tree by new
 * leaves and recompute the root, without the leaves before. At most log₂(size) + 1 hashes.
 */
export class CompactRange {
  readonly #nodes: { level: number; hash: Uint8Array }[];
  #size: number;

  private constructor(size: number, nodes: { level: number; hash: Uint8Array }[]) {
    this.#size = size;
    this.#nodes = nodes;
  }

  /** The empty tree's range. */
  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /**
   * A range received from the relay for a tree whose root the caller has verified (a signed head):
   * the hashes must fold to that root, else KT_PROOF_INVALID. Folding is collision-resistant, so a
   * range that folds to a trusted root is the true one.
   */
  static verified(size: number, hashes: readonly Uint8Array[], root: Uint8Array): CompactRange {
    const range = CompactRange.unverified(size, hashes);
    if (!constantTimeEqual(range.root(), root)) throw proofInvalid('compact range: does not fold to the root');
    return range;
  }

  /**
   * A range taken on trust for now (a monitor resuming, or the relay's range before a page): its
   * shape is checked (MALFORMED-free: KT_PROOF_INVALID), its hashes only when the root it leads to is
   * compared with a signed head's.
   */
  static unverified(size: number, hashes: readonly Uint8Array[]): CompactRange {
    checkSize(size, 'tree size');
    const shape = size === 0 ? [] : perfectNodesOf({ start: 0, end: size });
    checkProofShape(hashes, 'compact range');
    if (hashes.length !== shape.length) throw proofInvalid('compact range: wrong number of hashes');
    return new CompactRange(size, shape.map((n, i) => ({ level: n.level, hash: hashes[i]! })));
  }

  get size(): number {
    return this.#size;
  }

  /** The hashes, left to right (what a monitor stores). */
  get hashes(): Uint8Array[] {
    return this.#nodes.map((n) => n.hash);
  }

  /** Appends the next leaf (its bytes): equal-level neighbours merge, as in a binary counter. */
  append(leaf: Uint8Array): void {
    let node = { level: 0, hash: merkleLeafHash(leaf) };
    while (this.#nodes.length > 0 && this.#nodes[this.#nodes.length - 1]!.level === node.level) {
      const left = this.#nodes.pop()!;
      node = { level: node.level + 1, hash: merkleNodeHash(left.hash, node.hash) };
    }
    this.#nodes.push(node);
    this.#size++;
  }

  /** MTH of the tree so far: the nodes folded right to left (RFC 9162's split). */
  root(): Uint8Array {
    if (this.#nodes.length === 0) return EMPTY_TREE_ROOT;
    let hash = this.#nodes[this.#nodes.length - 1]!.hash;
    for (let i = this.#nodes.length - 2; i >= 0; i--) hash = merkleNodeHash(this.#nodes[i]!.hash, hash);
    return hash;
  }
}

// ── RFC 9162 §2.1.3.2 / §2.1.4.2 verification ────────────────────────────────

function proofInvalid(message: string): ProtocolError {
  return new ProtocolError('KT_PROOF_INVALID', message);
}

function checkProofShape(proof: readonly Uint8Array[], what: string): void {
  if (proof.length > KT_MAX_PROOF_LENGTH) throw proofInvalid(`${what}: too many hashes`);
  for (const p of proof) if (!(p instanceof Uint8Array) || p.length !== KT_HASH_LENGTH) throw proofInvalid(`${what}: a hash that is not 32 bytes`);
}

/** The root an inclusion proof implies for `leafHash` at `index` in a tree of `size` (KT_PROOF_INVALID if it implies none). */
export function rootFromInclusionProof(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[]): Uint8Array {
  checkProofShape(proof, 'inclusion proof');
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw proofInvalid('inclusion proof: leaf index outside the tree');
  }
  if (!(leafHash instanceof Uint8Array) || leafHash.length !== KT_HASH_LENGTH) throw proofInvalid('inclusion proof: the leaf hash is not 32 bytes');
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw proofInvalid('inclusion proof: too long');
    if (isOdd(fn) || fn === sn) {
      r = merkleNodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = merkleNodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw proofInvalid('inclusion proof: too short');
  return r;
}

/** RFC 9162 §2.1.3.2: the proof shows `leafHash` at `index` in the tree of `size` with `root`; KT_PROOF_INVALID otherwise. */
export function verifyInclusion(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  if (!constantTimeEqual(rootFromInclusionProof(index, size, leafHash, proof), root)) throw proofInvalid('inclusion proof: root mismatch');
}

/**
 * RFC 9162 §2.1.4.2: the tree of `size2` with `root2` extends the tree of `size1` with `root1`;
 * KT_PROOF_INVALID otherwise. size1 = 0 is refused: every tree extends the empty one, so such a
 * "proof" proves nothing and no client asks for it. Equal sizes need an empty proof and equal roots.
 */
export function verifyConsistency(size1: number, size2: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  checkProofShape(proof, 'consistency proof');
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) {
    throw proofInvalid('consistency proof: the second tree is smaller than the first');
  }
  if (size1 === 0) throw proofInvalid('consistency proof: from the empty tree');
  if (size1 === size2) {
    if (proof.length !== 0) throw proofInvalid('consistency proof: not empty for equal sizes');
    if (!constantTimeEqual(root1, root2)) throw proofInvalid('consistency proof: equal sizes, different roots');
    return;
  }
  if (proof.length === 0) throw proofInvalid('consistency proof: empty');
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) throw proofInvalid('consistency proof: too long');
    if (isOdd(fn) || fn === sn) {
      fr = merkleNodeHash(c, fr);
      sr = merkleNodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = merkleNodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw proofInvalid('consistency proof: too short');
  if (!constantTimeEqual(fr, root1)) throw proofInvalid('consistency proof: first root mismatch');
  if (!constantTimeEqual(sr, root2)) throw proofInvalid('consistency proof: second root mismatch');
}

// ── §26.2 The leaf of a device-list change ───────────────────────────────────

export type KtLeaf = {
  readonly accountId: Uint8Array;
  /** The signed device list's version: an account's leaves carry strictly increasing sequences. */
  readonly sequence: number;
  /** SHA-256(Enc(account key)) — 0x06 ‖ 32 bytes. */
  readonly accountKeyHash: Uint8Array;
  /** SHA-256 of the signed device list's bytes (body ‖ signature). */
  readonly deviceListHash: Uint8Array;
  /** The relay's clock when it appended the leaf (ms). */
  readonly relayTime: number;
};

/** SHA-256(Enc(accountKey)): the account-key field of a leaf. */
export function ktAccountKeyHash(accountPublicKey: Uint8Array): Uint8Array {
  return sha256(new Writer().key(KeyType.Ed25519, accountPublicKey).finish());
}

/** The leaf the relay appends for a signed device list (its version, account key, bytes) at `relayTime`. */
export function ktLeafFor(input: { readonly accountId: Uint8Array; readonly version: number; readonly accountPublicKey: Uint8Array; readonly signedDeviceList: Uint8Array; readonly relayTime: number }): KtLeaf {
  return {
    accountId: input.accountId,
    sequence: input.version,
    accountKeyHash: ktAccountKeyHash(input.accountPublicKey),
    deviceListHash: sha256(input.signedDeviceList),
    relayTime: input.relayTime,
  };
}

export function encodeKtLeaf(leaf: KtLeaf): Uint8Array {
  if (leaf.accountId.length !== ACCOUNT_ID_LENGTH) throw new RangeError('KT leaf: account id is 16 bytes');
  if (leaf.accountKeyHash.length !== KT_HASH_LENGTH || leaf.deviceListHash.length !== KT_HASH_LENGTH) throw new RangeError('KT leaf: hashes are 32 bytes');
  return new Writer()
    .bytes(label('KtLeaf'))
    .bytes(leaf.accountId)
    .u64(leaf.sequence)
    .bytes(leaf.accountKeyHash)
    .bytes(leaf.deviceListHash)
    .u64(leaf.relayTime)
    .finish();
}

/** Strict parse of the 112 bytes (MALFORMED). */
export function parseKtLeaf(bytes: Uint8Array): KtLeaf {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KT_LEAF_LENGTH) throw new ProtocolError('MALFORMED', 'KT leaf: wrong length');
  const r = new Reader(bytes, 'KT leaf');
  if (!constantTimeEqual(r.bytes(label('KtLeaf').length), label('KtLeaf'))) throw new ProtocolError('MALFORMED', 'KT leaf: wrong label');
  const leaf = { accountId: r.bytes(ACCOUNT_ID_LENGTH), sequence: r.u64(), accountKeyHash: r.bytes(KT_HASH_LENGTH), deviceListHash: r.bytes(KT_HASH_LENGTH), relayTime: r.u64() };
  r.end();
  return leaf;
}

// ── §26.3 Signed tree head ───────────────────────────────────────────────────

export type TreeHead = {
  readonly relayId: Uint8Array;
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  /** The relay's clock at signing (ms). */
  readonly timestamp: number;
  /** Which of the relay's tree-head keys signed (published with its id at /.well-known/parley). */
  readonly keyId: number;
};

/** A head as verified, with its exact bytes (evidence is kept as bytes). */
export type SignedTreeHead = TreeHead & { readonly bytes: Uint8Array };

/** The tree-head keys a client trusts: key id → Ed25519 public key (pinned from /.well-known/parley). */
export type TreeHeadTrust = ReadonlyMap<number, Uint8Array>;

function treeHeadBody(h: TreeHead): Uint8Array {
  if (h.relayId.length !== RELAY_ID_LENGTH) throw new RangeError('tree head: relay id is 16 bytes');
  if (h.rootHash.length !== KT_HASH_LENGTH) throw new RangeError('tree head: root hash is 32 bytes');
  return new Writer().u8(KT_HEAD_VERSION).bytes(h.relayId).u64(h.treeSize).bytes(h.rootHash).u64(h.timestamp).u32(h.keyId).finish();
}

/** The relay's side: body ‖ Sign(treeHeadKey, `Parley_v1_KTTreeHead` ‖ body). */
export function signTreeHead(h: TreeHead, treeHeadPrivateKey: Uint8Array): Uint8Array {
  const body = treeHeadBody(h);
  const signature = ed25519Sign(treeHeadPrivateKey, new Writer().bytes(label('KtTreeHead')).bytes(body).finish());
  return new Writer().bytes(body).bytes(signature).finish();
}

/** Strict parse of the 133 bytes (MALFORMED); verifies nothing. */
export function parseTreeHead(bytes: Uint8Array): TreeHead & { readonly signature: Uint8Array } {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SIGNED_TREE_HEAD_LENGTH) throw new ProtocolError('MALFORMED', 'tree head: wrong length');
  const r = new Reader(bytes, 'tree head');
  if (r.u8() !== KT_HEAD_VERSION) throw new ProtocolError('MALFORMED', 'tree head: unknown version');
  const head = { relayId: r.bytes(RELAY_ID_LENGTH), treeSize: r.u64(), rootHash: r.bytes(KT_HASH_LENGTH), timestamp: r.u64(), keyId: r.u32(), signature: r.bytes(64) };
  r.end();
  return head;
}

/**
 * A head signed by a trusted key of the expected relay (KT_HEAD_INVALID: unknown key id, bad
 * signature, another relay's head, a head dated more than KT_MAX_HEAD_FUTURE_MS ahead of `now`),
 * not older than 24 h at `now` (KT_HEAD_STALE). Pass `now` = undefined to check only the
 * signature (evidence read back later).
 */
export function verifyTreeHead(bytes: Uint8Array, trust: TreeHeadTrust, relayId: Uint8Array, now: number | undefined): SignedTreeHead {
  const h = parseTreeHead(bytes);
  const key = trust.get(h.keyId);
  if (!key) throw new ProtocolError('KT_HEAD_INVALID', 'tree head: unknown key id');
  const input = new Writer().bytes(label('KtTreeHead')).bytes(bytes.subarray(0, SIGNED_TREE_HEAD_BODY_LENGTH)).finish();
  if (!ed25519Verify(key, input, h.signature)) throw new ProtocolError('KT_HEAD_INVALID', 'tree head: bad signature');
  if (!constantTimeEqual(h.relayId, relayId)) throw new ProtocolError('KT_HEAD_INVALID', 'tree head: another relay');
  if (now !== undefined) {
    if (h.timestamp > now + KT_MAX_HEAD_FUTURE_MS) throw new ProtocolError('KT_HEAD_INVALID', 'tree head: dated in the future');
    if (now - h.timestamp > KT_MAX_HEAD_AGE_MS) throw new ProtocolError('KT_HEAD_STALE', 'tree head: older than 24 h');
  }
  return { relayId: h.relayId, treeSize: h.treeSize, rootHash: h.rootHash, timestamp: h.timestamp, keyId: h.keyId, bytes: bytes.slice() };
}

/**
 * Two verified heads of one relay that cannot both be true of one append-only log, without any
 * proof: the same size with different roots (KT_SPLIT_VIEW). Heads of different sizes need a
 * consistency proof (`verifyHeadsConsistent`).
 */
export function headsConflict(a: TreeHead, b: TreeHead): boolean {
  return a.treeSize === b.treeSize && !constantTimeEqual(a.rootHash, b.rootHash);
}

/**
 * The log of the larger head extends the log of the smaller one. Equal sizes with different roots
 * are KT_SPLIT_VIEW (the two signed heads are the evidence); different sizes check `proof`
 * (KT_PROOF_INVALID when it fails: a relay that cannot prove two of its heads consistent has shown
 * two views, and the caller keeps both heads as evidence).
 */
export function verifyHeadsConsistent(a: TreeHead, b: TreeHead, proof: readonly Uint8Array[]): void {
  if (headsConflict(a, b)) throw new ProtocolError('KT_SPLIT_VIEW', 'two heads of the same size with different roots');
  const [older, newer] = a.treeSize <= b.treeSize ? [a, b] : [b, a];
  if (older.treeSize === newer.treeSize || older.treeSize === 0) return;
  verifyConsistency(older.treeSize, newer.treeSize, proof, older.rootHash, newer.rootHash);
}

// ── §26.5 Checking a lookup ──────────────────────────────────────────────────

/** What the relay returns with a device list (or bundle) lookup. */
export type KeyLookupProof = {
  readonly signedTreeHead: Uint8Array;
  readonly leafIndex: number;
  /** The leaf's 112 bytes (the client cannot rebuild the relay time itself). */
  readonly leaf: Uint8Array;
  readonly inclusion: readonly Uint8Array[];
  /** From the client's last head to this one; empty when the client has none or the size is unchanged. */
  readonly consistency: readonly Uint8Array[];
};

/** What the client believes before the lookup. */
export type KeyLookupContext = {
  readonly trust: TreeHeadTrust;
  readonly relayId: Uint8Array;
  readonly now: number;
  /** The newest head this client has verified for this relay (none at first contact). */
  readonly lastHead?: TreeHead;
  /** The highest sequence (device-list version) this client has accepted for the account. */
  readonly lastSequence?: number;
};

/** The signed device list the relay returned, as the client verified it. */
export type LookedUpList = {
  readonly accountId: Uint8Array;
  readonly version: number;
  readonly accountPublicKey: Uint8Array;
  readonly signedDeviceList: Uint8Array;
};

/**
 * Every check of a lookup, in this order (docs/protocol.md §26.5): the head (KT_HEAD_INVALID,
 * KT_HEAD_STALE); not smaller than the last head (KT_ROLLBACK); the same size with another root
 * (KT_SPLIT_VIEW); consistent with the last head (KT_PROOF_INVALID); the leaf parses (MALFORMED) and
 * is the list's leaf (KT_LEAF_MISMATCH); its sequence is not below the last accepted one
 * (KT_ROLLBACK); it is included under the head (KT_PROOF_INVALID). Returns the verified head, which
 * the caller keeps as its new last head only if it is larger.
 */
export function verifyKeyLookup(proof: KeyLookupProof, list: LookedUpList, ctx: KeyLookupContext): { head: SignedTreeHead; leaf: KtLeaf } {
  const head = verifyTreeHead(proof.signedTreeHead, ctx.trust, ctx.relayId, ctx.now);
  const last = ctx.lastHead;
  if (last) {
    if (head.treeSize < last.treeSize) throw new ProtocolError('KT_ROLLBACK', 'tree head: smaller than one already seen');
    verifyHeadsConsistent(last, head, proof.consistency);
    if (head.treeSize === last.treeSize && proof.consistency.length !== 0) throw proofInvalid('consistency proof: not empty for equal sizes');
  }
  const leaf = parseKtLeaf(proof.leaf);
  const expected = ktLeafFor({ ...list, relayTime: leaf.relayTime });
  if (
    !constantTimeEqual(leaf.accountId, expected.accountId) ||
    leaf.sequence !== expected.sequence ||
    !constantTimeEqual(leaf.accountKeyHash, expected.accountKeyHash) ||
    !constantTimeEqual(leaf.deviceListHash, expected.deviceListHash)
  ) {
    throw new ProtocolError('KT_LEAF_MISMATCH', 'KT leaf: not the leaf of the returned device list');
  }
  if (ctx.lastSequence !== undefined && leaf.sequence < ctx.lastSequence) throw new ProtocolError('KT_ROLLBACK', 'KT leaf: a lower sequence than one already seen');
  verifyInclusion(proof.leafIndex, head.treeSize, merkleLeafHash(proof.leaf), proof.inclusion, head.rootHash);
  return { head, leaf };
}
