import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, ed25519GenerateKeyPair, sha256, x25519GenerateKeyPair, type Ed25519KeyPair } from '../crypto/index.js';
import { deterministicRng } from '../testing/deterministic-rng.js';
import { KT_LEAF_LENGTH, KT_MAX_HEAD_AGE_MS, KT_MAX_HEAD_FUTURE_MS, SIGNED_TREE_HEAD_LENGTH } from './constants.js';
import { signDeviceList, type DeviceList } from './device-list.js';
import { isProtocolError, type ProtocolErrorCode } from './errors.js';
import {
  appendNeeds,
  CompactRange,
  consistencyProofRanges,
  EMPTY_TREE_ROOT,
  encodeKtLeaf,
  inclusionProofRanges,
  ktLeafFor,
  MemoryMerkleTree,
  merkleLeafHash,
  merkleNodeHash,
  parseKtLeaf,
  parseTreeHead,
  perfectNodesFor,
  perfectNodesOf,
  signTreeHead,
  verifyConsistency,
  verifyHeadsConsistent,
  verifyInclusion,
  verifyKeyLookup,
  verifyTreeHead,
  type KeyLookupContext,
  type KeyLookupProof,
  type LookedUpList,
  type TreeHead,
} from './transparency.js';

const T0 = Date.UTC(2026, 11, 1, 12);

/** RFC 9162 §2.1.1's MTH, written straight from the definition: the oracle for the stored-node tree. */
function mth(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return merkleLeafHash(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return merkleNodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function leavesOf(n: number, salt = 0): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => Uint8Array.of(salt, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff));
}

function treeOf(n: number, salt = 0): MemoryMerkleTree {
  const tree = new MemoryMerkleTree();
  for (const leaf of leavesOf(n, salt)) tree.append(leaf);
  return tree;
}

function codeOf(run: () => unknown): ProtocolErrorCode | 'ok' {
  try {
    run();
    return 'ok';
  } catch (e) {
    if (isProtocolError(e)) return e.code;
    throw e;
  }
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[Math.floor(bit / 8) % out.length]! ^= 1 << (bit % 8);
  return out;
}

/** Copies `proof` with one bit flipped in one of its hashes. */
function flipProofBit(proof: readonly Uint8Array[], element: number, bit: number): Uint8Array[] {
  return proof.map((p, i) => (i === element % proof.length ? flipBit(p, bit) : p));
}

