/**
 * The key-transparency log aggregate (issue 19, docs/protocol.md §26, ADR 0034): the tables
 * `kt_log` (the sequencer row), `kt_leaves` and `kt_nodes` (migration 0008).
 *
 * Appending (`appendKtLeaf`) runs inside the transaction that stores a device list (accounts.ts:
 * registration and every replacement), so a list is served if and only if its leaf is logged. The
 * sequencer row is locked (PostgreSQL `FOR UPDATE`; SQLite's single writer serialises anyway) and
 * always as the transaction's **last** lock, after the account and its devices, so appends from any
 * number of relay instances on one database take turns without a lock cycle; leaf indexes are dense
 * and in commit order. Each append writes the leaf, the perfect nodes it completes (at most
 * log₂ n + 1) and the new size and root.
 *
 * Reads need no transaction: nodes and leaves never change once written, and a head read after a
 * leaf always covers it. Does not sign heads or build proofs (server/transparency does).
 */
import { sha256 } from '../../../shared/crypto/sha256.js';
import {
  appendLeafNodes,
  appendNeeds,
  encodeKtLeaf,
  ktLeafFor,
  merkleLeafHash,
  perfectNodeId,
  perfectNodesOf,
  rangeHash,
  type PerfectNode,
} from '../../../shared/protocol/transparency.js';
import type { TransparencyStore } from '../store.js';
import { bytes, chunks, INSERT_CHUNK_ROWS, num, type Db, type StoreContext } from './context.js';

const SEQUENCER_ID = 1;

/** Hashes of perfect nodes by flat id; a node that is missing is a broken log (an Error, not a client error). */
async function nodeHashes(db: Db, nodes: readonly PerfectNode[]): Promise<Map<number, Uint8Array>> {
  const ids = [...new Set(nodes.map(perfectNodeId))];
  const out = new Map<number, Uint8Array>();
  for (const part of chunks(ids, INSERT_CHUNK_ROWS)) {
    const rows = await db.selectFrom('kt_nodes').select(['node_id', 'hash']).where('node_id', 'in', part).execute();
    for (const r of rows) out.set(num(r.node_id), bytes(r.hash));
  }
  if (out.size !== ids.length) throw new Error('transparency log: a perfect node is missing');
  return out;
}

/**
 * Appends the leaf of a signed device list (§26.2) as the log's next leaf, inside `trx`. Called last
 * in its transaction (the sequencer lock is the last lock taken).
 */
export async function appendKtLeaf(
  trx: Db,
  rowLocks: boolean,
  input: { readonly accountId: Uint8Array; readonly accountKey: Uint8Array; readonly deviceList: Uint8Array; readonly version: number; readonly now: number },
): Promise<number> {
  const head = await trx
    .selectFrom('kt_log')
    .select('tree_size')
    .where('id', '=', SEQUENCER_ID)
    .$if(rowLocks, (qb) => qb.forUpdate())
    .executeTakeFirstOrThrow();
  const index = num(head.tree_size);
  const leaf = encodeKtLeaf(
    ktLeafFor({ accountId: input.accountId, version: input.version, accountPublicKey: input.accountKey, signedDeviceList: input.deviceList, relayTime: input.now }),
  );
  const size = index + 1;
  // The left siblings the new nodes hash with, and the root's other perfect nodes (all but its last,
  // which holds the new leaf and is made now).
  const known = await nodeHashes(trx, [...appendNeeds(index), ...perfectNodesOf({ start: 0, end: size }).slice(0, -1)]);
  const created = appendLeafNodes(index, merkleLeafHash(leaf), (n) => known.get(perfectNodeId(n))!);
  for (const c of created) known.set(perfectNodeId(c.node), c.hash);
  const root = rangeHash({ start: 0, end: size }, (n) => known.get(perfectNodeId(n))!);
  await trx.insertInto('kt_leaves').values({ leaf_index: index, account_id: input.accountId, sequence: input.version, leaf }).execute();
  await trx
    .insertInto('kt_nodes')
    .values(created.map((c) => ({ node_id: perfectNodeId(c.node), hash: c.hash })))
    .execute();
  await trx.updateTable('kt_log').set({ tree_size: size, root_hash: root }).where('id', '=', SEQUENCER_ID).execute();
  return index;
}

export function transparencyStore({ db }: StoreContext): TransparencyStore {
  return {
    async ktHead() {
      const row = await db.selectFrom('kt_log').select(['tree_size', 'root_hash']).where('id', '=', SEQUENCER_ID).executeTakeFirst();
      return row ? { treeSize: num(row.tree_size), rootHash: bytes(row.root_hash) } : { treeSize: 0, rootHash: sha256() };
    },

    async ktLeafOf(accountId, sequence) {
      const row = await db
        .selectFrom('kt_leaves')
        .select(['leaf_index', 'leaf'])
        .where('account_id', '=', accountId)
        .where('sequence', '=', sequence)
        .orderBy('leaf_index', 'desc')
        .executeTakeFirst();
      return row && { index: num(row.leaf_index), leaf: bytes(row.leaf) };
    },

    async ktLeaves(start, limit) {
      const rows = await db
        .selectFrom('kt_leaves')
        .select(['leaf_index', 'leaf'])
        .where('leaf_index', '>=', start)
        .orderBy('leaf_index')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ index: num(r.leaf_index), leaf: bytes(r.leaf) }));
    },

    async ktNodes(nodes) {
      const map = await nodeHashes(db, nodes);
      return nodes.map((n) => map.get(perfectNodeId(n))!);
    },
  };
}
