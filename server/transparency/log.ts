/**
 * The relay's key-transparency log service (DESIGN §3.10, docs/protocol.md §26, ADR 0034): signs
 * tree heads with the tree-head key and builds the proofs every lookup carries and the monitoring
 * routes serve, from the perfect-node hashes the store keeps (server/store/aggregates/transparency.ts,
 * where appends happen, inside each device-list transaction).
 *
 * - Heads: the store's current size and root, signed with key id TREE_HEAD_KEY_ID. A signed head is
 *   reused while the size is unchanged and it is younger than HEAD_RESIGN_MS (clients refuse heads
 *   older than 24 h), so an idle log is re-signed hourly and a busy one once per size.
 * - Proofs: the ranges RFC 9162's PATH and SUBPROOF name (shared/protocol), each folded from its
 *   perfect nodes, fetched in one batch. Nodes of level ≥ CACHE_MIN_LEVEL are cached in memory:
 *   they never change once written, so the cache is right on every instance without invalidation,
 *   and the few large nodes near the root that every proof needs are read once.
 *
 * Does not own: storage or the append (the store), HTTP (server/http/app.ts), what clients check.
 */
import type { Clock } from '../../shared/crypto/random.js';
import {
  consistencyProofRanges,
  EMPTY_TREE_ROOT,
  inclusionProofRanges,
  merkleLeafHash,
  perfectNodeId,
  perfectNodesFor,
  perfectNodesOf,
  rangeHash,
  signTreeHead,
  type LeafRange,
  type PerfectNode,
} from '../../shared/protocol/transparency.js';
import { MAX_KT_LEAVES_PAGE } from '../../shared/wire/transparency.js';
import { RelayError } from '../core/errors.js';
import type { RelayIdentity } from '../identity.js';
import type { RelayStore } from '../store/store.js';

/** The id of the tree-head key in /.well-known/parley and in every head. */
export const TREE_HEAD_KEY_ID = 1;
/** A head of an unchanged tree is signed again after this long. */
export const HEAD_RESIGN_MS = 3600_000;
/** Perfect nodes of this level and above (2^6 = 64 leaves or more) are cached. */
const CACHE_MIN_LEVEL = 6;
/** Cached nodes at most (about 4 MiB); the cache is dropped whole when full. */
const MAX_CACHED_NODES = 65_536;

export type SignedHead = { readonly treeSize: number; readonly rootHash: Uint8Array; readonly bytes: Uint8Array };

/** What a lookup carries (shared/wire KeyTransparencySchema, as bytes). */
export type LookupTransparency = {
  readonly head: Uint8Array;
  readonly leafIndex: number;
  readonly leaf: Uint8Array;
  readonly inclusion: Uint8Array[];
  readonly consistency: Uint8Array[];
};

export class TransparencyLog {
  #head: (SignedHead & { readonly signedAt: number }) | undefined;
  readonly #cache = new Map<number, Uint8Array>();

  constructor(
    private readonly store: RelayStore,
    private readonly identity: RelayIdentity,
    private readonly clock: Clock,
  ) {}