describe('RFC 9162 Merkle tree', () => {
  it('property: the stored-node tree has the root the RFC definition gives, for every size up to the tree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.nat(255), (n, salt) => {
        const tree = treeOf(n, salt);
        const leaves = leavesOf(n, salt);
        for (let size = 0; size <= n; size++) expect(tree.root(size)).toEqual(mth(leaves.slice(0, size)));
      }),
      { numRuns: 40 },
    );
    expect(new MemoryMerkleTree().root()).toEqual(EMPTY_TREE_ROOT);
  });

  it('property: every inclusion proof of a random tree verifies, and any one flipped bit in it, the leaf hash or the root is refused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }).chain((size) => fc.tuple(fc.constant(size), fc.nat(size - 1), fc.nat(255), fc.nat(), fc.nat(255))),
        ([size, index, salt, element, bit]) => {
          const tree = treeOf(size, salt);
          const proof = tree.inclusionProof(index);
          const leafHash = tree.leafHash(index);
          const root = tree.root();
          verifyInclusion(index, size, leafHash, proof, root);
          if (proof.length > 0) expect(codeOf(() => verifyInclusion(index, size, leafHash, flipProofBit(proof, element, bit), root))).toBe('KT_PROOF_INVALID');
          expect(codeOf(() => verifyInclusion(index, size, flipBit(leafHash, bit), proof, root))).toBe('KT_PROOF_INVALID');
          expect(codeOf(() => verifyInclusion(index, size, leafHash, proof, flipBit(root, bit)))).toBe('KT_PROOF_INVALID');
          // Another leaf's hash at this index, or this leaf claimed at another index, does not verify.
          if (size > 1) {
            const other = (index + 1 + (element % (size - 1))) % size;
            expect(codeOf(() => verifyInclusion(index, size, tree.leafHash(other), proof, root))).toBe('KT_PROOF_INVALID');
            expect(codeOf(() => verifyInclusion(other, size, leafHash, proof, root))).toBe('KT_PROOF_INVALID');
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: every consistency proof between random sizes verifies, and any one flipped bit in it or in either root is refused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }).chain((size2) => fc.tuple(fc.integer({ min: 1, max: size2 }), fc.constant(size2), fc.nat(255), fc.nat(), fc.nat(255))),
        ([size1, size2, salt, element, bit]) => {
          const tree = treeOf(size2, salt);
          const proof = tree.consistencyProof(size1, size2);
          const root1 = tree.root(size1);
          const root2 = tree.root(size2);
          verifyConsistency(size1, size2, proof, root1, root2);
          if (proof.length > 0) expect(codeOf(() => verifyConsistency(size1, size2, flipProofBit(proof, element, bit), root1, root2))).toBe('KT_PROOF_INVALID');
          expect(codeOf(() => verifyConsistency(size1, size2, proof, flipBit(root1, bit), root2))).toBe('KT_PROOF_INVALID');
          expect(codeOf(() => verifyConsistency(size1, size2, proof, root1, flipBit(root2, bit)))).toBe('KT_PROOF_INVALID');
          // A log that rewrote any leaf before size1 (a fork) has no consistency with the first head.
          const forked = new MemoryMerkleTree();
          leavesOf(size2, salt).forEach((leaf, i) => forked.append(i === element % size1 ? concatBytes(leaf, Uint8Array.of(1)) : leaf));
          expect(codeOf(() => verifyConsistency(size1, size2, forked.consistencyProof(size1, size2), root1, forked.root()))).toBe('KT_PROOF_INVALID');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: a proof needs O(log n) stored perfect nodes, and appending touches at most log₂ n + 1 of them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 1, max: n }))), ([n, index, size1]) => {
        const log = Math.ceil(Math.log2(n + 1));
        expect(perfectNodesFor(inclusionProofRanges(index, n)).length).toBeLessThanOrEqual(2 * log + 1);
        expect(perfectNodesFor(consistencyProofRanges(size1, n)).length).toBeLessThanOrEqual(3 * log + 2);
        expect(appendNeeds(index).length).toBeLessThanOrEqual(log);
      }),
      { numRuns: 300 },
    );
  });

  it('property: a compact range from a verified root, extended by the next leaves, has the root of the larger tree; a wrong hash in it is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.nat(255), fc.nat(), (n, more, salt, bit) => {
        const tree = treeOf(n + more, salt);
        const hashes = n === 0 ? [] : perfectNodesOf({ start: 0, end: n }).map((node) => tree.node(node));
        const range = CompactRange.verified(n, hashes, tree.root(n));
        for (const leaf of leavesOf(n + more, salt).slice(n)) range.append(leaf);
        expect(range.size).toBe(n + more);
        expect(range.root()).toEqual(tree.root());
        if (hashes.length > 0) {
          expect(codeOf(() => CompactRange.verified(n, flipProofBit(hashes, bit, bit), tree.root(n)))).toBe('KT_PROOF_INVALID');
          expect(codeOf(() => CompactRange.verified(n, hashes.slice(1), tree.root(n)))).toBe('KT_PROOF_INVALID');
        }
      }),
      { numRuns: 100 },
    );
  });

  it('refuses malformed inputs with KT_PROOF_INVALID: a hash that is not 32 bytes, an index outside the tree, an over-long proof', () => {
    const tree = treeOf(5);
    const proof = tree.inclusionProof(2);
    expect(codeOf(() => verifyInclusion(2, 5, tree.leafHash(2), [...proof.slice(0, 1), new Uint8Array(31), ...proof.slice(1)], tree.root()))).toBe('KT_PROOF_INVALID');
    expect(codeOf(() => verifyInclusion(5, 5, tree.leafHash(2), proof, tree.root()))).toBe('KT_PROOF_INVALID');
    expect(codeOf(() => verifyInclusion(-1, 5, tree.leafHash(2), proof, tree.root()))).toBe('KT_PROOF_INVALID');
    expect(codeOf(() => verifyInclusion(2, 5, tree.leafHash(2), Array.from({ length: 129 }, () => new Uint8Array(32)), tree.root()))).toBe('KT_PROOF_INVALID');
    expect(codeOf(() => verifyConsistency(3, 2, [], tree.root(3), tree.root(2)))).toBe('KT_PROOF_INVALID');
    expect(codeOf(() => verifyConsistency(0, 5, [], EMPTY_TREE_ROOT, tree.root()))).toBe('KT_PROOF_INVALID');
  });
});

