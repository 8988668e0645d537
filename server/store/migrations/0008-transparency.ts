/**
 * Migration 0008: the key-transparency log (issue 19, docs/protocol.md §26, ADR 0034).
 *
 *  - `kt_log`: one row (id 1), the sequencer. Every append locks it (PostgreSQL: `FOR UPDATE`; SQLite
 *    has one writer), so leaf indexes are dense and in commit order however many relay instances
 *    append. Holds the current tree size and root.
 *  - `kt_leaves`: every leaf (112 bytes, §26.2) by index, with its account id and sequence for the
 *    lookup of an account's current leaf.
 *  - `kt_nodes`: the hash of every perfect node (complete aligned subtree, levels 0 … log₂ n) by its
 *    flat id (`perfectNodeId`); immutable once written, so any proof is O(log n) key lookups and a
 *    cache of them never goes stale.
 *
 * Accounts that exist already get a leaf for their current list each (oldest account first), so the
 * log covers every list the relay serves from the start.
 */
import type { Kysely } from 'kysely';
import { encodeKtLeaf, ktLeafFor, MemoryMerkleTree, perfectNodeId } from '../../../shared/protocol/transparency.js';
import type { DialectTypes } from './dialect-types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb, t: DialectTypes): Promise<void> {
  await db.schema
    .createTable('kt_log')
    .addColumn('id', t.int64, (c) => c.primaryKey())
    .addColumn('tree_size', t.int64, (c) => c.notNull())
    .addColumn('root_hash', t.binary, (c) => c.notNull())
    .execute();
  await t
    .clustered(
      db.schema
        .createTable('kt_leaves')
        .addColumn('leaf_index', t.int64, (c) => c.primaryKey())
        .addColumn('account_id', t.binary, (c) => c.notNull())
        .addColumn('sequence', t.int64, (c) => c.notNull())
        .addColumn('leaf', t.binary, (c) => c.notNull()),
    )
    .execute();
  await db.schema.createIndex('kt_leaves_account').on('kt_leaves').columns(['account_id', 'sequence']).execute();
  await t
    .clustered(db.schema.createTable('kt_nodes').addColumn('node_id', t.int64, (c) => c.primaryKey()).addColumn('hash', t.binary, (c) => c.notNull()))
    .execute();

  const accounts = await db
    .selectFrom('accounts')
    .select(['account_id', 'account_key', 'device_list', 'device_list_version'])
    .orderBy('created_at')
    .orderBy('account_id')
    .execute();
  const tree = new MemoryMerkleTree();
  const now = Date.now();
  for (const a of accounts as { account_id: Uint8Array; account_key: Uint8Array; device_list: Uint8Array; device_list_version: number | string }[]) {
    const version = Number(a.device_list_version);
    const leaf = encodeKtLeaf(ktLeafFor({ accountId: a.account_id, version, accountPublicKey: a.account_key, signedDeviceList: a.device_list, relayTime: now }));
    const index = tree.append(leaf);
    await db.insertInto('kt_leaves').values({ leaf_index: index, account_id: a.account_id, sequence: version, leaf }).execute();
  }
  // Every perfect node of the backfilled tree: levels up from the leaves.
  for (let level = 0; 2 ** level <= tree.size; level++) {
    for (let index = 0; (index + 1) * 2 ** level <= tree.size; index++) {
      const node = { level, index };
      await db.insertInto('kt_nodes').values({ node_id: perfectNodeId(node), hash: tree.node(node) }).execute();
    }
  }
  await db.insertInto('kt_log').values({ id: 1, tree_size: tree.size, root_hash: tree.root() }).execute();
}