  /** The current signed head (§26.3). */
  async head(): Promise<SignedHead> {
    const { treeSize, rootHash } = await this.store.ktHead();
    const now = this.clock();
    const cached = this.#head;
    if (cached && cached.treeSize === treeSize && now - cached.signedAt < HEAD_RESIGN_MS && now >= cached.signedAt) return cached;
    const bytes = signTreeHead({ relayId: this.identity.relayId, treeSize, rootHash, timestamp: now, keyId: TREE_HEAD_KEY_ID }, this.identity.treeHeadKey.privateKey);
    // Keep the newest: a slower concurrent call must not replace a larger head with a smaller one.
    if (!this.#head || this.#head.treeSize <= treeSize) this.#head = { treeSize, rootHash, bytes, signedAt: now };
    return { treeSize, rootHash, bytes };
  }

  /**
   * The proofs of a lookup (§26.5) for an account's current list version: the signed head, the
   * list's leaf and its inclusion proof, and the consistency proof from `since` (the tree size the
   * client holds) when that is a smaller, non-empty tree.
   */
  async forList(accountId: Uint8Array, version: number, since: number | undefined): Promise<LookupTransparency> {
    const logged = await this.store.ktLeafOf(accountId, version);
    // Every stored list is logged in its own transaction; a missing leaf is a broken store.
    if (!logged) throw new Error('transparency log: the current device list has no leaf');
    const head = await this.head();
    const inclusion = inclusionProofRanges(logged.index, head.treeSize);
    const consistency = since !== undefined && since > 0 && since < head.treeSize ? consistencyProofRanges(since, head.treeSize) : [];
    const hashes = await this.#rangeHashes([...inclusion, ...consistency]);
    return {
      head: head.bytes,
      leafIndex: logged.index,
      leaf: logged.leaf,
      inclusion: hashes.slice(0, inclusion.length),
      consistency: hashes.slice(inclusion.length),
    };
  }

  /** The head and the consistency proof from `since` (0, or a size ≥ the head's: none). */
  async headSince(since: number): Promise<{ head: SignedHead; consistency: Uint8Array[] }> {
    const head = await this.head();
    const consistency = since > 0 && since < head.treeSize ? await this.#rangeHashes(consistencyProofRanges(since, head.treeSize)) : [];
    return { head, consistency };
  }

  /** Up to MAX_KT_LEAVES_PAGE leaves from `start`, with the compact range of the first `start` leaves. */
  async leaves(start: number): Promise<{ start: number; treeSize: number; range: Uint8Array[]; leaves: Uint8Array[] }> {
    const { treeSize } = await this.store.ktHead();
    if (start > treeSize) throw new RelayError('NOT_FOUND', 'the log has fewer leaves');
    const range = start === 0 ? [] : await this.#nodes(perfectNodesOf({ start: 0, end: start }));
    const rows = await this.store.ktLeaves(start, Math.min(MAX_KT_LEAVES_PAGE, treeSize - start));
    return { start, treeSize, range, leaves: rows.map((r) => r.leaf) };
  }

  /** Leaf `index` of the tree of `size` leaves (≤ the current size) with its inclusion proof and that tree's root. */
  async inclusion(index: number, size: number): Promise<{ leaf: Uint8Array; leafHash: Uint8Array; root: Uint8Array; proof: Uint8Array[] }> {
    await this.#checkSize(size);
    if (index >= size) throw new RelayError('NOT_FOUND', 'no such leaf in a tree of that size');
    const [row] = await this.store.ktLeaves(index, 1);
    const ranges = inclusionProofRanges(index, size);
    const [root, ...proof] = await this.#rangeHashes([{ start: 0, end: size }, ...ranges]);
    return { leaf: row!.leaf, leafHash: merkleLeafHash(row!.leaf), root: root!, proof };
  }

  /** The consistency proof from the tree of `from` leaves to the tree of `to` (0 < from ≤ to ≤ current), with both roots. */
  async consistency(from: number, to: number): Promise<{ root1: Uint8Array; root2: Uint8Array; proof: Uint8Array[] }> {
    await this.#checkSize(to);
    if (from === 0 || from > to) throw new RelayError('MALFORMED', 'a consistency proof needs 0 < from ≤ to');
    const [root1, root2, ...proof] = await this.#rangeHashes([{ start: 0, end: from }, { start: 0, end: to }, ...consistencyProofRanges(from, to)]);
    return { root1: root1!, root2: root2!, proof };
  }

  /** MTH of the first `size` leaves (size ≤ the current size). */
  async rootAt(size: number): Promise<Uint8Array> {
    await this.#checkSize(size);
    return size === 0 ? EMPTY_TREE_ROOT : (await this.#rangeHashes([{ start: 0, end: size }]))[0]!;
  }

  async #checkSize(size: number): Promise<void> {
    const { treeSize } = await this.store.ktHead();
    if (size > treeSize) throw new RelayError('NOT_FOUND', 'the log is smaller than that');
  }

  /** MTH of each range, from one batched fetch of their perfect nodes. */
  async #rangeHashes(ranges: readonly LeafRange[]): Promise<Uint8Array[]> {
    const nodes = perfectNodesFor(ranges);
    const hashes = await this.#nodes(nodes);
    const byId = new Map(nodes.map((n, i) => [perfectNodeId(n), hashes[i]!]));
    return ranges.map((r) => rangeHash(r, (n) => byId.get(perfectNodeId(n))!));
  }

  async #nodes(nodes: readonly PerfectNode[]): Promise<Uint8Array[]> {
    const out: (Uint8Array | undefined)[] = nodes.map((n) => (n.level >= CACHE_MIN_LEVEL ? this.#cache.get(perfectNodeId(n)) : undefined));
    const missing = nodes.filter((_, i) => out[i] === undefined);
    if (missing.length > 0) {
      const fetched = await this.store.ktNodes(missing);
      let j = 0;
      for (let i = 0; i < nodes.length; i++) {
        if (out[i] !== undefined) continue;
        const hash = fetched[j++]!;
        out[i] = hash;
        const n = nodes[i]!;
        if (n.level >= CACHE_MIN_LEVEL) {
          if (this.#cache.size >= MAX_CACHED_NODES) this.#cache.clear();
          this.#cache.set(perfectNodeId(n), hash);
        }
      }
    }
    return out as Uint8Array[];
  }
}