// ── Leaves, heads and lookups ────────────────────────────────────────────────

type Account = { accountId: Uint8Array; key: Ed25519KeyPair };

function makeAccount(seed: string): Account & { rng: ReturnType<typeof deterministicRng> } {
  const rng = deterministicRng(seed);
  return { rng, accountId: rng(16), key: ed25519GenerateKeyPair(rng) };
}

function signedList(account: Account & { rng: ReturnType<typeof deterministicRng> }, version: number): { list: DeviceList; signed: Uint8Array } {
  const list: DeviceList = {
    accountId: account.accountId,
    version,
    issuedAt: T0,
    devices: [{ deviceId: 1, identityDhKey: x25519GenerateKeyPair(account.rng).publicKey, identitySigningKey: ed25519GenerateKeyPair(account.rng).publicKey, capabilities: 1, addedAt: T0 }],
  };
  return { list, signed: signDeviceList(list, account.key.privateKey) };
}

/** A relay in miniature: its tree-head key, a log, and the lookups it answers. */
class TinyLog {
  readonly relayId = new Uint8Array(16).fill(7);
  readonly headKey = ed25519GenerateKeyPair(deterministicRng('tiny log head key'));
  readonly tree = new MemoryMerkleTree();
  readonly leaves: Uint8Array[] = [];
  readonly trust = new Map([[1, this.headKey.publicKey]]);

  append(account: Account, version: number, signed: Uint8Array, relayTime = T0): number {
    const leaf = encodeKtLeaf(ktLeafFor({ accountId: account.accountId, version, accountPublicKey: account.key.publicKey, signedDeviceList: signed, relayTime }));
    this.leaves.push(leaf);
    return this.tree.append(leaf);
  }

  head(timestamp = T0, size = this.tree.size): Uint8Array {
    return signTreeHead({ relayId: this.relayId, treeSize: size, rootHash: this.tree.root(size), timestamp, keyId: 1 }, this.headKey.privateKey);
  }

  lookup(index: number, lastSize?: number): KeyLookupProof {
    return {
      signedTreeHead: this.head(),
      leafIndex: index,
      leaf: this.leaves[index]!,
      inclusion: this.tree.inclusionProof(index),
      consistency: lastSize !== undefined && lastSize > 0 && lastSize < this.tree.size ? this.tree.consistencyProof(lastSize) : [],
    };
  }

  ctx(over: Partial<KeyLookupContext> = {}): KeyLookupContext {
    return { trust: this.trust, relayId: this.relayId, now: T0 + 60_000, ...over };
  }
}

function looked(account: Account, version: number, signed: Uint8Array): LookedUpList {
  return { accountId: account.accountId, version, accountPublicKey: account.key.publicKey, signedDeviceList: signed };
}

describe('key-transparency leaves and tree heads', () => {
  it('a leaf is 112 bytes that parse back to the same fields; a wrong length or label is MALFORMED', () => {
    const alice = makeAccount('alice');
    const { signed } = signedList(alice, 3);
    const leaf = ktLeafFor({ accountId: alice.accountId, version: 3, accountPublicKey: alice.key.publicKey, signedDeviceList: signed, relayTime: T0 });
    const bytes = encodeKtLeaf(leaf);
    expect(bytes.length).toBe(KT_LEAF_LENGTH);
    expect(parseKtLeaf(bytes)).toEqual(leaf);
    expect(leaf.deviceListHash).toEqual(sha256(signed));
    expect(codeOf(() => parseKtLeaf(bytes.subarray(1)))).toBe('MALFORMED');
    expect(codeOf(() => parseKtLeaf(concatBytes(bytes, Uint8Array.of(0))))).toBe('MALFORMED');
    expect(codeOf(() => parseKtLeaf(flipBit(bytes, 3)))).toBe('MALFORMED');
    const hugeSequence = bytes.slice();
    hugeSequence[32] = 0xff;
    expect(codeOf(() => parseKtLeaf(hugeSequence))).toBe('MALFORMED');
  });

  it('a signed head verifies under its pinned key id; any flipped bit, another key id, another relay or a future date is KT_HEAD_INVALID or MALFORMED', () => {
    const log = new TinyLog();
    log.append(makeAccount('a'), 1, new Uint8Array(10));
    const head = log.head();
    expect(head.length).toBe(SIGNED_TREE_HEAD_LENGTH);
    const verified = verifyTreeHead(head, log.trust, log.relayId, T0);
    expect(verified.treeSize).toBe(1);
    expect(verified.rootHash).toEqual(log.tree.root());
    for (let bit = 0; bit < head.length * 8; bit += 5) {
      expect(['KT_HEAD_INVALID', 'MALFORMED']).toContain(codeOf(() => verifyTreeHead(flipBit(head, bit), log.trust, log.relayId, T0)));
    }
    expect(codeOf(() => verifyTreeHead(head, new Map([[2, log.headKey.publicKey]]), log.relayId, T0))).toBe('KT_HEAD_INVALID');
    expect(codeOf(() => verifyTreeHead(head, log.trust, new Uint8Array(16), T0))).toBe('KT_HEAD_INVALID');
    expect(codeOf(() => verifyTreeHead(log.head(T0 + KT_MAX_HEAD_FUTURE_MS + 1), log.trust, log.relayId, T0))).toBe('KT_HEAD_INVALID');
    expect(codeOf(() => verifyTreeHead(log.head(T0 + KT_MAX_HEAD_FUTURE_MS), log.trust, log.relayId, T0))).toBe('ok');
    expect(codeOf(() => verifyTreeHead(head, log.trust, log.relayId, T0 + KT_MAX_HEAD_AGE_MS))).toBe('ok');
    expect(codeOf(() => verifyTreeHead(head, log.trust, log.relayId, T0 + KT_MAX_HEAD_AGE_MS + 1))).toBe('KT_HEAD_STALE');
    expect(codeOf(() => parseTreeHead(head.subarray(0, 132)))).toBe('MALFORMED');
  });

  it('heads of one size with different roots are a split view; heads of different sizes need a consistency proof', () => {
    const log = new TinyLog();
    const a = makeAccount('a');
    for (let v = 1; v <= 5; v++) log.append(a, v, Uint8Array.of(v));
    const h3 = parseTreeHead(log.head(T0, 3)) as TreeHead;
    const h5 = parseTreeHead(log.head(T0, 5)) as TreeHead;
    verifyHeadsConsistent(h3, h5, log.tree.consistencyProof(3, 5));
    verifyHeadsConsistent(h5, h3, log.tree.consistencyProof(3, 5));
    const other = new TinyLog();
    for (let v = 1; v <= 5; v++) other.append(a, v, Uint8Array.of(v + 1));
    const fork5 = parseTreeHead(other.head(T0, 5)) as TreeHead;
    expect(codeOf(() => verifyHeadsConsistent(h5, fork5, []))).toBe('KT_SPLIT_VIEW');
    expect(codeOf(() => verifyHeadsConsistent(h3, fork5, other.tree.consistencyProof(3, 5)))).toBe('KT_PROOF_INVALID');
  });
});

describe('checking a lookup (verifyKeyLookup)', () => {
  function setup() {
    const log = new TinyLog();
    const alice = makeAccount('alice');
    const bob = makeAccount('bob');
    const a1 = signedList(alice, 1);
    const b1 = signedList(bob, 1);
    const a2 = signedList(alice, 2);
    log.append(alice, 1, a1.signed);
    log.append(bob, 1, b1.signed);
    const firstSize = log.tree.size;
    const firstHead = parseTreeHead(log.head()) as TreeHead;
    const a2Index = log.append(alice, 2, a2.signed);
    for (let i = 0; i < 4; i++) log.append(makeAccount(`filler ${i}`), 1, Uint8Array.of(i));
    return { log, alice, bob, a1, a2, b1, a2Index, firstSize, firstHead };
  }

  it('accepts the list, its leaf and both proofs, returning the new head', () => {
    const { log, alice, a2, a2Index, firstSize, firstHead } = setup();
    const { head, leaf } = verifyKeyLookup(log.lookup(a2Index, firstSize), looked(alice, 2, a2.signed), log.ctx({ lastHead: firstHead, lastSequence: 1 }));
    expect(head.treeSize).toBe(log.tree.size);
    expect(leaf.sequence).toBe(2);
    // First contact: no last head, no consistency proof.
    expect(verifyKeyLookup(log.lookup(a2Index), looked(alice, 2, a2.signed), log.ctx()).head.treeSize).toBe(7);
  });

  it('refuses a failing inclusion proof, a leaf of another list, a lower sequence, a smaller tree, a forked tree and a stale head — each with its code', () => {
    const { log, alice, a1, a2, a2Index, firstSize, firstHead } = setup();
    const good = log.lookup(a2Index, firstSize);
    const list = looked(alice, 2, a2.signed);
    const ctx = log.ctx({ lastHead: firstHead, lastSequence: 1 });
    expect(codeOf(() => verifyKeyLookup({ ...good, inclusion: flipProofBit(good.inclusion, 0, 9) }, list, ctx))).toBe('KT_PROOF_INVALID');
    expect(codeOf(() => verifyKeyLookup({ ...good, leafIndex: 0 }, list, ctx))).toBe('KT_PROOF_INVALID');
    expect(codeOf(() => verifyKeyLookup({ ...good, consistency: flipProofBit(good.consistency, 1, 3) }, list, ctx))).toBe('KT_PROOF_INVALID');
    // The relay returns version 2 of the list but the leaf of version 1 (its log omits the change).
    expect(codeOf(() => verifyKeyLookup({ ...log.lookup(0, firstSize) }, list, ctx))).toBe('KT_LEAF_MISMATCH');
    // Version 1 with a valid proof after the client accepted version 2: a rollback.
    expect(codeOf(() => verifyKeyLookup(log.lookup(0, firstSize), looked(alice, 1, a1.signed), { ...ctx, lastSequence: 2 }))).toBe('KT_ROLLBACK');
    // A head smaller than the last one seen.
    const bigger = parseTreeHead(log.head()) as TreeHead;
    expect(codeOf(() => verifyKeyLookup({ ...good, signedTreeHead: log.head(T0, 3), inclusion: log.tree.inclusionProof(a2Index, 3), consistency: [] }, list, { ...ctx, lastHead: bigger }))).toBe('KT_ROLLBACK');
    // Same size, another root: the client saw a different log before.
    const forkHead = { ...firstHead, treeSize: log.tree.size };
    expect(codeOf(() => verifyKeyLookup({ ...good, consistency: [] }, list, { ...ctx, lastHead: forkHead }))).toBe('KT_SPLIT_VIEW');
    expect(codeOf(() => verifyKeyLookup(good, list, { ...ctx, now: T0 + KT_MAX_HEAD_AGE_MS + 1 }))).toBe('KT_HEAD_STALE');
    expect(codeOf(() => verifyKeyLookup({ ...good, leaf: good.leaf.subarray(1) }, list, ctx))).toBe('MALFORMED');
  });

  it('property: any one flipped bit anywhere in a lookup response is refused with a typed error', () => {
    const { log, alice, a2, a2Index, firstSize, firstHead } = setup();
    const good = log.lookup(a2Index, firstSize);
    const list = looked(alice, 2, a2.signed);
    const ctx = log.ctx({ lastHead: firstHead, lastSequence: 1 });
    fc.assert(
      fc.property(fc.constantFrom('head', 'leaf', 'inclusion', 'consistency'), fc.nat(), fc.nat(), (part, element, bit) => {
        const bad: KeyLookupProof =
          part === 'head'
            ? { ...good, signedTreeHead: flipBit(good.signedTreeHead, bit) }
            : part === 'leaf'
              ? { ...good, leaf: flipBit(good.leaf, bit) }
              : part === 'inclusion'
                ? { ...good, inclusion: flipProofBit(good.inclusion, element, bit) }
                : { ...good, consistency: flipProofBit(good.consistency, element, bit) };
        expect(codeOf(() => verifyKeyLookup(bad, list, ctx))).not.toBe('ok');
      }),
      { numRuns: 300 },
    );
  });
});
